// The Train panel's state, kept for the page's lifetime (a run goes on while another panel is
// shown): the data file, the options, the plan (data summary + memory estimate) for them, the run
// shown with its metric series, the runs stored in this browser, and what the person is doing now
// (starting, pausing, exporting…) with its error in place.
import { errorInfo, type ErrorInfo, type Sink } from '../../engine/api.ts';
import type { ExportEvent, ExportKind, TrainData, TrainEvent, TrainOptions, TrainOutcome, TrainPlan } from '../../engine/train-api.ts';
import { readRecords } from '../../distill/data/records.ts';
import { openLabDb } from '../../store/db.ts';
import { cancelTrainRun, deleteTrainRun, isResumable, listTrainRuns, loadMetrics, newRunId, type MetricPoint, type TrainRunRecord } from '../../store/runs.ts';
import type { EngineClient } from '../engine-client.svelte.ts';
import { useEngine } from '../engine-context.ts';
import { locationOf, useModels, type ModelsState } from '../models/models.svelte.ts';
import { saveExport, type ExportTarget } from './export-files.ts';
import { defaultOptions } from './options.ts';

/** What the panel is doing; `idle` when nothing runs. */
export type Activity = 'idle' | 'loading-model' | 'training' | 'pausing' | 'cancelling' | 'exporting';

/** Where an error belongs, so it shows next to the control that caused it. */
export type ErrorPlace = 'data' | 'plan' | 'run' | 'export' | 'runs';

const PLAN_DELAY_MS = 250;
const OPTIONS_SETTING = 'train.options';

/** Stored options over the defaults (a field this version does not know is dropped, a missing one defaulted). */
function withDefaults(saved: unknown): TrainOptions {
  const d = defaultOptions();
  if (!saved || typeof saved !== 'object') return d;
  const s = saved as Partial<TrainOptions>;
  const pick = <K extends keyof TrainOptions>(k: K): TrainOptions[K] => (typeof s[k] === typeof d[k] && s[k] !== null ? (s[k] as TrainOptions[K]) : d[k]);
  const out = Object.fromEntries(Object.keys(d).map((k) => [k, pick(k as keyof TrainOptions)])) as unknown as TrainOptions;
  out.lora = { ...d.lora, ...(typeof s.lora === 'object' ? s.lora : {}) };
  out.length = { ...d.length, ...(typeof s.length === 'object' ? s.length : {}) };
  return out;
}

export class TrainState {
  data = $state.raw<TrainData | null>(null);
  options = $state<TrainOptions>(defaultOptions());
  plan = $state.raw<TrainPlan | null>(null);
  planning = $state(false);
  /** The run shown: the active one, or one picked from the list. */
  run = $state.raw<TrainRunRecord | null>(null);
  /** Its metrics, one point per step, in step order. */
  points = $state.raw<MetricPoint[]>([]);
  runs = $state.raw<TrainRunRecord[]>([]);
  activity = $state<Activity>('idle');
  errors = $state.raw<Partial<Record<ErrorPlace, ErrorInfo>>>({});
  /** Files written by the last export. */
  exported = $state.raw<{ kind: ExportKind; target: ExportTarget; files: { path: string; bytes: number }[] } | null>(null);

  /** The request training a run from this page now (cancel(requestId) stops it). */
  #live = $state.raw<{ requestId: string } | null>(null);
  #ticket = 0;
  #planTimer: ReturnType<typeof setTimeout> | undefined;

  /** Runs to offer for resuming besides the one shown (which has its own Resume). */
  readonly resumable = $derived(this.runs.filter((r) => isResumable(r) && r.id !== this.run?.id));

  constructor(
    private readonly engine: EngineClient,
    private readonly models: ModelsState,
  ) {
    void this.#showStored();
    void this.#restoreOptions();
  }

  /** After a reload: list the stored runs and show the latest one that can be resumed, with its charts. */
  async #showStored(): Promise<void> {
    await this.refreshRuns();
    const resumable = this.runs.find(isResumable);
    if (resumable && !this.run && !this.#live) await this.open(resumable);
  }

