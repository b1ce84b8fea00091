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
import * as Comlink from 'comlink';
import type { ModelCard, RequestId, Sink } from '../src/engine/api.ts';
import { errorInfo } from '../src/engine/api.ts';
import type { ExportEvent, ExportKind, ExportResult, StartTrainingRequest, TrainApi, TrainData, TrainEvent, TrainOptions, TrainOutcome, TrainPlan } from '../src/engine/train-api.ts';
import { DeviceLostError, LabError } from '../src/engine/errors.ts';
import type { Gpu } from '../src/engine/gpu.ts';
import type { Decoder } from '../src/engine/models/decoder.ts';
import type { LoadedModel } from '../src/engine/models/load.ts';
import { attachLora, detachLora, loraTensors } from '../src/engine/models/lora.ts';
import { Rng } from '../src/engine/rng.ts';
import type { TokenizedExample } from '../src/distill/data/sft.ts';
import { SftBatches } from '../src/distill/trainer/batches.ts';
import { CheckpointError, decodeCheckpoint, restoreCheckpoint, type CheckpointContents } from '../src/distill/trainer/checkpoint.ts';
import { exportAdapter, exportModelFolder, type FileWriter } from '../src/distill/trainer/export.ts';
import { runTraining, type RunOutcome } from '../src/distill/trainer/run.ts';
import { Trainer, weightsByName, type StepMetrics } from '../src/distill/trainer/trainer.ts';
import { latestCheckpoint, loadLatestCheckpoint, saveCheckpoint } from '../src/store/checkpoints.ts';
import type { LabDb } from '../src/store/db.ts';
import { cancelTrainRun, createTrainRun, dropMetricsAfter, getTrainRun, loadRunData, putMetric, putTrainRun, runDataId, type MetricPoint, type RunNotice, type TrainRunRecord } from '../src/store/runs.ts';
import { loraConfigOf, planRun, tokenizeData, trainConfigOf, validateOptions } from './train-plan.ts';

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

