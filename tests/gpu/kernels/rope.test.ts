import { describe, expect, it } from 'vitest';
import { rope } from '../../../src/engine/kernels/rope/rope.ts';
import { ropeRef } from '../../../src/engine/kernels/rope/reference.ts';
import { ropeTables } from '../../../src/engine/kernels/rope/table.ts';
import { expectClose } from '../../helpers/close.ts';
import { integers, makeRng, normal } from '../../helpers/random.ts';
import { testGpu } from '../setup.ts';

// Two f32 products and a sum per output: 1e-6 abs + 1e-6 rel.
const TOL = { atol: 1e-6, rtol: 1e-6 };

function invFreq(half: number, theta: number): Float64Array {
  return Float64Array.from({ length: half }, (_, i) => 1 / theta ** ((2 * i) / (2 * half)));
}

describe('rope vs reference', () => {
  for (const [rows, heads, dim, theta] of [[1, 1, 2, 1e4], [9, 4, 16, 1e4], [33, 3, 64, 1e6], [5, 7, 128, 5e5]]) {
    it(`${rows}x${heads}x${dim} theta=${theta}, forward and inverse`, async () => {
      const gpu = await testGpu();
      const rng = makeRng();
      const maxPos = 300;
      const tables = ropeTables(invFreq(dim / 2, theta), maxPos);
      const gpuTables = { cos: gpu.upload(tables.cos, [maxPos, dim / 2]), sin: gpu.upload(tables.sin, [maxPos, dim / 2]) };
      const x = normal(rng, rows * heads * dim);
      const pos = integers(rng, rows, 0, maxPos);
      const tx = gpu.upload(x, [rows, heads, dim]);
      const tp = gpu.upload(pos, [rows], 'i32');
      rope(gpu, tx, tp, gpuTables);
      const forward = await gpu.readF32(tx);
      expectClose(forward, ropeRef(x, pos, heads, tables), TOL, `forward seed=${rng.seed}`);
      rope(gpu, tx, tp, gpuTables, -1);
      expectClose(await gpu.readF32(tx), x, { atol: 1e-5, rtol: 1e-5 }, `inverse restores x seed=${rng.seed}`);
    });
  }

  it('tables follow HF float32 angles (position 0 is the identity)', () => {
    const t = ropeTables(invFreq(4, 1e4), 3);
    expect(Array.from(t.cos.slice(0, 4))).toEqual([1, 1, 1, 1]);
    expect(Array.from(t.sin.slice(0, 4))).toEqual([0, 0, 0, 0]);
    expect(t.cos[4]).toBeCloseTo(Math.cos(1), 7);
  });
});
