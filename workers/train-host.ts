// The engine worker's training runs (EngineApi.training, src/engine/train-api.ts). A run trains the
// model loaded in the worker (ModelHost), through the trainer's run loop
// (src/distill/trainer/run.ts), and keeps its record, metrics and latest checkpoint in IndexedDB
// itself (src/store/runs.ts, checkpoints.ts), so a closed tab loses at most `checkpointEvery` steps.
//
// Faults handled here:
// - Device lost mid-run: the run is raced against the device's `lost` promise; on a loss the worker
//   gets a new device and reloads the model (deps.recover), the trainer is rebuilt from the last
//   checkpoint and the run continues; the record gets a notice saying what happened and how many
//   steps were redone.
// - Quota exceeded while checkpointing: the run goes on, the record says so, and the previous
//   checkpoint stays valid (it is replaced only in the transaction that writes the new one).
//
// Every run starts from the model as loaded from its files: full fine-tuning changes the weights in
// place (chat then uses the trained model), so a later run or a LoRA resume reloads the model first.
//
// A run is a list of stages (SFT and the single losses: one; ADPA+: DCKD then ADPA), each with its
// own Trainer over the same weights and its own optimiser; steps are counted over the whole run.
// A stage's checkpoints carry its index in their run id ("<run>#stage-<i>"), so a resume knows
// where it is: inside a stage (restore everything), or at the end of one (the next stage starts
// from its weights). An ADPA stage first builds its data (./train-distill.ts) and records the
// stored advantage cache in the run, so a resume or a recovery reads it instead of rebuilding.
import * as Comlink from 'comlink';
import type { ModelCard, ModelSlot, RequestId, Sink } from '../src/engine/api.ts';
import { errorInfo } from '../src/engine/api.ts';
import type {
  DistillRunInfo,
  DistillSource,
  ExportEvent,
  ExportKind,
  ExportResult,
  PrepareProgress,
  StageInfo,
  StartTrainingRequest,
  TrainApi,
  TrainData,
  TrainEvent,
  TrainOptions,
  TrainOutcome,
  TrainPlan,
} from '../src/engine/train-api.ts';
import { isDistillSource, OBJECTIVE_LABELS } from '../src/engine/train-api.ts';
import { DeviceLostError, LabError } from '../src/engine/errors.ts';
import type { Gpu } from '../src/engine/gpu.ts';
import type { Decoder } from '../src/engine/models/decoder.ts';
import type { LoadedModel } from '../src/engine/models/load.ts';
import { attachLora, detachLora, loraTensors } from '../src/engine/models/lora.ts';
import { Rng } from '../src/engine/rng.ts';
import type { TokenizedExample } from '../src/distill/data/sft.ts';
import { SftBatches, type BatchSource } from '../src/distill/trainer/batches.ts';
import type { DistillData } from '../src/distill/trainer/preference-batches.ts';
import type { TeacherCache } from '../src/formats/teacher-cache.ts';
import { CheckpointError, decodeCheckpoint, restoreCheckpoint, type CheckpointContents } from '../src/distill/trainer/checkpoint.ts';
import { exportAdapter, exportModelFolder, type FileWriter } from '../src/distill/trainer/export.ts';
import { runTraining, type RunOutcome } from '../src/distill/trainer/run.ts';
import { Trainer, weightsByName, type StepMetrics } from '../src/distill/trainer/trainer.ts';
import { latestCheckpoint, loadLatestCheckpoint, saveCheckpoint } from '../src/store/checkpoints.ts';
import type { LabDb } from '../src/store/db.ts';
import { cancelTrainRun, createTrainRun, dropMetricsAfter, getTrainRun, loadRunData, putMetric, putTrainRun, runDataId, type MetricPoint, type RunNotice, type TrainRunRecord } from '../src/store/runs.ts';
import { loraConfigOf, planRun, tokenizeData, trainConfigOf, validateOptions } from './train-plan.ts';
import {
  adpaData,
  buildAdpaData,
  buildsAdpaData,
  cacheNeeds,
  DistillInputs,
  fit,
  objectiveOf,
  planDistill,
  requireSlots,
  storeAdpaData,
  type FittedPairs,
  type SlotModelRef,
} from './train-distill.ts';

/** What a run records about its model, to find it again (ModelCard's fields). */
export type ModelIdentity = Pick<ModelCard, 'id' | 'name' | 'parameters' | 'tokenizerSha256'>;

