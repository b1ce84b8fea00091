// Journey "train" (issue 7, journey 5; issue 4, item 7) in Chromium against the production build:
// load the fixture Llama from a local stand-in of the hub, pick a small SFT file, read the data
// preview and the memory estimate, train with live charts, pause, reload the tab, resume from the
// checkpoint, finish, and export the model folder (its model.safetensors must parse and carry the
// trained weights). Then a run whose GPU device is lost mid-run: it recovers from its last
// checkpoint by itself and finishes, having lost fewer steps than the checkpoint interval.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Download, Page } from 'playwright-core';
import { parseSafetensors } from '../../src/formats/safetensors.ts';
import { tensorToFloat32 } from '../../src/formats/dtypes.ts';
import { fixture, FIXTURES_DIR } from '../helpers/fixtures.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';
import { expectText, openEngineDetails, openLab, seriousAxeViolations, waitForReadyEngine, type Lab } from './lab.ts';
import { startRepoLoad, useHub, waitForModel } from './model-steps.ts';

/** Six short dialogues in the fixture tokenizer's vocabulary, and one long one that gets truncated. */
const SFT_LINES = [
  { prompt: 'Where is the station?', response: 'It is two streets down, on the left.' },
  { prompt: 'Can you help me with my bag?', response: 'Of course, let me take it.' },
  { prompt: 'What time is it?', response: 'It is almost five o’clock.' },
  { prompt: 'Do you want some tea?', response: 'Yes please, with a little milk.' },
  { messages: [{ role: 'user', content: 'Is the shop open today?' }, { role: 'assistant', content: 'Yes, until six in the evening.' }] },
  { prompt: 'How was your day?', response: 'Good, thank you. I walked in the park.' },
  { prompt: 'Tell me about your morning.', response: 'I woke up early, made coffee, read the news, walked the dog, called my sister, and then I went to work by bus.' },
];
const SFT_TEXT = SFT_LINES.map((l) => JSON.stringify(l)).join('\n') + '\n';

async function openTrain(page: Page): Promise<void> {
  await page.getByRole('tab', { name: 'Train' }).click();
  await page.getByRole('heading', { name: 'Train', level: 2 }).waitFor();
}

async function pickData(page: Page): Promise<void> {
  await page.getByTestId('train-data-input').setInputFiles({ name: 'dialogue.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(SFT_TEXT) });
}

async function openMoreOptions(page: Page): Promise<void> {
  const details = page.getByTestId('train-options').locator('details');
  if ((await details.getAttribute('open')) === null) await details.locator('summary').click();
}

/** The step the run is at ("step N of M"). */
async function stepOf(page: Page): Promise<number> {
  const text = (await page.getByTestId('run-steps').textContent()) ?? '';
  return Number(/step (\d+) of/.exec(text)?.[1] ?? NaN);
}

async function waitForStep(page: Page, atLeast: number, timeout = 60_000): Promise<number> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const step = await stepOf(page).catch(() => NaN);
    if (step >= atLeast) return step;
    if (Date.now() > deadline) expect.fail(`the run did not reach step ${atLeast} (at ${step})`);
    await page.waitForTimeout(50);
  }
}

