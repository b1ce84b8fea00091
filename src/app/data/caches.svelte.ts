// The Data panel's teacher caches, kept for the page's lifetime (a build goes on while another
// panel is shown): the caches stored in this browser with how they were built and their integrity
// against the selected data set and the student; the build options; the build in progress with its
// progress and cancel; resuming an interrupted build after a reload (reloading its teacher from the
// weight cache first); import, export, delete, and the advantage of two caches. A cache can also be
// scored by an ONNX model in the teacher worker (src/app/teacher-client.svelte.ts): same list,
// same progress and cancel, resumed the same way.
import { errorInfo, type ErrorInfo } from '../../engine/api.ts';
import type { CacheBuildEvent, CacheBuildRequest, CacheCheck } from '../../engine/data-api.ts';
import { LabError } from '../../engine/errors.ts';
import { ONNX_SCORER, type StudentIdentity } from '../../engine/teacher-api.ts';
import type { CacheResponse } from '../../formats/teacher-cache.ts';
import { deleteBuildPlan, listBuildPlans, type CacheBuildPlan } from '../../store/cache-builds.ts';
import { openLabDb } from '../../store/db.ts';
import { deleteTeacherCache, listTeacherCaches, type TeacherCacheSummary, type ValueDType } from '../../store/teacher-caches.ts';
import { downloadBlob } from '../download.ts';
import type { EngineClient } from '../engine-client.svelte.ts';
import { useEngine } from '../engine-context.ts';
import { useTeacher, type TeacherClient } from '../teacher-client.svelte.ts';
import { useDatasets, type DatasetsState } from './datasets.svelte.ts';
import { locationOfCard, useSlotLoads, type DistillSlot, type SlotLoads } from './slots.svelte.ts';

/** What scores the responses: a model of the engine's slots, or the ONNX model of the teacher worker. */
export type CacheScorer = DistillSlot | typeof ONNX_SCORER;

export interface BuildOptions {
  response: CacheResponse;
  scorer: CacheScorer;
  k: number;
  valueDType: ValueDType;
  batchSize: number;
  maxNewTokens: number;
}

export const DEFAULT_BUILD: BuildOptions = { response: 'chosen', scorer: 'teacher', k: 50, valueDType: 'F16', batchSize: 4, maxNewTokens: 128 };
const OPTIONS_SETTING = 'data.cacheOptions';

export type BuildProgressEvent = Extract<CacheBuildEvent, { type: 'progress' }>;

export interface LiveBuild {
  requestId: string;
  /** Known once the worker has begun (the 'started' event). */
  cacheId: string | null;
  name: string;
  resumedAt: number;
  progress: BuildProgressEvent | null;
  cancelling: boolean;
}

/** Where an error shows: next to the control that caused it. */
export type CacheErrorPlace = 'build' | 'import' | 'advantage' | 'list';

function isCancel(err: ErrorInfo): boolean {
  return err.name === 'CancelledError' || err.name === 'AbortError';
}

function fileNameOf(name: string): string {
  return `${name.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'teacher-cache'}.safetensors`;
}

export class CachesState {
  list = $state.raw<TeacherCacheSummary[]>([]);
  plans = $state.raw<Map<string, CacheBuildPlan>>(new Map());
  checks = $state.raw<Map<string, CacheCheck>>(new Map());
  options = $state<BuildOptions>({ ...DEFAULT_BUILD });
  live = $state<LiveBuild | null>(null);
  errors = $state.raw<Partial<Record<CacheErrorPlace, ErrorInfo>>>({});
  /** A quiet line after a build (done, cancelled) and after import, delete or advantage, shown there. */
  note = $state<string | null>(null);
  listNote = $state<string | null>(null);
  /** The file being imported, or the id being exported. */
  importing = $state<string | null>(null);
  exporting = $state<string | null>(null);

  /**
   * Interrupted builds that can be resumed (not the live one). A getter, not $derived: this state
   * outlives the panel that created it, and a derived would be torn down with that panel.
   */
  get interrupted(): TeacherCacheSummary[] {
    return this.list.filter((c) => !c.complete && c.id !== this.live?.cacheId && this.plans.has(c.id));
  }

  #ticket = 0;
  /** Stops the live build (in the engine, or in the teacher worker). */
  #cancelLive: ((requestId: string) => void) | null = null;
  #checkTicket = 0;
  #listTicket = 0;

  constructor(
    private readonly engine: EngineClient,
    private readonly datasets: DatasetsState,
    private readonly slots: SlotLoads,
    private readonly teacher: TeacherClient,
  ) {
    void this.#restore();
  }