export interface TrainHostDeps {
  /** Queue a GPU job (the worker's job queue; the signal aborts on cancel(requestId)). */
  runJob<T>(label: string, requestId: RequestId, body: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** The current device (throws when there is none). */
  gpu(): Gpu;
  /** The loaded model and what identifies it, or null. */
  model(): { model: LoadedModel; card: ModelIdentity } | null;
  /** Load the current model again from its files (fresh weights), on the current device. */
  reloadModel(signal: AbortSignal): Promise<void>;
  /** After a device loss: a new device, with the model loaded again on it. */
  recover(signal: AbortSignal): Promise<void>;
  /** The model's weights changed in place (generation must not reuse caches of the old weights). */
  weightsChanged(): void;
  /** The model loaded in another slot (the teacher and reference that build ADPA data), or null. */
  slot(slot: ModelSlot): SlotModelRef | null;
  db(): Promise<LabDb>;
}

/** Device losses one run recovers from before it gives up. */
const MAX_RECOVERIES = 3;

function noModel(): LabError {
  return new LabError('NoModelError', 'No model is loaded.', 'Load the student in the Models panel first.');
}

function isDeviceLoss(err: unknown): boolean {
  return errorInfo(err).name === 'DeviceLostError';
}

/** Settles like `work`, or rejects with a DeviceLostError as soon as the device is lost. */
function raceDeviceLoss<T>(gpu: Gpu, work: Promise<T>): Promise<T> {
  const lost = gpu.lost.then((info): never => {
    throw new DeviceLostError(`The GPU device was lost (${info.reason}): ${info.message}`);
  });
  work.catch(() => undefined); // once lost, the loop's own failure is moot
  return Promise.race([work, lost]);
}

/** An error thrown after the device went away is a device loss, whatever its name. */
async function settleLoss(gpu: Gpu, err: unknown): Promise<boolean> {
  if (isDeviceLoss(err)) return true;
  await Promise.race([gpu.lost, new Promise((r) => setTimeout(r, 1000))]);
  return gpu.isLost;
}

/** `offset`: the steps of the run's earlier stages. */
function metricPoint(runId: string, m: StepMetrics, offset: number): MetricPoint {
  return {
    runId,
    step: offset + m.step,
    loss: m.loss,
    terms: { ...m.terms },
    gradNorm: m.gradNorm,
    lr: m.lr,
    tokens: m.tokens,
    tokensPerSecond: m.tokensPerSecond,
    ms: m.ms,
    liveBytes: m.memory.liveBytes,
    skipped: m.skipped,
    at: Date.now(),
  };
}

/** Write checkpoint parameter values into the model (export of a run that is not in memory). */
function applyParams(gpu: Gpu, decoder: Decoder, c: CheckpointContents): void {
  const targets = c.config.mode === 'lora' ? loraTensors(decoder.weights) : weightsByName(decoder);
  for (const [name, value] of c.params) {
    const t = targets.get(name);
    if (!t || t.numel !== value.data.length) throw new CheckpointError(`The checkpoint's "${name}" does not fit the loaded model.`, 'Load the model this run trained.');
    gpu.write(t, value.data);
  }
}

/** A run being driven in this worker. */
interface Active {
  runId: string;
  pause: boolean;
  /** Bumped when a loop is abandoned (device lost): an old loop's control() then says cancel. */
  generation: number;
}

/** SFT reads a data file, every other objective a preference data set with caches. */
function checkObjective(data: TrainData | DistillSource, o: TrainOptions): void {
  const objective = objectiveOf(o);
  if (isDistillSource(data) === (objective !== 'sft')) return;
  throw objective === 'sft'
    ? new LabError('TrainDataError', 'SFT trains on a data file of prompts and responses, not on a preference data set.', 'Pick a data file, or choose a distillation loss.')
    : new LabError('TrainDataError', `${OBJECTIVE_LABELS[objective]} trains on a preference data set with teacher caches, not on a data file.`, 'Pick a data set (Data & teacher cache panel).');
}

function dataChanged(run: TrainRunRecord, now: number): LabError {
  return new LabError('RunDataMismatchError', `Run "${run.name}" had ${run.data.examples} examples; its data now gives ${now}.`, 'Start a new run: the tokenizer differs from the one the run used.');
}

/** What a run trains on: its stages and, per stage, its batches. */
interface RunInputs {
  stages: readonly StageInfo[];
  batches(stage: number, ctx: StageContext): Promise<BatchSource>;
}

/**
 * Where a stage starts from: `own`, a checkpoint inside it (everything is restored); `previous`,
 * the checkpoint that ended the stage before (its weights, a fresh optimiser); `memory`, the weights
 * in the model now (the stage before just finished here); `none`, the model's files.
 */
interface Position {
  /** The stage to run; past the last one, the run is done. */
  stage: number;
  carry: 'none' | 'own' | 'previous' | 'memory';
  checkpoint: CheckpointContents | null;
}

interface StageContext {
  run(): TrainRunRecord;
  model: LoadedModel;
  carry: Position['carry'];
  signal: AbortSignal;
  progress(p: PrepareProgress): void;
  /** An ADPA stage's data was built and stored as this cache. */
  stored(stage: number, cacheId: string, message: string): void;
}

function padOf(model: LoadedModel): number {
  const tok = model.files.tokenizer;
  return tok.padTokenId ?? tok.eosTokenIds[0] ?? 0;
}

/** A stage's checkpoints name it: SFT runs keep the run id (one stage, as before stages existed). */
function checkpointRunId(run: TrainRunRecord, stage: number): string {
  return run.distill ? `${run.id}#stage-${stage}` : run.id;
}

function stageOfCheckpoint(run: TrainRunRecord, id: string): number {
  if (!run.distill) return 0;
  const m = /#stage-(\d+)$/.exec(id);
  return m && id === `${run.id}${m[0]}` ? Number(m[1]) : -1;
}

function sftInputs(examples: readonly TokenizedExample[], run: TrainRunRecord): RunInputs {
  return {
    stages: [{ loss: 'sft', steps: run.config.steps, offset: 0, advantageCacheId: null }],
    batches: async (_stage, { model }) => new SftBatches(examples, run.options.batchSize, model.decoder.config.vocabSize, padOf(model), run.config.seed),
  };
}

type LoadedCaches = Partial<Record<'chosen' | 'rejected' | 'advantage', TeacherCache>>;

export class TrainHost {
  private active: Active | null = null;
  /** The run whose trained weights the loaded decoder holds now. `merged`: its LoRA was merged by an export. */
  private resident: { runId: string; decoder: Decoder; merged: boolean } | null = null;
  /** Decoders whose base weights no longer equal their files (full training, merged LoRA). */
  private readonly changed = new WeakSet<Decoder>();
  private readonly inputs: DistillInputs;

