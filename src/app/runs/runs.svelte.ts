// The Runs panel's state for the page's lifetime: every evaluation run (src/store/eval-runs.ts) and
// training run (src/store/runs.ts), the one selected, the new-evaluation form, and the batch
// evaluation running in this page with its progress. Runs are resumable: each item is stored the
// moment it finishes, so an interrupted run (a reload, a closed tab, a failed endpoint) continues
// with the items it has not finished. Which endpoints played the judge and the user is kept next
// to the run (settings store), so a resumed run uses the same ones.
import { errorInfo, type ErrorInfo } from '../../engine/api.ts';
import { summarize, type ModelSummary } from '../../proactive/aggregate.ts';
import { DOMAIN_KEYS, type DomainKey, type Tier } from '../../proactive/domains.ts';
import { itemsCsv, leaderboardCsv, resultsDocument } from '../../proactive/export.ts';
import { AGREEABLENESS, type Agreeableness } from '../../proactive/guidance.ts';
import { leaderboard } from '../../proactive/paper-table.ts';
import type { EvalItemRecord, RunRecord, RunSettings, Task } from '../../proactive/records.ts';
import { defaultRunSettings, runBatch, workItems, type RunBackends, type RunProgress } from '../../proactive/runner.ts';
import { openLabDb } from '../../store/db.ts';
import { deleteEvalRun, IdbResultStore, listEvalRuns } from '../../store/eval-runs.ts';
import { deleteTrainRun, listTrainRuns, loadMetrics, type TrainRunRecord } from '../../store/runs.ts';
import { downloadText, fileStamp } from '../download.ts';
import type { EngineClient } from '../engine-client.svelte.ts';
import { useEngine } from '../engine-context.ts';
import { useProactive, type BackendKey, type ProactiveClient } from '../proactive-client.svelte.ts';

export type RunFilter = 'all' | 'eval' | 'train';

export interface BatchForm {
  name: string;
  models: BackendKey[];
  tasks: Task[];
  domains: DomainKey[];
  tier: Tier | 'all';
  /** Environments per domain; null = all. */
  limitPerDomain: number | null;
  agreeableness: Agreeableness[];
  /** Endpoint ids (undefined: the role default). */
  judge: string | null | undefined;
  user: string | null | undefined;
  concurrency: number;
}

/** The backends a run was made with, kept beside it so that a resume uses the same ones. */
interface RunBackendsRecord {
  judge: string | null;
  user: string | null;
}

export interface ActiveBatch {
  runId: string;
  progress: RunProgress | null;
  controller: AbortController;
}

/** One row of the runs list. */
export type RunEntry =
  | { kind: 'eval'; id: string; createdAt: number; run: RunRecord; items: number; summary: ModelSummary[] }
  | { kind: 'train'; id: string; createdAt: number; run: TrainRunRecord };

const backendsKey = (runId: string): string => `proactive.runBackends.${runId}`;