  async #restore(): Promise<void> {
    const saved = (await (await openLabDb()).get('settings', OPTIONS_SETTING).catch(() => undefined)) as Partial<BuildOptions> | undefined;
    if (saved && typeof saved === 'object') {
      for (const key of Object.keys(DEFAULT_BUILD) as (keyof BuildOptions)[]) {
        if (typeof saved[key] === typeof DEFAULT_BUILD[key]) (this.options as unknown as Record<string, unknown>)[key] = saved[key];
      }
    }
    await this.refresh();
  }

  async saveOptions(): Promise<void> {
    await (await openLabDb()).put('settings', $state.snapshot(this.options), OPTIONS_SETTING);
  }

  #fail(place: CacheErrorPlace, err: unknown): void {
    this.errors = { ...this.errors, [place]: errorInfo(err) };
  }

  dismiss(place: CacheErrorPlace): void {
    this.errors = { ...this.errors, [place]: undefined };
  }

  /** Read the stored caches again (a slower, older read never overwrites a newer one). */
  async refresh(): Promise<void> {
    const ticket = ++this.#listTicket;
    try {
      const db = await openLabDb();
      const [list, plans] = await Promise.all([listTeacherCaches(db), listBuildPlans(db)]);
      if (ticket !== this.#listTicket) return;
      this.list = list;
      this.plans = plans;
      this.dismiss('list');
    } catch (err) {
      if (ticket === this.#listTicket) this.#fail('list', err);
    }
    await this.check();
  }

  /** The loaded model a cache must share the tokenizer with: the student, else the teacher. */
  #checkSlot(): 'student' | 'teacher' | null {
    return this.engine.model ? 'student' : this.engine.slotCard('teacher') ? 'teacher' : null;
  }

  /** Integrity of every stored cache against the selected data set and the student (stale answers dropped). */
  async check(): Promise<void> {
    const ticket = ++this.#checkTicket;
    const datasetId = this.datasets.selectedId;
    const ids = this.list.map((c) => c.id);
    if (!datasetId || ids.length === 0 || this.engine.state === 'idle' || this.engine.state === 'starting') {
      this.checks = new Map();
      return;
    }
    try {
      const checks = await this.engine.data().api.checkCaches({ ids, datasetId, maxLength: this.datasets.maxLength, slot: this.#checkSlot() });
      if (ticket === this.#checkTicket) this.checks = new Map(checks.map((c) => [c.id, c]));
    } catch (err) {
      if (ticket === this.#checkTicket) {
        this.checks = new Map();
        this.#fail('list', err);
      }
    }
  }

  /** Build a cache for the selected data set with the current options (resumes the same settings' interrupted build). */
  async build(): Promise<void> {
    const datasetId = this.datasets.selectedId;
    if (!datasetId || this.live) return;
    const o = $state.snapshot(this.options);
    void this.saveOptions();
    const onnx = o.scorer === ONNX_SCORER;
    const request = {
      datasetId,
      ...o,
      maxLength: this.datasets.maxLength,
      scorerLocation: o.scorer === ONNX_SCORER ? (this.teacher.card?.location ?? null) : this.slots.location(o.scorer),
      studentLocation: locationOfCard(this.engine.model, this.slots.models.hubBase),
    };
    if (onnx) return this.#runOnnx(`${this.teacher.card?.name ?? 'ONNX model'} · ${o.response}`, request);
    await this.#run(`${this.engine.slotCard(o.scorer)?.name ?? o.scorer} · ${o.response}`, (onEvent, id) => this.engine.data().api.buildCache(request, this.engine.data().proxy(onEvent), id));
  }

  /** A build in the teacher worker, checked there against the student loaded in the engine. */
  #runOnnx(name: string, request: CacheBuildRequest): Promise<void> {
    const s = this.engine.model;
    const student: StudentIdentity | null = s && { name: s.name, tokenizerSha256: s.tokenizerSha256, vocab: s.vocab };
    return this.#run(name, (onEvent, id) => this.teacher.buildCache(request, student, onEvent, id), (id) => this.teacher.cancel(id));
  }

  /** Resume an ONNX build: reload its teacher first when another one (or none) is loaded. */
  async #resumeOnnx(row: TeacherCacheSummary, plan: CacheBuildPlan): Promise<void> {
    if (this.teacher.card?.id !== plan.scorer.id) {
      const where = plan.request.scorerLocation;
      if (!where) return this.#fail('build', new LabError('CacheBuildError', `This build scores with the ONNX model ${plan.scorer.name}, which came from a local folder.`, 'Load it again (Scored by: ONNX), then press Resume.'));
      if (!(await this.teacher.load({ kind: 'location', text: where.text, hubBase: where.hubBase }, plan.scorer.name))) return;
      if (this.teacher.card?.id !== plan.scorer.id) return this.#fail('build', new LabError('CacheBuildError', `${where.text} is not the ONNX model this build began with (${plan.scorer.name}).`));
    }
    await this.#runOnnx(row.name, plan.request);
  }

  /** Continue an interrupted build: reload its teacher (and student) first when another one is loaded. */
  async resume(row: TeacherCacheSummary): Promise<void> {
    const plan = this.plans.get(row.id);
    if (!plan || this.live) return;
    this.dismiss('build');
    if (plan.request.scorer === ONNX_SCORER) return this.#resumeOnnx(row, plan);
    const slot = plan.request.scorer as DistillSlot;
    if (this.engine.slotCard(slot)?.id !== plan.scorer.id) {
      const where = plan.request.scorerLocation;
      if (!where) return this.#fail('build', new LabError('CacheBuildError', `This build scores with ${plan.scorer.name}, which came from a local folder.`, `Load it as the ${slot} (Models for distillation), then press Resume.`));
      if (!(await this.slots.loadLocation(slot, where, plan.scorer.name))) return;
    }
    if (plan.student && this.engine.model?.id !== plan.student.id) {
      const where = plan.request.studentLocation;
      if (!where) return this.#fail('build', new LabError('CacheBuildError', `This build scores the responses ŷ of ${plan.student.name}, which came from a local folder.`, 'Load it as the student in the Models panel, then press Resume.'));
      await this.slots.models.load({ kind: 'location', text: where.text, hubBase: where.hubBase }, plan.student.name, 'form');
      if (this.engine.model?.id !== plan.student.id) return this.#fail('build', new LabError('CacheBuildError', `${plan.student.name} could not be loaded as the student.`, 'The Models panel shows why.'));
    }
    await this.#run(row.name, (onEvent, id) => this.engine.data().api.resumeCache(row.id, this.engine.data().proxy(onEvent), id));
  }

  async #run(name: string, start: (onEvent: (e: CacheBuildEvent) => void, requestId: string) => Promise<TeacherCacheSummary>, cancel: (id: string) => void = (id) => void this.engine.cancel(id)): Promise<void> {
    const requestId = `cache-build-${++this.#ticket}`;
    this.#cancelLive = cancel;
    this.live = { requestId, cacheId: null, name, resumedAt: 0, progress: null, cancelling: false };
    this.dismiss('build');
    this.note = null;
    const onEvent = (e: CacheBuildEvent) => {
      const live = this.live;
      if (live?.requestId !== requestId) return;
      if (e.type === 'started') {
        live.cacheId = e.cache.id;
        live.name = e.cache.name;
        live.resumedAt = e.resumedAt;
        void this.refresh();
      } else {
        live.progress = e;
      }
    };
    let cacheId: string | null = null;
    try {
      const done = await start(onEvent, requestId);
      this.note = `Built ${done.name}: ${done.examplesDone.toLocaleString('en-US')} examples, ${done.positions.toLocaleString('en-US')} positions.`;
    } catch (err) {
      const info = errorInfo(err);
      cacheId = this.live?.cacheId ?? null;
      if (!isCancel(info)) this.#fail('build', err);
    } finally {
      this.live = null;
      await this.refresh();
    }
    const stopped = cacheId ? this.list.find((c) => c.id === cacheId) : null;
    if (stopped && !stopped.complete && !this.errors.build) {
      this.note = `Cancelled. ${stopped.examplesDone} of ${stopped.examplesTotal} examples are kept; Resume continues from there.`;
    }
  }

  cancel(): void {
    if (!this.live) return;
    this.live.cancelling = true;
    this.#cancelLive?.(this.live.requestId);
  }

  /** Import a cache file for the selected data set (refused, naming the mismatch, when it does not fit). */
  async importFile(file: File): Promise<void> {
    const datasetId = this.datasets.selectedId;
    if (this.importing) return;
    this.dismiss('import');
    this.listNote = null;
    if (!datasetId) return this.#fail('import', new LabError('CacheImportError', 'No data set is selected.', 'Select the data set this cache was made from (Preference data), then import it.'));
    this.importing = file.name;
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const { api, transfer } = this.engine.data();
      const stored = await api.importCache(transfer({ bytes, fileName: file.name, datasetId, maxLength: this.datasets.maxLength, slot: this.#checkSlot() }, [bytes.buffer]));
      this.listNote = `Imported ${stored.name}: ${stored.examplesDone.toLocaleString('en-US')} examples, ${stored.positions.toLocaleString('en-US')} positions.`;
      await this.refresh();
    } catch (err) {
      this.#fail('import', err);
    } finally {
      this.importing = null;
    }
  }

  async exportCache(row: TeacherCacheSummary): Promise<void> {
    this.exporting = row.id;
    try {
      const bytes = await this.engine.data().api.exportCache(row.id);
      downloadBlob(fileNameOf(row.name), new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
    } catch (err) {
      this.#fail('list', err);
    } finally {
      this.exporting = null;
    }
  }

  async remove(row: TeacherCacheSummary): Promise<void> {
    try {
      const db = await openLabDb();
      await deleteTeacherCache(db, row.id);
      await deleteBuildPlan(db, row.id);
      this.listNote = `Deleted ${row.name}.`;
    } catch (err) {
      this.#fail('list', err);
    }
    await this.refresh();
  }

  async advantage(dpoId: string, referenceId: string): Promise<void> {
    this.dismiss('advantage');
    try {
      const stored = await this.engine.data().api.buildAdvantage({ dpoId, referenceId });
      this.listNote = `Stored ${stored.name}.`;
      await this.refresh();
    } catch (err) {
      this.#fail('advantage', err);
    }
  }
}

const states = new WeakMap<EngineClient, CachesState>();

export function useCaches(): CachesState {
  const engine = useEngine();
  let state = states.get(engine);
  if (!state) {
    state = new CachesState(engine, useDatasets(), useSlotLoads(), useTeacher());
    states.set(engine, state);
  }
  return state;
}
