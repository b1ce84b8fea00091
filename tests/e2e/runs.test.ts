// Journeys "batch evaluation" and "runs" (issue 7, journeys 7 and 8; issue 6, batch runs) in
// Chromium against the production build, with a scripted OpenAI-compatible endpoint: a small batch
// (3 environments, both tasks, 1 agreeableness level) started from the form; the tab reloaded
// mid-run; Resume finishes it without redoing any finished item (counted on the server); results
// per domain and overall beside the paper's 28 rows, with our row highlighted; CSV and JSON
// exports; transcripts re-opened; a training run listed beside it, filtered by kind; delete.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import type { ScriptedRequest } from '../helpers/openai-server.ts';
import { expectText, openLab, seriousAxeViolations, waitForReadyEngine, type Lab } from './lab.ts';
import { addEndpoint, closeEndpointsDialog, openPanel, scriptedEndpoint, setRoleDefaults, turnsIn, type ScriptedEndpoint } from './proactive.ts';

interface Item {
  environment: { user_information: string };
}
const FAIR = JSON.parse(await readFile('public/scenarios/dataset/recommendation/fair.json', 'utf8')) as Item[];
/** The three environments of the batch: the first three of recommendation/fair.json. */
const PEOPLE = FAIR.slice(0, 3).map((item) => item.environment.user_information);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** The model's second message: markup and script that the transcript must show as text. */
const MARKUP = 'Then try <b>it</b> on your next break. <img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';

/** Which of the three environments a model request is about (-1: none). */
function environmentOf(request: ScriptedRequest): number {
  const text = request.messages.map((m) => m.content).join('\n');
  return PEOPLE.findIndex((info) => text.includes(info));
}

interface StoredItem {
  itemKey: string;
  task: string;
  scenarioKey: string;
  status: string;
}

/** The evaluation items in the page's IndexedDB. */
function storedItems(page: Page): Promise<StoredItem[]> {
  return page.evaluate(
    () =>
      new Promise<StoredItem[]>((resolve, reject) => {
        const open = indexedDB.open('student-lab');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const request = open.result.transaction('evalItems').objectStore('evalItems').getAll();
          request.onsuccess = () => {
            resolve((request.result as StoredItem[]).map(({ itemKey, task, scenarioKey, status }) => ({ itemKey, task, scenarioKey, status })));
            open.result.close();
          };
          request.onerror = () => reject(request.error);
        };
      }),
  );
}

