// Batch runs: every (model, task, environment[, agreeableness]) is one item; items run with a
// fixed concurrency and each is persisted the moment it completes, so a reload, a crash or a
// failed endpoint resumes without redoing finished items. Plain data in and out, progress
// through a callback, cancellation through an AbortSignal.
import { LabError } from '../engine/errors.ts';
import type { ChatBackend } from '../llm/chat.ts';
import { EndpointAuthError, EndpointModelError, isAbortError } from '../llm/errors.ts';
import { DOMAIN_KEYS } from './domains.ts';
import { GUIDANCE_PROMPTS, MAX_TURNS, MEMORY_TURNS, referenceSetup, runDialogue, scoreDialogue, simulatedUser, type Agreeableness } from './guidance.ts';
import { PLANNING_PROMPTS, runPlanning } from './planning.ts';
import { promptSet, type PromptId, type PromptSet, type PromptSnapshot } from './prompts.ts';
import type { EvalItemRecord, ModelRef, ResultStore, RunRecord, RunSettings, Task } from './records.ts';
import type { Scenario } from './schema.ts';
import { DEFAULT_JUDGE_RETRIES } from './structured.ts';

export interface RunBackends {
  /** The models under test, by ModelRef id. */
  models: Readonly<Record<string, ChatBackend>>;
  judge?: ChatBackend;
  /** Plays the user in guidance dialogues (required for guidance). */
  user?: ChatBackend;
  /** The completion check after each turn (default: the judge). */
  checker?: ChatBackend;
}

export interface RunProgress {
  runId: string;
  total: number;
  /** Finished items, including those finished before this session. */
  done: number;
  /** Finished before this session (resumed). */
  resumed: number;
  /** Items that failed with an error in this session (redone on the next resume). */
  errors: number;
  running: number;
  elapsedMs: number;
  /** Estimated time left from this session's pace; null until one item finished. */
  etaMs: number | null;
  /** The item that just finished. */
  last?: EvalItemRecord;
}

export interface RunRequest {
  runId: string;
  name?: string;
  settings: Omit<RunSettings, 'judge' | 'user' | 'checker'>;
  scenarios: readonly Scenario[];
  backends: RunBackends;
  store: ResultStore;
  /** The prompts of a new run (a resumed run keeps its stored ones). */
  prompts: PromptSet;
  onProgress?: (progress: RunProgress) => void;
  signal?: AbortSignal;
  /** Stop the run after this many consecutive item errors (default 3): the endpoint is likely down. */
  maxConsecutiveErrors?: number;
  /** Clock (tests). */
  now?: () => number;
}

export interface RunOutcome {
  run: RunRecord;
  /** Every item of the run (earlier sessions included). */
  items: EvalItemRecord[];
}

export class RunSettingsError extends LabError {
  constructor(message: string, hint?: string) {
    super('RunSettingsError', message, hint);
  }
}

export function defaultRunSettings(overrides: Partial<Omit<RunSettings, 'judge' | 'user' | 'checker'>> = {}): Omit<RunSettings, 'judge' | 'user' | 'checker'> {
  return {
    tasks: ['planning', 'guidance'],
    models: [],
    domains: [...DOMAIN_KEYS],
    tiers: null,
    agreeableness: ['low', 'medium', 'high'],
    concurrency: 2,
    limitPerDomain: null,
    maxTurns: MAX_TURNS,
    memoryTurns: MEMORY_TURNS,
    temperature: 0,
    maxTokens: null,
    judgeRetries: DEFAULT_JUDGE_RETRIES,
    judgeDensity: true,
    scenarioSource: '',
    ...overrides,
  };
}

export interface WorkItem {
  itemKey: string;
  task: Task;
  model: ModelRef;
  scenario: Scenario;
  agreeableness: Agreeableness | null;
}

/** The scenarios a run covers: chosen domains and tiers, at most `limitPerDomain` per domain, in order. */
export function selectScenarios(settings: Pick<RunSettings, 'domains' | 'tiers' | 'limitPerDomain'>, scenarios: readonly Scenario[]): Scenario[] {
  const perDomain = new Map<string, number>();
  return scenarios.filter((s) => {
    if (!settings.domains.includes(s.domain)) return false;
    if (settings.tiers && (s.tier === null || !settings.tiers.includes(s.tier))) return false;
    const n = perDomain.get(s.domain) ?? 0;
    if (settings.limitPerDomain !== null && n >= settings.limitPerDomain) return false;
    perDomain.set(s.domain, n + 1);
    return true;
  });
}