  constructor(private readonly deps: TrainHostDeps) {
    this.inputs = new DistillInputs(() => deps.db());
  }

  readonly api: TrainApi = {
    plan: (data, options) => this.plan(data, options),
    start: (request, sink, requestId) => this.start(request, sink, requestId),
    resume: (runId, sink, requestId) => this.resume(runId, sink, requestId),
    pause: async (runId) => {
      if (this.active?.runId === runId) this.active.pause = true;
    },
    export: (runId, kind, sink, requestId) => this.export(runId, kind, sink, requestId),
    activate: (runId, requestId) => this.activate(runId, requestId),
  };

  private loaded(): { model: LoadedModel; card: ModelIdentity } {
    const m = this.deps.model();
    if (!m) throw noModel();
    return m;
  }

  /** The loaded model, which must be the one the run trained. */
  private loadedFor(run: TrainRunRecord): { model: LoadedModel; card: ModelIdentity } {
    const m = this.deps.model();
    if (!m || m.card.id !== run.model.id || m.card.tokenizerSha256 !== run.model.tokenizerSha256) {
      throw new LabError(
        'ModelMismatchError',
        `Run "${run.name}" trained ${run.model.name}; ${m ? `the loaded model is ${m.card.name}` : 'no model is loaded'}.`,
        `Load ${run.model.name} in the Models panel${run.model.location ? '' : ' (pick the same folder)'}, then try again.`,
      );
    }
    return m;
  }

  private async plan(data: TrainData | DistillSource, options: TrainOptions): Promise<TrainPlan> {
    validateOptions(options);
    const { model, card } = this.loaded();
    const tok = model.files.tokenizer;
    checkObjective(data, options);
    if (isDistillSource(data)) {
      const fitted = fit(await this.inputs.dataset(data.datasetId, tok), options, model.decoder.config.maxPositionEmbeddings);
      const { error: _error, ...plan } = await planDistill({ inputs: this.inputs, data: fitted, caches: data.caches, o: options, student: { model, card }, teacher: this.deps.slot('teacher'), reference: this.deps.slot('reference'), limits: this.deps.gpu().limits });
      return plan;
    }
    const { error: _error, ...plan } = planRun(data, tokenizeData(data, tok, model.decoder.config, options), tok, model.decoder.config, options, this.deps.gpu().limits);
    return plan;
  }

  private claim(runId: string): Active {
    if (this.active) throw new LabError('TrainBusyError', 'A training run is already going.', 'Pause or cancel it first.');
    this.active = { runId, pause: false, generation: 0 };
    return this.active;
  }

  private async start(request: StartTrainingRequest, sink: Sink<TrainEvent>, requestId: RequestId): Promise<TrainOutcome> {
    validateOptions(request.options);
    checkObjective(request.data, request.options);
    const active = this.claim(request.runId);
    try {
      const { run, text, inputs } = isDistillSource(request.data) ? await this.newDistillRun(request, request.data) : this.newSftRun(request, request.data);
      await createTrainRun(await this.deps.db(), run, text);
      sink({ type: 'run', run });
      return await this.train(run, inputs, active, sink, requestId);
    } finally {
      this.active = null;
    }
  }

