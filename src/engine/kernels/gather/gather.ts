// Row gather / embedding lookup: gatherRows(gpu, table [R, D], ids i32 [...]) → out [...ids, D].
//
// Vocabularies too large for one storage binding (maxStorageBufferBindingSize, 128 MiB on many
// devices) are stored as row chunks. Gather chunk by chunk into the same `out`, passing each chunk's
// first row as `rowOffset`: a call copies only the ids that fall inside its chunk and leaves every
// other row of `out` untouched, so after the last chunk each row holds its embedding.
//   const out = gatherRows(gpu, chunks[0], ids);                 // rows of other chunks are zero
//   for (let c = 1; c < chunks.length; c++) gatherRows(gpu, chunks[c], ids, { out, rowOffset: c * rowsPerChunk });
// Without `out` the output starts as zeros, so ids outside the table give zero rows.
import type { Gpu, KernelSource } from '../../gpu.ts';
import { Params } from '../../gpu.ts';
import { ShapeError } from '../../errors.ts';
import { expectDType, shapeString, type Tensor } from '../../tensor.ts';
import code from './gather.wgsl?raw';

const KERNEL: KernelSource = { name: 'gather_rows', code };
const WG = 256;

export interface GatherOptions {
  /** Write into this tensor ([...ids, D]); rows whose id is outside this table are left as they are. */
  out?: Tensor;
  /** Global row index of the table's first row (for a table split into row chunks). Default 0. */
  rowOffset?: number;
}

export function gatherRows(gpu: Gpu, table: Tensor, ids: Tensor, opts: GatherOptions = {}): Tensor {
  expectDType('gatherRows', 'table', table, 'f32');
  expectDType('gatherRows', 'ids', ids, 'i32');
  if (table.rank !== 2) throw new ShapeError(`gatherRows: table "${table.label}" ${shapeString(table.shape)} must be [rows, D].`);
  const [R, D] = table.shape;
  const rowOffset = opts.rowOffset ?? 0;
  if (!Number.isInteger(rowOffset) || rowOffset < 0) throw new ShapeError(`gatherRows: rowOffset must be a whole number ≥ 0, got ${rowOffset}.`);
  const limit = gpu.limits.maxStorageBufferBindingSize;
  if (limit && table.byteLength > limit) {
    throw new ShapeError(
      `gatherRows: table "${table.label}" ${shapeString(table.shape)} is ${table.byteLength} bytes, over this device's ${limit}-byte storage binding limit.`,
      'Split the table into row chunks and gather each with its rowOffset into the same out.',
    );
  }
  const outShape = [...ids.shape, D];
  let out = opts.out;
  if (out) {
    expectDType('gatherRows', 'out', out, 'f32');
    if (out.numel !== ids.numel * D) throw new ShapeError(`gatherRows: out "${out.label}" ${shapeString(out.shape)} does not hold ${shapeString(outShape)}.`);
    if (out.buffer === table.buffer || out.buffer === ids.buffer) throw new ShapeError('gatherRows: out must not share a buffer with the table or the ids.');
  } else {
    out = gpu.zeros(outShape, 'f32', 'gather.out');
  }
  const n = ids.numel;
  if (n === 0 || D === 0 || R === 0) return out;
  gpu.run({
    kernel: KERNEL,
    constants: { WG },
    bindings: [table, ids, out],
    params: new Params().u32(n, D, R, rowOffset),
    workgroups: gpu.grid(Math.ceil((n * D) / WG)),
  });
  return out;
}
