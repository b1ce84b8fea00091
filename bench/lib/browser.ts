// Runs a suite's browser page (bench/suites/<name>/page.ts) in headless Chromium: Vite builds
// bench/browser/ (which imports the engine's TypeScript and WGSL) into a temporary folder, next to
// onnxruntime-web's wasm files under ort/; a static server serves it on 127.0.0.1 with cross-origin
// isolation; Chromium is launched with the WebGPU flags of docs/webgpu-on-cpu.md. Requests to any
// other host are refused and reported as an error.
import { copyFile, cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { launchBrowser, type LabBrowser } from '../../tests/helpers/browser.ts';
import { startStaticServer, type StaticServer } from '../../tests/helpers/static-server.ts';
import type { SuiteContext } from './types.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ORT_DIST = join(REPO, 'node_modules/onnxruntime-web/dist');
/** The wasm build of onnxruntime-web's WebGPU and wasm EPs, loaded at run time from wasmPaths. */
const ORT_FILES = ['ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'];

async function buildPage(outDir: string): Promise<void> {
  await build({
    configFile: false,
    root: join(REPO, 'bench/browser'),
    base: './',
    logLevel: 'warn',
    // onnxruntime-web's build that loads its wasm glue from wasmPaths rather than from inside the
    // bundle: its wasm threads start their workers from that file.
    resolve: { conditions: ['onnxruntime-web-use-extern-wasm', 'module', 'browser', 'production'] },
    build: { outDir, emptyOutDir: true, target: 'es2022', reportCompressedSize: false, chunkSizeWarningLimit: 8192 },
  });
  await mkdir(join(outDir, 'ort'));
  for (const f of ORT_FILES) await copyFile(join(ORT_DIST, f), join(outDir, 'ort', f));
}

export interface BrowserPageOptions {
  /** Give up after this long (default 240 s). */
  timeoutMs?: number;
  /** Files or folders copied next to the page before it is served: `to` is relative to the page. */
  assets?: readonly { from: string; to: string }[];
}

/** Load bench/browser/?page=<name>, call the page's run(input) and return its result. */
export async function runBrowserPage<I, O>(name: string, input: I, ctx: SuiteContext, options: BrowserPageOptions = {}): Promise<O> {
  const { timeoutMs = 240_000, assets = [] } = options;
  const dir = await mkdtemp(join(tmpdir(), 'student-lab-bench-'));
  let server: StaticServer | undefined;
  let browser: LabBrowser | undefined;
  try {
    ctx.log('  building the benchmark page');
    await buildPage(dir);
    for (const a of assets) await cp(a.from, join(dir, a.to), { recursive: true });
    server = await startStaticServer({ root: dir });
    browser = await launchBrowser();
    const outside: string[] = [];
    const debug = Boolean(process.env.STUDENT_LAB_DEBUG);
    await browser.context.route('**/*', (route) => {
      const target = new URL(route.request().url());
      if (debug) ctx.log(`  chromium request: ${target.href}`);
      if (target.hostname === '127.0.0.1' || target.protocol === 'data:' || target.protocol === 'blob:') return route.continue();
      outside.push(target.href);
      return route.abort('blockedbyclient');
    });
    // Progress lines; with STUDENT_LAB_DEBUG set, everything the page logs.
    browser.page.on('console', (msg) => {
      if (msg.text().startsWith('[bench]')) ctx.log(`  chromium: ${msg.text().slice(8)}`);
      else if (debug) ctx.log(`  chromium ${msg.type()}: ${msg.text()}`);
    });
    await browser.page.goto(`${server.url}?page=${encodeURIComponent(name)}`);
    await browser.page.waitForFunction(() => 'benchRun' in window, undefined, { timeout: 60_000 });
    const run = browser.page.evaluate(([n, i]) => (window as unknown as BenchWindow).benchRun(n, i), [name, input] as const);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`bench: the "${name}" browser page took over ${timeoutMs / 1000} s.`)), timeoutMs);
    });
    const result = (await Promise.race([run, timeout]).finally(() => clearTimeout(timer))) as O;
    if (outside.length) throw new Error(`bench: the page requested hosts other than 127.0.0.1: ${outside.join(', ')}`);
    return result;
  } finally {
    await browser?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** What bench/browser/main.ts puts on window. */
export interface BenchWindow {
  benchRun(name: string, input: unknown): Promise<unknown>;
}
