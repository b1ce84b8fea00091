// Journey "first visit" (issue 7, journey 1) and the one-click demo (issue 8, item 4) in Chromium
// against the production build, offline and under a base path: the static server serves dist/ only,
// and every request the page and its workers make must go to it. The welcome card says what the lab
// does, shows the WebGPU status from the engine's report and offers both ways in; "Run the built-in
// demo" loads the demo student, stores the demo pairs and teacher caches, distils it with DCKD in the
// Train panel (shortened with the test-only `?demoSteps=`), can be cancelled and run again (the
// stored data and caches are used as they are), survives a reload mid-run (the run resumes from its
// checkpoint and the demo goes on), and opens the Arena with the student before and after side by
// side on a held-out demo scenario, each first message with its rule checks.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_NAME } from '../../src/store/db.ts';
import { expectText, openLab, seriousAxeViolations, waitForReadyEngine, type Lab } from './lab.ts';

/** The demo run's length here (the CPU-emulated GPU); it checkpoints every ceil(STEPS / 10) steps. */
const STEPS = 12;
const CHECKPOINT_EVERY = Math.ceil(STEPS / 10);
const BASE = '/lab/';

/** A value of the lab's IndexedDB settings, read in the page. */
function storedSetting(page: Page, key: string): Promise<unknown> {
  return page.evaluate(
    ([name, key]) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open(name);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const get = open.result.transaction('settings').objectStore('settings').get(key);
          get.onsuccess = () => {
            resolve(get.result);
            open.result.close();
          };
        };
      }),
    [DB_NAME, key],
  );
}

async function stepOf(page: Page): Promise<number> {
  const text = (await page.getByTestId('run-steps').textContent({ timeout: 1000 }).catch(() => '')) ?? '';
  return Number(/step (\d+) of/.exec(text)?.[1] ?? NaN);
}

async function waitForStep(page: Page, atLeast: number, timeout = 180_000): Promise<number> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const step = await stepOf(page);
    if (step >= atLeast) return step;
    if (Date.now() > deadline) expect.fail(`the demo's run did not reach step ${atLeast} (at ${step})`);
    await page.waitForTimeout(50);
  }
}

