import { describe, expect, it } from 'vitest';
import { rmsnorm } from '../../../src/engine/kernels/rmsnorm/rmsnorm.ts';
import { rmsnormRef } from '../../../src/engine/kernels/rmsnorm/reference.ts';
import { expectClose } from '../../helpers/close.ts';
import { makeRng, normal } from '../../helpers/random.ts';
import { testGpu, withFoldLimit } from '../setup.ts';

// One f32 sum of squares (relative error ~ dim·eps worst case, ~sqrt(dim)·eps typical) and a
// multiply chain: 1e-5 relative plus 1e-6 absolute.
const TOL = { atol: 1e-6, rtol: 1e-5 };

describe('rmsnorm vs reference', () => {
  for (const [rows, dim] of [[1, 1], [5, 64], [37, 129], [3, 1000], [130, 32]]) {
    it(`${rows} rows of ${dim}`, async () => {
      const gpu = await testGpu();
      const rng = makeRng();
      const x = normal(rng, rows * dim, 2);
      const w = normal(rng, dim, 0.1, 1);
      const eps = [1e-5, 1e-6][rows % 2];
      const ref = rmsnormRef(x, w, dim, eps);
      const { y, rstd } = rmsnorm(gpu, gpu.upload(x, [rows, dim]), gpu.upload(w, [dim]), eps);
      expectClose(await gpu.readF32(y), ref.y, TOL, `y seed=${rng.seed}`);
      expectClose(await gpu.readF32(rstd), ref.rstd, TOL, `rstd seed=${rng.seed}`);
    });
  }

  it('folds rows past the dispatch limit', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const [rows, dim] = [11, 24];
    const x = normal(rng, rows * dim);
    const w = normal(rng, dim);
    const got = await withFoldLimit(gpu, 4, async () => gpu.readF32(rmsnorm(gpu, gpu.upload(x, [rows, dim]), gpu.upload(w, [dim]), 1e-6).y));
    expectClose(got, rmsnormRef(x, w, dim, 1e-6).y, TOL, `seed=${rng.seed}`);
  });

  it('names the weight when it does not match', async () => {
    const gpu = await testGpu();
    expect(() => rmsnorm(gpu, gpu.zeros([2, 8]), gpu.zeros([7], 'f32', 'norm.weight'), 1e-6)).toThrowError(/"norm.weight" \[7\] does not match/);
  });
});
