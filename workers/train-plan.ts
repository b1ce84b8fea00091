// Planning a training run in the worker, before any GPU work: check the options, tokenise the SFT
// data with the model's tokenizer (a preview of what the model will see, counts of what was cut),
// resolve the run length, and estimate memory against the budget (a refusal carries its advice).
// Distillation data and caches are planned in ./train-distill.ts with the same helpers.
import type { ErrorInfo } from '../src/engine/api.ts';
import { errorInfo } from '../src/engine/api.ts';
import { LabError } from '../src/engine/errors.ts';
import { validateLora, type LoraConfig } from '../src/engine/models/lora.ts';
import type { TrainConfig } from '../src/distill/trainer/trainer.ts';
import { checkMemoryPlan, estimateTrainingMemory, MemoryPlanError, type TrainShape } from '../src/distill/trainer/memory.ts';
import { IGNORE, tokenizeSft, type TokenizeReport } from '../src/distill/data/sft.ts';
import type { ModelConfig } from '../src/formats/config.ts';
import type { Tokenizer } from '../src/formats/tokenizer.ts';
import type { DataSummary, MemoryReport, TrainData, TrainOptions, TrainPlan } from '../src/engine/train-api.ts';
import { KD_LOSSES } from '../src/engine/train-api.ts';
import { TOPK_MAX_K } from '../src/engine/kernels/topk/topk.ts';

export class TrainOptionsError extends LabError {
  constructor(field: string, message: string) {
    super('TrainOptionsError', `${field}: ${message}`, `Correct "${field}" in the training options.`);
  }
}

const PREVIEW_EXAMPLES = 3;

function wholeAtLeast(field: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) throw new TrainOptionsError(field, `must be a whole number ≥ ${min}, got ${v}.`);
}

function finiteAtLeast(field: string, v: number, min: number, inclusive = true): void {
  if (!Number.isFinite(v) || (inclusive ? v < min : v <= min)) throw new TrainOptionsError(field, `must be a number ${inclusive ? '≥' : '>'} ${min}, got ${v}.`);
}

/** Refuse options that cannot run, naming the field. */
export function validateOptions(o: TrainOptions): void {
  finiteAtLeast('Learning rate', o.lr, 0, false);
  finiteAtLeast('Weight decay', o.weightDecay, 0);
  if (!(o.momentum >= 0 && o.momentum < 1)) throw new TrainOptionsError('Momentum', `must be in [0, 1), got ${o.momentum}.`);
  wholeAtLeast(o.length.unit === 'steps' ? 'Steps' : 'Epochs', o.length.value, 1);
  wholeAtLeast('Batch size', o.batchSize, 1);
  wholeAtLeast('Gradient accumulation', o.gradAccum, 1);
  finiteAtLeast('Max gradient norm', o.maxGradNorm, 0);
  finiteAtLeast('Warm-up', o.warmup, 0);
  wholeAtLeast('Max length', o.maxLength, 2);
  wholeAtLeast('Checkpoint every', o.checkpointEvery, 1);
  wholeAtLeast('Seed', o.seed, 0);
  finiteAtLeast('Memory budget', o.budgetMiB, 0, false);
  validateLoss(o);
  if (o.mode === 'lora') {
    try {
      validateLora(loraConfigOf(o));
    } catch (err) {
      throw new TrainOptionsError('LoRA', errorInfo(err).message);
    }
  }
}

const OBJECTIVES: readonly string[] = ['sft', ...KD_LOSSES, 'dckd', 'adpa', 'adpa+'];

function inUnit(field: string, v: number): void {
  if (!(v >= 0 && v <= 1)) throw new TrainOptionsError(field, `must be in [0, 1], got ${v}.`);
}

/** The objective's weights and options (docs/distillation.md); a stored run without them is SFT. */
function validateLoss(o: TrainOptions): void {
  const l = o.loss;
  if (!l) return;
  if (!OBJECTIVES.includes(l.objective)) throw new TrainOptionsError('Loss', `"${l.objective}" is not one of ${OBJECTIVES.join(', ')}.`);
  for (const [family, weights] of Object.entries(l.weights)) {
    for (const [name, v] of Object.entries(weights)) {
      if (!Number.isFinite(v)) throw new TrainOptionsError(`Weight w_${name} (${family})`, `must be a number, got ${v}.`);
    }
  }
  inUnit('Skew λ', l.skewLambda);
  inUnit('JSD β', l.jsdBeta);
  if (l.advantage !== 'parity' && l.advantage !== 'signed') throw new TrainOptionsError('Advantage', `must be parity or signed, got "${l.advantage}".`);
  finiteAtLeast('Advantage β', l.advantageBeta, 0, false);
  wholeAtLeast('ŷ length', l.maxNewTokens, 1);
  if (!Number.isSafeInteger(l.k) || l.k < 1 || l.k > TOPK_MAX_K) throw new TrainOptionsError('Top-K', `must be a whole number in 1 … ${TOPK_MAX_K}, got ${l.k}.`);
}

export function loraConfigOf(o: TrainOptions): LoraConfig {
  return { rank: o.lora.rank, alpha: o.lora.alpha, dropout: o.lora.dropout, targets: [...o.lora.targets] };
}