describe('journey: first visit and the built-in demo', () => {
  let lab: Lab;
  /** Every URL the page and its workers asked for. */
  const requested: string[] = [];

  beforeAll(async () => {
    lab = await openLab({ base: BASE, url: (u) => `${u}?demoSteps=${STEPS}`, launch: { viewport: { width: 1440, height: 1000 } } });
    lab.browser.context.on('request', (r) => requested.push(r.url()));
  });

  afterAll(async () => {
    await lab?.close();
  });

  it('first visit: two sentences on what the lab does, the WebGPU status, the demo and "Load your own model"', async () => {
    const { page } = lab;
    const welcome = page.getByTestId('welcome');
    await welcome.getByRole('heading', { name: 'Watch a student learn, right here in this tab', level: 2 }).waitFor();
    const about = ((await welcome.getByTestId('welcome-about').textContent()) ?? '').trim().replace(/\s+/g, ' ');
    expect(about.split(/(?<=\.)\s+/)).toHaveLength(2);
    expect(about).toMatch(/^The lab loads a small language model on your GPU, distils a preference-aligned teacher into it/);
    await waitForReadyEngine(page);
    // This machine's WebGPU is Mesa behind Dawn, compatibility mode: the engine's report says so.
    await expectText(welcome.getByTestId('welcome-gpu').locator('.title'), /^WebGPU ready in compatibility mode/);
    // Its names are hidden from the page, and a nameless compatibility adapter is the software route: the card says so.
    expect(await welcome.getByTestId('welcome-gpu').locator('.hint').textContent()).toMatch(/^It looks like a software renderer/);
    const run = welcome.getByRole('button', { name: 'Run the built-in demo' });
    await expect.poll(() => run.isEnabled(), { timeout: 10_000 }).toBe(true);
    const own = welcome.getByRole('button', { name: 'Load your own model' });
    expect(await own.isEnabled()).toBe(true);
    await own.click();
    expect(await page.getByLabel('Repository id').evaluate((el) => el === document.activeElement)).toBe(true);
    await page.locator('main').evaluate((m) => m.scrollTo(0, 0));
    expect(await seriousAxeViolations(page)).toEqual([]);
    await lab.browser.screenshot('welcome');
  });

  it('runs the demo until it is cancelled: the student loaded, its data and caches stored, DCKD training in the Train panel', async () => {
    const { page } = lab;
    await page.getByTestId('welcome').getByRole('button', { name: 'Run the built-in demo' }).click();
    const banner = page.getByTestId('demo-banner');
    await banner.waitFor();
    // The Train panel takes over once the run starts.
    await page.getByRole('heading', { name: 'Train', level: 2 }).waitFor({ timeout: 120_000 });
    const status = page.getByTestId('run-status');
    await expectText(status.getByTestId('run-state'), 'Training', 60_000);
    await banner.getByRole('button', { name: 'Cancel the demo' }).click();
    await banner.getByRole('group', { name: 'Stop the demo and discard its run?' }).getByRole('button', { name: 'Cancel the demo' }).click();
    await expectText(page.getByTestId('demo-status'), 'The demo was cancelled.', 60_000);
    await expectText(status.getByTestId('run-state'), 'Cancelled');
  });

  it('runs it again with the stored data, distils the student with live charts, and resumes after a reload', async () => {
    const { page } = lab;
    const banner = page.getByTestId('demo-banner');
    await banner.getByRole('button', { name: 'Run it again' }).click();
    const status = page.getByTestId('run-status');
    await expectText(status.getByTestId('run-state'), 'Training', 120_000);
    expect(await status.getByRole('heading').textContent()).toBe('demo student · DCKD · Demo pairs');
    expect(await status.getByTestId('run-objective').textContent()).toBe('DCKD');
    expect(await page.getByTestId('demo-step').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))).toEqual(['done', 'done', 'current', 'todo']);
    // The second run used the caches the first one stored (each file fetched once); the pairs, read
    // again, are the same data set (stored once, by their SHA-256).
    for (const file of ['chosen', 'rejected']) {
      expect(lab.server.requests.filter((p) => p === `${BASE}demo/caches/${file}.safetensors`), file).toHaveLength(1);
    }
    expect(await page.getByTestId('train-dataset').locator('option', { hasText: /^Demo pairs/ }).count()).toBe(1);
    // The demo's data went through the stores the panels use, and fit the student.
    await expectText(page.getByTestId('cache-chosen').getByTestId('cache-verdict'), 'fits');
    await expectText(page.getByTestId('cache-rejected').getByTestId('cache-verdict'), 'fits');
    expect(await page.getByTestId('train-dataset').locator('option:checked').textContent()).toMatch(/^Demo pairs · \d+ pairs$/);

    // Cut off by a reload after its first checkpoint: the run resumes from it and the demo goes on.
    await waitForStep(page, CHECKPOINT_EVERY + 1);
    await expectText(page.getByTestId('demo-status'), /^Distilling the demo student with DCKD… Step \d+ of 12\.$/);
    await page.reload();
    await banner.waitFor({ timeout: 60_000 });
    await expectText(status.getByTestId('run-state'), 'Training', 120_000);
    await expectText(status.getByTestId('run-notices').locator('[data-kind="resumed"]'), /^Resumed from the checkpoint at step \d+/, 60_000);
    await lab.browser.screenshot('demo-train');
  });

  it('opens the Arena with the student before and after side by side on a held-out demo scenario, rule checks on both first messages', async () => {
    const { page } = lab;
    await page.getByRole('heading', { name: 'Arena', level: 2 }).waitFor({ timeout: 300_000 });
    const players = page.getByRole('region', { name: 'Players' });
    expect(await players.getByLabel('Side by side').isChecked()).toBe(true);
    expect(await players.getByLabel('Left model').locator('option:checked').textContent()).toBe('demo student (local: compare slot, before training)');
    expect(await players.getByLabel('Right model').locator('option:checked').textContent()).toBe('demo student (local student, after DCKD)');
    expect(await page.getByRole('complementary', { name: 'Scenario' }).textContent()).toContain('Demo scenarios (held out)');
    const sides = page.getByTestId('arena-side');
    expect(await sides.count()).toBe(2);
    // Both open the conversation: with the default guidance prompts (longer than the demo models'
    // 256-token context) they could not; the Arena gives demo models the demo's prompts.
    for (let i = 0; i < 2; i++) {
      const side = sides.nth(i);
      await expectText(side.getByTestId('side-status'), 'your turn', 120_000);
      const turn = side.getByTestId('turn').first();
      expect(((await turn.textContent()) ?? '').trim()).not.toBe('');
      for (const rule of await turn.locator('[data-testid^="rule-"]').all()) expect(['true', 'false', null]).toContain(await rule.getAttribute('data-pass'));
      expect(await turn.locator('[data-testid^="rule-"][data-pass]').count()).toBeGreaterThan(2);
    }
    await expectText(page.getByTestId('demo-status'), /^Done: the demo student before and after distillation/);
    expect(await page.getByTestId('demo-step').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))).toEqual(['done', 'done', 'done', 'done']);
    // The picture: the finished demo above the Arena, both first messages in view.
    await page.setViewportSize({ width: 1440, height: 1240 });
    await page.locator('main').evaluate((m) => m.scrollTo(0, 0));
    await lab.browser.screenshot('demo-arena');
    await page.setViewportSize({ width: 1440, height: 1000 });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.waitForTimeout(300); // let the colour transitions settle
      expect(await seriousAxeViolations(page), scheme).toEqual([]);
    }
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('loads the demo student from the Models panel, keeps the welcome card away once dismissed, and the finished demo stays finished', async () => {
    const { page } = lab;
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await page.getByRole('tab', { name: 'Models' }).click();
    await page.getByRole('radio', { name: 'Demo' }).check();
    await page.getByTestId('demo-tab').getByRole('button', { name: 'Load the demo student' }).click();
    await expectText(page.getByTestId('model-card').getByTestId('model-parameters'), /^[\d,]+$/);
    // Named as the demo names it; its address shows where it came from.
    expect(await page.getByTestId('model-card').getByRole('heading', { level: 2 }).textContent()).toBe('demo student');
    expect(await page.getByTestId('model-card').textContent()).toContain(`${BASE}demo/models/student/`);
    await page.getByRole('button', { name: 'Dismiss the welcome' }).click();
    await expect.poll(() => page.getByTestId('welcome').count()).toBe(0);
    await expect.poll(() => storedSetting(page, 'demo.welcomeDismissed')).toBe(true);
    expect(await storedSetting(page, 'demo.flow')).toMatchObject({ step: 'done' });
    await page.reload();
    await waitForReadyEngine(page);
    await page.getByRole('heading', { name: 'Load a model', level: 2 }).waitFor();
    expect(await page.getByTestId('welcome').count()).toBe(0);
    expect(await page.getByTestId('demo-banner').count()).toBe(0);
  });

  it('asked nothing of any host but the page’s own, and logged no console errors', () => {
    const origin = new URL(lab.server.url).origin;
    const elsewhere = requested.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('blob:') && !u.startsWith('data:'));
    expect(elsewhere).toEqual([]);
    expect(lab.server.requests).toContain(`${BASE}demo/models/student/model.safetensors`);
    lab.browser.expectNoProblems();
  });
});
