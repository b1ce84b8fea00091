// Device loss: the worker's device is destroyed (as a driver reset would), the UI shows the lost
// state and offers to re-acquire; one click gets a new device that passes the self-test again.
// A worker that fails to load is reported too, and "Restart engine" starts a fresh one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Route } from 'playwright-core';
import { engineState, expectText, openEngineDetails, openLab, waitForReadyEngine, type Lab } from './lab.ts';

describe('engine recovery', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await openLab();
  });

  afterAll(async () => {
    await lab?.close();
  });

  it('shows the lost state and re-acquires a working device on click', async () => {
    const { page } = lab;
    await waitForReadyEngine(page);
    const bar = page.getByRole('contentinfo');
    // Without developer features Chromium withholds the adapter's name; the bar says so.
    expect(await page.getByTestId('adapter-name').textContent()).toBe('name hidden by the browser');

    const details = await openEngineDetails(page);
    await details.getByRole('button', { name: 'Simulate device loss' }).click();
    await expectText(engineState(page), 'GPU device lost');
    // Nothing runs on a lost device, and the old device's self-test verdict is gone.
    expect(await details.getByRole('button', { name: 'Run self-test' }).isDisabled()).toBe(true);
    expect(await bar.getByText('passed', { exact: true }).count()).toBe(0);
    expect(await bar.getByRole('button', { name: 'Re-acquire GPU' }).isVisible()).toBe(true);
    await page.keyboard.press('Escape');
    await lab.browser.screenshot('device-lost');

    await bar.getByRole('button', { name: 'Re-acquire GPU' }).click();
    await waitForReadyEngine(page);
    expect(await bar.getByRole('button', { name: 'Re-acquire GPU' }).count()).toBe(0);
    expect(await bar.getByText('passed', { exact: true }).isVisible()).toBe(true);

    // The new device computes: run the self-test again from the details.
    const again = await openEngineDetails(page);
    await again.getByRole('button', { name: 'Run self-test' }).click();
    await expectText(again.getByTestId('self-test'), /^Passed/);
    expect(Number(await again.getByTestId('self-test-error').textContent())).toBeLessThan(1e-4);
    lab.browser.expectNoProblems();
  });

  it('reports a worker that fails to load and restarts it on click', async () => {
    const { page } = lab;
    const workerScript = /engine\.worker-[\w-]+\.js$/;
    const refuse = (route: Route) => route.fulfill({ status: 503, body: 'unavailable' });
    await page.context().route(workerScript, refuse);
    await page.reload();
    await expectText(engineState(page), 'Engine error');
    const bar = page.getByRole('contentinfo');
    await lab.browser.screenshot('worker-error');

    await page.context().unroute(workerScript, refuse);
    await bar.getByRole('button', { name: 'Restart engine' }).click();
    await waitForReadyEngine(page);
    expect(await bar.getByText('passed', { exact: true }).isVisible()).toBe(true);
    // The refused script is the only thing the browser complained about.
    lab.browser.expectNoProblems([/503/]);
  });
});
