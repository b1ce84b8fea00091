// scatterAddRows: table[ids[n] − rowOffset] += src[n], the backward of gatherRows (embeddings).
// With a table split into row chunks, call it per chunk with that chunk's rowOffset.
import type { Gpu, KernelSource } from '../../gpu.ts';
import { Params } from '../../gpu.ts';
import { ShapeError } from '../../errors.ts';
import { expectDType, shapeString, type Tensor } from '../../tensor.ts';
import code from './scatter_add_rows.wgsl?raw';

const KERNEL: KernelSource = { name: 'scatter_add_rows', code };
const WG = 64;

export function scatterAddRows(gpu: Gpu, table: Tensor, src: Tensor, ids: Tensor, rowOffset = 0): void {
  expectDType('scatterAddRows', 'ids', ids, 'i32');
  expectDType('scatterAddRows', 'table', table, 'f32');
  if (table.rank !== 2) throw new ShapeError(`scatterAddRows: table "${table.label}" must be [rows, dim], got ${shapeString(table.shape)}.`);
  const [rows, dim] = table.shape;
  if (src.numel !== ids.numel * dim) {
    throw new ShapeError(`scatterAddRows: src ${shapeString(src.shape)} does not hold ${ids.numel} rows of ${dim}.`);
  }
  if (ids.numel === 0 || dim === 0) return;
  gpu.run({
    kernel: KERNEL,
    constants: { WG },
    bindings: [src, ids, table],
    params: new Params().u32(ids.numel, dim, rows).i32(rowOffset),
    workgroups: gpu.grid(Math.ceil(dim / WG)),
  });
}
