// The training part of the engine worker's API (EngineApi.training, implemented by
// workers/train-host.ts), shared by both sides. Same conventions as src/engine/api.ts: plain data
// only, sinks wrapped with Comlink.proxy, cancellation through EngineApi.cancel(requestId).
//
// A run is a record in IndexedDB (src/store/runs.ts) written by the worker: its options, its data
// (stored with it, so a reload can re-tokenise the same examples), its status and summary; one
// metrics record per step; and its latest checkpoint (src/store/checkpoints.ts). The page reads
// them after a reload and resumes from the checkpoint with `resume(runId)`.
import type { OverLength } from '../distill/data/sft.ts';
import type { ScheduleKind } from './optim/schedule.ts';
import type { ProjectionName } from './models/weights.ts';
import type { ErrorInfo, RequestId, Sink } from './api.ts';
import type { MetricPoint, TrainRunRecord } from '../store/runs.ts';

export interface LoraOptions {
  rank: number;
  alpha: number;
  dropout: number;
  targets: ProjectionName[];
}

/** What the person chose in the Train panel (plain data; stored with the run). */
export interface TrainOptions {
  mode: 'full' | 'lora';
  lora: LoraOptions;
  optimizer: 'adamw' | 'sgd';
  lr: number;
  weightDecay: number;
  /** SGD only. */
  momentum: number;
  /** Run length: optimiser steps, or passes over the data. */
  length: { unit: 'steps' | 'epochs'; value: number };
  batchSize: number;
  gradAccum: number;
  /** 0 disables clipping. */
  maxGradNorm: number;
  schedule: ScheduleKind;
  /** A fraction (< 1) of the steps or a step count (≥ 1). */
  warmup: number;
  maxLength: number;
  overLength: OverLength;
  /** Checkpoint every N optimiser steps (and on pause, and at the end). */
  checkpointEvery: number;
  seed: number;
  /** GPU memory the run may use; the estimate refuses configurations over it. */
  budgetMiB: number;
}

/** The SFT data file as text (JSONL or a JSON array). */
export interface TrainData {
  name: string;
  text: string;
}

/** One example as the model will see it: the prompt part (no loss) and the part it learns. */
export interface ExamplePreview {
  where: string;
  prompt: string;
  response: string;
  tokens: number;
  responseTokens: number;
}

export interface DataSummary {
  file: string;
  bytes: number;
  examples: number;
  truncated: number;
  skipped: number;
  /** Examples with no response tokens left (nothing to learn), dropped. */
  empty: number;
  maxTokens: number;
  meanTokens: number;
  responseTokens: number;
  preview: ExamplePreview[];
}

/** The training memory estimate in bytes (src/distill/trainer/memory.ts), plus the limits it is checked against. */
export interface MemoryReport {
  weights: number;
  gradients: number;
  optimizer: number;
  activations: number;
  logits: number;
  /** Working set of the backward pass on top of the kept activations. */
  backward: number;
  total: number;
  trainableParams: number;
  largest: { what: string; bytes: number };
  budgetBytes: number;
  bindingLimit: number;
}

export interface TrainPlan {
  data: DataSummary;
  memory: MemoryReport;
  /** The configuration does not fit: what would (MemoryPlanError with its hint). */
  refusal: ErrorInfo | null;
  steps: number;
  stepsPerEpoch: number;
  /** Longest example in tokens: the padded sequence length of the worst batch. */
  seqLen: number;
}

export interface StartTrainingRequest {
  runId: string;
  data: TrainData;
  options: TrainOptions;
  /** What to type in Models to load this model again after a reload (null: a local folder). */
  modelLocation: string | null;
}

/** Streamed while training: the run record whenever it changes, and each step's metrics. */
export type TrainEvent = { type: 'run'; run: TrainRunRecord } | { type: 'metrics'; point: MetricPoint };

export interface TrainOutcome {
  runId: string;
  status: 'finished' | 'paused' | 'cancelled';
  step: number;
  totalSteps: number;
}

/** `model`: a Hugging Face folder (LoRA merged); `adapter`: a PEFT adapter (LoRA runs). */
export type ExportKind = 'model' | 'adapter';

/** Export output, file by file, piece by piece, in order; `last` ends a file. */
export interface ExportEvent {
  path: string;
  bytes: Uint8Array;
  last: boolean;
}

export interface ExportResult {
  files: { path: string; bytes: number }[];
}

export interface TrainApi {
  /** Tokenise the data with the loaded model's tokenizer and estimate memory (no GPU work). */
  plan(data: TrainData, options: TrainOptions): Promise<TrainPlan>;
  /**
   * Start a run on the loaded model. Refuses (MemoryPlanError) a configuration that will not fit.
   * Stores the run record and its data first, then trains; a device loss mid-run is recovered
   * from the last checkpoint automatically (the run record's notices say so). Resolves when the
   * run finishes, pauses (`pause`) or is cancelled (`cancel(requestId)`).
   */
  start(request: StartTrainingRequest, sink: Sink<TrainEvent>, requestId: RequestId): Promise<TrainOutcome>;
  /** Continue a paused or interrupted run from its latest checkpoint (the same model must be loaded). */
  resume(runId: string, sink: Sink<TrainEvent>, requestId: RequestId): Promise<TrainOutcome>;
  /** Ask the running run to checkpoint and stop; its start/resume promise resolves 'paused'. */
  pause(runId: string): Promise<void>;
  /** Export a run's trained model (from memory, or its latest checkpoint on the loaded model). */
  export(runId: string, kind: ExportKind, sink: Sink<ExportEvent>, requestId: RequestId): Promise<ExportResult>;
}
