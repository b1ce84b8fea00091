// Journey "prepare data" (issue 7, journey 4) in Chromium against the production build: the fixture
// student (Llama) and teacher (Qwen2, same tokenizer) from a local stand-in of the hub; a preference
// file written here, previewed as the model sees it with token counts; a teacher cache built with
// progress, cancelled once and resumed, cut off by a page reload and resumed again (the teacher
// reloaded from the weight cache), complete and checked; exported and imported back; a cache of
// other data refused, and shown as a mismatch when other data are selected; the bundled demo pairs.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { responseTokens, readPreferenceData, tokenizePairs } from '../../src/distill/data/preference.ts';
import { decodeTeacherCache, encodeTeacherCache } from '../../src/formats/teacher-cache.ts';
import { loadTokenizer, type Tokenizer } from '../../src/formats/tokenizer.ts';
import { FIXTURES_DIR } from '../helpers/fixtures.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';
import { expectText, openLab, seriousAxeViolations, sidewaysOverflow, waitForReadyEngine, type Lab } from './lab.ts';
import { startRepoLoad, useHub, waitForModel } from './model-steps.ts';

const QUESTIONS = [
  'Where is the station?',
  'Do you want some tea?',
  'What time is it?',
  'Can you help me with my bag?',
  'Is it going to rain today?',
  'Where did you put the keys?',
  'Shall we walk to the shop?',
  'How was your day at work?',
];
const ANSWERS = [
  'It is two streets down, on the left.',
  'Yes please, with a little milk.',
  'It is almost five o’clock.',
  'Of course, let me take it for you.',
  'Maybe later, so take an umbrella with you.',
  'On the table by the door, next to the lamp.',
  'Yes, it is a nice day for a walk.',
  'Good, thank you. I walked in the park after lunch and met my sister by the river.',
];
/** 96 pairs; a few are longer than MAX_LENGTH and get cut. */
const PAIRS = Array.from({ length: 96 }, (_, i) => ({
  id: `p${i}`,
  prompt: `${QUESTIONS[i % QUESTIONS.length]}${i >= QUESTIONS.length ? ` (${i})` : ''}`,
  chosen: ANSWERS[i % ANSWERS.length],
  rejected: i % 3 === 0 ? 'No.' : 'I do not know, ask someone else.',
}));
const TEXT = PAIRS.map((p) => JSON.stringify(p)).join('\n') + '\n';
const MAX_LENGTH = 56;

let tok: Tokenizer;

async function fixtureTokenizer(): Promise<Tokenizer> {
  const dir = join(FIXTURES_DIR, 'llama');
  return loadTokenizer({
    tokenizerJson: readFileSync(join(dir, 'tokenizer.json')),
    tokenizerConfig: readFileSync(join(dir, 'tokenizer_config.json')),
    specialTokensMap: readFileSync(join(dir, 'special_tokens_map.json')),
  });
}

function card(page: Page, testid: string): Locator {
  return page.getByTestId(testid);
}

/** Wait until the build in progress has scored past `done` examples (this session's first). */
async function waitForProgressPast(progress: Locator, done: number, timeout = 60_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const text = (await progress.getByTestId('build-numbers').textContent({ timeout: 1000 }).catch(() => null)) ?? '';
    const now = /^(\d+) of \d+ examples/.exec(text);
    if (now && Number(now[1]) > done) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect.fail(`the build did not get past example ${done}`);
}

async function openDataPanel(page: Page): Promise<void> {
  await page.getByRole('tab', { name: 'Data & teacher cache' }).click();
  await card(page, 'data-models').waitFor();
}

