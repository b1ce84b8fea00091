// Row reductions along the last axis: x [..., C] → y [rows] with rows = numel / C.
import type { Gpu, KernelSource } from '../../gpu.ts';
import { Params } from '../../gpu.ts';
import { ShapeError } from '../../errors.ts';
import { expectDType, shapeString, type Tensor } from '../../tensor.ts';
import code from './reduce.wgsl?raw';

const KERNEL: KernelSource = { name: 'reduce_rows', code };
/** Invocations per row; also used by the softmax and argmax kernels (one workgroup per row). */
export const ROW_WG = 64;

export interface RowShape {
  rows: number;
  C: number;
}

/** rows × C of a tensor reduced along its last axis; names the op and tensor when that is empty. */
export function rowShape(op: string, x: Tensor): RowShape {
  if (x.rank < 1) throw new ShapeError(`${op}: "${x.label}" is a scalar; it needs a last axis to reduce.`);
  const C = x.shape[x.rank - 1];
  if (C === 0) throw new ShapeError(`${op}: "${x.label}" ${shapeString(x.shape)} has an empty last axis.`);
  return { rows: x.numel / C, C };
}

/** Check (or allocate) an output tensor of `numel` f32 elements that does not alias `x`. */
export function rowOutput(gpu: Gpu, op: string, x: Tensor, shape: readonly number[], out?: Tensor): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (!out) return gpu.empty(shape, 'f32', `${op}.out`);
  expectDType(op, 'out', out, 'f32');
  if (out.numel !== n) throw new ShapeError(`${op}: out "${out.label}" ${shapeString(out.shape)} does not hold ${shapeString(shape)}.`);
  if (out.buffer === x.buffer) throw new ShapeError(`${op}: out must not share a buffer with "${x.label}".`);
  return out;
}

function reduceRows(gpu: Gpu, op: 'rowSum' | 'rowMax', x: Tensor, out?: Tensor): Tensor {
  expectDType(op, 'x', x, 'f32');
  const { rows, C } = rowShape(op, x);
  const y = rowOutput(gpu, op, x, [rows], out);
  if (rows === 0) return y;
  gpu.run({
    kernel: KERNEL,
    constants: { OP: op === 'rowSum' ? 0 : 1, WG: ROW_WG },
    bindings: [x, y],
    params: new Params().u32(rows, C),
    workgroups: gpu.grid(rows),
  });
  return y;
}

/** Sum along the last axis: [..., C] → [rows]. */
export const rowSum = (gpu: Gpu, x: Tensor, out?: Tensor): Tensor => reduceRows(gpu, 'rowSum', x, out);
/** Maximum along the last axis: [..., C] → [rows] (a row of -inf gives -inf). */
export const rowMax = (gpu: Gpu, x: Tensor, out?: Tensor): Tensor => reduceRows(gpu, 'rowMax', x, out);
