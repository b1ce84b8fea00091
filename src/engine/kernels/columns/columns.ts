// Column blocks of a wide matrix [N, V]: write one window's [N, C] result into columns offset …
// offset+C (insertColumns), or take those columns out as [N, C] (extractColumns). Used for
// vocabulary windows of the LM head (src/engine/windows.ts).
import type { Gpu, KernelSource } from '../../gpu.ts';
import { Params } from '../../gpu.ts';
import { ShapeError } from '../../errors.ts';
import { expectDType, shapeString, type Tensor } from '../../tensor.ts';
import code from './columns.wgsl?raw';

const KERNEL: KernelSource = { name: 'columns', code };
const WG = 256;

function check(op: string, narrow: Tensor, wide: Tensor, offset: number): { rows: number; cols: number; wideCols: number } {
  expectDType(op, 'narrow', narrow, 'f32');
  expectDType(op, 'wide', wide, 'f32');
  if (narrow.rank !== 2 || wide.rank !== 2) throw new ShapeError(`${op}: both matrices must be 2D, got ${shapeString(narrow.shape)} and ${shapeString(wide.shape)}.`);
  const [rows, cols] = narrow.shape;
  const [wideRows, wideCols] = wide.shape;
  if (rows !== wideRows || offset < 0 || offset + cols > wideCols) {
    throw new ShapeError(`${op}: columns ${offset} … ${offset + cols} of ${shapeString(wide.shape)} do not match ${shapeString(narrow.shape)}.`);
  }
  return { rows, cols, wideCols };
}

function run(gpu: Gpu, insert: boolean, src: Tensor, dst: Tensor, s: { rows: number; cols: number; wideCols: number }, offset: number): void {
  if (s.rows * s.cols === 0) return;
  gpu.run({
    kernel: KERNEL,
    constants: { WG, INSERT: insert ? 1 : 0 },
    bindings: [src, dst],
    params: new Params().u32(s.rows, s.cols, s.wideCols, offset),
    workgroups: gpu.grid(Math.ceil((s.rows * s.cols) / WG)),
  });
}

export function insertColumns(gpu: Gpu, narrow: Tensor, wide: Tensor, offset: number): void {
  run(gpu, true, narrow, wide, check('insertColumns', narrow, wide, offset), offset);
}

export function extractColumns(gpu: Gpu, wide: Tensor, offset: number, cols: number): Tensor {
  const narrow = gpu.empty([wide.shape[0], cols], 'f32', 'columns');
  run(gpu, false, wide, narrow, check('extractColumns', narrow, wide, offset), offset);
  return narrow;
}