function newEvalRunId(now = Date.now()): string {
  return `eval-${now.toString(36)}-${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
}

export class RunsState {
  entries = $state.raw<RunEntry[]>([]);
  loaded = $state(false);
  listError = $state.raw<ErrorInfo | null>(null);
  filter = $state<RunFilter>('all');
  /** The run shown, or 'new' for the new-evaluation form. */
  selected = $state<string | 'new' | null>(null);
  /** Items of the selected evaluation run (kept current while it runs here). */
  items = $state.raw<EvalItemRecord[]>([]);
  active = $state<ActiveBatch | null>(null);
  /** An error of a start / resume, shown where the person pressed the button. */
  error = $state.raw<ErrorInfo | null>(null);
  form = $state<BatchForm>({
    name: '',
    models: [],
    tasks: ['planning', 'guidance'],
    domains: [...DOMAIN_KEYS],
    tier: 'all',
    limitPerDomain: null,
    agreeableness: [...AGREEABLENESS],
    judge: undefined,
    user: undefined,
    concurrency: 2,
  });

  constructor(private readonly client: ProactiveClient) {
    void this.refresh();
  }

  get shown(): RunEntry[] {
    return this.filter === 'all' ? this.entries : this.entries.filter((e) => e.kind === this.filter);
  }

  entry(id: string | null): RunEntry | undefined {
    return this.entries.find((e) => e.id === id);
  }

  /** Stopped mid-way in an earlier session (or by a failure): Resume continues it. */
  isInterrupted(run: RunRecord): boolean {
    return this.active?.runId !== run.id && (run.status === 'running' || run.status === 'stopped' || run.status === 'failed');
  }

  async refresh(): Promise<void> {
    try {
      const db = await openLabDb();
      const store = new IdbResultStore(db);
      const evals = await listEvalRuns(db);
      const evalEntries = await Promise.all(
        evals.map(async (run): Promise<RunEntry> => {
          const items = await store.getItems(run.id);
          return { kind: 'eval', id: run.id, createdAt: run.createdAt, run, items: items.length, summary: summarize(items) };
        }),
      );
      const trainEntries = (await listTrainRuns(db)).map((run): RunEntry => ({ kind: 'train', id: run.id, createdAt: run.createdAt, run }));
      this.entries = [...evalEntries, ...trainEntries].sort((a, b) => b.createdAt - a.createdAt);
      this.listError = null;
      if (this.selected === null) this.selected = this.entries[0]?.id ?? 'new';
      if (this.selected !== 'new' && this.entry(this.selected)?.kind === 'eval') await this.#loadItems(this.selected);
    } catch (err) {
      this.listError = errorInfo(err);
    } finally {
      this.loaded = true;
    }
  }

  async select(id: string | 'new'): Promise<void> {
    this.selected = id;
    this.error = null;
    this.items = [];
    if (id !== 'new' && this.entry(id)?.kind === 'eval') await this.#loadItems(id);
  }

  async #loadItems(runId: string): Promise<void> {
    const items = await new IdbResultStore(await openLabDb()).getItems(runId);
    if (this.selected === runId) this.items = items;
  }

  // ---- the new-evaluation form -------------------------------------------------------------------

  get judgeId(): string | null {
    const id = this.form.judge === undefined ? this.client.roles.judge : this.form.judge;
    return this.client.endpoint(id) ? id : null;
  }

  get userId(): string | null {
    const id = this.form.user === undefined ? this.client.roles.user : this.form.user;
    return this.client.endpoint(id) ? id : null;
  }

  /** The models picked that still exist (the default model when none is picked). */
  get models(): BackendKey[] {
    const options = this.client.modelOptions.map((o) => o.key);
    const picked = this.form.models.filter((k) => options.includes(k));
    if (picked.length > 0 || this.form.models.length > 0) return picked;
    return this.client.defaultModel ? [this.client.defaultModel] : [];
  }

  #settings(): Omit<RunSettings, 'judge' | 'user' | 'checker'> {
    const f = this.form;
    return defaultRunSettings({
      tasks: [...f.tasks],
      models: this.models.map((k) => this.client.modelRef(k)),
      domains: DOMAIN_KEYS.filter((d) => f.domains.includes(d)),
      tiers: f.tier === 'all' ? null : [f.tier],
      limitPerDomain: f.limitPerDomain,
      agreeableness: AGREEABLENESS.filter((a) => f.agreeableness.includes(a)),
      concurrency: Math.max(1, Math.round(f.concurrency)),
      scenarioSource: this.client.scenarioSource,
    });
  }

  /** Items the form's run would have (0 when something is missing). */
  get plannedItems(): number {
    return workItems(this.#settings(), this.client.scenarios).length;
  }

  /** Why the form cannot start, or null. */
  get formBlocker(): string | null {
    const f = this.form;
    if (this.models.length === 0) return 'Pick at least one model (an endpoint, or the student loaded in Models).';
    if (f.tasks.length === 0) return 'Pick a task.';
    if (f.domains.length === 0) return 'Pick at least one domain.';
    if (f.tasks.includes('guidance') && f.agreeableness.length === 0) return 'Pick at least one agreeableness level.';
    if (f.tasks.includes('guidance') && !this.userId) return 'Dialogue guidance needs an endpoint to play the simulated user.';
    if (this.plannedItems === 0) return 'No environments match these domains and tiers.';
    if (this.active) return 'A run is in progress; stop it first.';
    return null;
  }

  async start(): Promise<void> {
    await this.client.ready;
    if (this.formBlocker) return;
    const settings = this.#settings();
    const runId = newEvalRunId();
    const backends: RunBackendsRecord = { judge: this.judgeId, user: settings.tasks.includes('guidance') ? this.userId : null };
    await (await openLabDb()).put('settings', backends, backendsKey(runId));
    const name = this.form.name.trim() || `${settings.models.map((m) => m.label).join(' vs ')} · ${new Date().toLocaleString()}`;
    await this.#run(runId, name, settings, backends);
  }

  /** Continues an interrupted run with its own settings, prompts and backends. */
  async resume(run: RunRecord): Promise<void> {
    if (this.active) return;
    this.error = null;
    await this.client.ready;
    if (run.settings.scenarioSource && run.settings.scenarioSource !== this.client.scenarioSource) {
      this.error = {
        name: 'ScenarioSourceError',
        message: `This run used the scenarios "${run.settings.scenarioSource}"; "${this.client.scenarioSource || 'none'}" are loaded now.`,
        hint: 'Load the same scenarios in the Arena (Scenario → Load a folder or file), then resume.',
      };
      return;
    }
    const stored = (await (await openLabDb()).get('settings', backendsKey(run.id))) as RunBackendsRecord | undefined;
    const backends: RunBackendsRecord = stored ?? { judge: this.judgeId, user: this.userId };
    const { judge: _j, user: _u, checker: _c, ...settings } = run.settings;
    await this.#run(run.id, run.name, settings, backends);
  }

  async #run(runId: string, name: string, settings: Omit<RunSettings, 'judge' | 'user' | 'checker'>, ids: RunBackendsRecord): Promise<void> {
    const controller = new AbortController();
    this.error = null;
    let backends: RunBackends;
    try {
      const models = Object.fromEntries(settings.models.map((m) => [m.id, this.client.backendForRef(m.id)]));
      backends = {
        models,
        judge: ids.judge ? this.client.endpointBackend(ids.judge) : undefined,
        user: ids.user ? this.client.endpointBackend(ids.user) : undefined,
      };
    } catch (err) {
      this.error = errorInfo(err);
      return;
    }
    this.active = { runId, progress: null, controller };
    this.selected = runId;
    this.items = await new IdbResultStore(await openLabDb()).getItems(runId);
    const store = new IdbResultStore(await openLabDb());
    try {
      const outcome = runBatch({
        runId,
        name,
        settings,
        scenarios: this.client.scenarios,
        backends,
        store,
        prompts: this.client.prompts,
        signal: controller.signal,
        onProgress: (progress) => this.#onProgress(progress),
      });
      const { run } = await outcome;
      if (run.status === 'failed' && run.error) this.error = { name: 'RunStoppedError', message: run.error, hint: 'Finished items are kept: fix the endpoint, then Resume.' };
    } catch (err) {
      this.error = errorInfo(err);
    } finally {
      if (this.active?.runId === runId) this.active = null;
      await this.refresh();
      // A run refused before it was stored: its error belongs to the form.
      if (this.selected === runId && !this.entry(runId)) this.selected = 'new';
    }
  }

  #onProgress(progress: RunProgress): void {
    if (this.active?.runId !== progress.runId) return;
    // The first report comes once the run record is stored: list it straight away.
    if (this.active.progress === null) void this.refresh();
    this.active.progress = progress;
    const last = progress.last;
    if (last && this.selected === progress.runId) this.items = [...this.items.filter((i) => i.itemKey !== last.itemKey), last];
  }

  stop(): void {
    this.active?.controller.abort();
  }

  async remove(id: string): Promise<void> {
    const entry = this.entry(id);
    if (!entry || this.active?.runId === id) return;
    const db = await openLabDb();
    if (entry.kind === 'eval') {
      await deleteEvalRun(db, entry.id);
      await db.delete('settings', backendsKey(entry.id));
    } else {
      await deleteTrainRun(db, entry.run);
    }
    if (this.selected === entry.id) this.selected = null;
    await this.refresh();
  }

  // ---- exports -----------------------------------------------------------------------------------

  async #evalData(run: RunRecord): Promise<EvalItemRecord[]> {
    return new IdbResultStore(await openLabDb()).getItems(run.id);
  }

  /** Everything: settings, prompts, every item with its transcript and judge answers, summary, the paper's table. */
  async exportJson(run: RunRecord): Promise<void> {
    const doc = resultsDocument(run, await this.#evalData(run));
    downloadText(`${run.id}-${fileStamp()}.json`, JSON.stringify(doc, null, 2));
  }

  /** One row per item, transcripts included. */
  async exportItemsCsv(run: RunRecord): Promise<void> {
    downloadText(`${run.id}-items-${fileStamp()}.csv`, itemsCsv(await this.#evalData(run)), 'text/csv');
  }

  /** The paper's 28 rows and ours. */
  async exportLeaderboardCsv(run: RunRecord): Promise<void> {
    downloadText(`${run.id}-leaderboard-${fileStamp()}.csv`, leaderboardCsv(leaderboard(summarize(await this.#evalData(run)))), 'text/csv');
  }

  /** A training run's record with its metrics. */
  async exportTrainRun(run: TrainRunRecord): Promise<void> {
    const metrics = await loadMetrics(await openLabDb(), run.id);
    downloadText(`${run.id}-${fileStamp()}.json`, JSON.stringify({ format: 'student-lab/train-run', version: 1, run, metrics }, null, 2));
  }
}

const states = new WeakMap<EngineClient, RunsState>();

export function useRuns(): RunsState {
  const engine = useEngine();
  let state = states.get(engine);
  if (!state) {
    state = new RunsState(useProactive());
    states.set(engine, state);
  }
  return state;
}
