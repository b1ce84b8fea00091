// Without a WebGPU device the page explains what is needed instead of going blank or throwing.
// Chromium 156 here: without the WebGPU switches navigator.gpu exists but every adapter request
// returns null (--disable-features=WebGPU does not remove it); over plain http from a host that is
// not this machine the page is no secure context and navigator.gpu is undefined.
import { afterEach, describe, expect, it } from 'vitest';
import { engineState, expectText, openLab, type Lab } from './lab.ts';

describe('no WebGPU', () => {
  let lab: Lab | undefined;

  afterEach(async () => {
    await lab?.close();
    lab = undefined;
  });

  async function expectExplanation(lab: Lab, reason: RegExp): Promise<void> {
    const { page } = lab;
    const heading = page.getByRole('heading', { name: 'This browser gives the lab no WebGPU device' });
    await heading.waitFor({ timeout: 30_000 });
    await expectText(engineState(page), 'No WebGPU device');
    expect(await page.getByRole('note', { name: 'What the browser said' }).textContent()).toMatch(reason);
    expect(await page.getByText('Chrome or Edge 113 or newer').isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Try again' }).isVisible()).toBe(true);
    // The engine's panels explain; the Arena works with endpoint models alone.
    await page.getByRole('tab', { name: 'Train' }).click();
    await heading.waitFor();
    await page.getByRole('link', { name: 'Arena' }).click();
    await page.getByRole('tab', { name: 'Arena', selected: true }).waitFor();
    expect(await heading.count()).toBe(0);
    await page.getByRole('tab', { name: 'Models' }).click();
    await heading.waitFor();
  }

  it('explains what to do when the browser offers no adapter', async () => {
    lab = await openLab({ launch: { webgpu: false } });
    await expectExplanation(lab, /offered no adapter/);
    // Trying again asks again and lands on the same explanation.
    await lab.page.getByRole('button', { name: 'Try again' }).click();
    await expectExplanation(lab, /offered no adapter/);
    await lab.browser.screenshot('no-webgpu');
    lab.browser.expectNoProblems();
  });

  it('explains the secure-context requirement when navigator.gpu is undefined', async () => {
    lab = await openLab({
      isolation: false,
      launch: { args: ['--host-resolver-rules=MAP lab.test 127.0.0.1'] },
      url: (serverUrl) => serverUrl.replace('127.0.0.1', 'lab.test'),
    });
    expect(await lab.page.evaluate(() => [isSecureContext, 'gpu' in navigator])).toEqual([false, false]);
    await expectExplanation(lab, /secure context/);
    lab.browser.expectNoProblems();
  });
});