describe('journey: prepare data', () => {
  let lab: Lab;
  let hub: HubServer;
  let dir: string;

  beforeAll(async () => {
    tok = await fixtureTokenizer();
    dir = await mkdtemp(join(tmpdir(), 'student-lab-data-'));
    hub = await startHubServer({
      'fixtures/llama': { folder: join(FIXTURES_DIR, 'llama') },
      'fixtures/qwen2': { folder: join(FIXTURES_DIR, 'qwen2') },
    });
    lab = await openLab();
    await waitForReadyEngine(lab.page);
  });

  afterAll(async () => {
    await lab?.close();
    await hub?.close();
  });

  it('loads the student and the teacher, then a preference file, and previews it with token counts', async () => {
    const { page } = lab;
    await useHub(page, hub.url);
    await startRepoLoad(page, 'fixtures/llama');
    await waitForModel(page, 'fixtures/llama');

    await openDataPanel(page);
    const teacher = page.getByTestId('slot-teacher');
    await teacher.getByLabel('Teacher Repository id').fill('fixtures/qwen2');
    await teacher.getByRole('button', { name: 'Load the teacher' }).click();
    await expectText(teacher.getByTestId('slot-name'), 'fixtures/qwen2');
    expect(await teacher.textContent()).toContain('Qwen2ForCausalLM');
    expect(await teacher.textContent()).toContain('same tokenizer as the student');
    await expectText(teacher.getByTestId('slot-memory'), /^[\d.]+ KiB$/);
    await expectText(page.getByTestId('slot-student').getByTestId('slot-name'), 'fixtures/llama');

    // A bad file first: the error names the file and the line, and nothing is stored.
    const input = page.getByTestId('data-file');
    await input.setInputFiles({ name: 'bad.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(`${JSON.stringify(PAIRS[0])}\n{"prompt": "Hi", "chosen": "Hello"}\n`) });
    const notice = card(page, 'data-sets').getByTestId('error-notice');
    await expectText(notice.locator('.message'), 'bad.jsonl line 2: is missing "rejected" (preference data needs prompt, chosen and rejected).');
    expect(await page.getByTestId('dataset').count()).toBe(0);

    await input.setInputFiles({ name: 'pairs.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(TEXT) });
    await expectText(page.getByTestId('dataset').first(), /pairs\.jsonl\s*96 pairs · [\d.]+ KiB · sha256 [0-9a-f]{10}…/);
    expect(await notice.count()).toBe(0);

    const preview = card(page, 'data-preview');
    await preview.getByTestId('data-max-length').fill(String(MAX_LENGTH));
    // Expected counts from the fixture tokenizer, rendered with its chat template here.
    const set = await readPreferenceData(TEXT, 'pairs.jsonl');
    const uncut = tokenizePairs(set, tok, { maxLength: 1e9, overLength: 'truncate' }).pairs;
    const longer = uncut.filter((p) => Math.max(p.chosen.ids.length, p.rejected.ids.length) > MAX_LENGTH).length;
    expect(longer).toBeGreaterThan(0);
    const cut = tokenizePairs(set, tok, { maxLength: MAX_LENGTH, overLength: 'truncate' }).pairs;
    const chosenPositions = cut.reduce((n, p) => n + responseTokens(p.chosen).length, 0);
    const rejectedPositions = cut.reduce((n, p) => n + responseTokens(p.rejected).length, 0);
    await expectText(
      preview.getByTestId('over-length'),
      `${longer} of 96 pairs are longer than ${MAX_LENGTH} tokens and will be cut. A cache covers ${chosenPositions.toLocaleString('en-US')} chosen and ${rejectedPositions.toLocaleString('en-US')} rejected positions.`,
    );
    const first = preview.getByTestId('rendered-pair').first();
    const head = tok.applyChatTemplate([{ role: 'user', content: PAIRS[0].prompt }], { addGenerationPrompt: true }).ids.length;
    expect(await first.getByTestId('prompt-tokens').textContent()).toBe(String(head));
    expect(await first.getByTestId('chosen-tokens').textContent()).toBe(String(uncut[0].chosen.ids.length - head));
    expect(await first.getByTestId('rejected-tokens').textContent()).toBe(String(uncut[0].rejected.ids.length - head));
    expect(await first.textContent()).toContain('<|im_start|>user\nWhere is the station?<|im_end|>\n<|im_start|>assistant\n');
    expect(await first.textContent()).toContain('It is two streets down, on the left.<|im_end|>');
    expect(await preview.textContent()).toContain('Rendered with fixtures/llama’s chat template: the prompt in grey, special tokens shown.');
  });

  it('builds a teacher cache with progress, cancels once, resumes, and resumes again after a reload from the cached teacher', async () => {
    const { page } = lab;
    const build = card(page, 'data-build');
    await build.getByTestId('cache-batch').fill('1'); // one example per step: progress moves slowly enough to cancel
    await build.getByRole('button', { name: 'Build the cache' }).click();
    const progress = build.getByTestId('build-progress');
    await expectText(progress.getByTestId('build-numbers'), /^([3-9]|[1-8]\d) of 96 examples · [\d,]+ positions · [\d,]+ positions\/s · .+ left$/, 60_000);
    expect(Number(await progress.getByRole('progressbar').getAttribute('aria-valuenow'))).toBeGreaterThan(0);
    await lab.browser.screenshot('data-building');
    await progress.getByRole('button', { name: 'Cancel' }).click();
    const note = build.getByRole('status').filter({ hasText: 'Cancelled' });
    await expectText(note, /^Cancelled\. \d+ of 96 examples are kept; Resume continues from there\.$/);
    const kept = Number(/(\d+) of 96/.exec((await note.textContent()) ?? '')![1]);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(96);
    const row = page.getByTestId('cache-row');
    await expectText(row.getByTestId('cache-coverage'), new RegExp(`^${kept} / 96 examples · [\\d,]+ positions$`));
    await expectText(row.getByTestId('cache-integrity'), 'incomplete');

    // Resume here, then reload the page in the middle of it: the build is cut off without a cancel.
    await build.getByTestId('interrupted-build').getByRole('button', { name: /^Resume/ }).click();
    await waitForProgressPast(progress, kept);
    await page.reload();
    await waitForReadyEngine(page);
    // The student again, from this browser's cache (Models); the teacher is left to Resume.
    await page.getByRole('tab', { name: 'Models' }).click();
    await page.getByTestId('cached-model').filter({ hasText: 'fixtures/llama' }).getByRole('button', { name: 'Load fixtures/llama' }).click();
    await waitForModel(page, 'fixtures/llama');
    await openDataPanel(page);
    const interrupted = page.getByTestId('interrupted-build');
    // Progress is written every few seconds: the reload lost at most what came after.
    await expectText(interrupted.locator('.muted'), /^Stopped at \d+ of 96 examples/);
    const stopped = Number(/Stopped at (\d+)/.exec((await interrupted.locator('.muted').textContent()) ?? '')![1]);
    expect(stopped).toBeGreaterThanOrEqual(kept);
    expect(stopped).toBeLessThan(96);
    const weightsFetched = () => hub.requests.filter((r) => r.method === 'GET' && r.path.includes('qwen2/resolve/main/model.safetensors')).length;
    const before = weightsFetched();
    await interrupted.getByRole('button', { name: /^Resume/ }).click();
    await expectText(page.getByTestId('slot-teacher').getByTestId('slot-name'), 'fixtures/qwen2');
    await expectText(row.getByTestId('cache-integrity'), 'ok', 120_000);
    expect(weightsFetched()).toBe(before); // from the weight cache, not the network
    const cut = tokenizePairs(await readPreferenceData(TEXT, 'pairs.jsonl'), tok, { maxLength: MAX_LENGTH, overLength: 'truncate' }).pairs;
    const positions = cut.reduce((n, p) => n + responseTokens(p.chosen).length, 0);
    expect(await row.getByTestId('cache-coverage').textContent()).toBe(`96 / 96 examples · ${positions.toLocaleString('en-US')} positions`);
    expect(await row.textContent()).toContain(`Checked against fixtures/llama and pairs.jsonl at ${MAX_LENGTH} tokens.`);
    expect(await page.getByTestId('interrupted-build').count()).toBe(0);
  });

  it('exports the cache, imports it back, refuses a cache of other data, and shows a mismatch when other data are selected', async () => {
    const { page } = lab;
    const row = page.getByTestId('cache-row').first();
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: /^Export/ }).click()]);
    const file = join(dir, download.suggestedFilename());
    await download.saveAs(file);
    expect(download.suggestedFilename()).toBe('fixtures-qwen2-chosen-pairs.jsonl.safetensors');
    const exported = decodeTeacherCache(new Uint8Array(await readFile(file)), file);
    expect(exported.meta).toMatchObject({ response: 'chosen', k: 50, model: 'fixtures/qwen2', tokenizerSha256: tok.tokenizerSha256 });
    expect(exported.meta.exampleIds).toEqual(PAIRS.map((p) => p.id));

    const caches = card(page, 'data-caches');
    await caches.getByTestId('cache-file').setInputFiles(file);
    const imported = page.getByTestId('cache-row').filter({ hasText: 'fixtures-qwen2-chosen-pairs.jsonl.safetensors' });
    await expectText(imported.getByTestId('cache-integrity'), 'ok');
    expect(await imported.getByTestId('cache-coverage').textContent()).toBe(await row.getByTestId('cache-coverage').textContent());

    const other = join(dir, 'other-data.safetensors');
    await writeFile(other, encodeTeacherCache({ ...exported, meta: { ...exported.meta, datasetSha256: 'd'.repeat(64) } }));
    await caches.getByTestId('cache-file').setInputFiles(other);
    const notice = caches.getByTestId('error-notice');
    await expectText(notice.locator('.title'), 'The cache file was not imported');
    expect(await notice.locator('.message').textContent()).toMatch(/^other-data\.safetensors: was made from other data: dataset_sha256 dddddddddddd… vs [0-9a-f]{12}…\.$/);
    expect(await page.getByTestId('cache-row').count()).toBe(2);

    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.waitForTimeout(300); // let the colour transitions settle
      expect(await seriousAxeViolations(page), scheme).toEqual([]);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 1900 });
    await page.getByRole('heading', { name: 'Data & teacher cache', level: 2 }).evaluate((h) => h.scrollIntoView({ block: 'end' }));
    await page.waitForTimeout(300);
    await lab.browser.screenshot('data');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(300);
    await lab.browser.screenshot('data-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.waitForTimeout(300);
    // A laptop-width window: one column, nothing scrolls sideways.
    await page.setViewportSize({ width: 800, height: 900 });
    expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);
    await lab.browser.screenshot('data-800');
    await page.setViewportSize({ width: 1280, height: 800 });

    // Delete the imported copy: the other cache stays.
    await imported.getByRole('button', { name: /^Delete/ }).click();
    await imported.getByRole('button', { name: /^Delete [\d.]+ KiB$/ }).click();
    await expectText(caches.getByRole('status').filter({ hasText: 'Deleted' }), 'Deleted fixtures-qwen2-chosen-pairs.jsonl.safetensors.');
    expect(await page.getByTestId('cache-row').count()).toBe(1);
    await expectText(page.getByTestId('cache-row').getByTestId('cache-integrity'), 'ok');

    // Other data selected: the cache no longer matches, and says why.
    await page.getByTestId('data-file').setInputFiles({ name: 'other.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(`${JSON.stringify({ prompt: 'Hi', chosen: 'Hello.', rejected: 'Go.' })}\n`) });
    await expectText(page.getByTestId('cache-row').getByTestId('cache-integrity'), 'mismatch');
    expect(await page.getByTestId('cache-row').getByTestId('cache-message').textContent()).toMatch(/^was made from other data: dataset_sha256 [0-9a-f]{12}… vs [0-9a-f]{12}…\.$/);
    // The demo pairs that ship with the lab.
    await card(page, 'data-sets').getByRole('button', { name: 'Use the bundled demo pairs' }).click();
    await expectText(page.getByTestId('dataset').first(), /^pairs\.train\.jsonl\s*1,800 pairs · [\d.]+ MiB/);
    expect(await page.getByTestId('dataset').count()).toBe(3);
  });

  it('logged no console errors and threw nothing', () => {
    lab.browser.expectNoProblems();
  });
});