  /** A new run's record (not stored yet): options, model, data, length, an empty history. */
  private record(request: StartTrainingRequest, name: string, data: TrainRunRecord['data'], totalSteps: number, distill?: DistillRunInfo): TrainRunRecord {
    const { card } = this.loaded();
    const now = Date.now();
    return {
      id: request.runId,
      kind: 'train',
      name: `${card.name} · ${name}`,
      createdAt: now,
      updatedAt: now,
      status: 'running',
      model: { id: card.id, name: card.name, parameters: card.parameters, tokenizerSha256: card.tokenizerSha256, location: request.modelLocation },
      data,
      options: request.options,
      config: trainConfigOf(request.options, data.examples),
      step: 0,
      totalSteps,
      checkpoint: null,
      checkpoints: [],
      notices: [],
      summary: { loss: null, tokens: 0, trainMs: 0, deviceLosses: 0, lostSteps: 0 },
      error: null,
      ...(distill ? { distill } : {}),
    };
  }

  private newSftRun(request: StartTrainingRequest, data: TrainData): { run: TrainRunRecord; text: string; inputs: RunInputs } {
    const { options } = request;
    const { model } = this.loaded();
    const tok = model.files.tokenizer;
    const report = tokenizeData(data, tok, model.decoder.config, options);
    const plan = planRun(data, report, tok, model.decoder.config, options, this.deps.gpu().limits);
    if (plan.error) throw plan.error;
    const record = { id: runDataId(request.runId), name: data.name, bytes: plan.data.bytes, examples: report.examples.length, truncated: report.truncated, skipped: report.skipped, empty: report.empty };
    const run = this.record(request, data.name, record, plan.steps);
    return { run, text: data.text, inputs: sftInputs(report.examples, run) };
  }

  private async newDistillRun(request: StartTrainingRequest, source: DistillSource): Promise<{ run: TrainRunRecord; text: string; inputs: RunInputs }> {
    const { options } = request;
    const { model, card } = this.loaded();
    const data = fit(await this.inputs.dataset(source.datasetId, model.files.tokenizer), options, model.decoder.config.maxPositionEmbeddings);
    const teacher = this.deps.slot('teacher');
    const reference = this.deps.slot('reference');
    const plan = await planDistill({ inputs: this.inputs, data, caches: source.caches, o: options, student: { model, card }, teacher, reference, limits: this.deps.gpu().limits });
    if (plan.error) throw plan.error;
    const objective = objectiveOf(options);
    const caches = await this.loadCaches(objective, source.caches, data, model);
    const builds = buildsAdpaData(objective, source.caches);
    if (builds) requireSlots(teacher, reference, card);
    const slotModel = (m: SlotModelRef | null, location: string | null | undefined) => (builds && m ? { id: m.card.id, name: m.card.name, location: location ?? null } : null);
    const distill: DistillRunInfo = {
      objective,
      datasetId: source.datasetId,
      caches: { ...source.caches },
      stages: plan.distill!.stages,
      teacher: slotModel(teacher, request.slotLocations?.teacher),
      reference: slotModel(reference, request.slotLocations?.reference),
    };
    const record = { id: runDataId(request.runId), name: data.source.name, bytes: plan.data.bytes, examples: data.pairs.length, truncated: data.truncated, skipped: data.skipped, empty: 0 };
    const run = this.record(request, `${OBJECTIVE_LABELS[objective]} · ${data.source.name}`, record, plan.steps, distill);
    return { run, text: data.source.text, inputs: this.distillInputs(run, data, caches) };
  }

  /** The caches an objective reads, loaded and checked against the student and the data (a mismatch is refused, named). */
  private async loadCaches(objective: DistillRunInfo['objective'], picked: DistillRunInfo['caches'], data: FittedPairs, model: LoadedModel): Promise<LoadedCaches> {
    const out: LoadedCaches = {};
    for (const need of cacheNeeds(objective, picked)) {
      const id = picked[need.role];
      if (id === null) {
        throw new LabError('NoCacheError', `${OBJECTIVE_LABELS[objective]} needs a teacher cache on the ${need.role} responses, and none is picked.`, 'Pick one in the Train panel, or build it in the Data & teacher cache panel.');
      }
      out[need.role] = await this.inputs.load(need.role, id, data, model.files.tokenizer, model.decoder.config.vocabSize);
    }
    return out;
  }