describe('journey: train', () => {
  let lab: Lab;
  let hub: HubServer;
  let downloads: string;

  beforeAll(async () => {
    hub = await startHubServer({ 'fixtures/llama': { folder: join(FIXTURES_DIR, 'llama') } });
    lab = await openLab();
    downloads = await mkdtemp(join(tmpdir(), 'student-lab-export-'));
    await waitForReadyEngine(lab.page);
    await useHub(lab.page, hub.url);
    await startRepoLoad(lab.page, 'fixtures/llama');
    await waitForModel(lab.page, 'fixtures/llama');
  });

  afterAll(async () => {
    await lab?.close();
    await hub?.close();
    if (downloads) await rm(downloads, { recursive: true, force: true });
  });

  it('previews the data, estimates memory, trains with live charts, pauses, resumes after a reload, finishes and exports', async () => {
    const { page } = lab;
    await openTrain(page);
    await pickData(page);
    await openMoreOptions(page);
    await page.getByTestId('opt-max-length').fill('64');
    await page.getByTestId('opt-checkpoint-every').fill('4');
    await page.getByRole('radio', { name: 'Steps' }).check();
    await page.getByTestId('opt-length').fill('24');
    await page.getByTestId('opt-batch').fill('2');
    await page.getByTestId('opt-lr').fill('0.005');

    // The data as the model sees it: 7 examples, the long one cut at 64 tokens, the chat template rendered.
    const data = page.getByTestId('train-data');
    await expectText(data.getByTestId('data-counts'), /Examples\s*7\s*Tokens mean · max\s*\d+ · 64/);
    expect(await data.getByTestId('data-cut').textContent()).toMatch(/1 truncated to the max length/);
    const preview = data.getByRole('list', { name: 'The first examples as the model sees them' });
    expect(await preview.getByRole('listitem').count()).toBe(3);
    expect(await preview.textContent()).toContain('<|im_start|>assistant');

    // The memory estimate for these options, with its breakdown.
    const memory = page.getByTestId('memory-estimate');
    await expectText(memory.getByTestId('memory-total'), /^[\d.]+ (KiB|MiB)$/);
    expect(await memory.getByRole('img').getAttribute('aria-label')).toMatch(/^Memory breakdown: Weights [\d.]+ KiB, Gradients .*Logits/);
    await expectText(page.getByTestId('planned-steps'), '24');

    // A budget too small is refused in place, with what would fit.
    await page.getByTestId('opt-budget').fill('0.1');
    await expectText(memory.getByTestId('error-notice'), /This configuration will not fit.*needs about.*What to do:/s);
    expect(await page.getByTestId('start-training').isDisabled()).toBe(true);
    await page.getByTestId('opt-budget').fill('4096');
    await expectText(page.getByRole('status').filter({ hasText: /^Ready:/ }), /^Ready: 24 steps on 7 examples\.$/);
    await lab.browser.screenshot('train-setup');

    await page.getByTestId('start-training').click();
    const status = page.getByTestId('run-status');
    await expectText(status.getByTestId('run-state'), 'Training');
    await waitForStep(page, 2);
    const lossChart = page.getByTestId('chart-loss');
    expect(await lossChart.locator('canvas').count()).toBe(1);
    const firstLoss = await lossChart.locator('figcaption .mono').textContent();
    expect(Number(firstLoss)).toBeGreaterThan(0);
    await waitForStep(page, 5);
    // The charts move with the steps.
    expect(await lossChart.locator('figcaption .mono').textContent()).not.toBe(firstLoss);
    // The README's picture of the panel mid-run (a roomier window, scrolled to the top).
    await page.setViewportSize({ width: 1440, height: 1000 });
    await page.locator('main').evaluate((m) => m.scrollTo(0, 0));
    await lab.browser.screenshot('train-running');
    await page.setViewportSize({ width: 1280, height: 800 });

    await status.getByRole('button', { name: 'Pause' }).click();
    await expectText(status.getByTestId('run-state'), 'Paused', 60_000);
    const pausedAt = await stepOf(page);
    expect(pausedAt).toBeLessThan(24);
    // The loss beside the progress is the last point charted.
    expect(await page.getByTestId('run-loss').textContent()).toBe(await lossChart.locator('figcaption .mono').textContent());
    // Paused means checkpointed: the stored checkpoint is at the paused step.
    const stored = page.getByTestId('checkpoints').locator('tr.kept td').first();
    expect(Number(await stored.textContent())).toBe(pausedAt);

    const lossAtPause = await page.getByTestId('run-loss').textContent();
    await page.reload();
    await waitForReadyEngine(page);
    await page.getByRole('heading', { name: 'Train', level: 2 }).waitFor();
    // After the reload the panel shows the paused run from storage: its progress, checkpoint and charts.
    await expectText(status.getByTestId('run-state'), 'Paused');
    expect(await stepOf(page)).toBe(pausedAt);
    expect(Number(await stored.textContent())).toBe(pausedAt);
    await expectText(lossChart.locator('figcaption .mono'), lossAtPause!);
    expect(await page.getByTestId('status-model').count()).toBe(0); // the model went with the old page
    await status.getByRole('button', { name: 'Resume' }).click();
    // Resume loads the model again (from the browser's cache) and continues from the checkpoint.
    await expectText(status.getByTestId('run-state'), 'Finished', 120_000);
    expect(await stepOf(page)).toBe(24);
    expect(await status.getByTestId('run-notices').textContent()).toContain(`Resumed from the checkpoint at step ${pausedAt}.`);
    expect(await page.getByTestId('status-model').textContent()).toContain('fixtures/llama');
    await lab.browser.screenshot('train-finished');

    // Export the model folder: one download per file.
    const files = new Map<string, string>();
    const saving: Promise<void>[] = [];
    const onDownload = (d: Download) => {
      const path = join(downloads, d.suggestedFilename());
      files.set(d.suggestedFilename(), path);
      saving.push(d.saveAs(path));
    };
    page.on('download', onDownload);
    await page.getByTestId('export').getByRole('button', { name: 'Download files' }).click();
    await expectText(page.getByTestId('exported-files'), /model\.safetensors/, 60_000);
    await expect.poll(() => files.size, { timeout: 10_000 }).toBe(6);
    await Promise.all(saving);
    page.off('download', onDownload);
    await page.getByTestId('exported-files').scrollIntoViewIfNeeded();
    await lab.browser.screenshot('train-exported');
    expect([...files.keys()].sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);

    const st = parseSafetensors(new Uint8Array(await readFile(files.get('model.safetensors')!)), 'model.safetensors');
    const f = fixture('llama');
    expect(st.header.entries.map((e) => e.name).sort()).toEqual(f.weights.header.entries.map((e) => e.name).sort());
    // LoRA on q and v was merged: those weights moved, the others did not.
    const changed = (name: string) => {
      const got = tensorToFloat32(st.get(name));
      const base = f.weight(name);
      return got.some((v, i) => Math.abs(v - base[i]) > 1e-6);
    };
    expect(changed('model.layers.0.self_attn.q_proj.weight')).toBe(true);
    expect(changed('model.layers.1.self_attn.v_proj.weight')).toBe(true);
    expect(changed('model.layers.0.self_attn.k_proj.weight')).toBe(false);
    expect(changed('model.layers.0.mlp.down_proj.weight')).toBe(false);
    expect(JSON.parse(await readFile(files.get('config.json')!, 'utf8')).architectures).toEqual(['LlamaForCausalLM']);

    expect(await seriousAxeViolations(page)).toEqual([]);
    lab.browser.expectNoProblems();
  });

  it('a tab reloaded mid-run shows the run as interrupted and resumes it, losing fewer steps than the checkpoint interval', async () => {
    const { page } = lab;
    await openTrain(page);
    await pickData(page);
    await page.getByRole('radio', { name: 'LoRA' }).check();
    await openMoreOptions(page);
    await page.getByTestId('opt-checkpoint-every').fill('4');
    await page.getByRole('radio', { name: 'Steps' }).check();
    await page.getByTestId('opt-length').fill('40');
    await expectText(page.getByRole('status').filter({ hasText: /^Ready:/ }), /^Ready: 40 steps/);
    await page.getByTestId('start-training').click();
    await waitForStep(page, 6);
    await page.reload();
    await waitForReadyEngine(page);
    const status = page.getByTestId('run-status');
    await expectText(status.getByTestId('run-state'), 'Interrupted');
    const at = await stepOf(page);
    const kept = Number(await page.getByTestId('checkpoints').locator('tr.kept td').first().textContent());
    expect(kept).toBe(Math.floor(at / 4) * 4);
    await status.getByRole('button', { name: 'Resume' }).click();
    await expectText(status.getByTestId('run-state'), 'Finished', 120_000);
    // The stored checkpoint is the truth (the record may lag it by a write): a multiple of 4, at most 3 steps back.
    const resumed = /Resumed from the checkpoint at step (\d+)(?:, redoing (\d+) steps?)?\./.exec((await status.getByTestId('run-notices').textContent()) ?? '');
    expect(resumed).not.toBeNull();
    const from = Number(resumed![1]);
    expect(from % 4).toBe(0);
    expect(from).toBeGreaterThanOrEqual(kept);
    expect(Number(resumed![2] ?? 0)).toBe(Math.max(0, at - from));
    expect(at - from).toBeLessThan(4);
    expect(await stepOf(page)).toBe(40);
  });

  it('recovers from a lost GPU device mid-run from its last checkpoint and finishes', async () => {
    const { page } = lab;
    await openTrain(page);
    await pickData(page);
    await page.getByRole('radio', { name: 'Full fine-tuning' }).check();
    await openMoreOptions(page);
    await page.getByTestId('opt-checkpoint-every').fill('3');
    await page.getByRole('radio', { name: 'Steps' }).check();
    await page.getByTestId('opt-length').fill('90');
    await page.getByTestId('opt-lr').fill('0.0005');
    await expectText(page.getByRole('status').filter({ hasText: /^Ready:/ }), /^Ready: 90 steps/);
    await page.getByTestId('start-training').click();
    const status = page.getByTestId('run-status');
    await expectText(status.getByTestId('run-state'), 'Training');
    await waitForStep(page, 2);

    const details = await openEngineDetails(page);
    await details.getByRole('button', { name: 'Simulate device loss' }).click();
    await page.keyboard.press('Escape');
    const notices = status.getByTestId('run-notices');
    await expectText(notices.locator('[data-kind="recovered"]'), /^Recovered on a new device: resumed from the checkpoint at step \d+/, 60_000);
    const lostAt = Number(/lost at step (\d+)/.exec((await notices.locator('[data-kind="device-lost"]').textContent()) ?? '')?.[1]);
    const from = Number(/checkpoint at step (\d+)/.exec((await notices.locator('[data-kind="recovered"]').textContent()) ?? '')?.[1]);
    // At most N = 3 steps lost: the checkpoint is the last multiple of 3 at or before the loss, or
    // the one before it when the device went while the step's checkpoint was being read back.
    expect(from % 3).toBe(0);
    expect([Math.floor(lostAt / 3) * 3, Math.floor((lostAt - 1) / 3) * 3]).toContain(from);
    expect(lostAt - from).toBeLessThanOrEqual(3);
    await lab.browser.screenshot('train-recovered');
    await expectText(status.getByTestId('run-state'), 'Finished', 120_000);
    expect(await stepOf(page)).toBe(90);
    expect(await page.getByTestId('engine-state').textContent()).toBe('Engine ready');
    // The panel in the dark theme: charts recoloured from the tokens, no contrast problems.
    await page.getByRole('radio', { name: 'Dark' }).check();
    await page.locator('main').evaluate((m) => m.scrollTo(0, 0));
    await lab.browser.screenshot('train-dark');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.getByRole('radio', { name: 'System' }).check();
    // The device loss itself is logged by the browser; nothing else went wrong.
    lab.browser.expectNoProblems([/device.*(lost|destroyed)/i, /Instance dropped/i]);
  });
});
