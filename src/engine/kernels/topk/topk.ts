// Argmax and top-k along the last axis. Equal values rank by lower index; inputs are NaN-free.
//   argmax(gpu, x [..., C])      → i32 [rows]
//   topk(gpu, x [..., C], k)     → { values f32 [rows, k] descending, indices i32 [rows, k] }, k ≤ 64
import type { Gpu, KernelSource } from '../../gpu.ts';
import { Params } from '../../gpu.ts';
import { ShapeError } from '../../errors.ts';
import { expectDType, shapeString, type Tensor } from '../../tensor.ts';
import { ROW_WG, rowShape } from '../reduce/reduce.ts';
import argmaxCode from './argmax.wgsl?raw';
import topkCode from './topk.wgsl?raw';

const ARGMAX: KernelSource = { name: 'argmax', code: argmaxCode };
const TOPK: KernelSource = { name: 'topk', code: topkCode };
/** topk.wgsl: KMAX. */
export const TOPK_MAX_K = 64;
/** Invocations per row for top-k: its merge buffer is KMAX · WG/2 entries of 8 bytes (16 KiB). */
const TOPK_WG = 32;

function checkOut(op: string, name: string, t: Tensor, dtype: 'f32' | 'i32', numel: number, x: Tensor): void {
  expectDType(op, name, t, dtype);
  if (t.numel !== numel) throw new ShapeError(`${op}: ${name} "${t.label}" ${shapeString(t.shape)} does not hold ${numel} elements.`);
  if (t.buffer === x.buffer) throw new ShapeError(`${op}: ${name} must not share a buffer with "${x.label}".`);
}

export function argmax(gpu: Gpu, x: Tensor, out?: Tensor): Tensor {
  expectDType('argmax', 'x', x, 'f32');
  const { rows, C } = rowShape('argmax', x);
  if (out) checkOut('argmax', 'out', out, 'i32', rows, x);
  const y = out ?? gpu.empty([rows], 'i32', 'argmax.out');
  if (rows === 0) return y;
  gpu.run({
    kernel: ARGMAX,
    constants: { WG: ROW_WG },
    bindings: [x, y],
    params: new Params().u32(rows, C),
    workgroups: gpu.grid(rows),
  });
  return y;
}

export interface TopK {
  values: Tensor;
  indices: Tensor;
}

export function topk(gpu: Gpu, x: Tensor, k: number, out?: TopK): TopK {
  expectDType('topk', 'x', x, 'f32');
  const { rows, C } = rowShape('topk', x);
  if (!Number.isInteger(k) || k < 1 || k > TOPK_MAX_K || k > C) {
    throw new ShapeError(`topk: k=${k} for rows of ${C} ("${x.label}"); k must be a whole number in 1..min(${TOPK_MAX_K}, ${C}).`);
  }
  if (out) {
    checkOut('topk', 'values', out.values, 'f32', rows * k, x);
    checkOut('topk', 'indices', out.indices, 'i32', rows * k, x);
  }
  const values = out?.values ?? gpu.empty([rows, k], 'f32', 'topk.values');
  const indices = out?.indices ?? gpu.empty([rows, k], 'i32', 'topk.indices');
  if (rows === 0) return { values, indices };
  gpu.run({
    kernel: TOPK,
    constants: { WG: TOPK_WG },
    bindings: [x, values, indices],
    params: new Params().u32(rows, C, k).f32(-Infinity),
    workgroups: gpu.grid(rows),
  });
  return { values, indices };
}
