// RoPE launcher: rotates x [rows, heads, headDim] in place by the positions of its rows.
import type { Gpu, KernelSource } from '../../gpu.ts';
import { Params } from '../../gpu.ts';
import { ShapeError } from '../../errors.ts';
import { expectDType, expectShape, shapeString, type Tensor } from '../../tensor.ts';
import code from './rope.wgsl?raw';

const KERNEL: KernelSource = { name: 'rope', code };
const WG = 256;

export interface RopeTablesOnGpu {
  cos: Tensor; // [maxPos, half]
  sin: Tensor;
}

/** Rotate by +θ (forward) or −θ (backward: the gradient of a rotation is the inverse rotation). */
export function rope(gpu: Gpu, x: Tensor, positions: Tensor, tables: RopeTablesOnGpu, direction: 1 | -1 = 1): void {
  expectDType('rope', 'x', x, 'f32');
  expectDType('rope', 'positions', positions, 'i32');
  if (x.rank !== 3) throw new ShapeError(`rope: x "${x.label}" must be [rows, heads, headDim], got ${shapeString(x.shape)}.`);
  const [rows, heads, dim] = x.shape;
  if (dim % 2 !== 0) throw new ShapeError(`rope: headDim ${dim} must be even.`);
  const half = dim / 2;
  expectShape('rope', 'positions', positions, [rows]);
  expectShape('rope', 'cos table', tables.cos, [null, half]);
  expectShape('rope', 'sin table', tables.sin, [tables.cos.shape[0], half]);
  const total = rows * heads * half;
  if (total === 0) return;
  gpu.run({
    kernel: KERNEL,
    constants: { WG, SIGN: direction },
    bindings: [x, positions, tables.cos, tables.sin],
    params: new Params().u32(rows, heads, half, tables.cos.shape[0]),
    workgroups: gpu.grid(Math.ceil(total / WG)),
  });
}
