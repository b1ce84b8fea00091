// The training step loop, loss-agnostic: a BatchSource supplies micro-batches (token rows + the
// loss layout + teacher rows), the loss kernels write ∂loss/∂logits, the decoder's backward
// accumulates gradients, and the optimiser steps. Per optimiser step there are two readbacks (the
// loss terms and the gradient norms), never one per micro-batch or per layer.
import type { Gpu } from '../../engine/gpu.ts';
import type { AllocatorStats } from '../../engine/allocator.ts';
import { LabError } from '../../engine/errors.ts';
import { decoderBackward } from '../../engine/models/backward.ts';
import { newTrace, releaseTrace, type Decoder, type ForwardInput } from '../../engine/models/decoder.ts';
import { loraTensors } from '../../engine/models/lora.ts';
import { clipCoefficient, decayByDefault, gradSquares, Optimizer, type OptimizerConfig, type TrainableParam } from '../../engine/optim/optimizer.ts';
import { lrAt, warmupSteps, type Schedule, type ScheduleKind } from '../../engine/optim/schedule.ts';
import { Rng } from '../../engine/rng.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { needsWindows } from '../../engine/windows.ts';
import { expectedTensors } from '../../formats/config.ts';
import { planLoss, sequencesPerTerm } from '../losses/batch.ts';
import { computeLoss, readLoss, releaseTeacher, uploadTeacher } from '../losses/compute.ts';
import type { BatchSource, DataCursor, MicroBatch } from './batches.ts';

export type TrainMode = 'full' | 'lora';

export interface TrainConfig {
  mode: TrainMode;
  optimizer: OptimizerConfig;
  lr: number;
  schedule: ScheduleKind;
  /** Fraction of the steps (< 1) or a step count (≥ 1). */
  warmup: number;
  /** Optimiser steps in the run. */
  steps: number;
  gradAccum: number;
  /** Global gradient-norm clip; 0 disables. */
  maxGradNorm: number;
  seed: number;
  /** Weight decay on norms and biases too (conventionally off). */
  decayAll?: boolean;
  /** Stop after this many consecutive steps with a non-finite loss or gradient. */
  maxBadSteps?: number;
  /** Activation recomputation: keep only layer inputs, run each layer's forward again in backward. */
  recompute?: boolean;
}

export interface StepMetrics {
  step: number;
  loss: number;
  terms: Record<string, number>;
  gradNorm: number;
  lr: number;
  tokens: number;
  tokensPerSecond: number;
  ms: number;
  memory: AllocatorStats;
  /** The update was skipped because the loss or a gradient was NaN/Inf. */
  skipped: boolean;
}

/** Everything a checkpoint restores besides the parameter values. */
export interface TrainerState {
  step: number;
  cursor: DataCursor;
  rngState: number;
  badSteps: number;
}

export class NonFiniteError extends LabError {
  constructor(steps: number) {
    super(
      'NonFiniteError',
      `Training stopped: the loss or the gradients were NaN/Inf for ${steps} steps in a row (those updates were skipped).`,
      'Lower the learning rate, enable gradient clipping, or check the data and teacher cache.',
    );
  }
}

export class Trainer {
  readonly params: TrainableParam[];
  readonly optimizer: Optimizer;
  readonly schedule: Schedule;
  step = 0;
  private badSteps = 0;
  private readonly rng: Rng;

  constructor(
    readonly gpu: Gpu,
    readonly decoder: Decoder,
    readonly source: BatchSource,
    readonly config: TrainConfig,
  ) {
    this.rng = Rng.fromSeed(config.seed);
    this.params = trainableParams(gpu, decoder, config);
    this.optimizer = new Optimizer(gpu, config.optimizer);
    this.schedule = { kind: config.schedule, peakLr: config.lr, totalSteps: config.steps, warmupSteps: warmupSteps(config.warmup, config.steps) };
  }

  get done(): boolean {
    return this.step >= this.config.steps;
  }

  /** One optimiser step over `gradAccum` micro-batches. */
  async trainStep(): Promise<StepMetrics> {
    const { gpu, config } = this;
    const t0 = performance.now();
    const micro: MicroBatch[] = Array.from({ length: config.gradAccum }, () => this.source.next());
    // Each term is a mean over the sequences of the whole optimiser step.
    const perTerm = micro.map((m) => sequencesPerTerm(m.loss)).reduce((a, b) => a.map((x, i) => x + b[i]));
    for (const m of micro) m.loss = { ...m.loss, sequencesPerTerm: perTerm.map((n) => Math.max(1, n)) };
    for (const p of this.params) gpu.clear(p.grad);
    const dropoutSeed = this.rng.nextU32();
    let terms: Tensor | undefined;
    let names: string[] = [];
    let coefficients: number[] = [];
    let tokens = 0;
    for (const m of micro) {
      const out = this.microStep(m, dropoutSeed, terms);
      terms = out.terms;
      names = out.names;
      coefficients = out.coefficients;
      tokens += m.tokens;
    }
    const values = await readLoss(gpu, { terms: terms!, names, coefficients });
    terms!.release();
    const squares = await gradSquares(gpu, this.params.map((p) => p.grad));
    const gradNorm = Math.sqrt(squares.reduce((s, x) => s + x, 0));
    const lr = lrAt(this.schedule, this.step);
    const skipped = !Number.isFinite(values.loss) || !Number.isFinite(gradNorm);
    if (skipped) {
      this.badSteps++;
      if (this.badSteps >= (config.maxBadSteps ?? 3)) throw new NonFiniteError(this.badSteps);
    } else {
      this.badSteps = 0;
      this.optimizer.apply(this.params, lr, clipCoefficient(gradNorm, config.maxGradNorm));
    }
    this.step++;
    await gpu.sync();
    const ms = performance.now() - t0;
    return { step: this.step, loss: values.loss, terms: values.terms, gradNorm, lr, tokens, tokensPerSecond: (tokens * 1000) / ms, ms, memory: gpu.memory(), skipped };
  }

