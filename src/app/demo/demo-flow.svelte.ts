// The one-click demo (issue 8, item 4), driving the panels' own states the way a person would:
//   1. student   load the demo student from the page's own host (public/demo/models/student/);
//   2. data      store the demo pairs as a data set and the demo teacher caches (checked against the
//                student and the pairs; caches already stored that fit are used as they are);
//   3. training  a DCKD run with the demo settings (settings.ts) in the Train panel, live charts;
//   4. compare   the Train panel's "Compare in the Arena" (trained weights in the student, the
//                untrained student in the compare slot), then the Arena opens side by side on a
//                held-out demo scenario and both students open the conversation.
// The step is stored (flow-store.ts): after a reload the run resumes like any run and the flow goes
// on from where it was. Kept for the page's lifetime, like the panel states it drives.
import { errorInfo, type ErrorInfo } from '../../engine/api.ts';
import { LabError } from '../../engine/errors.ts';
import type { TeacherCacheSummary } from '../../store/teacher-caches.ts';
import { importPreferenceData } from '../../store/datasets.ts';
import { openLabDb } from '../../store/db.ts';
import { getTrainRun, isResumable, newRunId, type TrainRunRecord } from '../../store/runs.ts';
import { listTeacherCaches } from '../../store/teacher-caches.ts';
import { useArena, type ArenaState } from '../arena/arena.svelte.ts';
import { useCaches, type CachesState } from '../data/caches.svelte.ts';
import { useDatasets, type DatasetsState } from '../data/datasets.svelte.ts';
import type { EngineClient } from '../engine-client.svelte.ts';
import { useEngine } from '../engine-context.ts';
import { useModels, type ModelsState } from '../models/models.svelte.ts';
import type { PanelId } from '../panels.ts';
import { COMPARE_SLOT, useProactive, type ProactiveClient } from '../proactive-client.svelte.ts';
import { useTrain, type TrainState } from '../train/train.svelte.ts';
import { DEMO_STEPS, inProgress, loadDemo, saveDemo, type DemoStep } from './flow-store.ts';
import { fetchDemo, isDemoCard } from './kit.ts';
import { DEMO_DOMAIN, demoSteps, demoTrainOptions } from './settings.ts';
import { until } from './until.svelte.ts';

export type DemoStatus = 'idle' | 'running' | 'paused' | 'done' | 'failed' | 'cancelled';

/** The demo pairs' name in the data-set list. */
const DEMO_SET_NAME = 'Demo pairs';
const CACHE_ROLES = ['chosen', 'rejected'] as const;

/** The person cancelled: the step in progress stops at its next check. */
class DemoCancelled extends Error {}

function demoError(message: string, hint?: string): LabError {
  return new LabError('DemoError', message, hint);
}

interface Sources {
  datasetId: string;
  chosen: string;
  rejected: string;
}

export class DemoFlow {
  /** The step under way (null when the demo is not running). */
  step = $state<DemoStep | null>(null);
  status = $state<DemoStatus>('idle');
  /** What it is doing now, in a line. */
  doing = $state<string | null>(null);
  error = $state.raw<ErrorInfo | null>(null);
  /** The demo's training run, once started. */
  runId = $state<string | null>(null);

  #cancelled = $state(false);
  #startedAt = 0;
  #sources: Sources | null = null;

  constructor(
    private readonly engine: EngineClient,
    private readonly models: ModelsState,
    private readonly datasets: DatasetsState,
    private readonly caches: CachesState,
    private readonly train: TrainState,
    private readonly proactive: ProactiveClient,
    private readonly arena: ArenaState,
  ) {}

