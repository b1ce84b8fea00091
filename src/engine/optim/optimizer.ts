// Optimisers on the GPU: AdamW (decoupled weight decay, bias correction) and SGD (+ momentum),
// one dispatch per parameter tensor, all in one batch. Parameter groups: each parameter says
// whether weight decay applies (by default not to norms and biases). Gradient clipping and
// loss-scale unscaling arrive as one `gscale` multiplier computed from the global norm.
import type { Gpu, KernelSource } from '../gpu.ts';
import { Params } from '../gpu.ts';
import { ShapeError } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { flatWindows, needsWindows } from '../windows.ts';
import adamwCode from './adamw.wgsl?raw';
import sgdCode from './sgd.wgsl?raw';
import sumsqCode from './sumsq.wgsl?raw';
import sumPartialsCode from './sum_partials.wgsl?raw';

const ADAMW: KernelSource = { name: 'adamw', code: adamwCode };
const SGD: KernelSource = { name: 'sgd', code: sgdCode };
const SUMSQ: KernelSource = { name: 'sumsq', code: sumsqCode };
const SUM_PARTIALS: KernelSource = { name: 'sum_partials', code: sumPartialsCode };
const WG = 256;
const PER_THREAD = 16;

export interface TrainableParam {
  name: string;
  param: Tensor;
  grad: Tensor;
  /** Apply weight decay to this parameter. */
  decay: boolean;
}

/** Conventional parameter groups: no weight decay on norms and biases. */
export function decayByDefault(name: string): boolean {
  return !/(norm|bias)/.test(name);
}

export type OptimizerKind = 'adamw' | 'sgd';

export interface OptimizerConfig {
  kind: OptimizerKind;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
}

/** Host copies of an optimiser's state, for checkpoints. */
export interface OptimizerState {
  kind: OptimizerKind;
  step: number;
  /** Per parameter name: AdamW m and v, or SGD's momentum buffer. */
  slots: Record<string, Float32Array[]>;
}

export class Optimizer {
  step = 0;
  private slots = new Map<string, Tensor[]>();

  constructor(
    private readonly gpu: Gpu,
    readonly config: OptimizerConfig,
  ) {}

  private slotsFor(p: TrainableParam): Tensor[] {
    let s = this.slots.get(p.name);
    if (!s) {
      const count = this.config.kind === 'adamw' ? 2 : 1;
      const windowed = needsWindows(this.gpu, p.param.byteLength);
      s = Array.from({ length: count }, (_, i) => this.gpu.zeros(p.param.shape, 'f32', `${p.name}.opt${i}`, { windowed }));
      this.slots.set(p.name, s);
    }
    return s;
  }

  /** Bytes of optimiser state per parameter element. */
  static bytesPerElement(config: OptimizerConfig): number {
    return config.kind === 'adamw' ? 8 : config.momentum ? 4 : 0;
  }

  /** One update of every parameter at learning rate `lr`; gscale multiplies the gradients first. */
  apply(params: readonly TrainableParam[], lr: number, gscale = 1): void {
    this.step++;
    const c = this.config;
    for (const p of params) {
      if (p.grad.numel !== p.param.numel) throw new ShapeError(`optimizer: gradient of "${p.name}" does not match its parameter.`);
      const wd = p.decay ? (c.weightDecay ?? 0) : 0;
      // Tensors over one storage binding (vocabulary tables) are updated window by window.
      for (const [param, grad, ...slots] of flatWindows(this.gpu, p.param, p.grad, ...this.slotsFor(p))) this.update(param, grad, slots, lr, wd, gscale);
    }
  }

