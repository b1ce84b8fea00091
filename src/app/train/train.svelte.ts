// The Train panel's state, kept for the page's lifetime (a run goes on while another panel is
// shown): the data (an SFT file, or for distillation a stored preference data set with its teacher
// caches), the options with the objective, the plan (data summary, caches' integrity, stages,
// memory estimate) for them, the run shown with its metric series and ADPA data progress, the runs
// stored in this browser, and what the person is doing now (starting, pausing, exporting,
// comparing…) with its error in place.
//
// Derived values are getters, not $derived: this object outlives the panel that created it, and a
// $derived made while a component is mounted stops updating once that component is destroyed
// (Svelte returns its last value for good).
import { errorInfo, type ErrorInfo, type Sink } from '../../engine/api.ts';
import type { CacheChoice, DistillSource, ExportEvent, ExportKind, PrepareProgress, TrainData, TrainEvent, TrainOptions, TrainOutcome, TrainPlan } from '../../engine/train-api.ts';
import { OBJECTIVE_LABELS } from '../../engine/train-api.ts';
import { readRecords } from '../../distill/data/records.ts';
import { openLabDb } from '../../store/db.ts';
import type { DatasetRecord } from '../../store/datasets.ts';
import { cancelTrainRun, deleteTrainRun, isResumable, listTrainRuns, loadMetrics, newRunId, type MetricPoint, type TrainRunRecord } from '../../store/runs.ts';
import type { TeacherCacheSummary } from '../../store/teacher-caches.ts';
import type { EngineClient } from '../engine-client.svelte.ts';
import { useEngine } from '../engine-context.ts';
import { locationOf, useModels, type ModelsState } from '../models/models.svelte.ts';
import { useSlotLoads, type SlotLoads } from '../data/slots.svelte.ts';
import { COMPARE_SLOT, type LocalKey } from '../proactive-client.svelte.ts';
import { saveExport, type ExportTarget } from './export-files.ts';
import { defaultOptions } from './options.ts';

/** What the panel is doing; `idle` when nothing runs. */
export type Activity = 'idle' | 'loading-model' | 'training' | 'pausing' | 'cancelling' | 'exporting' | 'comparing';

/** Where an error belongs, so it shows next to the control that caused it. */
export type ErrorPlace = 'data' | 'plan' | 'run' | 'export' | 'runs' | 'compare';

const PLAN_DELAY_MS = 250;
const OPTIONS_SETTING = 'train.options';
const SOURCES_SETTING = 'train.sources';

/** What "Compare in the Arena" needs of the Arena: say what each local model is, and show both side by side. */
export interface CompareTarget {
  noteLocal(key: LocalKey, note: string): void;
  showBeforeAfter(): void;
}

/** Stored options over the defaults (a field this version does not know is dropped, a missing one defaulted). */
function withDefaults(saved: unknown): TrainOptions {
  const d = defaultOptions();
  if (!saved || typeof saved !== 'object') return d;
  const s = saved as Partial<TrainOptions>;
  const pick = <K extends keyof TrainOptions>(k: K): TrainOptions[K] => (typeof s[k] === typeof d[k] && s[k] !== null ? (s[k] as TrainOptions[K]) : d[k]);
  const out = Object.fromEntries(Object.keys(d).map((k) => [k, pick(k as keyof TrainOptions)])) as unknown as TrainOptions;
  out.lora = { ...d.lora, ...(typeof s.lora === 'object' ? s.lora : {}) };
  out.length = { ...d.length, ...(typeof s.length === 'object' ? s.length : {}) };
  const loss: Partial<TrainOptions['loss']> = typeof s.loss === 'object' && s.loss ? s.loss : {};
  const weights: Partial<TrainOptions['loss']['weights']> = typeof loss.weights === 'object' && loss.weights ? loss.weights : {};
  out.loss = {
    ...d.loss,
    ...loss,
    weights: { kd: { ...d.loss.weights.kd, ...weights.kd }, dckd: { ...d.loss.weights.dckd, ...weights.dckd }, adpa: { ...d.loss.weights.adpa, ...weights.adpa } },
  };
  return out;
}