function metricPoint(runId: string, m: StepMetrics): MetricPoint {
  return {
    runId,
    step: m.step,
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

export class TrainHost {
  private active: Active | null = null;
  /** The run whose trained weights the loaded decoder holds now. `merged`: its LoRA was merged by an export. */
  private resident: { runId: string; decoder: Decoder; merged: boolean } | null = null;
  /** Decoders whose base weights no longer equal their files (full training, merged LoRA). */
  private readonly changed = new WeakSet<Decoder>();

  constructor(private readonly deps: TrainHostDeps) {}

  readonly api: TrainApi = {
    plan: (data, options) => this.plan(data, options),
    start: (request, sink, requestId) => this.start(request, sink, requestId),
    resume: (runId, sink, requestId) => this.resume(runId, sink, requestId),
    pause: async (runId) => {
      if (this.active?.runId === runId) this.active.pause = true;
    },
    export: (runId, kind, sink, requestId) => this.export(runId, kind, sink, requestId),
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

  private async plan(data: TrainData, options: TrainOptions): Promise<TrainPlan> {
    validateOptions(options);
    const { model } = this.loaded();
    const tok = model.files.tokenizer;
    const { error: _error, ...plan } = planRun(data, tokenizeData(data, tok, model.decoder.config, options), tok, model.decoder.config, options, this.deps.gpu().limits);
    return plan;
  }

  private claim(runId: string): Active {
    if (this.active) throw new LabError('TrainBusyError', 'A training run is already going.', 'Pause or cancel it first.');
    this.active = { runId, pause: false, generation: 0 };
    return this.active;
  }

  private async start(request: StartTrainingRequest, sink: Sink<TrainEvent>, requestId: RequestId): Promise<TrainOutcome> {
    const { options, data } = request;
    validateOptions(options);
    const active = this.claim(request.runId);
    try {
      const { model, card } = this.loaded();
      const tok = model.files.tokenizer;
      const report = tokenizeData(data, tok, model.decoder.config, options);
      const plan = planRun(data, report, tok, model.decoder.config, options, this.deps.gpu().limits);
      if (plan.error) throw plan.error;
      const now = Date.now();
      const config = trainConfigOf(options, report.examples.length);
      const run: TrainRunRecord = {
        id: request.runId,
        kind: 'train',
        name: `${card.name} · ${data.name}`,
        createdAt: now,
        updatedAt: now,
        status: 'running',
        model: { id: card.id, name: card.name, parameters: card.parameters, tokenizerSha256: card.tokenizerSha256, location: request.modelLocation },
        data: { id: runDataId(request.runId), name: data.name, bytes: plan.data.bytes, examples: report.examples.length, truncated: report.truncated, skipped: report.skipped, empty: report.empty },
        options,
        config,
        step: 0,
        totalSteps: config.steps,
        checkpoint: null,
        checkpoints: [],
        notices: [],
        summary: { loss: null, tokens: 0, trainMs: 0, deviceLosses: 0, lostSteps: 0 },
        error: null,
      };
      await createTrainRun(await this.deps.db(), run, data.text);
      sink({ type: 'run', run });
      return await this.train(run, report.examples, active, sink, requestId);
    } finally {
      this.active = null;
    }
  }

  /** Queue the run as a GPU job; cancelled before it began, it ends as cancelled too. */
  private async train(run: TrainRunRecord, examples: readonly TokenizedExample[], active: Active, sink: Sink<TrainEvent>, requestId: RequestId): Promise<TrainOutcome> {
    try {
      return await this.deps.runJob('training', requestId, (signal) => this.drive(run, examples, active, sink, signal));
    } catch (err) {
      if (errorInfo(err).name !== 'CancelledError') throw err;
      const cancelled = await cancelTrainRun(await this.deps.db(), run);
      sink({ type: 'run', run: cancelled });
      return { runId: run.id, status: 'cancelled', step: run.step, totalSteps: run.totalSteps };
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
      const report = tokenizeData({ name: stored.data.name, text }, model.files.tokenizer, model.decoder.config, stored.options);
      if (report.examples.length !== stored.data.examples) {
        throw new LabError('RunDataMismatchError', `Run "${stored.name}" had ${stored.data.examples} examples; its data now gives ${report.examples.length}.`, 'Start a new run: the tokenizer differs from the one the run used.');
      }
      // The stored checkpoint is the truth (the record may lag it if the tab closed in between).
      const checkpoint = await latestCheckpoint(db, runId);
      const from = checkpoint?.step ?? 0;
      const redo = Math.max(0, stored.step - from);
      const resumed: RunNotice = { kind: 'resumed', step: from, at: Date.now(), message: `Resumed from ${checkpoint ? `the checkpoint at step ${from}` : 'the start (no checkpoint was stored)'}${redo ? `, redoing ${redo} step${redo === 1 ? '' : 's'}` : ''}.` };
      const run: TrainRunRecord = { ...stored, status: 'running', checkpoint, error: null, updatedAt: Date.now(), notices: [...stored.notices, resumed], summary: { ...stored.summary, lostSteps: stored.summary.lostSteps + redo } };
      await putTrainRun(db, run);
      sink({ type: 'run', run });
      return await this.train(run, report.examples, active, sink, requestId);
    } finally {
      this.active = null;
    }
  }

  /** A trainer for the run on the loaded model, at its latest checkpoint (or step 0). */
  private async prepare(run: TrainRunRecord, examples: readonly TokenizedExample[], signal: AbortSignal): Promise<Trainer> {
    const db = await this.deps.db();
    const checkpoint = await loadLatestCheckpoint(db, run.id);
    let { model } = this.loadedFor(run);
    // A checkpoint of a full run overwrites every weight; otherwise the base must be the files'.
    if (this.changed.has(model.decoder) && (run.config.mode === 'lora' || !checkpoint)) {
      await this.deps.reloadModel(signal);
      ({ model } = this.loadedFor(run));
    }
    const gpu = this.deps.gpu();
    const { decoder, files } = model;
    if (run.config.mode === 'lora') attachLora(gpu, decoder.weights, loraConfigOf(run.options), Rng.fromSeed(run.config.seed));
    else detachLora(decoder.weights);
    const padId = files.tokenizer.padTokenId ?? files.tokenizer.eosTokenIds[0] ?? 0;
    const trainer = new Trainer(gpu, decoder, new SftBatches(examples, run.options.batchSize, decoder.config.vocabSize, padId, run.config.seed), run.config);
    try {
      if (checkpoint) restoreCheckpoint(trainer, decodeCheckpoint(checkpoint.bytes, `the checkpoint of "${run.name}" at step ${checkpoint.info.step}`));
    } catch (err) {
      trainer.release();
      throw err;
    }
    if (run.config.mode === 'full') this.changed.add(decoder);
    this.resident = { runId: run.id, decoder, merged: false };
    this.deps.weightsChanged();
    return trainer;
  }

  private async drive(initial: TrainRunRecord, examples: readonly TokenizedExample[], active: Active, sink: Sink<TrainEvent>, signal: AbortSignal): Promise<TrainOutcome> {
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
    const onMetrics = (m: StepMetrics) => {
      const point = metricPoint(run.id, m);
      sink({ type: 'metrics', point });
      const summary = { ...run.summary, loss: m.skipped ? run.summary.loss : m.loss, tokens: run.summary.tokens + m.tokens, trainMs: run.summary.trainMs + m.ms };
      update({ ...run, step: m.step, summary }, false);
      writes = writes.then(() => putMetric(db, point)).catch((err: unknown) => {
        if (metricsFailed) return;
        metricsFailed = true;
        const e = errorInfo(err);
        notice({ kind: 'metrics-not-stored', step: m.step, message: `Metrics from step ${m.step} on could not be stored: ${e.message}`, hint: e.hint });
      });
    };
    const checkpointSink = {
      save: async (_runId: string, step: number, bytes: Uint8Array) => {
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
    };

    let trainer: Trainer | null = null;
    try {
      trainer = await this.prepare(run, examples, signal);
      dropAfter(trainer.step);
      update({ ...run, step: trainer.step });
      let outcome: RunOutcome;
      for (;;) {
        const generation = ++active.generation;
        const control = () => (generation !== active.generation || signal.aborted ? 'cancel' : active.pause ? 'pause' : 'run');
        const gpu: Gpu = trainer.gpu;
        try {
          outcome = await raceDeviceLoss(gpu, runTraining(trainer, { runId: run.id, checkpointEvery: run.options.checkpointEvery, sink: checkpointSink, hooks: { onMetrics, control } }));
          break;
        } catch (err) {
          if (!(await settleLoss(gpu, err))) throw err;
          active.generation++;
          const lostAt = run.step;
          const deviceLosses = run.summary.deviceLosses + 1;
          const info = await gpu.lost;
          notice({ kind: 'device-lost', step: lostAt, message: `The GPU device was lost at step ${lostAt} (${info.reason}${info.message ? `: ${info.message.replace(/\.$/, '')}` : ''}).` });
          update({ ...run, summary: { ...run.summary, deviceLosses } });
          if (deviceLosses > MAX_RECOVERIES) throw new DeviceLostError(`The GPU device was lost ${deviceLosses} times during this run; it was stopped.`, 'Check the GPU driver, then resume the run.');
          trainer = null; // its buffers died with the device
          await this.deps.recover(signal);
          trainer = await this.prepare(run, examples, signal);
          dropAfter(trainer.step);
          const redo = lostAt - trainer.step;
          update({ ...run, step: trainer.step, summary: { ...run.summary, lostSteps: run.summary.lostSteps + redo } });
          notice({ kind: 'recovered', step: trainer.step, message: `Recovered on a new device: resumed from the checkpoint at step ${trainer.step}${redo ? `, redoing ${redo} step${redo === 1 ? '' : 's'}` : ''}.` });
        }
      }
      if (outcome === 'cancelled') {
        await writes;
        run = await cancelTrainRun(db, { ...run, status: 'cancelled' });
        sink({ type: 'run', run });
      } else {
        update({ ...run, status: outcome });
      }
      return { runId: run.id, status: outcome, step: trainer.step, totalSteps: run.totalSteps };
    } catch (err) {
      update({ ...run, status: isDeviceLoss(err) ? 'paused' : 'failed', error: errorInfo(err) });
      throw err;
    } finally {
      if (trainer && !trainer.gpu.isLost) trainer.release();
      await writes;
    }
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