  private microStep(m: MicroBatch, dropoutSeed: number, terms: Tensor | undefined) {
    const { gpu, decoder } = this;
    const { rows } = m;
    const input: ForwardInput = {
      B: rows.B,
      T: rows.T,
      ids: gpu.upload(rows.ids, [rows.B * rows.T], 'i32', 'batch.ids'),
      positions: gpu.upload(rows.positions, [rows.B * rows.T], 'i32', 'batch.positions'),
      mask: gpu.upload(rows.mask, [rows.B, rows.T], 'f32', 'batch.mask'),
      maxPosition: rows.T - 1,
      dropoutSeed: this.config.mode === 'lora' ? dropoutSeed : undefined,
    };
    const trace = newTrace(this.config.recompute ?? false);
    const teacher = m.teacher ? uploadTeacher(gpu, m.teacher) : undefined;
    try {
      const hidden = decoder.forward(input, undefined, trace);
      const logits = decoder.logits(hidden);
      const out = computeLoss(gpu, { logits, plan: planLoss(m.loss), teacher, divergence: m.divergence, options: m.lossOptions, terms, accumulate: terms !== undefined });
      decoderBackward(decoder, input, trace, out.grad, this.gradMap);
      logits.release();
      return out;
    } finally {
      releaseTrace(trace);
      if (teacher) releaseTeacher(teacher);
      input.ids.release();
      input.positions.release();
      input.mask!.release();
    }
  }

  private get gradMap(): Map<string, Tensor> {
    return new Map(this.params.map((p) => [p.name, p.grad]));
  }

  state(): TrainerState {
    return { step: this.step, cursor: this.source.cursor(), rngState: this.rng.state, badSteps: this.badSteps };
  }

  restore(s: TrainerState): void {
    this.step = s.step;
    this.source.restore(s.cursor);
    this.rng.state = s.rngState;
    this.badSteps = s.badSteps;
  }

  release(): void {
    this.optimizer.release();
    for (const p of this.params) p.grad.release();
  }
}

/** The parameters a run trains, each with a fresh gradient accumulator. */
export function trainableParams(gpu: Gpu, decoder: Decoder, config: TrainConfig): TrainableParam[] {
  const decay = (name: string) => config.decayAll || decayByDefault(name);
  if (config.mode === 'lora') {
    const tensors = loraTensors(decoder.weights);
    if (tensors.size === 0) throw new LabError('TrainConfigError', 'LoRA training needs adapters attached to the model first.');
    return [...tensors].map(([name, param]) => ({ name, param, grad: gpu.zeros(param.shape, 'f32', `grad.${name}`), decay: decay(name) }));
  }
  const byName = weightsByName(decoder);
  return [...expectedTensors(decoder.config).keys()].map((name) => {
    const param = byName.get(name)!;
    return { name, param, grad: gpu.zeros(param.shape, 'f32', `grad.${name}`, { windowed: needsWindows(gpu, param.byteLength) }), decay: decay(name) };
  });
}

/** Parameter tensors of the decoder by Hugging Face name. */
export function weightsByName(decoder: Decoder): Map<string, Tensor> {
  const w = decoder.weights;
  const m = new Map<string, Tensor>([
    ['model.embed_tokens.weight', w.embed],
    ['model.norm.weight', w.finalNorm],
  ]);
  if (!w.tied) m.set('lm_head.weight', w.lmHead);
  w.layers.forEach((l, i) => {
    const p = `model.layers.${i}`;
    m.set(`${p}.input_layernorm.weight`, l.inputNorm);
    m.set(`${p}.post_attention_layernorm.weight`, l.postNorm);
    if (l.qNorm) m.set(`${p}.self_attn.q_norm.weight`, l.qNorm);
    if (l.kNorm) m.set(`${p}.self_attn.k_norm.weight`, l.kNorm);
    for (const lin of Object.values(l.proj)) {
      m.set(`${lin.name}.weight`, lin.weight);
      if (lin.bias) m.set(`${lin.name}.bias`, lin.bias);
    }
  });
  return m;
}
