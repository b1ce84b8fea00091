// Journey "train with DCKD and ADPA+, then compare before and after" (issue 7, journeys 5 and 6;
// issue 5, items 3 and 5) in Chromium against the production build. The fixture Llama is the
// student, Qwen2 the DPO teacher and Qwen3 the reference (one tokenizer), all from a local stand-in
// of the hub; the student's config says a context of 1,100 tokens (its weights are the fixture's)
// so that the Arena's ~1,000-token scenario prompt fits. Steps: a preference set and its teacher
// caches built in the Data panel; DCKD with the reference weights, a cache of other data refused
// with its reason, every loss term charted, the panel left and re-entered mid-run, paused; ADPA+
// whose second stage first builds its ADPA data (ŷ by the DCKD student) and is marked on the
// charts and the timeline; paused (the paused DCKD run is then offered for resuming: the panel's
// state kept updating after the panel was left), resumed, cut off by a reload, resumed from its
// checkpoint without building its ADPA data again, finished; then "Compare in the Arena" puts the
// untrained and the trained student side by side on one scenario with the rule checks per message;
// the Runs panel shows the finished run's objective, stages, weights and caches.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES_DIR } from '../helpers/fixtures.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';
import { expectText, openLab, seriousAxeViolations, waitForReadyEngine, type Lab } from './lab.ts';
import { startRepoLoad, useHub, waitForModel } from './model-steps.ts';

const QUESTIONS = ['Where is the station?', 'Do you want some tea?', 'What time is it?', 'Can you help me with my bag?', 'Is it going to rain today?', 'Where did you put the keys?', 'Shall we walk to the shop?', 'How was your day at work?'];
const ANSWERS = ['Two streets down, on the left.', 'Yes please, with a little milk.', 'It is almost five o’clock.', 'Of course, let me take it.', 'Maybe later, take an umbrella.', 'On the table by the door.', 'Yes, it is a nice day for it.', 'Good, thank you. I walked in the park.'];
const PAIRS = QUESTIONS.map((q, i) => ({ id: `p${i}`, prompt: q, chosen: ANSWERS[i], rejected: i % 2 ? 'No.' : 'I do not know, ask someone else.' }));
const TEXT = PAIRS.map((p) => JSON.stringify(p)).join('\n') + '\n';
const OTHER = `${JSON.stringify({ prompt: 'Hi', chosen: 'Hello there.', rejected: 'Go away.' })}\n`;
/** Steps of the DCKD run, and of each ADPA+ stage. */
const DCKD_STEPS = 60;
const STAGE_STEPS = 16;

function studentConfig(): string {
  const config = JSON.parse(readFileSync(join(FIXTURES_DIR, 'llama', 'config.json'), 'utf8'));
  return JSON.stringify({ ...config, max_position_embeddings: 1100 }, null, 2);
}

async function openPanel(page: Page, tab: string, heading: string): Promise<void> {
  await page.getByRole('tab', { name: tab }).click();
  await page.getByRole('heading', { name: heading, level: 2 }).waitFor();
}

async function stepOf(page: Page): Promise<number> {
  const text = (await page.getByTestId('run-steps').textContent()) ?? '';
  return Number(/step (\d+) of/.exec(text)?.[1] ?? NaN);
}

async function waitForStep(page: Page, atLeast: number, timeout = 120_000): Promise<number> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const step = await stepOf(page).catch(() => NaN);
    if (step >= atLeast) return step;
    if (Date.now() > deadline) expect.fail(`the run did not reach step ${atLeast} (at ${step})`);
    await page.waitForTimeout(50);
  }
}

/** The latest value of each series a chart names in its caption (its label, then its value). */
async function chartValues(chart: Locator): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of await chart.locator('figcaption .value').all()) {
    const value = ((await v.locator('.mono').textContent()) ?? '').trim();
    const label = ((await v.textContent()) ?? '').trim().slice(0, -value.length).trim();
    out[label] = Number(value);
  }
  return out;
}

async function buildCache(page: Page, response: 'Chosen' | 'Rejected'): Promise<void> {
  const build = page.getByTestId('data-build');
  await build.getByRole('radio', { name: response, exact: true }).check();
  await build.getByRole('button', { name: 'Build the cache' }).click();
  await expectText(build.getByRole('status').filter({ hasText: /^Built / }), new RegExp(`^Built fixtures/qwen2 · ${response.toLowerCase()} · pairs\\.jsonl: 8 examples`), 120_000);
}