  private distillInputs(run: TrainRunRecord, data: FittedPairs, caches: LoadedCaches): RunInputs {
    const stages = run.distill!.stages;
    return {
      stages,
      batches: async (i, ctx) => {
        const stage = stages[i];
        const d: DistillData = stage.loss === 'adpa' ? adpaData(data.pairs, caches.advantage ?? (await this.adpaAdvantage(i, data, ctx))) : { chosen: caches.chosen, rejected: caches.rejected };
        return this.inputs.batches(stage, run.options, data, d, ctx.model.decoder.config.vocabSize, padOf(ctx.model));
      },
    };
  }

  /** An ADPA stage's advantage cache: the one stored for this run, or built now from ŷ of the student as it is. */
  private async adpaAdvantage(stage: number, data: FittedPairs, ctx: StageContext): Promise<TeacherCache> {
    const run = ctx.run();
    const { model } = ctx;
    const storedId = run.distill!.stages[stage].advantageCacheId;
    if (storedId) {
      try {
        return await this.inputs.load('advantage', storedId, data, model.files.tokenizer, model.decoder.config.vocabSize);
      } catch (err) {
        // Inside the stage the student has moved on from the one that wrote ŷ: it cannot be rebuilt.
        if (ctx.carry === 'own') {
          throw new LabError('AdpaDataError', `The ADPA data of run "${run.name}" (ŷ and its advantages) can no longer be read: ${errorInfo(err).message}`, 'ŷ came from the student as it was when the stage began; start a new run.');
        }
      }
    }
    const { card } = this.loadedFor(run);
    const { teacher, reference } = requireSlots(this.deps.slot('teacher'), this.deps.slot('reference'), card);
    const advantage = await buildAdpaData({ student: model, teacher, reference, data, o: run.options, signal: ctx.signal, onProgress: (phase, done, total) => ctx.progress({ stage, phase, done, total }) });
    const id = await storeAdpaData(await this.deps.db(), run.id, run.name, stage, advantage);
    const info = run.distill!.stages[stage];
    const writer = stage > 0 ? `the ${OBJECTIVE_LABELS[run.distill!.stages[stage - 1].loss]} student` : 'the student';
    const begins = run.distill!.stages.length > 1 ? `Stage ${stage + 1} (ADPA) began after step ${info.offset}: ` : 'ADPA data: ';
    ctx.stored(stage, id, `${begins}${writer} wrote ŷ for ${data.pairs.length} prompts (${advantage.tokens.length.toLocaleString('en-US')} tokens); ${teacher.card.name} and ${reference.card.name} scored it, and the advantages are stored.`);
    return advantage;
  }

  /** Queue the run as a GPU job; cancelled before it began, it ends as cancelled too. */
  private async train(run: TrainRunRecord, inputs: RunInputs, active: Active, sink: Sink<TrainEvent>, requestId: RequestId): Promise<TrainOutcome> {
    try {
      return await this.deps.runJob('training', requestId, (signal) => this.drive(run, inputs, active, sink, signal));
    } catch (err) {
      if (errorInfo(err).name !== 'CancelledError') throw err;
      const cancelled = await cancelTrainRun(await this.deps.db(), (await getTrainRun(await this.deps.db(), run.id)) ?? run);
      sink({ type: 'run', run: cancelled });
      return { runId: run.id, status: 'cancelled', step: cancelled.step, totalSteps: run.totalSteps };
    }
  }

  private async resume(runId: string, sink: Sink<TrainEvent>, requestId: RequestId): Promise<TrainOutcome> {
    const active = this.claim(runId);
    try {
      const db = await this.deps.db();
      const stored = await getTrainRun(db, runId);
      if (!stored) throw new LabError('RunNotFoundError', `There is no training run "${runId}" in this browser's storage.`);
      if (stored.status === 'finished' || stored.status === 'cancelled') throw new LabError('RunNotResumableError', `Run "${stored.name}" is ${stored.status}; it cannot be resumed.`);
      const { model } = this.loadedFor(stored);
      const text = await loadRunData(db, stored);
      if (text === null) throw new LabError('RunDataMissingError', `The data of run "${stored.name}" is no longer stored.`, 'Start a new run with the data file.');
      const inputs = stored.distill ? await this.resumedDistill(stored, text, model) : this.resumedSft(stored, text, model);
      // The stored checkpoint is the truth (the record may lag it if the tab closed in between).
      const checkpoint = await latestCheckpoint(db, runId);
      const from = checkpoint?.step ?? 0;
      const redo = Math.max(0, stored.step - from);
      const resumed: RunNotice = { kind: 'resumed', step: from, at: Date.now(), message: `Resumed from ${checkpoint ? `the checkpoint at step ${from}` : 'the start (no checkpoint was stored)'}${redo ? `, redoing ${redo} step${redo === 1 ? '' : 's'}` : ''}.` };
      const run: TrainRunRecord = { ...stored, status: 'running', checkpoint, error: null, updatedAt: Date.now(), notices: [...stored.notices, resumed], summary: { ...stored.summary, lostSteps: stored.summary.lostSteps + redo } };
      await putTrainRun(db, run);
      sink({ type: 'run', run });
      return await this.train(run, inputs, active, sink, requestId);
    } finally {
      this.active = null;
    }
  }