/** Every item of a run. The key holds the content fingerprint, so an edited environment is a new item. */
export function workItems(settings: Omit<RunSettings, 'judge' | 'user' | 'checker'>, scenarios: readonly Scenario[]): WorkItem[] {
  const selected = selectScenarios(settings, scenarios);
  const out: WorkItem[] = [];
  for (const model of settings.models) {
    for (const task of settings.tasks) {
      for (const scenario of selected) {
        const base = `${task}|${model.id}|${scenario.key}@${scenario.fingerprint}`;
        if (task === 'planning') out.push({ itemKey: base, task, model, scenario, agreeableness: null });
        else for (const a of settings.agreeableness) out.push({ itemKey: `${base}|${a}`, task, model, scenario, agreeableness: a });
      }
    }
  }
  return out;
}

/** Settings that change scores: a resumed run must keep them, or its items would not be comparable. */
const SCORING_SETTINGS = ['judge', 'user', 'checker', 'maxTurns', 'memoryTurns', 'temperature', 'maxTokens', 'judgeDensity'] as const;

function promptSetFromSnapshots(snapshots: readonly PromptSnapshot[]): PromptSet {
  const edits: Partial<Record<PromptId, string>> = {};
  for (const s of snapshots) edits[s.id] = s.text;
  const set = promptSet(edits) as Record<PromptId, PromptSnapshot>;
  // Keep the stored versions verbatim (an edit made on an older base version keeps its name).
  for (const s of snapshots) set[s.id] = { ...s };
  return set;
}

function errorInfo(err: unknown): { name: string; message: string } {
  const e = err as { name?: string; message?: string };
  return { name: e?.name ?? 'Error', message: e?.message ?? String(err) };
}

export async function runBatch(request: RunRequest): Promise<RunOutcome> {
  const now = request.now ?? Date.now;
  const { backends, store } = request;
  const settings: RunSettings = {
    ...request.settings,
    judge: backends.judge?.label ?? null,
    user: request.settings.tasks.includes('guidance') ? (backends.user?.label ?? null) : null,
    checker: request.settings.tasks.includes('guidance') ? ((backends.checker ?? backends.judge)?.label ?? null) : null,
  };
  if (settings.tasks.includes('guidance') && !backends.user) {
    throw new RunSettingsError('Dialogue guidance needs a simulated-user backend.', 'Choose an endpoint to play the user (CLI: --user and --user-model).');
  }
  for (const model of settings.models) {
    if (!backends.models[model.id]) throw new RunSettingsError(`No backend for the model "${model.label}" (${model.id}).`);
  }
  if (!(settings.concurrency >= 1)) throw new RunSettingsError(`Concurrency must be at least 1, got ${settings.concurrency}.`);

  // A new run, or the stored one resumed with its own prompts.
  const stored = await store.getRun(request.runId);
  if (stored) {
    const changed = SCORING_SETTINGS.filter((k) => JSON.stringify(stored.settings[k]) !== JSON.stringify(settings[k]));
    if (changed.length > 0) {
      throw new RunSettingsError(
        `Run "${request.runId}" was made with other scoring settings (${changed.map((k) => `${k}: ${JSON.stringify(stored.settings[k])} → ${JSON.stringify(settings[k])}`).join('; ')}).`,
        'Resume it with the same settings, or start a new run (CLI: another --out file).',
      );
    }
  }
  const prompts = stored ? promptSetFromSnapshots(stored.prompts) : request.prompts;
  const run: RunRecord = {
    id: request.runId,
    kind: 'proactive-eval',
    name: request.name ?? stored?.name ?? request.runId,
    createdAt: stored?.createdAt ?? now(),
    updatedAt: now(),
    // Models, domains and tiers may grow between sessions: the record keeps the union.
    settings: stored ? mergeSelections(stored.settings, settings) : settings,
    prompts: stored ? stored.prompts : Object.values(prompts),
    status: 'running',
  };
  await store.putRun(run);

  const existing = new Map((await store.getItems(run.id)).map((item) => [item.itemKey, item]));
  const all = workItems(settings, request.scenarios);
  const finished = (key: string): boolean => {
    const item = existing.get(key);
    return item !== undefined && item.status !== 'error';
  };
  const pending = all.filter((w) => !finished(w.itemKey));
  const resumed = all.length - pending.length;

  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  request.signal?.addEventListener('abort', onAbort, { once: true });
  const started = now();
  let done = 0;
  let errors = 0;
  let running = 0;
  let consecutiveErrors = 0;
  let fatal: Error | null = null;
  const report = (last?: EvalItemRecord): void => {
    const elapsedMs = now() - started;
    const remaining = pending.length - done - errors;
    request.onProgress?.({
      runId: run.id,
      total: all.length,
      done: resumed + done,
      resumed,
      errors,
      running,
      elapsedMs,
      etaMs: done + errors > 0 ? (elapsedMs / (done + errors)) * remaining : null,
      last,
    });
  };
  report();

  const queue = [...pending];
  const worker = async (): Promise<void> => {
    while (queue.length > 0 && !controller.signal.aborted) {
      const work = queue.shift()!;
      running++;
      const startedAt = now();
      let record: EvalItemRecord;
      try {
        record = await runItem(work, run.id, settings, backends, prompts, controller.signal, startedAt, now);
        consecutiveErrors = 0;
      } catch (err) {
        running--;
        // A cancelled item is not recorded: it is redone on resume.
        if (controller.signal.aborted || isAbortError(err)) return;
        record = baseRecord(work, run.id, startedAt, now(), promptRefs(work.task, prompts));
        record.error = errorInfo(err);
        consecutiveErrors++;
        if (err instanceof EndpointAuthError || err instanceof EndpointModelError) fatal = err;
        else if (consecutiveErrors >= (request.maxConsecutiveErrors ?? 3)) {
          fatal = new LabError('RunStoppedError', `${consecutiveErrors} items in a row failed; the last error: ${record.error.message}`, 'Finished items are kept: fix the endpoint and resume the run.');
        }
        await store.putItem(record);
        existing.set(record.itemKey, record);
        errors++;
        report(record);
        if (fatal) controller.abort();
        continue;
      }
      running--;
      await store.putItem(record);
      existing.set(record.itemKey, record);
      done++;
      report(record);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(settings.concurrency, Math.max(1, pending.length)) }, worker));
  } finally {
    request.signal?.removeEventListener('abort', onAbort);
  }

  const final: RunRecord = {
    ...run,
    updatedAt: now(),
    status: fatal ? 'failed' : request.signal?.aborted ? 'stopped' : 'finished',
    ...(fatal ? { error: (fatal as Error).message } : {}),
  };
  await store.putRun(final);
  return { run: final, items: await store.getItems(run.id) };
}

