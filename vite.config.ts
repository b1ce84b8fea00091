/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Cross-origin isolation (SharedArrayBuffer for onnxruntime-web's threads) on the dev and preview
// servers; static hosts that cannot send headers get the same through public/coi.js.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

// Dawn's OpenGL ES route on GPU-less Linux needs this before any test worker starts (workers
// read the process environment at spawn; setting it inside a worker thread is too late).
if (process.platform === 'linux') process.env.EGL_PLATFORM ??= 'surfaceless';

export default defineConfig({
  base: './',
  // No single-page fallback: a missing file is a 404, as on a static host (the model loaders probe
  // optional files such as model.safetensors.index.json; the panels route by hash).
  appType: 'mpa',
  plugins: [svelte()],
  worker: { format: 'es' },
  server: { headers: isolation },
  preview: { headers: isolation },
  build: { target: 'es2022', sourcemap: true },
  optimizeDeps: { exclude: ['onnxruntime-web', '@huggingface/transformers'] },
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['tests/unit/**/*.test.ts'], environment: 'node' },
      },
      {
        extends: true,
        test: {
          name: 'gpu',
          include: ['tests/gpu/**/*.test.ts'],
          environment: 'node',
          pool: 'threads',
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          environment: 'node',
          pool: 'threads',
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