  private resumedSft(run: TrainRunRecord, text: string, model: LoadedModel): RunInputs {
    const report = tokenizeData({ name: run.data.name, text }, model.files.tokenizer, model.decoder.config, run.options);
    if (report.examples.length !== run.data.examples) throw dataChanged(run, report.examples.length);
    return sftInputs(report.examples, run);
  }

  private async resumedDistill(run: TrainRunRecord, text: string, model: LoadedModel): Promise<RunInputs> {
    const data = fit(await this.inputs.fromText(run.data.name, text, model.files.tokenizer), run.options, model.decoder.config.maxPositionEmbeddings);
    if (data.pairs.length !== run.data.examples) throw dataChanged(run, data.pairs.length);
    const caches = await this.loadCaches(run.distill!.objective, run.distill!.caches, data, model);
    return this.distillInputs(run, data, caches);
  }

  /** Where the run stands by its latest stored checkpoint. */
  private async position(run: TrainRunRecord, inputs: RunInputs): Promise<Position> {
    const stored = await loadLatestCheckpoint(await this.deps.db(), run.id);
    if (!stored) return { stage: 0, carry: 'none', checkpoint: null };
    const checkpoint = decodeCheckpoint(stored.bytes, `the checkpoint of "${run.name}" at step ${stored.info.step}`);
    const stage = stageOfCheckpoint(run, checkpoint.runId);
    if (stage < 0 || stage >= inputs.stages.length) {
      throw new CheckpointError(`The checkpoint of "${run.name}" at step ${stored.info.step} belongs to another run ("${checkpoint.runId}").`, 'Discard this run and start a new one.');
    }
    return checkpoint.state.step >= inputs.stages[stage].steps ? { stage: stage + 1, carry: 'previous', checkpoint } : { stage, carry: 'own', checkpoint };
  }

  /** A trainer for the stage at `at`, on the loaded model, with the stage's batches (ADPA data built first if needed). */
  private async prepare(run: TrainRunRecord, inputs: RunInputs, at: Position, ctx: Omit<StageContext, 'model' | 'carry'>): Promise<Trainer> {
    let { model } = this.loadedFor(run);
    if (at.carry !== 'memory') {
      // A checkpoint of a full run overwrites every weight; otherwise the base must be the files'.
      if (this.changed.has(model.decoder) && (run.config.mode === 'lora' || !at.checkpoint)) {
        await this.deps.reloadModel(ctx.signal);
        ({ model } = this.loadedFor(run));
      }
      if (run.config.mode === 'lora') attachLora(this.deps.gpu(), model.decoder.weights, loraConfigOf(run.options), Rng.fromSeed(run.config.seed));
      else detachLora(model.decoder.weights);
      if (at.carry === 'previous') applyParams(this.deps.gpu(), model.decoder, at.checkpoint!);
    }
    const { decoder } = model;
    if (run.config.mode === 'full') this.changed.add(decoder);
    this.resident = { runId: run.id, decoder, merged: false };
    this.deps.weightsChanged();
    const source = await inputs.batches(at.stage, { ...ctx, model, carry: at.carry });
    const trainer = new Trainer(this.deps.gpu(), decoder, source, { ...run.config, steps: inputs.stages[at.stage].steps });
    if (at.carry === 'own') {
      try {
        restoreCheckpoint(trainer, at.checkpoint!);
      } catch (err) {
        trainer.release();
        throw err;
      }
    }
    return trainer;
  }

