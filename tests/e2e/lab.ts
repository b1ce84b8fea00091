// The lab as the e2e tests meet it: the production build (dist/) on the static server, opened in
// Chromium, with small helpers that read the page the way a user does (roles, labels, status text).
import { readFile } from 'node:fs/promises';
import { expect } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { launchBrowser, type LabBrowser, type LaunchOptions } from '../helpers/browser.ts';
import { startStaticServer, type StaticServer, type StaticServerOptions } from '../helpers/static-server.ts';

export interface Lab {
  server: StaticServer;
  browser: LabBrowser;
  page: Page;
  close(): Promise<void>;
}

export interface OpenLabOptions extends StaticServerOptions {
  launch?: LaunchOptions;
  /** Navigate to this URL instead of the server's (e.g. another host name). */
  url?: (serverUrl: string) => string;
}

export async function openLab(options: OpenLabOptions = {}): Promise<Lab> {
  const server = await startStaticServer(options);
  let browser: LabBrowser;
  try {
    browser = await launchBrowser(options.launch);
  } catch (err) {
    await server.close();
    throw err;
  }
  const { page } = browser;
  await page.goto(options.url ? options.url(server.url) : server.url);
  return {
    server,
    browser,
    page,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** The worker's state as the status bar says it. */
export function engineState(page: Page): Locator {
  return page.getByTestId('engine-state');
}

/** Wait until the engine is ready and its self-test verdict is in the status bar. */
export async function waitForReadyEngine(page: Page, timeout = 60_000): Promise<void> {
  await expectText(engineState(page), 'Engine ready', timeout);
  await page.getByRole('contentinfo').getByText(/^(passed|FAILED)$/).waitFor({ timeout });
}

/** Poll a locator's text until it equals `text` (Playwright's expect is not used with vitest). */
export async function expectText(locator: Locator, text: string | RegExp, timeout = 30_000): Promise<void> {
  const deadline = Date.now() + timeout;
  let last = '';
  while (Date.now() < deadline) {
    last = ((await locator.textContent({ timeout: 1000 }).catch(() => null)) ?? '').trim();
    if (typeof text === 'string' ? last === text : text.test(last)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect.fail(`expected ${locator} to read ${String(text)}, last read "${last}"`);
}

/** How far the page scrolls sideways in px (≤ 0: not at all): the document, and <main>, inside which the panels scroll. */
export function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(() => Math.max(...[document.documentElement, document.querySelector('main')!].map((e) => e.scrollWidth - e.clientWidth)));
}

export async function openEngineDetails(page: Page): Promise<Locator> {
  await page.getByRole('button', { name: 'Engine details' }).click();
  const dialog = page.getByRole('dialog', { name: 'Engine details' });
  await dialog.waitFor();
  return dialog;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * Run axe-core in the page and return serious and critical violations. axe is evaluated through
 * the DevTools protocol, so the page's CSP (no inline script) stays in force.
 */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  const source = await readFile('node_modules/axe-core/axe.min.js', 'utf8');
  // Colours fade on theme changes; measuring contrast mid-fade reports colours nobody sees.
  // With reduced motion the page drops its transitions (base.css), then two frames settle it.
  await page.emulateMedia({ reducedMotion: 'reduce' });
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
  await page.evaluate(source);
  return page.evaluate(async () => {
    type AxeResult = { violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[] };
    const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<AxeResult> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
}
