// rowLinear: one row through up to three linear layers at once, with the RMSNorm before them and
// what follows them fused in (see row_linear.wgsl): the decode step's q/k/v projections, o_proj and
// down_proj adding into the residual stream, gate/up with the SwiGLU product, and the final norm with
// the LM head.
import type { Gpu, KernelSource } from '../../gpu.ts';
import { Params } from '../../gpu.ts';
import { ShapeError } from '../../errors.ts';
import { expectDType, shapeString, type Tensor } from '../../tensor.ts';
import { variantName, wgslVariant } from '../wgsl-variants.ts';
import code from './row_linear.wgsl?raw';

/** concat: out = [y_0 | y_1 | y_2]; residual: out += y_0; swiglu: out = silu(y_0) · y_1. */
export type RowLinearMode = 'concat' | 'residual' | 'swiglu';

export interface RowLinearArgs {
  /** One row, K values (K a multiple of 4). */
  x: Tensor;
  /** RMSNorm x first with this weight [K]. */
  norm?: { weight: Tensor; eps: number };
  /** 1 to 3 matrices [N_s, K] (concat), 1 (residual) or 2 of the same shape (swiglu). */
  weights: readonly Tensor[];
  /** One bias [N_s] per weight, or none. */
  biases?: readonly Tensor[];
  mode: RowLinearMode;
  /** [N_0 + N_1 + N_2] (concat), [N_0] (residual: added to), [N_0] (swiglu). */
  out: Tensor;
  /** Invocations per output (a power of two ≤ 64); default by device kind. */
  split?: number;
}

const WG = 64;
const sources = new Map<string, KernelSource>();

function source(flags: Record<string, boolean>): KernelSource {
  const name = variantName('row_linear', flags);
  let s = sources.get(name);
  if (!s) sources.set(name, (s = { name, code: wgslVariant(code, flags) }));
  return s;
}

/** Storage buffers a variant binds: x, out, the norm weight, the matrices and their biases (the decoder checks the device's limit). */
export function rowLinearBindings(norm: boolean, matrices: number, bias: boolean): number {
  return 2 + (norm ? 1 : 0) + matrices * (bias ? 2 : 1);
}

export function rowLinear(gpu: Gpu, a: RowLinearArgs): Tensor {
  const op = `rowLinear(${a.mode})`;
  const segments = a.weights.length;
  const biases = a.biases ?? [];
  for (const t of [a.x, a.out, ...a.weights, ...biases, ...(a.norm ? [a.norm.weight] : [])]) expectDType(op, `"${t.label}"`, t, 'f32');
  const K = a.x.numel;
  if (K % 4 !== 0 || K === 0) throw new ShapeError(`${op}: x "${a.x.label}" has ${K} values; a positive multiple of 4 is needed.`);
  if (segments < 1 || segments > 3) throw new ShapeError(`${op}: ${segments} weight matrices (1 to 3).`);
  if (a.mode === 'residual' && segments !== 1) throw new ShapeError(`${op}: needs exactly one weight matrix, got ${segments}.`);
  if (a.mode === 'swiglu' && segments !== 2) throw new ShapeError(`${op}: needs the gate and up matrices, got ${segments}.`);
  if (biases.length !== 0 && biases.length !== segments) throw new ShapeError(`${op}: ${biases.length} biases for ${segments} weight matrices (give all or none).`);
  const rows = a.weights.map((w) => {
    if (w.rank !== 2 || w.shape[1] !== K) throw new ShapeError(`${op}: weight "${w.label}" ${shapeString(w.shape)} is not [N, ${K}].`);
    return w.shape[0];
  });
  biases.forEach((b, s) => {
    if (b.numel !== rows[s]) throw new ShapeError(`${op}: bias "${b.label}" ${shapeString(b.shape)} does not match weight "${a.weights[s].label}" ${shapeString(a.weights[s].shape)}.`);
  });
  if (a.mode === 'swiglu' && rows[0] !== rows[1]) throw new ShapeError(`${op}: gate has ${rows[0]} rows and up ${rows[1]}.`);
  if (a.norm && a.norm.weight.numel !== K) throw new ShapeError(`${op}: norm weight "${a.norm.weight.label}" ${shapeString(a.norm.weight.shape)} does not match K=${K}.`);
  const N = a.mode === 'concat' ? rows.reduce((s, n) => s + n, 0) : rows[0];
  if (a.out.numel !== N) throw new ShapeError(`${op}: out "${a.out.label}" ${shapeString(a.out.shape)} does not hold ${N} values.`);
  const inputs = [a.x, ...a.weights, ...biases, ...(a.norm ? [a.norm.weight] : [])];
  if (inputs.some((t) => t.buffer === a.out.buffer)) throw new ShapeError(`${op}: out "${a.out.label}" must not share a buffer with an input.`);
  const split = a.split ?? (gpu.isSoftware ? 1 : 16);
  if (!Number.isInteger(Math.log2(split)) || split > WG) throw new ShapeError(`${op}: split ${split} must be a power of two ≤ ${WG}.`);
  const bindings = rowLinearBindings(Boolean(a.norm), segments, biases.length > 0);
  if (bindings > gpu.limits.maxStorageBuffersPerShaderStage) {
    throw new ShapeError(`${op}: needs ${bindings} storage buffers per shader stage; this device offers ${gpu.limits.maxStorageBuffersPerShaderStage}.`);
  }
  const kernel = source({
    NORM: Boolean(a.norm),
    BIAS: biases.length > 0,
    SEG2: segments >= 2,
    SEG3: segments === 3,
    RESIDUAL: a.mode === 'residual',
    SWIGLU: a.mode === 'swiglu',
  });
  gpu.run({
    kernel,
    constants: { WG, SPLIT: split },
    bindings: [a.x, ...(a.norm ? [a.norm.weight] : []), ...a.weights, ...biases, a.out],
    params: new Params().u32(K / 4, rows[0], rows[1] ?? 0, N).f32(a.norm?.eps ?? 0),
    workgroups: gpu.grid(Math.ceil(N / (WG / split))),
  });
  return a.out;
}
