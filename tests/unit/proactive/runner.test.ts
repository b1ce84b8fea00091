import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { OpenAiChat } from '../../../src/llm/openai.ts';
import { csvCell, itemsCsv, leaderboardCsv, resultsDocument } from '../../../src/proactive/export.ts';
import { PROMPT_IDS, promptSet } from '../../../src/proactive/prompts.ts';
import type { EvalItemRecord, ModelRef } from '../../../src/proactive/records.ts';
import { defaultRunSettings, runBatch, RunSettingsError, workItems, type RunProgress, type RunRequest } from '../../../src/proactive/runner.ts';
import { openLabDb } from '../../../src/store/db.ts';
import { deleteEvalRun, IdbResultStore, listEvalRuns } from '../../../src/store/eval-runs.ts';
import { startOpenAiServer, type ScriptedServer } from '../../helpers/openai-server.ts';
import { backend, ITEM, kindOf, scenario, type Handler } from './script.ts';

const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const MODEL: ModelRef = { id: 'student', label: 'student' };
const SCENARIOS = [scenario('recommendation', 0), scenario('persuasion', 0, { ...ITEM, target: 'Persuade Tom to walk daily', topic: 'Walking' })];

/** Answers every kind of request sensibly; `override` replaces some. Dialogues reach the target after turn 2. */
async function fullEndpoint(override: Partial<Record<string, Handler>> = {}): Promise<ScriptedServer> {
  const perDialogue = new Map<string, number>();
  const defaults: Record<string, Handler> = {
    'planning.model': () => '{"target": "Suggest the walk", "sub_targets": ["Praise photo", "Suggest walk"]}',
    'planning.judge': () => '{"reason": "Fine.", "score": 6}',
    'guidance.model': (r) => `Message ${(r.messages.length - 2) / 2 + 1}: shall we go birding?`,
    'user.simulator': () => 'Maybe.',
    'guidance.check': (r) => {
      const turns = (r.messages[0].content.match(/^Assistant: /gm) ?? []).length;
      return `{"reached": ${turns >= 2}}`;
    },
    'guidance.judge': () => '{"thought": "ok", "score": 8}',
    'guidance.density': (r) => `{"touched": ${JSON.stringify(Array.from({ length: (r.messages[0].content.match(/^\d+\. Message/gm) ?? []).length }, () => [1]))}}`,
  };
  const s = await startOpenAiServer({
    respond: (request, i) => {
      const kind = kindOf(request);
      const handler = override[kind] ?? defaults[kind];
      perDialogue.set(kind, (perDialogue.get(kind) ?? 0) + 1);
      return handler(request, i);
    },
  });
  servers.push(s);
  return s;
}

function request(url: string, store: IdbResultStore, extra: Partial<RunRequest> = {}): RunRequest {
  return {
    runId: 'run-1',
    settings: defaultRunSettings({ models: [MODEL], domains: ['recommendation', 'persuasion'], concurrency: 2, scenarioSource: 'test' }),
    scenarios: SCENARIOS,
    backends: { models: { student: backend(url, 'student') }, judge: backend(url, 'judge'), user: backend(url, 'user') },
    store,
    prompts: promptSet(),
    ...extra,
  };
}

async function freshStore(): Promise<IdbResultStore> {
  return new IdbResultStore(await openLabDb(`r-${Math.random()}`));
}

