// Debian's Chromium driven by playwright-core, launched the way docs/webgpu-on-cpu.md prescribes:
// headless=new, no sandbox, no background networking, a fresh profile per launch, and (when
// WebGPU is wanted) Mesa's OpenGL ES route in compatibility mode. Collects console errors and
// uncaught errors from the page and its workers so a test can fail on unexpected ones.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots and other artifacts of the e2e run (git-ignored). */
export const RESULTS_DIR = resolve('test-results');

const BASE_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

/** Fast WebGPU on GPU-less Linux: Mesa's OpenGL ES through ANGLE, compatibility mode. */
export const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--use-angle=gl-egl', '--use-webgpu-adapter=opengles'];

export interface LaunchOptions {
  /** Add WEBGPU_ARGS (default true). */
  webgpu?: boolean;
  /** More Chromium switches. */
  args?: string[];
  viewport?: { width: number; height: number };
  colorScheme?: 'light' | 'dark';
}

export interface BrowserProblem {
  source: 'console' | 'pageerror';
  text: string;
  location?: string;
}

export interface LabBrowser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught errors seen so far, in order. */
  problems: BrowserProblem[];
  /** Throw if any problem does not match one of `allowed`. */
  expectNoProblems(allowed?: RegExp[]): void;
  /** Save a PNG under test-results/ and return its path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchBrowser(options: LaunchOptions = {}): Promise<LabBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'student-lab-chromium-'));
  const args = [...BASE_ARGS, ...(options.webgpu === false ? [] : WEBGPU_ARGS), ...(options.args ?? [])];
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      ignoreDefaultArgs: ['--headless'],
      args,
      viewport: options.viewport ?? { width: 1280, height: 800 },
      colorScheme: options.colorScheme ?? 'light',
    });
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw new Error(
      `Could not start Chromium at ${CHROMIUM}: ${(err as Error).message}\n` +
        'Install it (Debian: apt-get install chromium), or set CHROMIUM_PATH.',
    );
  }

  const problems: BrowserProblem[] = [];
  const onConsole = (message: ConsoleMessage) => {
    if (message.type() !== 'error') return;
    const { url, lineNumber } = message.location();
    problems.push({ source: 'console', text: message.text(), location: url ? `${url}:${lineNumber}` : undefined });
  };
  context.on('console', onConsole);
  context.on('weberror', (error) => problems.push({ source: 'pageerror', text: String(error.error()) }));
  const page = context.pages()[0] ?? (await context.newPage());

  return {
    context,
    page,
    problems,
    expectNoProblems(allowed = []) {
      const unexpected = problems.filter((p) => !allowed.some((re) => re.test(p.text)));
      if (unexpected.length) {
        const lines = unexpected.map((p) => `  [${p.source}] ${p.text}${p.location ? ` (${p.location})` : ''}`);
        throw new Error(`Unexpected errors in the browser:\n${lines.join('\n')}`);
      }
    },
    async screenshot(name) {
      await mkdir(RESULTS_DIR, { recursive: true });
      const path = join(RESULTS_DIR, `${name}.png`);
      await page.screenshot({ path });
      return path;
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