describe('journey: distil with DCKD and ADPA+, compare before and after', () => {
  let lab: Lab;
  let hub: HubServer;

  beforeAll(async () => {
    hub = await startHubServer({
      'fixtures/llama': { folder: join(FIXTURES_DIR, 'llama'), files: { 'config.json': studentConfig() } },
      'fixtures/qwen2': { folder: join(FIXTURES_DIR, 'qwen2') },
      'fixtures/qwen3': { folder: join(FIXTURES_DIR, 'qwen3') },
    });
    lab = await openLab({ launch: { viewport: { width: 1440, height: 1000 } } });
    await waitForReadyEngine(lab.page);
    await useHub(lab.page, hub.url);
    await startRepoLoad(lab.page, 'fixtures/llama');
    await waitForModel(lab.page, 'fixtures/llama');
  });

  afterAll(async () => {
    await lab?.close();
    await hub?.close();
  });

  it('prepares the data: teacher and reference loaded, a preference set, the teacher caches on both sides', async () => {
    const { page } = lab;
    await openPanel(page, 'Data & teacher cache', 'Data & teacher cache');
    const teacher = page.getByTestId('slot-teacher');
    await teacher.getByLabel('Teacher Repository id').fill('fixtures/qwen2');
    // A slow teacher download (once): the reference's loader, opened while the teacher still loads,
    // stays open when the teacher's load ends.
    hub.fault('fixtures/qwen2', 'model.safetensors', { delayMs: 40, times: 1 });
    await teacher.getByRole('button', { name: 'Load the teacher' }).click();
    const reference = page.getByTestId('slot-reference');
    await reference.getByRole('button', { name: 'Load… the reference model' }).click();
    await reference.getByLabel('Reference model Repository id').fill('fixtures/qwen3');
    await expectText(teacher.getByTestId('slot-name'), 'fixtures/qwen2');
    await expect.poll(() => teacher.getByLabel('Teacher Repository id').count(), { timeout: 30_000 }).toBe(0);
    expect(await reference.getByLabel('Reference model Repository id').inputValue()).toBe('fixtures/qwen3');
    await reference.getByRole('button', { name: 'Load the reference model' }).click();
    await expectText(reference.getByTestId('slot-name'), 'fixtures/qwen3');

    const input = page.getByTestId('data-file');
    await input.setInputFiles({ name: 'other.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(OTHER) });
    await expectText(page.getByTestId('dataset').first(), /^other\.jsonl/);
    await input.setInputFiles({ name: 'pairs.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(TEXT) });
    await expectText(page.getByTestId('dataset').first(), /^pairs\.jsonl\s*8 pairs/);
    await page.getByTestId('data-build').getByTestId('cache-k').fill('16');
    await buildCache(page, 'Chosen');
    await buildCache(page, 'Rejected');
    await expect.poll(async () => (await page.getByTestId('cache-integrity').allTextContents()).join(), { timeout: 30_000 }).toBe('ok,ok');
  });

  it('runs DCKD with the reference weights and every loss term charted, refuses a cache of other data, and keeps updating after the panel is left', async () => {
    const { page } = lab;
    await openPanel(page, 'Train', 'Train');
    const loss = page.getByTestId('train-loss');
    // The KD zoo: one divergence on the chosen responses' cache, with its λ or β.
    await page.getByRole('radio', { name: 'KD', exact: true }).check();
    expect(await loss.getByTestId('w-kd-sft').inputValue()).toBe('0');
    await loss.getByLabel('Divergence').selectOption({ label: 'Generalised JSD' });
    expect(await loss.getByTestId('opt-jsd-beta').inputValue()).toBe('0.5');
    await loss.getByLabel('Divergence').selectOption({ label: 'Skew reverse KL' });
    expect(await loss.getByTestId('opt-lambda').inputValue()).toBe('0.1');
    await expectText(page.getByTestId('cache-chosen').getByTestId('cache-verdict'), 'fits');
    expect(await page.getByTestId('cache-rejected').count()).toBe(0);

    await page.getByRole('radio', { name: 'DCKD', exact: true }).check();
    // Every weight at the reference default, each explained.
    for (const [id, value] of [['w-dckd-sft', '1'], ['w-dckd-kd', '1'], ['w-dckd-c', '0.1'], ['w-dckd-r', '0.1']]) expect(await loss.getByTestId(id).inputValue(), id).toBe(value);
    // …and the explanation is the input's description (what a screen reader reads with it).
    const helpId = await loss.getByRole('spinbutton', { name: 'w_r' }).getAttribute('aria-describedby');
    expect(await page.locator(`[id="${helpId}"]`).textContent()).toMatch(/^KL to the teacher on the rejected responses y_l/);

    const data = page.getByTestId('train-distill-data');
    await data.getByTestId('train-dataset').selectOption({ label: 'pairs.jsonl · 8 pairs' });
    await expectText(data.getByTestId('cache-chosen').getByTestId('cache-verdict'), 'fits');
    await expectText(data.getByTestId('cache-rejected').getByTestId('cache-verdict'), 'fits');
    await expectText(data.getByTestId('data-counts'), /Pairs\s*8/);

    // Other data: both caches are refused, with the reason, and the run cannot start.
    await data.getByTestId('train-dataset').selectOption({ label: 'other.jsonl · 1 pairs' });
    await expectText(data.getByTestId('cache-chosen').getByTestId('cache-verdict'), 'does not fit');
    expect(await data.getByTestId('cache-chosen').getByTestId('cache-message').textContent()).toMatch(/^was made from other data: dataset_sha256 [0-9a-f]{12}… vs [0-9a-f]{12}…\.$/);
    await expectText(page.getByRole('status').filter({ hasText: /^The chosen cache/ }), /^The chosen cache: was made from other data/);
    expect(await page.getByTestId('start-training').isDisabled()).toBe(true);
    await data.getByTestId('train-dataset').selectOption({ label: 'pairs.jsonl · 8 pairs' });
    await expectText(data.getByTestId('cache-chosen').getByTestId('cache-verdict'), 'fits');

    const details = page.getByTestId('train-options').locator('details');
    if ((await details.getAttribute('open')) === null) await details.locator('summary').click();
    await page.getByRole('radio', { name: 'Steps' }).check();
    await page.getByTestId('opt-length').fill(String(DCKD_STEPS));
    await page.getByTestId('opt-batch').fill('2');
    await page.getByTestId('opt-lr').fill('0.005');
    await page.getByTestId('opt-checkpoint-every').fill('2');
    await expectText(page.getByRole('status').filter({ hasText: /^Ready:/ }), `Ready: ${DCKD_STEPS} steps on 8 pairs.`);
    await data.scrollIntoViewIfNeeded();
    await lab.browser.screenshot('train-distill-setup');
    await page.getByTestId('start-training').click();
    const status = page.getByTestId('run-status');
    await expectText(status.getByTestId('run-state'), 'Training');
    expect(await status.getByRole('heading').textContent()).toBe('fixtures/llama · DCKD · pairs.jsonl');
    await waitForStep(page, 2);

    // Leave the panel mid-run and come back: the run went on, and the panel follows it.
    await openPanel(page, 'Data & teacher cache', 'Data & teacher cache');
    await openPanel(page, 'Train', 'Train');
    const at = await waitForStep(page, 4);
    const terms = page.getByTestId('chart-terms');
    await expect.poll(async () => Object.keys(await chartValues(terms)).sort().join(), { timeout: 10_000 }).toBe('kl_chosen,kl_rejected,sft');
    const values = await chartValues(terms);
    expect(values.sft).toBeGreaterThan(0);
    expect(values.kl_chosen).toBeGreaterThan(0);
    expect(values.kl_rejected).toBeGreaterThan(0);
    await waitForStep(page, at + 1);
    await status.getByRole('button', { name: 'Pause' }).click();
    await expectText(status.getByTestId('run-state'), 'Paused', 60_000);
    expect(await stepOf(page)).toBeLessThan(DCKD_STEPS);
  });

  it('runs ADPA+: DCKD, then ADPA from the DCKD student with its ADPA data built, marked on the charts and the timeline', async () => {
    const { page } = lab;
    await page.getByRole('radio', { name: 'ADPA+', exact: true }).check();
    const loss = page.getByTestId('train-loss');
    for (const [id, value] of [['w-dckd-c', '0.1'], ['w-adpa-sft', '1'], ['w-adpa-adpa', '1.6']]) expect(await loss.getByTestId(id).inputValue(), id).toBe(value);
    expect(await loss.getByRole('radio', { name: 'Parity clamp c(Â)' }).isChecked()).toBe(true);
    // The signed advantage is an option, labelled as a departure from the reference implementation.
    await loss.getByRole('radio', { name: 'Signed advantage β·Â' }).check();
    expect(await loss.getByTestId('advantage-help').textContent()).toMatch(/^Departs from the reference implementation/);
    expect(await loss.getByTestId('opt-advantage-beta').inputValue()).toBe('1');
    await loss.getByRole('radio', { name: 'Parity clamp c(Â)' }).check();
    // ŷ longer than the student's context is refused where it is set.
    await loss.getByTestId('opt-y-length').fill('5000');
    await expectText(loss.getByTestId('error-notice').locator('.message'), /^ŷ length: a prompt of \d+ tokens \+ 5000 new tokens exceeds the student's context of 1100\.$/);
    expect(await page.getByTestId('start-training').isDisabled()).toBe(true);
    await loss.getByTestId('opt-y-length').fill('16');
    await loss.getByTestId('opt-k').fill('16');
    const builds = page.getByTestId('adpa-builds');
    await expectText(builds.getByTestId('build-teacher'), /fixtures\/qwen2$/);
    await expectText(builds.getByTestId('build-reference'), /fixtures\/qwen3$/);
    await page.getByTestId('opt-length').fill(String(STAGE_STEPS));
    await expectText(page.getByRole('status').filter({ hasText: /^Ready:/ }), `Ready: ${STAGE_STEPS} DCKD then ${STAGE_STEPS} ADPA steps on 8 pairs.`);
    await page.getByTestId('start-training').click();

    const status = page.getByTestId('run-status');
    await expectText(status.getByRole('heading'), 'fixtures/llama · ADPA+ · pairs.jsonl');
    expect(await status.getByTestId('run-objective').textContent()).toBe(`ADPA+: DCKD (${STAGE_STEPS} steps), then ADPA (${STAGE_STEPS} steps)`);
    const stages = status.getByTestId('stage-timeline').getByTestId('stage');
    expect(await stages.count()).toBe(2);
    expect(await stages.nth(0).getAttribute('data-state')).toBe('current');
    await waitForStep(page, STAGE_STEPS + 2);
    expect(await stages.nth(0).getAttribute('data-state')).toBe('done');
    expect(await stages.nth(1).getAttribute('data-state')).toBe('current');
    // Stage 2 began by building its ADPA data: the run says so, once.
    const notices = status.getByTestId('run-notices');
    await expectText(notices.locator('[data-kind="stage"]'), new RegExp(`^Stage 2 \\(ADPA\\) began after step ${STAGE_STEPS}: the DCKD student wrote ŷ for 8 prompts \\([\\d,]+ tokens\\); fixtures/qwen2 and fixtures/qwen3 scored it, and the advantages are stored\\.$`));
    // Every chart marks where stage 2 begins; the terms chart now carries the advantage term.
    expect(await page.getByTestId('chart-loss').getByTestId('chart-mark').textContent()).toBe(`stage 2 · ADPA from step ${STAGE_STEPS + 1}`);
    await expect.poll(async () => Object.keys(await chartValues(page.getByTestId('chart-terms'))).sort().join(), { timeout: 10_000 }).toBe('adpa,kl_chosen,kl_rejected,sft');
    expect((await chartValues(page.getByTestId('chart-terms'))).adpa).toBeGreaterThan(0);

    // The README's picture of the Train panel: ADPA+ in its second stage.
    await page.locator('main').evaluate((m) => m.scrollTo(0, 0));
    await lab.browser.screenshot('train-distill');

    await status.getByRole('button', { name: 'Pause' }).click();
    await expectText(status.getByTestId('run-state'), 'Paused', 60_000);
    // The DCKD run paused earlier is offered for resuming (TrainState kept updating after its panel was left).
    await expectText(page.getByTestId('resume-banner'), new RegExp(`fixtures/llama · DCKD · pairs\\.jsonl is paused at step \\d+ of ${DCKD_STEPS}\\.`));
    await status.getByRole('button', { name: 'Resume' }).click();
    await expectText(status.getByTestId('run-state'), 'Training');
    const before = await stepOf(page);
    await waitForStep(page, before + 2);
    await page.reload();
    await waitForReadyEngine(page);
    await expectText(status.getByTestId('run-state'), 'Interrupted');
    await status.getByRole('button', { name: 'Resume' }).click();
    await expectText(status.getByTestId('run-state'), 'Finished', 180_000);
    expect(await stepOf(page)).toBe(2 * STAGE_STEPS);
    // Resumed twice inside stage 2, its ADPA data read from storage both times: built once.
    expect(await notices.locator('[data-kind="stage"]').count()).toBe(1);
    expect(await notices.locator('[data-kind="resumed"]').count()).toBe(2);
    expect(await notices.locator('[data-kind="resumed"]').last().textContent()).toMatch(/^Resumed from the checkpoint at step \d+/);
    expect(await page.getByTestId('chart-loss').getByTestId('chart-mark').textContent()).toBe(`stage 2 · ADPA from step ${STAGE_STEPS + 1}`);
    await page.getByTestId('compare').scrollIntoViewIfNeeded();
    await lab.browser.screenshot('train-distill-finished');
    // The stored ADPA data is listed with the caches.
    await openPanel(page, 'Data & teacher cache', 'Data & teacher cache');
    await expectText(page.getByTestId('cache-row').filter({ hasText: 'advantage on ŷ' }).first(), /advantage on ŷ · fixtures\/llama · ADPA\+ · pairs\.jsonl · stage 2/);
    await openPanel(page, 'Train', 'Train');
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.waitForTimeout(300); // let the colour transitions settle
      expect(await seriousAxeViolations(page), scheme).toEqual([]);
    }
    await page.locator('main').evaluate((m) => m.scrollTo(0, 0));
    await lab.browser.screenshot('train-distill-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('"Compare in the Arena" puts the student before and after training side by side, with the rule checks of each message', async () => {
    const { page } = lab;
    const compare = page.getByTestId('compare');
    await compare.getByRole('button', { name: 'Compare in the Arena' }).click();
    await page.getByRole('heading', { name: 'Arena', level: 2 }).waitFor({ timeout: 120_000 });
    const players = page.getByRole('region', { name: 'Players' });
    expect(await players.getByLabel('Side by side').isChecked()).toBe(true);
    expect(await players.getByLabel('Left model').locator('option:checked').textContent()).toBe('fixtures/llama (local: compare slot, before training)');
    expect(await players.getByLabel('Right model').locator('option:checked').textContent()).toBe('fixtures/llama (local student, after ADPA+)');
    await page.getByRole('button', { name: 'Start dialogue' }).click();
    const sides = page.getByTestId('arena-side');
    expect(await sides.count()).toBe(2);
    for (let i = 0; i < 2; i++) {
      const side = sides.nth(i);
      await expectText(side.getByTestId('side-status'), 'your turn', 180_000);
      const turn = side.getByTestId('turn').first();
      for (const rule of await turn.locator('[data-testid^="rule-"]').all()) expect(['true', 'false', null]).toContain(await rule.getAttribute('data-pass'));
      expect(await turn.locator('[data-testid^="rule-"][data-pass]').count()).toBeGreaterThan(2);
    }
    expect(await sides.nth(0).getByRole('heading').textContent()).toBe('fixtures/llama (local: compare slot, before training)');
    expect(await sides.nth(1).getByRole('heading').textContent()).toBe('fixtures/llama (local student, after ADPA+)');
    expect(await page.getByTestId('compare-slot').textContent()).toMatch(/^The engine's compare slot holds fixtures\/llama \(before training\)\.\s*Unload it$/);
    await lab.browser.screenshot('arena-compare');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expectText(sides.nth(0).getByTestId('side-status'), 'cancelled');
    // Unloading the compare slot frees it: the picker no longer offers it.
    await page.getByTestId('compare-slot').getByRole('button', { name: 'Unload it' }).click();
    await expect.poll(() => page.getByTestId('compare-slot').count()).toBe(0);
    expect(await players.getByLabel('Left model').locator('option').allTextContents()).toEqual(['fixtures/llama (local student, after ADPA+)']);
  });

  it('the Runs panel re-opens the ADPA+ run with its objective, stages, weights and teacher caches', async () => {
    const { page } = lab;
    await openPanel(page, 'Runs & results', 'Runs & results');
    await page.getByTestId('run-entry').filter({ hasText: 'ADPA+' }).click();
    const view = page.getByRole('article', { name: 'fixtures/llama · ADPA+ · pairs.jsonl' });
    await expectText(view.getByTestId('distill-objective'), `ADPA+: DCKD (${STAGE_STEPS} steps), then ADPA (${STAGE_STEPS} steps)`);
    expect(await view.getByTestId('distill-weights').locator('.line').allTextContents()).toEqual(['DCKD: w_sft 1 · w_kd 1 · w_c 0.1 · w_r 0.1', 'ADPA: w_sft 1 · w_adpa 1.6 · parity clamp c(Â)']);
    await expect
      .poll(() => view.getByTestId('distill-caches').locator('.line').allTextContents())
      .toEqual([
        'chosen: fixtures/qwen2 · chosen · pairs.jsonl',
        'rejected: fixtures/qwen2 · rejected · pairs.jsonl',
        'advantage: advantage on ŷ · fixtures/llama · ADPA+ · pairs.jsonl · stage 2 (built by the run, scored by fixtures/qwen2 and fixtures/qwen3)',
      ]);
  });

  it('logged no console errors and threw nothing', () => {
    lab.browser.expectNoProblems();
  });
});