  /** What it is doing now: while the demo's run trains (started, resumed here or in the Train panel), that. */
  get now(): string | null {
    if (this.step === 'training' && !this.#cancelled && this.train.live && this.train.run?.id === this.runId) return 'Distilling the demo student with DCKD…';
    return this.doing;
  }

  get active(): boolean {
    return this.status === 'running' || this.status === 'paused';
  }

  /** The demo's run as the Train panel has it (null before it started). */
  get demoRun(): TrainRunRecord | null {
    if (!this.runId) return null;
    return this.train.run?.id === this.runId ? this.train.run : (this.train.runs.find((r) => r.id === this.runId) ?? null);
  }

  /** Run the demo from the start. */
  async run(): Promise<void> {
    if (this.active) return;
    if (this.train.live || this.train.activity !== 'idle') {
      this.#fail(demoError('A training run is going in the Train panel.', 'Pause or finish it, then run the demo.'));
      return;
    }
    this.runId = null;
    this.#startedAt = Date.now();
    await this.#from('student');
  }

  /** Pick up a demo that was under way when the page closed (nothing when none was). */
  async restore(): Promise<void> {
    if (this.active) return;
    const stored = await loadDemo();
    if (!inProgress(stored)) return;
    this.runId = stored.runId;
    this.#startedAt = stored.startedAt;
    // Loading and storing are quick to redo; a started run is followed (resumed), never started again.
    await this.#from(stored.runId && (stored.step === 'training' || stored.step === 'compare') ? stored.step : 'student');
  }

  /** Continue the demo's paused run (the flow goes on when it finishes). */
  resume(): void {
    const run = this.demoRun;
    if (this.status === 'paused' && run) void this.train.resume(run);
  }

  /** Stop the demo; a run it started is cancelled and its checkpoints discarded. */
  async cancel(): Promise<void> {
    if (!this.active || this.#cancelled) return;
    this.#cancelled = true;
    this.doing = 'Cancelling…';
    if (this.step === 'student') this.models.cancel();
    const run = this.demoRun;
    if (this.step === 'training' && run && ((this.train.live && this.train.run?.id === run.id) || isResumable(run))) await this.train.cancel(run);
  }

  /** Back to idle after it ended (done, failed or cancelled). */
  reset(): void {
    if (this.active) return;
    this.status = 'idle';
    this.error = null;
    this.doing = null;
  }

  async #from(first: DemoStep): Promise<void> {
    this.#cancelled = false;
    this.error = null;
    this.status = 'running';
    try {
      this.step = first;
      this.doing = 'Waiting for the engine…';
      await until(() => this.engine.state === 'ready' || this.engine.state === 'error' || this.engine.state === 'lost' || this.#cancelled);
      this.#check();
      if (this.engine.state !== 'ready') throw this.engine.error ?? demoError('The engine is not ready.', 'Re-acquire the GPU or restart the engine (status bar), then run the demo again.');
      for (const step of DEMO_STEPS.slice(DEMO_STEPS.indexOf(first))) {
        this.step = step;
        await saveDemo({ step, runId: this.runId, startedAt: this.#startedAt });
        await this.#do(step);
        this.#check();
      }
      this.status = 'done';
      await saveDemo({ step: 'done', runId: this.runId, startedAt: this.#startedAt });
    } catch (err) {
      if (this.#cancelled || err instanceof DemoCancelled) this.status = 'cancelled';
      else this.#fail(err);
      await saveDemo(null).catch(() => undefined);
    } finally {
      this.step = null;
      this.doing = null;
    }
  }

  #fail(err: unknown): void {
    this.status = 'failed';
    // A stored ErrorInfo (a run's, a panel's) keeps its hint; anything thrown is read as usual.
    const info = err as Partial<ErrorInfo> | null;
    this.error = !(err instanceof Error) && typeof info?.name === 'string' && typeof info.message === 'string' ? { name: info.name, message: info.message, hint: info.hint } : errorInfo(err);
  }

  #check(): void {
    if (this.#cancelled) throw new DemoCancelled();
  }

  #show(panel: PanelId): void {
    if (location.hash !== `#/${panel}`) location.hash = `#/${panel}`;
  }

  #do(step: DemoStep): Promise<void> {
    switch (step) {
      case 'student':
        return this.#loadStudent();
      case 'data':
        return this.#storeData();
      case 'training':
        return this.#distil();
      case 'compare':
        return this.#compare();
    }
  }

  // ---- 1. the student ------------------------------------------------------------------------------

  async #loadStudent(): Promise<void> {
    if (this.models.loading) throw demoError(`${this.models.loading.label} is loading.`, 'Wait for it (or cancel it in Models), then run the demo.');
    this.doing = 'Loading the demo student…';
    // Always a fresh copy: a student already loaded may hold the weights of an earlier run.
    await this.models.loadDemo();
    this.#check();
    if (this.models.error) throw this.models.error;
    if (!isDemoCard(this.engine.model)) throw demoError('The demo student could not be loaded.', 'The Models panel says why; then run the demo again.');
  }

  // ---- 2. the data -------------------------------------------------------------------------------

  async #storeData(): Promise<void> {
    const context = this.#student().context;
    this.doing = 'Storing the demo pairs…';
    const text = await (await fetchDemo('pairs')).text();
    this.#check();
    const { record } = await importPreferenceData(await openLabDb(), { fileName: 'pairs.demo.jsonl', text, name: DEMO_SET_NAME });
    await this.datasets.refresh(record.id);
    await this.datasets.select(record.id);
    this.doing = 'Checking the demo teacher caches…';
    const found = await this.#fittingCaches(record.id, context);
    const ids: Partial<Record<(typeof CACHE_ROLES)[number], string>> = {};
    for (const role of CACHE_ROLES) {
      this.#check();
      if (found[role]) {
        ids[role] = found[role];
        continue;
      }
      this.doing = `Storing the teacher cache on the ${role} responses…`;
      ids[role] = (await this.#importCache(role, record.id, context)).id;
    }
    await this.caches.refresh();
    this.#sources = { datasetId: record.id, chosen: ids.chosen!, rejected: ids.rejected! };
  }

  /** Complete probability caches already stored that fit the student and the demo pairs, by side. */
  async #fittingCaches(datasetId: string, maxLength: number): Promise<Partial<Record<(typeof CACHE_ROLES)[number], string>>> {
    const stored = (await listTeacherCaches(await openLabDb())).filter((c: TeacherCacheSummary) => c.complete && c.kind === 'probs');
    if (stored.length === 0) return {};
    const checks = await this.engine.data().api.checkCaches({ ids: stored.map((c) => c.id), datasetId, maxLength, slot: 'student' });
    const fits = new Set(checks.filter((c) => c.integrity === 'ok').map((c) => c.id));
    const out: Partial<Record<(typeof CACHE_ROLES)[number], string>> = {};
    for (const role of CACHE_ROLES) {
      const hit = stored.find((c) => c.response === role && fits.has(c.id));
      if (hit) out[role] = hit.id;
    }
    return out;
  }

  async #importCache(role: (typeof CACHE_ROLES)[number], datasetId: string, maxLength: number): Promise<TeacherCacheSummary> {
    const bytes = new Uint8Array(await (await fetchDemo(role)).arrayBuffer());
    this.#check();
    const { api, transfer } = this.engine.data();
    return api.importCache(transfer({ bytes, fileName: `demo-teacher.${role}.safetensors`, datasetId, maxLength, slot: 'student' }, [bytes.buffer]));
  }

  #student() {
    const card = this.engine.model;
    if (!isDemoCard(card)) throw demoError('The demo student is no longer loaded.', 'Run the demo again.');
    return card;
  }