  async #restoreOptions(): Promise<void> {
    const saved = await (await openLabDb()).get('settings', OPTIONS_SETTING).catch(() => undefined);
    if (saved) this.options = withDefaults(saved);
  }

  get live(): boolean {
    return this.#live !== null;
  }

  #fail(place: ErrorPlace, err: unknown): void {
    this.errors = { ...this.errors, [place]: errorInfo(err) };
  }

  clearError(place: ErrorPlace): void {
    const { [place]: _gone, ...rest } = this.errors;
    this.errors = rest;
  }

  /** Read a picked or dropped file; its JSON is checked at once (line numbers), the rest needs the model's tokenizer. */
  async setFile(file: File): Promise<void> {
    this.clearError('data');
    try {
      const text = await file.text();
      this.data = { name: file.name, text };
      readRecords(text, file.name);
    } catch (err) {
      this.#fail('data', err);
    }
  }

  /** The data, the options or the model changed (the panel's effect): keep the options, re-plan a moment later. */
  changed(): void {
    clearTimeout(this.#planTimer);
    this.#planTimer = setTimeout(() => {
      void this.#plan();
      void openLabDb()
        .then((db) => db.put('settings', $state.snapshot(this.options), OPTIONS_SETTING))
        .catch(() => undefined); // not kept: the defaults come back after a reload
    }, PLAN_DELAY_MS);
  }

  async #plan(): Promise<void> {
    const data = this.data;
    if (!data || !this.engine.model || this.engine.state === 'idle' || this.engine.state === 'starting') {
      this.plan = null;
      return;
    }
    const ticket = ++this.#ticket;
    this.planning = true;
    try {
      const plan = await this.engine.training().api.plan(data, $state.snapshot(this.options));
      if (ticket !== this.#ticket) return;
      this.plan = plan;
      this.clearError('plan');
    } catch (err) {
      if (ticket !== this.#ticket) return;
      this.plan = null;
      this.#fail('plan', err);
    } finally {
      if (ticket === this.#ticket) this.planning = false;
    }
  }

  get canStart(): boolean {
    return this.activity === 'idle' && this.plan !== null && this.plan.refusal === null && !this.planning && this.engine.model !== null && this.engine.state === 'ready';
  }

  async start(): Promise<void> {
    const data = this.data;
    const card = this.engine.model;
    if (!data || !card || !this.canStart) return;
    const runId = newRunId();
    const modelLocation = card.source.kind === 'hub' || card.source.kind === 'url' ? locationOf(card.source.id, card.source.revision) : null;
    const options = $state.snapshot(this.options);
    this.run = null;
    this.points = [];
    this.exported = null;
    await this.#drive((sink, requestId) => this.engine.training().api.start({ runId, data, options, modelLocation }, sink, requestId));
  }

  /** Continue a paused or interrupted run, loading its model first when another (or none) is loaded. */
  async resume(run: TrainRunRecord): Promise<void> {
    if (this.activity !== 'idle') return;
    this.clearError('run');
    await this.open(run);
    if (this.engine.model?.id !== run.model.id) {
      if (!run.model.location) {
        this.#fail('run', { name: 'ModelMismatchError', message: `This run trained ${run.model.name}, a model from a local folder.`, hint: `Load ${run.model.name} in the Models panel (pick the same folder), then press Resume.` });
        return;
      }
      this.activity = 'loading-model';
      try {
        await this.models.load({ kind: 'location', text: run.model.location, hubBase: this.models.hubBase }, run.model.name, 'form');
      } finally {
        this.activity = 'idle';
      }
      if (this.engine.model?.id !== run.model.id) {
        this.#fail('run', this.models.error ?? { name: 'ModelMismatchError', message: `${run.model.name} could not be loaded again.`, hint: 'Load it in the Models panel, then press Resume.' });
        return;
      }
    }
    await this.#drive((sink, requestId) => this.engine.training().api.resume(run.id, sink, requestId));
  }

  async #drive(call: (sink: Sink<TrainEvent>, requestId: string) => Promise<TrainOutcome>): Promise<void> {
    const requestId = `train-${++this.#ticket}`;
    this.#live = { requestId };
    this.activity = 'training';
    this.clearError('run');
    try {
      const { proxy } = this.engine.training();
      await call(proxy((e: TrainEvent) => this.#onEvent(e)), requestId);
    } catch (err) {
      this.#fail('run', err);
    } finally {
      this.#live = null;
      this.activity = 'idle';
      await this.refreshRuns();
      if (this.run) this.run = this.runs.find((r) => r.id === this.run!.id) ?? this.run;
    }
  }

  #onEvent(e: TrainEvent): void {
    if (e.type === 'run') {
      this.run = e.run;
      // After a recovery or a resume the run is back at its checkpoint: the steps after it are redone.
      if ((this.points.at(-1)?.step ?? 0) > e.run.step) this.points = this.points.filter((p) => p.step <= e.run.step);
      const rest = this.runs.filter((r) => r.id !== e.run.id);
      this.runs = [e.run, ...rest].sort((a, b) => b.createdAt - a.createdAt);
      return;
    }
    const p = e.point;
    if (p.runId !== this.run?.id) return;
    // Steps after a checkpoint are redone after a recovery: the new point replaces the old tail.
    const last = this.points.at(-1);
    this.points = last && last.step >= p.step ? [...this.points.filter((q) => q.step < p.step), p] : [...this.points, p];
  }

  pause(): void {
    const run = this.run;
    if (this.activity !== 'training' || !run) return;
    this.activity = 'pausing';
    void this.engine.training().api.pause(run.id);
  }

  /** Stop the live run, or discard a stopped one (its checkpoints are deleted; metrics stay). */
  async cancel(run: TrainRunRecord): Promise<void> {
    if (this.#live && this.run?.id === run.id) {
      this.activity = 'cancelling';
      await this.engine.cancel(this.#live.requestId);
      return;
    }
    try {
      const done = await cancelTrainRun(await openLabDb(), run);
      if (this.run?.id === run.id) this.run = done;
      await this.refreshRuns();
    } catch (err) {
      this.#fail('runs', err);
    }
  }

  /** Show a stored run with its metrics. */
  async open(run: TrainRunRecord): Promise<void> {
    if (this.#live) return;
    this.run = run;
    this.exported = null;
    try {
      this.points = await loadMetrics(await openLabDb(), run.id);
    } catch (err) {
      this.points = [];
      this.#fail('runs', err);
    }
  }

  async remove(run: TrainRunRecord): Promise<void> {
    if (this.#live && this.run?.id === run.id) return;
    try {
      await deleteTrainRun(await openLabDb(), run);
      if (this.run?.id === run.id) {
        this.run = null;
        this.points = [];
      }
      await this.refreshRuns();
    } catch (err) {
      this.#fail('runs', err);
    }
  }

  async refreshRuns(): Promise<void> {
    try {
      this.runs = await listTrainRuns(await openLabDb());
      this.clearError('runs');
    } catch (err) {
      this.#fail('runs', err);
    }
  }

  /** Export the shown run: into a folder the person picks, or as one download per file. */
  async export(kind: ExportKind, target: ExportTarget): Promise<void> {
    const run = this.run;
    if (!run || this.activity !== 'idle') return;
    this.clearError('export');
    this.exported = null;
    this.activity = 'exporting';
    const requestId = `export-${++this.#ticket}`;
    try {
      const files = await saveExport(target, (onPiece) => {
        const { api, proxy } = this.engine.training();
        return api.export(run.id, kind, proxy((e: ExportEvent) => onPiece(e)), requestId);
      });
      if (files) this.exported = { kind, target, files };
    } catch (err) {
      this.#fail('export', err);
    } finally {
      this.activity = 'idle';
    }
  }
}

const states = new WeakMap<EngineClient, TrainState>();

/** The panel's state for this page (created on first use, inside a component). */
export function useTrain(): TrainState {
  const engine = useEngine();
  let state = states.get(engine);
  if (!state) {
    state = new TrainState(engine, useModels());
    states.set(engine, state);
  }
  return state;
}