function mergeSelections(old: RunSettings, next: RunSettings): RunSettings {
  const union = <T>(a: readonly T[], b: readonly T[], key: (t: T) => string = String): T[] => {
    const seen = new Set(a.map(key));
    return [...a, ...b.filter((x) => !seen.has(key(x)))];
  };
  return {
    ...next,
    tasks: union(old.tasks, next.tasks),
    models: union(old.models, next.models, (m) => m.id),
    domains: union(old.domains, next.domains),
    tiers: old.tiers === null || next.tiers === null ? null : union(old.tiers, next.tiers),
    agreeableness: union(old.agreeableness, next.agreeableness),
  };
}

function promptRefs(task: Task, prompts: PromptSet): { id: PromptId; version: string }[] {
  return (task === 'planning' ? PLANNING_PROMPTS : GUIDANCE_PROMPTS).map((id) => ({ id, version: prompts[id].version }));
}

function baseRecord(work: WorkItem, runId: string, startedAt: number, finishedAt: number, prompts: { id: PromptId; version: string }[]): EvalItemRecord {
  return {
    runId,
    itemKey: work.itemKey,
    task: work.task,
    modelId: work.model.id,
    modelLabel: work.model.label,
    scenarioKey: work.scenario.key,
    fingerprint: work.scenario.fingerprint,
    domain: work.scenario.domain,
    tier: work.scenario.tier,
    topic: work.scenario.item.topic,
    agreeableness: work.agreeableness,
    status: 'error',
    score: null,
    prompts,
    startedAt,
    finishedAt,
  };
}

async function runItem(
  work: WorkItem,
  runId: string,
  settings: RunSettings,
  backends: RunBackends,
  prompts: PromptSet,
  signal: AbortSignal,
  startedAt: number,
  now: () => number,
): Promise<EvalItemRecord> {
  const model = backends.models[work.model.id];
  const common = { temperature: settings.temperature, maxTokens: settings.maxTokens ?? undefined, signal };
  if (work.task === 'planning') {
    const planning = await runPlanning(work.scenario, { ...common, model, judge: backends.judge, prompts, judgeRetries: settings.judgeRetries });
    const record = baseRecord(work, runId, startedAt, now(), promptRefs('planning', prompts));
    record.planning = planning;
    record.status = planning.judge && !planning.judge.ok ? 'judge-failed' : 'done';
    record.score = planning.judge?.score ?? null;
    return record;
  }
  const setup = referenceSetup(work.scenario);
  const dialogue = await runDialogue(setup, {
    ...common,
    model,
    user: simulatedUser(backends.user!, prompts, work.scenario, work.agreeableness!),
    checker: backends.checker ?? backends.judge,
    prompts,
    maxTurns: settings.maxTurns,
    memoryTurns: settings.memoryTurns,
    checkRetries: settings.judgeRetries,
  });
  const scores = await scoreDialogue(setup, dialogue, { judge: backends.judge, prompts, judgeRetries: settings.judgeRetries, judgeDensity: settings.judgeDensity, signal });
  const record = baseRecord(work, runId, startedAt, now(), promptRefs('guidance', prompts));
  record.guidance = { target: setup.target, subTargets: setup.subTargets, dialogue, scores };
  record.status = scores.judge && !scores.judge.ok ? 'judge-failed' : 'done';
  record.score = scores.judge?.score ?? null;
  return record;
}
