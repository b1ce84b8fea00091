// Memory estimate of a training configuration, made before anything is allocated, from the
// model config and the batch shape: weights, gradients, optimiser state, the activations the
// forward keeps for the backward, and the largest single buffer (which must fit the device's
// maxStorageBufferBindingSize). A config that cannot fit is refused with what would.
import type { ModelConfig } from '../../formats/config.ts';
import { parameterCount } from '../../formats/config.ts';
import { formatBytes } from '../../engine/allocator.ts';
import { LabError } from '../../engine/errors.ts';
import type { ProjectionName } from '../../engine/models/weights.ts';
import { Optimizer, type OptimizerConfig } from '../../engine/optim/optimizer.ts';

export interface TrainShape {
  mode: 'full' | 'lora';
  loraRank?: number;
  loraTargets?: readonly ProjectionName[];
  /** Sequences per micro-batch and their padded length. */
  batchSize: number;
  seqLen: number;
  optimizer: OptimizerConfig;
  /** Activation recomputation: only layer inputs are kept between forward and backward. */
  recompute?: boolean;
}

export interface MemoryEstimate {
  weights: number;
  gradients: number;
  optimizer: number;
  activations: number;
  /** Logits of one micro-batch (their gradient is written in place). */
  logits: number;
  total: number;
  trainableParams: number;
  largest: { what: string; bytes: number };
}

const F32 = 4;

export function loraParamCount(c: ModelConfig, rank: number, targets: readonly ProjectionName[]): number {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const h = c.hiddenSize;
  const dims: Record<ProjectionName, [number, number]> = {
    q_proj: [q, h],
    k_proj: [kv, h],
    v_proj: [kv, h],
    o_proj: [h, q],
    gate_proj: [c.intermediateSize, h],
    up_proj: [c.intermediateSize, h],
    down_proj: [h, c.intermediateSize],
  };
  return c.numLayers * targets.reduce((n, t) => n + rank * (dims[t][0] + dims[t][1]), 0);
}

export function estimateTrainingMemory(c: ModelConfig, s: TrainShape): MemoryEstimate {
  const params = parameterCount(c);
  const trainable = s.mode === 'lora' ? loraParamCount(c, s.loraRank ?? 8, s.loraTargets ?? ['q_proj', 'v_proj']) : params;
  const N = s.batchSize * s.seqLen;
  const h = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const I = c.intermediateSize;
  // Per token per layer, what ForwardTrace keeps (see decoder.ts LayerTrace), plus the attention
  // probabilities [B, H, T, T] = N·H·T values.
  const perTokenLayer = 4 * h + 2 + 2 * q + 2 * kv + 3 * I + c.numHeads * s.seqLen + (c.qkNorm ? q + kv + c.numHeads + c.numKvHeads : 0);
  // With recomputation: every layer's input, plus one layer's activations while it is recomputed.
  const kept = s.recompute ? c.numLayers * h + perTokenLayer : c.numLayers * perTokenLayer;
  const activations = (kept + 3 * h) * N * F32;
  const logits = N * c.vocabSize * F32;
  const weights = (params + (s.mode === 'lora' ? trainable : 0)) * F32;
  const gradients = trainable * F32;
  const optimizer = trainable * Optimizer.bytesPerElement(s.optimizer);
  // The backward holds a few layer-sized gradient tensors at once on top of the kept activations.
  const backwardPeak = (2 * I + 4 * h + 2 * q) * N * F32 + s.batchSize * c.numHeads * s.seqLen * s.seqLen * F32;
  // Buffers a kernel binds whole (the vocabulary tables are bound in windows: src/engine/windows.ts).
  const candidates = [
    { what: `logits [${N}, ${c.vocabSize}]`, bytes: logits },
    { what: `attention probabilities [${s.batchSize}, ${c.numHeads}, ${s.seqLen}, ${s.seqLen}]`, bytes: s.batchSize * c.numHeads * s.seqLen * s.seqLen * F32 },
    { what: `MLP activations [${N}, ${I}]`, bytes: N * I * F32 },
  ];
  const largest = candidates.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  return {
    weights,
    gradients,
    optimizer,
    activations,
    logits,
    total: weights + gradients + optimizer + activations + logits + backwardPeak,
    trainableParams: trainable,
    largest,
  };
}

export class MemoryPlanError extends LabError {
  constructor(message: string, hint: string) {
    super('MemoryPlanError', message, hint);
  }
}

/** Refuse a config that cannot fit: the largest buffer over the binding limit, or the total over budget. */
export function checkMemoryPlan(c: ModelConfig, s: TrainShape, limits: { maxStorageBufferBindingSize: number; maxBufferSize?: number; budgetBytes: number }): MemoryEstimate {
  const e = estimateTrainingMemory(c, s);
  const table = c.vocabSize * c.hiddenSize * F32;
  if (limits.maxBufferSize && table > limits.maxBufferSize) {
    throw new MemoryPlanError(
      `The embedding [${c.vocabSize}, ${c.hiddenSize}] takes ${formatBytes(table)}, over this device's ${formatBytes(limits.maxBufferSize)} buffer limit.`,
      'This model is too large for this device; choose a model with a smaller vocabulary or hidden size.',
    );
  }
  const advice: string[] = [];
  const smallerBatch = (bytesNow: number, limit: number) => Math.max(1, Math.floor((s.batchSize * limit) / bytesNow));
  if (e.largest.bytes > limits.maxStorageBufferBindingSize) {
    const b = smallerBatch(e.largest.bytes, limits.maxStorageBufferBindingSize);
    advice.push(b < s.batchSize ? `a batch size of ${b}` : 'shorter sequences');
    throw new MemoryPlanError(
      `The ${e.largest.what} would take ${formatBytes(e.largest.bytes)}, over this device's ${formatBytes(limits.maxStorageBufferBindingSize)} per-buffer limit.`,
      `Try ${advice.join(' or ')} (with gradient accumulation to keep the effective batch).`,
    );
  }
  if (e.total > limits.budgetBytes) {
    if (s.mode === 'full') advice.push('LoRA instead of full fine-tuning');
    if (!s.recompute) advice.push('activation recomputation');
    const b = smallerBatch(e.activations + e.logits, Math.max(1, limits.budgetBytes - e.weights - e.gradients - e.optimizer));
    if (b < s.batchSize) advice.push(`a batch size of ${b} with gradient accumulation`);
    if (s.seqLen > 128) advice.push(`a maximum length of ${Math.max(64, Math.floor(s.seqLen / 2))} tokens`);
    throw new MemoryPlanError(
      `This configuration needs about ${formatBytes(e.total)} of GPU memory (weights ${formatBytes(e.weights)}, gradients ${formatBytes(e.gradients)}, optimiser ${formatBytes(e.optimizer)}, activations ${formatBytes(e.activations)}, logits ${formatBytes(e.logits)}); the budget is ${formatBytes(limits.budgetBytes)}.`,
      advice.length ? `Try ${advice.join(', or ')}.` : 'Use a smaller model.',
    );
  }
  return e;
}