export function stepsPerEpoch(examples: number, o: TrainOptions): number {
  return Math.max(1, Math.ceil(examples / (o.batchSize * o.gradAccum)));
}

/** The trainer's config for these options over `examples` examples. */
export function trainConfigOf(o: TrainOptions, examples: number): TrainConfig {
  const steps = o.length.unit === 'steps' ? o.length.value : stepsPerEpoch(examples, o) * o.length.value;
  return {
    mode: o.mode,
    optimizer: o.optimizer === 'sgd' ? { kind: 'sgd', weightDecay: o.weightDecay, momentum: o.momentum } : { kind: 'adamw', weightDecay: o.weightDecay },
    lr: o.lr,
    schedule: o.schedule,
    warmup: o.warmup,
    steps,
    gradAccum: o.gradAccum,
    maxGradNorm: o.maxGradNorm,
    seed: o.seed,
    recompute: o.recompute,
  };
}

/** Tokenise the data; examples are cut at the max length, or at the model's context if that is shorter. */
export function tokenizeData(data: TrainData, tok: Tokenizer, config: ModelConfig, o: TrainOptions): TokenizeReport {
  return tokenizeSft(data.text, data.name, tok, config.vocabSize, { maxLength: Math.min(o.maxLength, config.maxPositionEmbeddings), overLength: o.overLength });
}

export function summarizeData(data: TrainData, report: TokenizeReport, tok: Tokenizer): DataSummary {
  const lengths = report.examples.map((e) => e.ids.length);
  const responseTokens = (labels: readonly number[]) => labels.reduce((n, l, i) => n + (i > 0 && l !== IGNORE ? 1 : 0), 0);
  return {
    file: data.name,
    bytes: new TextEncoder().encode(data.text).byteLength,
    examples: report.examples.length,
    truncated: report.truncated,
    skipped: report.skipped,
    empty: report.empty,
    maxTokens: lengths.length ? Math.max(...lengths) : 0,
    meanTokens: lengths.length ? lengths.reduce((a, b) => a + b, 0) / lengths.length : 0,
    responseTokens: report.examples.reduce((n, e) => n + responseTokens(e.labels), 0),
    preview: report.examples.slice(0, PREVIEW_EXAMPLES).map((e) => ({
      where: e.where,
      prompt: tok.decode(e.ids.filter((_, i) => e.labels[i] === IGNORE)),
      response: tok.decode(e.ids.filter((_, i) => e.labels[i] !== IGNORE)),
      tokens: e.ids.length,
      responseTokens: responseTokens(e.labels),
    })),
  };
}

/** `rows`: sequences per example in a micro-batch (DCKD and ADPA lay out two per pair). */
export function shapeOf(o: TrainOptions, seqLen: number, rows = 1): TrainShape {
  return {
    mode: o.mode,
    loraRank: o.lora.rank,
    loraTargets: o.lora.targets,
    batchSize: o.batchSize * rows,
    seqLen,
    optimizer: trainConfigOf(o, 1).optimizer,
    recompute: o.recompute,
  };
}

/** The device limits a plan is checked against. */
export interface DeviceLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

/** The estimate and, when it does not fit, the refusal with its advice. */
export function memoryPlan(config: ModelConfig, o: TrainOptions, seqLen: number, limits: DeviceLimits, rows = 1): { memory: MemoryReport; refusal: ErrorInfo | null; error: MemoryPlanError | null } {
  const shape = shapeOf(o, seqLen, rows);
  const budgetBytes = o.budgetMiB * 2 ** 20;
  const e = estimateTrainingMemory(config, shape);
  const parts = e.weights + e.gradients + e.optimizer + e.activations + e.logits;
  const memory: MemoryReport = { ...e, backward: e.total - parts, budgetBytes, bindingLimit: limits.maxStorageBufferBindingSize };
  try {
    checkMemoryPlan(config, shape, { ...limits, budgetBytes });
    return { memory, refusal: null, error: null };
  } catch (err) {
    if (!(err instanceof MemoryPlanError)) throw err;
    return { memory, refusal: errorInfo(err), error: err };
  }
}

/** Everything the Train panel shows before a run: data summary, steps, memory (or the refusal). */
export function planRun(data: TrainData, report: TokenizeReport, tok: Tokenizer, config: ModelConfig, o: TrainOptions, limits: DeviceLimits): TrainPlan & { error: MemoryPlanError | null } {
  if (report.examples.length === 0) {
    throw new LabError(
      'DataError',
      `${data.name} has no usable examples (${report.skipped} longer than ${o.maxLength} tokens and skipped, ${report.empty} without response tokens).`,
      report.skipped ? 'Raise the max length or truncate over-long examples instead of skipping them.' : 'Give each example a non-empty response.',
    );
  }
  const seqLen = Math.max(...report.examples.map((e) => e.ids.length));
  const { memory, refusal, error } = memoryPlan(config, o, seqLen, limits);
  return {
    data: summarizeData(data, report, tok),
    memory,
    refusal,
    error,
    steps: trainConfigOf(o, report.examples.length).steps,
    stepsPerEpoch: stepsPerEpoch(report.examples.length, o),
    seqLen,
  };
}
