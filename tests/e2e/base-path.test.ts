// The production build (base './') works from any static host under any base path: every request
// stays under the base, the engine starts, hash routes survive a reload. On a host that cannot
// send COOP/COEP (GitHub Pages), public/coi.js makes the page cross-origin isolated after one reload.
import { afterEach, describe, expect, it } from 'vitest';
import { expectText, openEngineDetails, openLab, waitForReadyEngine, type Lab } from './lab.ts';

const BASE = '/some/base/';

describe('under a base path', () => {
  let lab: Lab | undefined;

  afterEach(async () => {
    await lab?.close();
    lab = undefined;
  });

  it('loads every file from under the base path and keeps hash routes', async () => {
    lab = await openLab({ base: BASE });
    const { page, server } = lab;
    expect(server.url.endsWith(BASE)).toBe(true);
    await waitForReadyEngine(page);
    expect(server.requests.length).toBeGreaterThan(3);
    expect(server.requests.filter((path) => !path.startsWith(BASE))).toEqual([]);
    expect(server.requests.some((path) => /engine\.worker-.*\.js$/.test(path))).toBe(true);

    await page.getByRole('tab', { name: 'Arena' }).click();
    expect(new URL(page.url()).pathname + new URL(page.url()).hash).toBe(`${BASE}#/arena`);
    await page.reload();
    await page.getByRole('tabpanel', { name: 'Arena' }).waitFor();
    expect(await page.getByRole('tab', { name: 'Arena' }).getAttribute('aria-selected')).toBe('true');
    await waitForReadyEngine(page);
    lab.browser.expectNoProblems();
  });

  it('becomes cross-origin isolated through the coi.js service worker when the host sends no headers', async () => {
    lab = await openLab({ base: BASE, isolation: false });
    const { page, server } = lab;
    await waitForReadyEngine(page);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(`${server.url}coi.js`);
    // One registration, one reload: the document was requested twice.
    expect(server.requests.filter((path) => path === BASE).length).toBe(2);
    const details = await openEngineDetails(page);
    await expectText(details.getByTestId('isolation'), /^Isolated\. This host sends no COOP\/COEP headers; the coi\.js service worker adds them/);
    lab.browser.expectNoProblems();
  });
});
