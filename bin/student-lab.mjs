#!/usr/bin/env node
// Entry of the `student-lab` CLI: runs the TypeScript sources directly (tsx) with Vite-style
// `?raw` imports for the WGSL kernels, so the engine is the same code as in the page.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./raw-loader.mjs', import.meta.url);
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
