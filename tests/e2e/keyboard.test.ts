// Keyboard use: the five panels are an ARIA tablist (Tab reaches the selected tab, arrows / Home /
// End move between panels and follow into the address bar), the theme is a radio group, and the
// engine details open and close from the keyboard.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { PANELS } from '../../src/app/panels.ts';
import { openLab, waitForReadyEngine, type Lab } from './lab.ts';

/** Role and accessible name of the focused element. */
function focused(page: Page): Promise<{ role: string | null; name: string }> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    return { role: el?.getAttribute('role') ?? el?.tagName.toLowerCase() ?? null, name: el?.textContent?.trim() ?? '' };
  });
}

async function selectedPanel(page: Page): Promise<string> {
  const hash = await page.evaluate(() => location.hash);
  const selected = await page.getByRole('tab', { selected: true }).textContent();
  const panel = await page.getByRole('tabpanel').getAttribute('aria-labelledby');
  expect(panel).toBe(`tab-${hash.slice(2)}`);
  return `${selected?.trim()} ${hash}`;
}

describe('keyboard', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await openLab();
    await waitForReadyEngine(lab.page);
  });

  afterAll(async () => {
    await lab?.close();
  });

  it('moves across the five panels with the tablist keys', async () => {
    const { page } = lab;
    // From the top of the page: the theme radio group is one stop, the selected tab the next.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await focused(page)).toEqual({ role: 'tab', name: 'Models' });

    const seen: string[] = [];
    for (let i = 0; i < PANELS.length; i++) {
      seen.push(await selectedPanel(page));
      expect((await focused(page)).name).toBe(PANELS[i].label);
      await page.keyboard.press('ArrowRight');
    }
    expect(seen).toEqual(PANELS.map((p) => `${p.label} #/${p.id}`));
    expect(await selectedPanel(page)).toBe('Models #/models'); // wrapped around
    await page.keyboard.press('ArrowLeft');
    expect(await selectedPanel(page)).toBe('Runs & results #/runs');
    await page.keyboard.press('Home');
    expect(await selectedPanel(page)).toBe('Models #/models');
    await page.keyboard.press('End');
    expect(await selectedPanel(page)).toBe('Runs & results #/runs');
    expect(await focused(page)).toEqual({ role: 'tab', name: 'Runs & results' });

    // Tab leaves the tablist for the panel; the browser's Back button returns to the previous panel.
    await page.keyboard.press('Tab');
    expect((await focused(page)).role).toBe('tabpanel');
    await page.goBack();
    expect(await selectedPanel(page)).toBe('Models #/models');
  });

  it('switches the theme from the keyboard and keeps it across a reload', async () => {
    const { page } = lab;
    const theme = () => page.evaluate(() => [document.documentElement.dataset.theme ?? 'system', getComputedStyle(document.body).backgroundColor]);
    const [, lightBackground] = await theme();
    await page.getByRole('radio', { name: 'System' }).focus();
    await page.keyboard.press('ArrowRight');
    expect((await theme())[0]).toBe('light');
    await page.keyboard.press('ArrowRight');
    const [choice, darkBackground] = await theme();
    expect(choice).toBe('dark');
    expect(darkBackground).not.toBe(lightBackground);
    await page.reload();
    await page.getByRole('tablist').waitFor();
    expect(await theme()).toEqual(['dark', darkBackground]);
    expect(await page.getByRole('radio', { name: 'Dark' }).isChecked()).toBe(true);
    await lab.browser.screenshot('shell-dark-chosen');
    await page.getByRole('radio', { name: 'Dark' }).focus();
    await page.keyboard.press('ArrowRight'); // wraps to System
    expect((await theme())[0]).toBe('system');
  });

  it('opens and closes the engine details from the keyboard', async () => {
    const { page } = lab;
    const button = page.getByRole('button', { name: 'Engine details' });
    const dialog = page.getByRole('dialog', { name: 'Engine details' });
    await button.focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.keyboard.press('Tab'); // into the popover, right after its invoker
    expect(await focused(page)).toEqual({ role: 'button', name: 'Close' });
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    lab.browser.expectNoProblems();
  });
});