  private update(param: Tensor, grad: Tensor, slots: Tensor[], lr: number, wd: number, gscale: number): void {
    const c = this.config;
    const n = param.numel;
    if (c.kind === 'adamw') {
      const beta1 = c.beta1 ?? 0.9;
      const beta2 = c.beta2 ?? 0.999;
      this.gpu.run({
        kernel: ADAMW,
        constants: { WG },
        bindings: [param, grad, slots[0], slots[1]],
        params: new Params()
          .u32(n)
          .f32(lr, beta1, beta2, 1 - beta1, 1 - beta2, c.eps ?? 1e-8, wd, 1 - beta1 ** this.step, Math.sqrt(1 - beta2 ** this.step), gscale),
        workgroups: this.gpu.grid(Math.ceil(n / WG)),
      });
    } else {
      const momentum = c.momentum ?? 0;
      this.gpu.run({
        kernel: SGD,
        constants: { WG, MOMENTUM: momentum > 0 ? 1 : 0 },
        bindings: [param, grad, slots[0]],
        params: new Params().u32(n).f32(lr, wd, momentum).u32(this.step === 1 ? 1 : 0).f32(gscale),
        workgroups: this.gpu.grid(Math.ceil(n / WG)),
      });
    }
  }

  async exportState(): Promise<OptimizerState> {
    const slots: Record<string, Float32Array[]> = {};
    for (const [name, tensors] of this.slots) slots[name] = await Promise.all(tensors.map((t) => this.gpu.readF32(t)));
    return { kind: this.config.kind, step: this.step, slots };
  }

  importState(state: OptimizerState, params: readonly TrainableParam[]): void {
    if (state.kind !== this.config.kind) throw new ShapeError(`optimizer state is for ${state.kind}, not ${this.config.kind}.`);
    for (const p of params) {
      const saved = state.slots[p.name];
      if (!saved) continue;
      const slots = this.slotsFor(p);
      saved.forEach((data, i) => this.gpu.write(slots[i], data));
    }
    this.step = state.step;
  }

  release(): void {
    for (const tensors of this.slots.values()) for (const t of tensors) t.release();
    this.slots.clear();
  }
}

/**
 * Squared L2 norms of many gradient tensors in one batch and one readback. Returns the per-tensor
 * sums of squares (non-finite when a gradient holds NaN/Inf).
 */
export async function gradSquares(gpu: Gpu, tensors: readonly Tensor[]): Promise<Float32Array> {
  // Tensors over one storage binding are measured window by window and summed on the host.
  const owner: number[] = [];
  const grads: Tensor[] = [];
  tensors.forEach((t, i) => {
    for (const [w] of flatWindows(gpu, t)) {
      owner.push(i);
      grads.push(w);
    }
  });
  const per = WG * PER_THREAD;
  const ranges = new Uint32Array(grads.length * 2);
  let slots = 0;
  grads.forEach((g, i) => {
    const groups = Math.max(1, Math.ceil(g.numel / per));
    ranges[2 * i] = slots;
    ranges[2 * i + 1] = groups;
    slots += groups;
  });
  const partials = gpu.zeros([Math.max(1, slots)], 'f32', 'gradnorm.partials');
  const rangesT = gpu.upload(ranges, [ranges.length || 1], 'u32', 'gradnorm.ranges');
  const totals = gpu.empty([Math.max(1, grads.length)], 'f32', 'gradnorm.totals');
  grads.forEach((g, i) => {
    if (g.numel === 0) return;
    gpu.run({
      kernel: SUMSQ,
      constants: { WG, PER_THREAD },
      bindings: [g, partials],
      params: new Params().u32(g.numel, ranges[2 * i]),
      workgroups: gpu.grid(ranges[2 * i + 1]),
    });
  });
  gpu.run({
    kernel: SUM_PARTIALS,
    constants: { WG: 64 },
    bindings: [partials, rangesT, totals],
    params: new Params().u32(grads.length),
    workgroups: [Math.ceil(grads.length / 64)],
  });
  const sums = await gpu.readF32(totals);
  for (const t of [partials, rangesT, totals]) t.release();
  const out = new Float32Array(tensors.length);
  owner.forEach((i, w) => (out[i] += sums[w]));
  return out;
}

/** Clip coefficient for a global gradient norm (torch.nn.utils.clip_grad_norm_: max/(norm+1e-6), capped at 1). */
export function clipCoefficient(totalNorm: number, maxNorm: number): number {
  if (!(maxNorm > 0)) return 1;
  return Math.min(1, maxNorm / (totalNorm + 1e-6));
}