  // ---- 3. distillation ---------------------------------------------------------------------------

  /** Start the demo's run (or follow the one under way) until it has finished. */
  async #distil(): Promise<void> {
    if (!this.runId) await this.#startRun();
    for (;;) {
      this.#check();
      const run = this.runId ? await getTrainRun(await openLabDb(), this.runId) : null;
      if (!run) throw this.train.errors.run ?? demoError("The demo's training run is no longer stored.", 'Run the demo again.');
      this.#show('train');
      if (run.status === 'finished') return;
      if (run.status === 'cancelled') throw new DemoCancelled();
      if (run.status === 'failed') throw run.error ?? this.train.errors.run ?? demoError("The demo's training run failed.");
      const live = () => this.train.live && this.train.run?.id === run.id;
      if (live()) {
        await until(() => !live() || this.#cancelled);
      } else if (run.status === 'paused') {
        // Paused by the person: wait until it is resumed (here or in the Train panel), or cancelled.
        this.status = 'paused';
        this.doing = 'The run is paused.';
        await until(() => live() || this.#cancelled);
        if (!this.#cancelled) this.status = 'running';
      } else {
        // The page closed while it trained: resume it like any run.
        this.doing = 'Resuming the distillation from its last checkpoint…';
        await until(() => this.train.activity === 'idle' || this.#cancelled);
        this.#check();
        await this.train.resume(run);
        const after = await getTrainRun(await openLabDb(), run.id);
        if (after?.status === 'running' && !live()) throw this.train.errors.run ?? demoError("The demo's run could not be resumed.", 'Resume it in the Train panel.');
      }
    }
  }

  async #startRun(): Promise<void> {
    const card = this.#student();
    const sources = this.#sources;
    if (!sources) throw demoError('The demo data are not stored yet.', 'Run the demo again.');
    this.doing = 'Planning the run…';
    this.train.options = demoTrainOptions(demoSteps(), card.context);
    this.train.datasetId = sources.datasetId;
    this.train.caches = { chosen: sources.chosen, rejected: sources.rejected, advantage: null };
    await this.train.planNow();
    // The Train panel, when shown, re-plans a moment after the options change: wait for the last plan.
    await until(() => !this.train.planning);
    this.#check();
    if (!this.train.canStart) {
      const why = this.train.errors.plan ?? this.train.plan?.refusal ?? (this.train.distillBlocker ? demoError(this.train.distillBlocker) : null);
      throw why ?? demoError('The demo run cannot start now.', 'Wait until the engine is ready, then run the demo again.');
    }
    this.runId = newRunId();
    await saveDemo({ step: 'training', runId: this.runId, startedAt: this.#startedAt });
    this.#show('train');
    this.doing = 'Distilling the demo student with DCKD…';
    await this.train.start(this.runId);
  }

  // ---- 4. before and after in the Arena ----------------------------------------------------------

  async #compare(): Promise<void> {
    const run = this.runId ? await getTrainRun(await openLabDb(), this.runId) : null;
    if (!run || run.status !== 'finished') throw demoError("The demo's run has not finished.", 'Run the demo again.');
    this.doing = 'Loading the student before and after distillation…';
    if (this.arena.busy) {
      this.arena.cancel();
      await until(() => !this.arena.busy);
    }
    await until(() => this.train.activity === 'idle' || this.#cancelled);
    this.#check();
    await this.train.compareInArena(run, { noteLocal: (key, note) => this.proactive.noteLocal(key, note), showBeforeAfter: () => this.arena.showBeforeAfter() });
    if (this.train.errors.compare) throw this.train.errors.compare;
    if (!isDemoCard(this.engine.slotCard(COMPARE_SLOT)) || !isDemoCard(this.engine.model)) throw demoError('The students before and after could not be loaded.', 'Press "Compare in the Arena" in the Train panel.');
    this.#check();

    this.doing = 'Opening a held-out demo scenario…';
    await this.proactive.loadDemoScenarios();
    if (this.proactive.scenarioError) throw this.proactive.scenarioError;
    const scenario = this.proactive.scenarios.find((s) => s.domain === DEMO_DOMAIN) ?? this.proactive.scenarios[0];
    if (!scenario) throw demoError('The demo scenarios are empty.');
    const arena = this.arena;
    arena.domain = scenario.domain;
    arena.tier = 'all';
    arena.scenarioKey = scenario.key;
    arena.userMode = 'human';
    arena.goalSource = 'reference';
    this.#show('arena');
    void arena.start();
    if (!arena.busy) throw demoError(`The dialogue could not start: ${arena.startBlocker ?? arena.error?.message ?? 'unknown reason'}`, 'Press "Start dialogue" in the Arena.');
  }
}

const flows = new WeakMap<EngineClient, DemoFlow>();

/** The page's demo flow (created on first use, inside a component). */
export function useDemoFlow(): DemoFlow {
  const engine = useEngine();
  let flow = flows.get(engine);
  if (!flow) {
    flow = new DemoFlow(engine, useModels(), useDatasets(), useCaches(), useTrain(), useProactive(), useArena());
    flows.set(engine, flow);
  }
  return flow;
}