/** A run still has to build its ADPA data (an ADPA stage it has not finished and has no stored data for). */
function needsAdpaData(run: TrainRunRecord): boolean {
  const d = run.distill;
  return !!d && d.stages.some((s) => s.loss === 'adpa' && s.advantageCacheId === null && (d.objective === 'adpa+' || d.caches.advantage === null) && run.step < s.offset + s.steps);
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
  /** Distillation: the preference data set (by id in the data-set store) and the teacher caches picked. */
  datasetId = $state<string | null>(null);
  caches = $state<CacheChoice>({ chosen: null, rejected: null, advantage: null });
  /** ADPA data being built for the live run (ŷ, then the two caches on it). */
  preparing = $state.raw<PrepareProgress | null>(null);
  /** What "Compare in the Arena" is doing now. */
  comparing = $state<string | null>(null);

  /** The request training a run from this page now (cancel(requestId) stops it). */
  #live = $state.raw<{ requestId: string } | null>(null);
  #ticket = 0;
  #planTimer: ReturnType<typeof setTimeout> | undefined;

  /** Runs to offer for resuming besides the one shown (which has its own Resume). */
  get resumable(): TrainRunRecord[] {
    return this.runs.filter((r) => isResumable(r) && r.id !== this.run?.id);
  }

  /** The objective trains on a preference data set with teacher caches (not on a data file). */
  get distilling(): boolean {
    return this.options.loss.objective !== 'sft';
  }

  constructor(
    private readonly engine: EngineClient,
    private readonly models: ModelsState,
    private readonly slots: SlotLoads,
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
    const db = await openLabDb();
    const [saved, sources] = await Promise.all([db.get('settings', OPTIONS_SETTING).catch(() => undefined), db.get('settings', SOURCES_SETTING).catch(() => undefined)]);
    if (saved) this.options = withDefaults(saved);
    const s = (sources ?? {}) as Partial<{ datasetId: string | null; caches: Partial<CacheChoice> }>;
    if (typeof s.datasetId === 'string') this.datasetId = s.datasetId;
    if (s.caches && typeof s.caches === 'object') {
      for (const role of ['chosen', 'rejected', 'advantage'] as const) if (typeof s.caches[role] === 'string') this.caches[role] = s.caches[role]!;
    }
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
        .then((db) => Promise.all([db.put('settings', $state.snapshot(this.options), OPTIONS_SETTING), db.put('settings', { datasetId: this.datasetId, caches: $state.snapshot(this.caches) }, SOURCES_SETTING)]))
        .catch(() => undefined); // not kept: the defaults come back after a reload
    }, PLAN_DELAY_MS);
  }

  /** Plan now (not a moment later), e.g. before starting a run set up by code (the demo). */
  async planNow(): Promise<void> {
    clearTimeout(this.#planTimer);
    await this.#plan();
  }

  /**
   * Fill in what is not chosen yet or no longer stored (once the lists are read): the data set
   * selected in the Data panel, and the newest complete teacher cache of each side.
   */
  adoptSources(datasets: readonly DatasetRecord[], selected: string | null, caches: readonly TeacherCacheSummary[]): void {
    if (datasets.length && !datasets.some((d) => d.id === this.datasetId)) this.datasetId = selected ?? datasets[0].id;
    if (!caches.length) return;
    for (const role of ['chosen', 'rejected'] as const) {
      if (caches.some((c) => c.id === this.caches[role])) continue;
      this.caches[role] = caches.find((c) => c.complete && c.kind === 'probs' && c.response === role)?.id ?? null;
    }
    if (this.caches.advantage !== null && !caches.some((c) => c.id === this.caches.advantage)) this.caches.advantage = null;
  }

  /** Why the picked caches or slots cannot be used yet (the first reason), or null. */
  get distillBlocker(): string | null {
    const d = this.plan?.distill;
    if (!this.distilling || !d) return null;
    const bad = d.caches.find((c) => c.integrity !== 'ok');
    if (bad) return `The ${bad.role} cache: ${bad.message ?? bad.integrity}`;
    return d.builds.find((b) => b.problem)?.problem ?? null;
  }

  /** What the run trains on: the SFT file, or the data set with its caches (null: not chosen yet). */
  get source(): TrainData | DistillSource | null {
    if (!this.distilling) return this.data;
    return this.datasetId ? { datasetId: this.datasetId, caches: $state.snapshot(this.caches) } : null;
  }

  async #plan(): Promise<void> {
    const data = this.source;
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

  /** The plan's caches all fit and the slots that would build ADPA data are ready. */
  get distillReady(): boolean {
    const d = this.plan?.distill;
    if (!this.distilling) return true;
    return !!d && d.caches.every((c) => c.integrity === 'ok') && d.builds.every((b) => b.problem === null);
  }

  get canStart(): boolean {
    return this.activity === 'idle' && this.plan !== null && this.plan.refusal === null && this.distillReady && !this.planning && this.engine.model !== null && this.engine.state === 'ready';
  }

  /** Start a run with the current data and options (`runId`: the caller's, e.g. the demo's, to follow it). */
  async start(runId = newRunId()): Promise<void> {
    const data = this.source;
    const card = this.engine.model;
    if (!data || !card || !this.canStart) return;
    const modelLocation = card.source.kind === 'hub' || card.source.kind === 'url' ? locationOf(card.source.id, card.source.revision) : null;
    const options = $state.snapshot(this.options);
    const slotLocations = { teacher: this.slots.location('teacher')?.text ?? null, reference: this.slots.location('reference')?.text ?? null };
    this.run = null;
    this.points = [];
    this.exported = null;
    await this.#drive((sink, requestId) => this.engine.training().api.start({ runId, data, options, modelLocation, slotLocations }, sink, requestId));
  }

  /** A run that still builds ADPA data needs its teacher and reference: load them again from where they came from. */
  async #reloadSlots(run: TrainRunRecord): Promise<boolean> {
    if (!needsAdpaData(run)) return true;
    for (const slot of ['teacher', 'reference'] as const) {
      const want = run.distill?.[slot];
      if (!want || this.engine.slotCard(slot)?.id === want.id) continue;
      if (!want.location) {
        this.#fail('run', { name: 'ModelMismatchError', message: `This run builds ADPA data with ${want.name} as the ${slot}, a model from a local folder.`, hint: `Load it as the ${slot} (Data & teacher cache panel), then press Resume.` });
        return false;
      }
      this.activity = 'loading-model';
      try {
        if (!(await this.slots.loadLocation(slot, { text: want.location, hubBase: this.models.hubBase }, want.name))) {
          this.#fail('run', this.slots.errors[slot] ?? { name: 'ModelMismatchError', message: `${want.name} could not be loaded as the ${slot}.` });
          return false;
        }
      } finally {
        this.activity = 'idle';
      }
    }
    return true;
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
        await this.models.load({ kind: 'location', text: run.model.location, hubBase: this.models.hubBase }, run.model.name, 'form', { name: run.model.name });
      } finally {
        this.activity = 'idle';
      }
      if (this.engine.model?.id !== run.model.id) {
        this.#fail('run', this.models.error ?? { name: 'ModelMismatchError', message: `${run.model.name} could not be loaded again.`, hint: 'Load it in the Models panel, then press Resume.' });
        return;
      }
    }
    if (!(await this.#reloadSlots(run))) return;
    await this.#drive((sink, requestId) => this.engine.training().api.resume(run.id, sink, requestId));
  }

  async #drive(call: (sink: Sink<TrainEvent>, requestId: string) => Promise<TrainOutcome>): Promise<void> {
    const requestId = `train-${++this.#ticket}`;
    this.#live = { requestId };
    this.activity = 'training';
    this.clearError('run');
    this.preparing = null;
    try {
      const { proxy } = this.engine.training();
      await call(proxy((e: TrainEvent) => this.#onEvent(e)), requestId);
    } catch (err) {
      this.#fail('run', err);
    } finally {
      this.#live = null;
      this.activity = 'idle';
      this.preparing = null;
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
    if (e.type === 'prepare') {
      this.preparing = e.progress;
      return;
    }
    this.preparing = null;
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

  /**
   * Before and after side by side in the Arena: the run's trained weights go into the student (its
   * model is loaded first if needed), the same model as its files have it into the compare slot
   * (from the browser's weight cache), and the Arena opens with both, untrained on the left.
   */
  async compareInArena(run: TrainRunRecord, arena: CompareTarget): Promise<void> {
    if (this.activity !== 'idle' || run.status !== 'finished') return;
    this.clearError('compare');
    const location = run.model.location;
    if (!location) {
      this.#fail('compare', { name: 'ModelLocationError', message: `${run.model.name} came from a local folder: the lab cannot load its untrained copy by itself.`, hint: 'Train a model loaded from a repository id or a URL to compare it before and after in the Arena.' });
      return;
    }
    this.activity = 'comparing';
    const source = { kind: 'location' as const, text: location, hubBase: this.models.hubBase };
    const named = { name: run.model.name }; // the name it was trained under (the demo's, say)
    try {
      if (this.engine.model?.id !== run.model.id) {
        this.comparing = `Loading ${run.model.name}…`;
        await this.models.load(source, run.model.name, 'form', named);
        if (this.engine.model?.id !== run.model.id) throw this.models.error ?? new Error(`${run.model.name} could not be loaded.`);
      }
      this.comparing = 'Putting the trained weights into the student…';
      await this.engine.training().api.activate(run.id, `activate-${++this.#ticket}`);
      this.comparing = `Loading ${run.model.name} as it was before training into the compare slot…`;
      await this.engine.loadSlot(COMPARE_SLOT, source, named, () => undefined, `compare-load-${++this.#ticket}`);
      arena.noteLocal('local', `after ${OBJECTIVE_LABELS[run.distill?.objective ?? 'sft']}`);
      arena.noteLocal('local:compare', 'before training');
      arena.showBeforeAfter();
      window.location.hash = '#/arena';
    } catch (err) {
      this.#fail('compare', err);
    } finally {
      this.activity = 'idle';
      this.comparing = null;
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
    state = new TrainState(engine, useModels(), useSlotLoads());
    states.set(engine, state);
  }
  return state;
}
