// The shell from the production build with WebGPU (Mesa GLES, compatibility mode): the worker gets a
// device, the self-test kernel matches its reference, the status bar and details show the adapter,
// every panel passes axe-core and fits a laptop-width window, the Content-Security-Policy blocks
// inline script, and screenshots of light and dark are kept in test-results/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PANELS } from '../../src/app/panels.ts';
import { engineState, openEngineDetails, openLab, seriousAxeViolations, sidewaysOverflow, waitForReadyEngine, type Lab } from './lab.ts';

describe('shell with WebGPU', () => {
  let lab: Lab;

  beforeAll(async () => {
    // Developer features make Chromium share the adapter's description, so it can be asserted.
    lab = await openLab({ launch: { args: ['--enable-webgpu-developer-features'] } });
  });

  afterAll(async () => {
    await lab?.close();
  });

  it('acquires a compatibility-mode device in the worker and passes the matmul self-test', async () => {
    const { page } = lab;
    await waitForReadyEngine(page);
    const bar = page.getByRole('contentinfo');
    expect((await page.getByTestId('adapter-name').textContent()) ?? '').toMatch(/llvmpipe/i);
    expect(await bar.getByText('compatibility', { exact: true }).isVisible()).toBe(true);
    expect(await bar.getByText('passed', { exact: true }).isVisible()).toBe(true);
    expect(await page.getByTestId('gpu-memory').textContent()).toMatch(/\d+(\.\d+)? (B|KiB|MiB)/);

    const details = await openEngineDetails(page);
    const maxError = Number(await details.getByTestId('self-test-error').textContent());
    // The worker compares a 64×96·96×80 f32 matmul with the f64 reference; f32 rounding gives ~1e-6.
    expect(maxError).toBeGreaterThanOrEqual(0);
    expect(maxError).toBeLessThan(1e-4);
    expect(await details.getByText(/ANGLE .*llvmpipe/).isVisible()).toBe(true);
    expect(await details.getByText('maxStorageBufferBindingSize').isVisible()).toBe(true);
    expect(await details.getByTestId('isolation').textContent()).toMatch(/^Isolated\. The server sends COOP\/COEP headers/);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await lab.browser.screenshot('shell-details');
    await page.keyboard.press('Escape');
    await details.waitFor({ state: 'hidden' });
    expect(await engineState(page).textContent()).toBe('Engine ready');
  });

  it('reports how fast the shell becomes interactive (benchmark, not a limit)', async () => {
    const timing = await lab.page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      const paint = performance.getEntriesByName('first-contentful-paint')[0];
      const mark = performance.getEntriesByName('lab:interactive')[0];
      return { domInteractive: nav.domInteractive, firstContentfulPaint: paint?.startTime, shellMounted: mark?.startTime };
    });
    console.log(`[startup] ${JSON.stringify(Object.fromEntries(Object.entries(timing).map(([k, v]) => [k, v === undefined ? null : Math.round(v)])))} ms`);
    expect(timing.shellMounted).toBeGreaterThan(0);
  });

  it('has no serious or critical axe-core violations on any panel, light and dark', async () => {
    const { page } = lab;
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const panel of PANELS) {
        await page.getByRole('tab', { name: panel.label }).click();
        await page.getByRole('tabpanel', { name: panel.label }).waitFor();
        const violations = await seriousAxeViolations(page);
        expect(violations, `${scheme} / ${panel.label}`).toEqual([]);
      }
      await page.getByRole('tab', { name: 'Models' }).click();
      await lab.browser.screenshot(scheme === 'light' ? 'shell' : 'shell-dark');
    }
    await openEngineDetails(page);
    expect(await seriousAxeViolations(page), 'engine details (dark)').toEqual([]);
    await page.keyboard.press('Escape');
  });

  it('fits narrow laptop windows without sideways scrolling, on every panel', async () => {
    const { page } = lab;
    for (const width of [1024, 800]) {
      await page.setViewportSize({ width, height: 700 });
      for (const panel of PANELS) {
        await page.getByRole('tab', { name: panel.label }).click();
        await page.getByRole('tabpanel', { name: panel.label }).waitFor();
        expect(await sidewaysOverflow(page), `width ${width} / ${panel.label}`).toBeLessThanOrEqual(0);
      }
      expect(await page.getByRole('tab', { name: 'Runs & results' }).isVisible()).toBe(true);
      await lab.browser.screenshot(`shell-${width}`);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('carries its Content-Security-Policy in the built page, and the policy blocks an injected inline script', async () => {
    const { page } = lab;
    const policy = (await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content')) ?? '';
    expect(policy.split(';').map((d) => d.trim())).toContain("script-src 'self' 'wasm-unsafe-eval'");
    const injected = await page.evaluate(
      () =>
        new Promise<{ blocked: string | null; ran: boolean }>((resolve) => {
          const ran = () => (window as unknown as { injectedRan?: boolean }).injectedRan === true;
          document.addEventListener('securitypolicyviolation', (e) => resolve({ blocked: e.effectiveDirective, ran: ran() }), { once: true });
          setTimeout(() => resolve({ blocked: null, ran: ran() }), 5000);
          const script = document.createElement('script');
          script.textContent = 'window.injectedRan = true;';
          document.body.append(script);
        }),
    );
    expect(injected).toEqual({ blocked: 'script-src-elem', ran: false });
  });

  it('logged no console errors and threw nothing (but the inline script refused on purpose)', () => {
    lab.browser.expectNoProblems([/inline script violates the following Content Security Policy directive 'script-src /]);
  });
});
