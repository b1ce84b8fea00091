// RMSNorm launcher: rows of the last axis (Llama/Qwen decoder norms, and Qwen3's per-head q/k norms
// by viewing [tokens, heads, headDim] as rows of headDim).
import type { Gpu, KernelSource } from '../../gpu.ts';
import { Params } from '../../gpu.ts';
import { ShapeError } from '../../errors.ts';
import { expectDType, shapeString, type Tensor } from '../../tensor.ts';
import code from './rmsnorm.wgsl?raw';
import backwardCode from './rmsnorm_backward.wgsl?raw';
import weightGradCode from './rmsnorm_weight_grad.wgsl?raw';

const KERNEL: KernelSource = { name: 'rmsnorm', code };
const WG = 128;

export interface RmsnormResult {
  y: Tensor;
  /** [rows] reciprocal RMS, kept for the backward pass. */
  rstd: Tensor;
}

export function rmsnorm(gpu: Gpu, x: Tensor, weight: Tensor, eps: number, out?: { y?: Tensor; rstd?: Tensor }): RmsnormResult {
  expectDType('rmsnorm', 'x', x, 'f32');
  expectDType('rmsnorm', 'weight', weight, 'f32');
  const dim = x.shape[x.rank - 1];
  if (weight.numel !== dim) {
    throw new ShapeError(`rmsnorm: weight "${weight.label}" ${shapeString(weight.shape)} does not match the last axis of x ${shapeString(x.shape)}.`);
  }
  const rows = x.numel / dim;
  const y = out?.y ?? gpu.empty(x.shape, 'f32', 'rmsnorm.y');
  const rstd = out?.rstd ?? gpu.empty([rows], 'f32', 'rmsnorm.rstd');
  if (y.numel !== x.numel || rstd.numel !== rows) throw new ShapeError(`rmsnorm: outputs do not match x ${shapeString(x.shape)}.`);
  if (rows === 0) return { y, rstd };
  gpu.run({
    kernel: KERNEL,
    constants: { WG },
    bindings: [x, weight, y, rstd],
    params: new Params().u32(rows, dim).f32(eps),
    workgroups: gpu.grid(rows),
  });
  return { y, rstd };
}

const BACKWARD: KernelSource = { name: 'rmsnorm_backward', code: backwardCode };
const WEIGHT_GRAD: KernelSource = { name: 'rmsnorm_weight_grad', code: weightGradCode };
const WG_COLUMNS = 64;

/**
 * Backward of y = rmsnorm(x) · w: writes dx (a new tensor unless given) and accumulates dw += ….
 * Needs the forward's x and rstd.
 */
export function rmsnormBackward(gpu: Gpu, dy: Tensor, x: Tensor, weight: Tensor, rstd: Tensor, dw: Tensor | null, dxOut?: Tensor): Tensor {
  const dim = x.shape[x.rank - 1];
  const rows = x.numel / dim;
  if (dy.numel !== x.numel) throw new ShapeError(`rmsnormBackward: dy ${shapeString(dy.shape)} does not match x ${shapeString(x.shape)}.`);
  if (rstd.numel !== rows || weight.numel !== dim) throw new ShapeError('rmsnormBackward: rstd or weight does not match x.');
  const dx = dxOut ?? gpu.empty(x.shape, 'f32', 'rmsnorm.dx');
  if (rows === 0) return dx;
  gpu.run({
    kernel: BACKWARD,
    constants: { WG },
    bindings: [dy, x, weight, rstd, dx],
    params: new Params().u32(rows, dim),
    workgroups: gpu.grid(rows),
  });
  if (dw) {
    if (dw.numel !== dim) throw new ShapeError(`rmsnormBackward: dw ${shapeString(dw.shape)} does not match dim ${dim}.`);
    gpu.run({
      kernel: WEIGHT_GRAD,
      constants: { WG: WG_COLUMNS },
      bindings: [dy, x, rstd, dw],
      params: new Params().u32(rows, dim),
      workgroups: gpu.grid(Math.ceil(dim / WG_COLUMNS)),
    });
  }
  return dx;
}