/** A training run as the Train panel stores it (src/store/runs.ts), with a few steps of metrics. */
function seedTrainingRun(page: Page): Promise<void> {
  return page.evaluate(
    () =>
      new Promise<void>((resolve, reject) => {
        const open = indexedDB.open('student-lab');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const tx = open.result.transaction(['runs', 'runMetrics'], 'readwrite');
          const now = Date.now() - 3_600_000;
          tx.objectStore('runs').put({
            id: 'train-seeded',
            kind: 'train',
            name: 'ADPA on the demo student',
            createdAt: now,
            updatedAt: now + 60_000,
            status: 'paused',
            model: { id: 'demo@main', name: 'demo', parameters: 123712, tokenizerSha256: 'ab', location: 'demo' },
            data: { id: 'run-data:train-seeded', name: 'pairs.jsonl', bytes: 2048, examples: 64, truncated: 0, skipped: 0, empty: 0 },
            options: {
              mode: 'lora',
              lora: { rank: 8, alpha: 16, dropout: 0, targets: ['q_proj', 'v_proj'] },
              optimizer: 'adamw',
              lr: 0.0002,
              weightDecay: 0,
              momentum: 0,
              length: { unit: 'steps', value: 100 },
              batchSize: 4,
              gradAccum: 2,
              maxGradNorm: 1,
              schedule: 'cosine',
              warmup: 0.1,
              maxLength: 256,
              overLength: 'truncate',
              checkpointEvery: 20,
              seed: 7,
              budgetMiB: 512,
            },
            config: { steps: 100 },
            step: 40,
            totalSteps: 100,
            checkpoint: null,
            checkpoints: [{ step: 40, createdAt: now, bytes: 4096 }],
            notices: [],
            summary: { loss: 1.2345, tokens: 5000, trainMs: 61_000, deviceLosses: 0, lostSteps: 0 },
            error: null,
          });
          for (let step = 1; step <= 40; step++) {
            tx.objectStore('runMetrics').put({ runId: 'train-seeded', step, loss: 2.5 - step * 0.03, terms: {}, gradNorm: 1, lr: 0.0002, tokens: 125, tokensPerSecond: 50, ms: 100, liveBytes: 0, skipped: false, at: now });
          }
          tx.oncomplete = () => {
            open.result.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
  );
}

async function download(page: Page, button: Locator): Promise<{ name: string; text: string }> {
  const [file] = await Promise.all([page.waitForEvent('download'), button.click()]);
  return { name: file.suggestedFilename(), text: await readFile(await file.path(), 'utf8') };
}

describe('journeys: batch evaluation and runs', () => {
  let lab: Lab;
  let endpoint: ScriptedEndpoint;

  beforeAll(async () => {
    endpoint = await scriptedEndpoint({
      // The model is slow enough that the tab can be reloaded mid-run.
      'planning.model': async () => {
        await sleep(600);
        return '{"target": "Recommend a book", "sub_targets": ["Ask about her reading", "Suggest one"]}';
      },
      'planning.judge': () => '{"reason": "Close to the reference.", "score": 6}',
      'guidance.model': async (request) => {
        await sleep(300);
        return request.messages.length === 2 ? 'Loved your last five-star pick! Want a new one for tonight?' : MARKUP;
      },
      'user.simulator': () => 'Sure, go on.',
      'guidance.check': (request) => `{"reached": ${turnsIn(request) >= 2}}`,
      'guidance.judge': () => '{"thought": "Short and personal.", "score": 8}',
      'guidance.density': (request) => {
        const count = Number(/holding (\d+) lists/.exec(request.messages[0].content)?.[1] ?? 0);
        return JSON.stringify({ touched: Array.from({ length: count }, () => [1]) });
      },
    });
    lab = await openLab();
    await waitForReadyEngine(lab.page);
    const { page } = lab;
    await openPanel(page, 'Runs & results');
    await addEndpoint(page, { baseUrl: endpoint.url, model: 'student-a', label: 'Student A' });
    await addEndpoint(page, { baseUrl: endpoint.url, model: 'judge', label: 'Judge' });
    await addEndpoint(page, { baseUrl: endpoint.url, model: 'user', label: 'Simulated user' });
    await setRoleDefaults(page, { 'Model under test': 'Student A', Judge: 'Judge', 'Simulated user': 'Simulated user' });
    await closeEndpointsDialog(page);
  });

  afterAll(async () => {
    await lab?.close();
    await endpoint?.close();
  });

  it('runs a small batch, survives a reload mid-run and resumes without redoing finished items', async () => {
    const { page } = lab;
    const form = page.getByRole('form', { name: 'New evaluation' });
    for (const domain of ['Persuasion', 'Ambiguous Instruction', 'Long-term Follow-up', 'System Operation', 'Glasses Assistant']) {
      await form.getByRole('group', { name: 'Domains' }).getByLabel(domain).uncheck();
    }
    await form.getByRole('radiogroup', { name: 'Tier' }).getByText('Fair').click();
    await form.getByLabel('Environments per domain').fill('3');
    await form.getByLabel('Environments per domain').press('Tab');
    await form.getByLabel('low', { exact: true }).uncheck();
    await form.getByLabel('high', { exact: true }).uncheck();
    await form.getByLabel('Concurrency').fill('1');
    await form.getByLabel('Name (optional)').fill('Student A, three books');
    expect(await form.getByLabel('Student A', { exact: true }).isChecked()).toBe(true);
    await expectText(form.getByTestId('planned-items'), /^6 items/);
    await lab.browser.screenshot('runs-new');
    await form.getByRole('button', { name: 'Start evaluation' }).click();

    const numbers = page.getByTestId('batch-numbers');
    await expectText(numbers, /^[2-5] of 6 done/, 60_000);
    await lab.browser.screenshot('runs-progress');
    const before = (await storedItems(page)).filter((i) => i.status === 'done');
    expect(before.length).toBeGreaterThanOrEqual(2);
    await seedTrainingRun(page);

    await page.reload();
    await openPanel(page, 'Runs & results');
    const entry = page.getByTestId('run-entry').filter({ hasText: 'Student A, three books' });
    await expectText(entry.locator('.status'), 'interrupted');
    await entry.click();
    const requestsAtReload = endpoint.requests.length;
    await page.getByRole('button', { name: 'Resume' }).click();
    await expectText(page.getByRole('article', { name: 'Student A, three books' }).locator('.eyebrow'), 'Evaluation run · finished', 60_000);
    expect(endpoint.requests.length).toBeGreaterThan(requestsAtReload);

    // Every item is done, and no item finished before the reload was asked again.
    const after = await storedItems(page);
    expect(after.length).toBe(6);
    expect(after.every((i) => i.status === 'done')).toBe(true);
    const firstRequests = (task: string, env: number): number =>
      task === 'planning'
        ? endpoint.of('planning.model').filter((r) => environmentOf(r) === env).length
        : endpoint.of('guidance.model').filter((r) => r.messages.length === 2 && environmentOf(r) === env).length;
    for (const item of before) {
      const env = Number(item.scenarioKey.split('/').at(-1));
      expect(firstRequests(item.task, env), item.itemKey).toBe(1);
    }
    for (const task of ['planning', 'guidance']) for (let env = 0; env < 3; env++) expect(firstRequests(task, env)).toBeGreaterThanOrEqual(1);
    // At most one item (concurrency 1) was in flight at the reload and is redone.
    const total = [0, 1, 2].reduce((n, env) => n + firstRequests('planning', env) + firstRequests('guidance', env), 0);
    expect(total).toBeLessThanOrEqual(7);
  });

  it('shows the results per domain and overall beside the paper’s table, and exports CSV and JSON', async () => {
    const { page } = lab;
    const rows = page.getByTestId('results-row');
    expect(await rows.count()).toBe(2);
    const planning = (await rows.nth(0).locator('td').allTextContents()).map((t) => t.trim());
    const guidance = (await rows.nth(1).locator('td').allTextContents()).map((t) => t.trim());
    // Task, Avg., REC, PER, AI, LF, SYS, GAS, n: every planning score was 6 and every guidance score 8.
    expect(planning).toEqual(['Target planning', '6.00', '6.00', '–', '–', '–', '–', '–', '3']);
    expect(guidance).toEqual(['Dialogue guidance', '8.00', '8.00', '–', '–', '–', '–', '–', '3']);

    const paper = page.getByTestId('paper-row');
    expect(await paper.count()).toBe(29);
    const ours = page.locator('[data-testid="paper-row"][data-source="lab"]');
    expect(await ours.count()).toBe(1);
    expect(await ours.textContent()).toMatch(/Student A\s*this lab · n=3\s*8\.00/);
    await page.getByRole('radiogroup', { name: 'Task shown' }).getByText('Target planning').click();
    await expectText(ours.locator('td').nth(1), '6.00');
    expect(await page.getByRole('img', { name: /^Target planning: our scores beside the range/ }).isVisible()).toBe(true);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.getByRole('region', { name: 'Beside the paper' }).scrollIntoViewIfNeeded();
    await lab.browser.screenshot('runs-results');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(400); // let the colour transitions (≤ 200 ms) settle before contrast is measured
    expect(await seriousAxeViolations(page), 'dark').toEqual([]);
    await page.emulateMedia({ colorScheme: 'light' });
    for (const width of [1024, 800]) {
      await page.setViewportSize({ width, height: 800 });
      expect(await page.evaluate(() => document.querySelector('main')!.scrollWidth - document.querySelector('main')!.clientWidth), `width ${width}`).toBeLessThanOrEqual(0);
    }
    await page.setViewportSize({ width: 1280, height: 800 });

    const json = await download(page, page.getByRole('button', { name: 'Export JSON' }));
    expect(json.name).toMatch(/^eval-.*\.json$/);
    const doc = JSON.parse(json.text) as { format: string; items: { status: string; guidance?: { dialogue: { turns: unknown[] } } }[]; leaderboard: unknown[]; run: { settings: { judge: string }; prompts: unknown[] } };
    expect(doc.format).toBe('student-lab/proactive-eval-results');
    expect(doc.items.length).toBe(6);
    expect(doc.items.filter((i) => i.guidance).every((i) => i.guidance!.dialogue.turns.length === 2)).toBe(true);
    expect(doc.leaderboard.length).toBe(29);
    expect(doc.run.settings.judge).toMatch(/^judge @ 127\.0\.0\.1:\d+$/);
    expect(doc.run.prompts.length).toBeGreaterThan(0);

    const csv = await download(page, page.getByRole('button', { name: 'Export CSV' }));
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0].startsWith('run_id,task,model,domain,tier,scenario')).toBe(true);
    expect(lines.length).toBe(7);
    const board = await download(page, page.getByRole('button', { name: 'Leaderboard CSV' }));
    expect(board.text.trim().split('\r\n').length).toBe(30);
    expect(board.text).toContain('lab,,Student A,6,6,,,,,,8,8');
  });

  it('re-opens transcripts, lists training runs by kind, and deletes runs', async () => {
    const { page } = lab;
    const item = page.getByTestId('item').filter({ hasText: 'Guidance' }).first();
    await item.locator('summary').click();
    await expectText(item.getByTestId('transcript'), /Assistant Loved your last five-star pick![\s\S]*User Sure, go on\./);
    expect(await item.getByTestId('transcript').textContent()).toContain(`Assistant ${MARKUP}`);
    expect(await item.locator('b, img, script').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();

    await page.getByRole('radiogroup', { name: 'Show runs of kind' }).getByText('Training').click();
    const entries = page.getByTestId('run-entry');
    expect(await entries.count()).toBe(1);
    await entries.first().click();
    const train = page.getByRole('article', { name: 'ADPA on the demo student' });
    expect(await train.textContent()).toMatch(/step 40 of 100 · loss 1\.2345/);
    // The loss chart draws once the run's metrics are read (after the article itself): wait for it.
    await train.getByRole('img', { name: /^Loss over 40 steps/ }).waitFor({ state: 'visible', timeout: 10_000 });
    await train.getByRole('button', { name: 'Delete' }).click();
    await train.getByRole('button', { name: 'Delete for good' }).click();
    await expectText(page.getByRole('region', { name: 'Runs' }).locator('.empty'), /^No training runs yet/);

    await page.getByRole('radiogroup', { name: 'Show runs of kind' }).getByText('All').click();
    await entries.first().click();
    const run = page.getByRole('article', { name: 'Student A, three books' });
    await run.getByRole('button', { name: 'Delete' }).click();
    await run.getByRole('button', { name: 'Delete for good' }).click();
    await page.getByRole('form', { name: 'New evaluation' }).waitFor();
    expect(await entries.count()).toBe(0);
    expect(await storedItems(page)).toEqual([]);
  });

  it('logged no console errors and threw nothing', () => {
    lab.browser.expectNoProblems();
  });
});