describe('batch runs', () => {
  it('runs planning and guidance items, persists each, and records settings and prompt texts', async () => {
    const s = await fullEndpoint();
    const store = await freshStore();
    const progress: RunProgress[] = [];
    const { run, items } = await runBatch(request(s.url, store, { onProgress: (p) => progress.push(p) }));
    expect(run.status).toBe('finished');
    expect(items.length).toBe(2 + 2 * 3);
    expect(items.every((i) => i.status === 'done')).toBe(true);
    expect(items.filter((i) => i.task === 'planning').map((i) => i.score)).toEqual([6, 6]);
    const dialogue = items.find((i) => i.task === 'guidance')!;
    expect(dialogue.score).toBe(8);
    expect(dialogue.guidance!.dialogue.endedBy).toBe('target-reached');
    expect(dialogue.guidance!.dialogue.turns.length).toBe(2);
    expect(dialogue.prompts.map((p) => p.id)).toContain('guidance.judge');
    expect(run.settings).toMatchObject({ judge: 'judge @ ' + new URL(s.url).host, user: 'user @ ' + new URL(s.url).host, maxTurns: 6, memoryTurns: 3, temperature: 0 });
    expect(run.prompts.map((p) => p.id).sort()).toEqual([...PROMPT_IDS].sort());
    expect(run.prompts.every((p) => p.text.length > 0 && p.version === '1')).toBe(true);
    expect(progress[0]).toMatchObject({ total: 8, done: 0, etaMs: null });
    expect(progress.at(-1)).toMatchObject({ total: 8, done: 8, errors: 0 });
    expect(progress.slice(1).every((p) => p.etaMs !== null)).toBe(true);
    // Plain records: they survive structured cloning and JSON.
    expect(JSON.parse(JSON.stringify(items))).toEqual(items);
  });

  it('resumes an interrupted batch without redoing any finished item', async () => {
    const s = await fullEndpoint();
    const db = await openLabDb(`r-${Math.random()}`);
    const controller = new AbortController();
    let finished = 0;
    const first = await runBatch(
      request(s.url, new IdbResultStore(db), {
        settings: defaultRunSettings({ models: [MODEL], domains: ['recommendation', 'persuasion'], concurrency: 1, scenarioSource: 'test' }),
        signal: controller.signal,
        onProgress: (p) => {
          if (p.last && ++finished === 3) controller.abort();
        },
      }),
    );
    expect(first.run.status).toBe('stopped');
    expect(first.items.length).toBe(3);
    const firstRequests = s.requests.length;

    // A "reload": a new store object on the same database, and the same run id.
    const seen: EvalItemRecord[] = [];
    const second = await runBatch(request(s.url, new IdbResultStore(db), { onProgress: (p) => p.last && seen.push(p.last) }));
    expect(second.run.status).toBe('finished');
    expect(second.items.length).toBe(8);
    const firstKeys = new Set(first.items.map((i) => i.itemKey));
    expect(seen.length).toBe(5);
    expect(seen.filter((i) => firstKeys.has(i.itemKey))).toEqual([]);
    for (const item of first.items) expect(second.items.find((i) => i.itemKey === item.itemKey)).toEqual(item);
    // Each planning prompt was sent once over both sessions: nothing was asked twice.
    expect(s.requests.filter((r) => kindOf(r) === 'planning.model').length).toBe(2);
    expect(s.requests.length).toBeGreaterThan(firstRequests);
    expect((await listEvalRuns(db)).map((r) => [r.id, r.status])).toEqual([['run-1', 'finished']]);
  });

  it('an endpoint that goes down stops the run after 3 errors in a row; a rerun redoes only the failed items', async () => {
    const db = await openLabDb(`r-${Math.random()}`);
    const working = await fullEndpoint();
    let served = 0;
    const flaky = await fullEndpoint({
      'planning.model': () => (++served > 1 ? { status: 500 } : '{"target": "x", "sub_targets": ["a", "b"]}'),
      'guidance.model': () => ({ status: 500 }),
    });
    const settings = defaultRunSettings({ models: [MODEL], domains: ['recommendation', 'persuasion'], concurrency: 1, scenarioSource: 'test' });
    const noRetry = (url: string, name: string) => new OpenAiChat({ baseUrl: url, model: name, retry: { retries: 0 } });
    const first = await runBatch(
      request(flaky.url, new IdbResultStore(db), {
        settings,
        backends: { models: { student: noRetry(flaky.url, 'student') }, judge: backend(working.url, 'judge'), user: backend(working.url, 'user') },
      }),
    );
    expect(first.run.status).toBe('failed');
    expect(first.run.error).toMatch(/3 items in a row failed.*HTTP 500/s);
    // Work order: both planning items, then the dialogues; the 2nd planning item and two dialogues failed.
    const statuses = (task: string) => first.items.filter((i) => i.task === task).map((i) => i.status).sort();
    expect([statuses('planning'), statuses('guidance')]).toEqual([['done', 'error'], ['error', 'error']]);
    expect(first.items.find((i) => i.status === 'error')!.error).toMatchObject({ name: 'EndpointHttpError' });
    const done = first.items.find((i) => i.status === 'done')!;

    const second = await runBatch(
      request(working.url, new IdbResultStore(db), {
        settings,
        backends: { models: { student: backend(working.url, 'student') }, judge: backend(working.url, 'judge'), user: backend(working.url, 'user') },
      }),
    );
    expect(second.run.status).toBe('finished');
    expect(second.items.length).toBe(8);
    expect(second.items.every((i) => i.status === 'done')).toBe(true);
    expect(second.items.find((i) => i.itemKey === done.itemKey)).toEqual(done);
    expect(working.requests.filter((r) => kindOf(r) === 'planning.model').length).toBe(1);
  });

  it('a refused key stops the run at once with the endpoint\'s message', async () => {
    const s = await startOpenAiServer({ apiKey: 'right', respond: () => 'never' });
    servers.push(s);
    const wrongKey = new OpenAiChat({ baseUrl: s.url, model: 'student', apiKey: 'wrong' });
    const { run, items } = await runBatch(
      request(s.url, await freshStore(), {
        settings: defaultRunSettings({ models: [MODEL], tasks: ['planning'], concurrency: 1, scenarioSource: 'test' }),
        backends: { models: { student: wrongKey } },
      }),
    );
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/refused the key/);
    expect(items.map((i) => i.status)).toEqual(['error']);
  });

  it('refuses to resume with other scoring settings, and guidance without a simulated user', async () => {
    const s = await fullEndpoint();
    const store = await freshStore();
    await runBatch(request(s.url, store, { settings: defaultRunSettings({ models: [MODEL], tasks: ['planning'], scenarioSource: 'test' }) }));
    const other = await fullEndpoint();
    await expect(
      runBatch(request(s.url, store, { settings: defaultRunSettings({ models: [MODEL], tasks: ['planning'], scenarioSource: 'test' }), backends: { models: { student: backend(s.url, 'student') }, judge: backend(other.url, 'other-judge') } })),
    ).rejects.toThrow(/other scoring settings \(judge:/);
    await expect(runBatch(request(s.url, await freshStore(), { backends: { models: { student: backend(s.url, 'student') } } }))).rejects.toBeInstanceOf(RunSettingsError);
  });

  it('without a judge items are finished unscored and the local rules are summarised', async () => {
    const s = await fullEndpoint({ 'guidance.model': () => 'It sounds like you like birds. Our target is the walk.' });
    const { items } = await runBatch(
      request(s.url, await freshStore(), {
        settings: defaultRunSettings({ models: [MODEL], tasks: ['guidance'], domains: ['recommendation'], agreeableness: ['low'], maxTurns: 2, scenarioSource: 'test' }),
        backends: { models: { student: backend(s.url, 'student') }, user: backend(s.url, 'user') },
      }),
    );
    expect(items.length).toBe(1);
    expect(items[0]).toMatchObject({ status: 'done', score: null });
    expect(items[0].guidance!.dialogue.turns.length).toBe(2); // no checker: runs to the cap
    expect(items[0].guidance!.scores.local).toMatchObject({ overall: null, tone: { passed: 0, total: 2 } });
    const doc = resultsDocument({ ...(await (await freshStore()).getRun('x'))!, id: 'x' } as never, items);
    expect(doc.summary[0]).toMatchObject({ guidance: null, localRules: { engagement: 1, naturalness: 0, tone: 0 } });
  });

  it('work items: a key per task, model, environment content and agreeableness; limit per domain', () => {
    const items = workItems(defaultRunSettings({ models: [MODEL], limitPerDomain: 1, domains: ['recommendation'] }), [scenario('recommendation', 0), scenario('recommendation', 1)]);
    expect(items.map((w) => w.itemKey.replace(/@[0-9a-f]{8}/, '@F'))).toEqual([
      'planning|student|recommendation/fair/0@F',
      'guidance|student|recommendation/fair/0@F|low',
      'guidance|student|recommendation/fair/0@F|medium',
      'guidance|student|recommendation/fair/0@F|high',
    ]);
  });

  it('exports JSON with prompts and transcripts, and CSV with quoted transcripts; runs can be deleted', async () => {
    const s = await fullEndpoint({ 'guidance.model': () => '=HYPERLINK("x") says "hi", ok?' });
    const db = await openLabDb(`r-${Math.random()}`);
    const { run, items } = await runBatch(request(s.url, new IdbResultStore(db), { settings: defaultRunSettings({ models: [MODEL], domains: ['recommendation'], agreeableness: ['high'], scenarioSource: 'test' }) }));
    const doc = resultsDocument(run, items, new Date(0));
    expect(doc.run.prompts.find((p) => p.id === 'guidance.judge')!.text).toMatch(/Start from 10/);
    expect(doc.items.find((i) => i.task === 'guidance')!.guidance!.dialogue.turns[0].assistant).toBe('=HYPERLINK("x") says "hi", ok?');
    expect(doc.leaderboard.length).toBe(29);
    const csv = itemsCsv(items);
    const [header] = csv.split('\r\n');
    expect(header.split(',')).toContain('transcript');
    expect(csv).toContain(`"Assistant: =HYPERLINK(""x"") says ""hi"", ok?\nUser: Maybe.`);
    expect(csvCell('=SUM(A1)')).toBe("'=SUM(A1)");
    expect(csvCell(-3)).toBe('-3');
    expect(leaderboardCsv(doc.leaderboard).split('\r\n')[1]).toBe('paper,non-thinking,Qwen2.5-7B-Instruct,4.93,4.69,4.06,5.67,5.34,4.89,5.24,8.06,8.05,7.85,8.34,8.36,7.48,8.16,,');
    await deleteEvalRun(db, run.id);
    expect(await listEvalRuns(db)).toEqual([]);
    expect(await new IdbResultStore(db).getItems(run.id)).toEqual([]);
  });
});
