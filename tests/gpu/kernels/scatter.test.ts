import { describe, expect, it } from 'vitest';
import { scatterAddRows } from '../../../src/engine/kernels/scatter/scatter.ts';
import { scatterAddRowsRef } from '../../../src/engine/kernels/scatter/reference.ts';
import { expectClose } from '../../helpers/close.ts';
import { integers, makeRng, normal } from '../../helpers/random.ts';
import { testGpu } from '../setup.ts';

// Sums of up to n f32 terms per element: 1e-5 abs + 1e-5 rel.
const TOL = { atol: 1e-5, rtol: 1e-5 };

describe('scatterAddRows (embedding backward)', () => {
  for (const [rows, dim, n, offset] of [[5, 3, 1, 0], [17, 64, 40, 0], [50, 129, 300, 20]]) {
    it(`${n} ids into ${rows}x${dim} at row offset ${offset}, repeated ids accumulate`, async () => {
      const gpu = await testGpu();
      const rng = makeRng();
      const table = normal(rng, rows * dim);
      const src = normal(rng, n * dim);
      // Ids from below the chunk to past it, with repeats.
      const ids = integers(rng, n, Math.max(0, offset - 3), offset + rows + 3);
      ids[0] = offset;
      if (n > 1) ids[n - 1] = offset;
      const t = gpu.upload(table, [rows, dim]);
      scatterAddRows(gpu, t, gpu.upload(src, [n, dim]), gpu.upload(ids, [n], 'i32'), offset);
      expectClose(await gpu.readF32(t), scatterAddRowsRef(table, src, ids, dim, offset), TOL, `seed=${rng.seed}`);
    });
  }

  it('rejects a source of the wrong size', async () => {
    const gpu = await testGpu();
    expect(() => scatterAddRows(gpu, gpu.zeros([4, 3]), gpu.zeros([2, 2]), gpu.zeros([2], 'i32'))).toThrowError(/does not hold 2 rows of 3/);
  });
});