  private async drive(initial: TrainRunRecord, inputs: RunInputs, active: Active, sink: Sink<TrainEvent>, signal: AbortSignal): Promise<TrainOutcome> {
    const db = await this.deps.db();
    let run = initial;
    // Record writes are chained so they land in order without blocking the step loop.
    let writes: Promise<void> = Promise.resolve();
    const update = (next: TrainRunRecord, announce = true) => {
      run = { ...next, updatedAt: Date.now() };
      const snapshot = run;
      writes = writes.then(() => putTrainRun(db, snapshot)).catch(() => undefined);
      if (announce) sink({ type: 'run', run: snapshot });
    };
    const notice = (n: Omit<RunNotice, 'at'>) => update({ ...run, notices: [...run.notices, { ...n, at: Date.now() }] });
    // After the metric writes already queued (a lost loop's last steps), not before them.
    const dropAfter = (step: number) => {
      writes = writes.then(() => dropMetricsAfter(db, run.id, step)).catch(() => undefined);
    };
    let metricsFailed = false;
    const onMetrics = (offset: number) => (m: StepMetrics) => {
      const point = metricPoint(run.id, m, offset);
      sink({ type: 'metrics', point });
      const summary = { ...run.summary, loss: m.skipped ? run.summary.loss : m.loss, tokens: run.summary.tokens + m.tokens, trainMs: run.summary.trainMs + m.ms };
      update({ ...run, step: point.step, summary }, false);
      writes = writes.then(() => putMetric(db, point)).catch((err: unknown) => {
        if (metricsFailed) return;
        metricsFailed = true;
        const e = errorInfo(err);
        notice({ kind: 'metrics-not-stored', step: point.step, message: `Metrics from step ${point.step} on could not be stored: ${e.message}`, hint: e.hint });
      });
    };
    const checkpointSink = (offset: number) => ({
      save: async (_runId: string, localStep: number, bytes: Uint8Array) => {
        const step = offset + localStep;
        if (run.checkpoint?.step === step) return; // nothing changed since the stored one
        try {
          const info = await saveCheckpoint(db, run.id, step, bytes);
          update({ ...run, checkpoint: info, checkpoints: [...run.checkpoints, { step, createdAt: info.createdAt, bytes: info.bytes }] });
        } catch (err) {
          const e = errorInfo(err);
          if (e.name !== 'StorageQuotaError') throw err;
          const kept = run.checkpoint ? `The checkpoint at step ${run.checkpoint.step} is still valid; a resume restarts from there.` : 'There is no earlier checkpoint: a resume restarts from step 0.';
          notice({ kind: 'checkpoint-failed', step, message: `${e.message} ${kept}`, hint: e.hint });
        }
      },
    });
    const ctx: Omit<StageContext, 'model' | 'carry'> = {
      run: () => run,
      signal,
      progress: (progress) => sink({ type: 'prepare', progress }),
      stored: (stage, cacheId, message) => {
        const distill = { ...run.distill!, stages: run.distill!.stages.map((s, i) => (i === stage ? { ...s, advantageCacheId: cacheId } : s)) };
        update({ ...run, distill, notices: [...run.notices, { kind: 'stage', step: run.step, at: Date.now(), message }] });
      },
    };

    let trainer: Trainer | null = null;
    let outcome: RunOutcome = 'finished';
    /** Set by a device loss: the step it happened at, until the run is back on a new device. */
    let lostAt: number | null = null;
    try {
      let at = await this.position(run, inputs);
      while (at.stage < inputs.stages.length) {
        const stage = inputs.stages[at.stage];
        const generation = ++active.generation;
        const control = () => (generation !== active.generation || signal.aborted ? 'cancel' : active.pause ? 'pause' : 'run');
        const gpu: Gpu = this.deps.gpu();
        try {
          if (!trainer) {
            trainer = await raceDeviceLoss(gpu, this.prepare(run, inputs, at, ctx));
            const step = stage.offset + trainer.step;
            dropAfter(step);
            if (lostAt === null) update({ ...run, step });
            else {
              const redo = lostAt - step;
              update({ ...run, step, summary: { ...run.summary, lostSteps: run.summary.lostSteps + redo } });
              notice({ kind: 'recovered', step, message: `Recovered on a new device: resumed from the checkpoint at step ${step}${redo ? `, redoing ${redo} step${redo === 1 ? '' : 's'}` : ''}.` });
              lostAt = null;
            }
          }
          outcome = await raceDeviceLoss(gpu, runTraining(trainer, { runId: checkpointRunId(run, at.stage), checkpointEvery: run.options.checkpointEvery, sink: checkpointSink(stage.offset), hooks: { onMetrics: onMetrics(stage.offset), control } }));
          if (outcome !== 'finished' || at.stage + 1 === inputs.stages.length) break;
          // Between stages: a pause or cancel asked for during the stage's last step takes effect here.
          const asked = control();
          if (asked !== 'run') {
            outcome = asked === 'pause' ? 'paused' : 'cancelled';
            break;
          }
          trainer.release();
          trainer = null;
          at = { stage: at.stage + 1, carry: 'memory', checkpoint: null };
        } catch (err) {
          if (errorInfo(err).name === 'CancelledError' || !(await settleLoss(gpu, err))) throw err;
          active.generation++;
          lostAt = run.step;
          const deviceLosses = run.summary.deviceLosses + 1;
          const info = await gpu.lost;
          notice({ kind: 'device-lost', step: lostAt, message: `The GPU device was lost at step ${lostAt} (${info.reason}${info.message ? `: ${info.message.replace(/\.$/, '')}` : ''}).` });
          update({ ...run, summary: { ...run.summary, deviceLosses } });
          if (deviceLosses > MAX_RECOVERIES) throw new DeviceLostError(`The GPU device was lost ${deviceLosses} times during this run; it was stopped.`, 'Check the GPU driver, then resume the run.');
          trainer = null; // its buffers died with the device
          await this.deps.recover(signal);
          at = await this.position(run, inputs);
        }
      }
      if (outcome === 'cancelled') {
        await writes;
        run = await cancelTrainRun(db, { ...run, status: 'cancelled' });
        sink({ type: 'run', run });
      } else {
        update({ ...run, status: outcome });
      }
      return { runId: run.id, status: outcome, step: run.step, totalSteps: run.totalSteps };
    } catch (err) {
      if (errorInfo(err).name !== 'CancelledError') update({ ...run, status: isDeviceLoss(err) ? 'paused' : 'failed', error: errorInfo(err) });
      throw err;
    } finally {
      if (trainer && !trainer.gpu.isLost) trainer.release();
      await writes;
    }
  }

  /** Put the run's trained weights into the loaded student (chat and the Arena then use them). */
  private async activate(runId: string, requestId: RequestId): Promise<void> {
    if (this.active) throw new LabError('TrainBusyError', 'A training run is going.', 'Try again when it has finished or is paused.');
    await this.deps.runJob('loading trained weights', requestId, async (signal) => {
      const run = await getTrainRun(await this.deps.db(), runId);
      if (!run) throw new LabError('RunNotFoundError', `There is no training run "${runId}" in this browser's storage.`);
      await this.materialise(run, 'model', signal);
    });
  }
  private async export(runId: string, kind: ExportKind, sink: Sink<ExportEvent>, requestId: RequestId): Promise<ExportResult> {
    if (this.active) throw new LabError('TrainBusyError', 'A training run is going.', 'Export when it has finished or is paused.');
    return this.deps.runJob('exporting', requestId, async (signal) => {
      const db = await this.deps.db();
      const run = await getTrainRun(db, runId);
      if (!run) throw new LabError('RunNotFoundError', `There is no training run "${runId}" in this browser's storage.`);
      if (kind === 'adapter' && run.config.mode !== 'lora') throw new LabError('ExportError', `Run "${run.name}" trained all weights: it has no adapter.`, 'Export the model instead.');
      const decoder = await this.materialise(run, kind, signal);
      const files = new Map<string, number>();
      const write: FileWriter = async (path, bytes, last) => {
        signal.throwIfAborted();
        const piece = bytes.slice(); // a copy we can transfer
        files.set(path, (files.get(path) ?? 0) + piece.byteLength);
        await sink(Comlink.transfer({ path, bytes: piece, last }, [piece.buffer]));
      };
      const { model } = this.loadedFor(run);
      if (kind === 'adapter') {
        await exportAdapter(decoder, loraConfigOf(run.options), write, run.model.location ?? run.model.name);
      } else {
        const hadAdapters = loraTensors(decoder.weights).size > 0;
        await exportModelFolder(decoder, model.files, write);
        if (hadAdapters) {
          this.changed.add(decoder);
          this.resident = { runId: run.id, decoder, merged: true };
          this.deps.weightsChanged();
        }
      }
      return { files: [...files].map(([path, bytes]) => ({ path, bytes })) };
    });
  }

  /** The loaded decoder holding the run's trained weights: in memory already, or from its latest checkpoint. */
  private async materialise(run: TrainRunRecord, kind: ExportKind, signal: AbortSignal): Promise<Decoder> {
    let { model } = this.loadedFor(run);
    const r = this.resident;
    if (r && r.runId === run.id && r.decoder === model.decoder && !(kind === 'adapter' && r.merged)) return model.decoder;
    const db = await this.deps.db();
    const checkpoint = await loadLatestCheckpoint(db, run.id);
    if (!checkpoint) throw new LabError('NoCheckpointError', `Run "${run.name}" has no stored checkpoint to export from.`, 'Resume the run, or export right after training (before reloading the page).');
    const contents = decodeCheckpoint(checkpoint.bytes, `the checkpoint of "${run.name}"`);
    if (this.changed.has(model.decoder) && run.config.mode === 'lora') {
      await this.deps.reloadModel(signal);
      ({ model } = this.loadedFor(run));
    }
    const gpu = this.deps.gpu();
    const { decoder } = model;
    if (run.config.mode === 'lora') attachLora(gpu, decoder.weights, loraConfigOf(run.options), Rng.fromSeed(run.config.seed));
    else detachLora(decoder.weights);
    applyParams(gpu, decoder, contents);
    if (run.config.mode === 'full') this.changed.add(decoder);
    this.resident = { runId: run.id, decoder, merged: false };
    this.deps.weightsChanged();
    return decoder;
  }
}
