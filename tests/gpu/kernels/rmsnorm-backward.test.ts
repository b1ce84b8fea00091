import { describe, expect, it } from 'vitest';
import { rmsnormBackward } from '../../../src/engine/kernels/rmsnorm/rmsnorm.ts';
import { rmsnormBackwardRef, rmsnormRef } from '../../../src/engine/kernels/rmsnorm/reference.ts';
import { expectClose } from '../../helpers/close.ts';
import { dotWith, finiteDifference, sampleIndices } from '../../helpers/fd.ts';
import { makeRng, normal } from '../../helpers/random.ts';
import { testGpu } from '../setup.ts';

// f32 backward vs f64 reference: one reduction of length dim per row (dx) or rows (dw):
// 1e-5 relative + 1e-5 absolute (dw sums up to 300 rows of O(1) terms).
const TOL = { atol: 1e-5, rtol: 1e-5 };

describe('rmsnorm backward', () => {
  it('closed-form reference gradients match finite differences (f64)', () => {
    const rng = makeRng();
    const [rows, dim, eps] = [3, 7, 1e-6];
    const x = normal(rng, rows * dim);
    const w = normal(rng, dim, 0.2, 1);
    const dy = normal(rng, rows * dim);
    const ref = rmsnormBackwardRef(dy, x, w, dim, eps);
    const idx = sampleIndices(rows * dim, 8, rng.next);
    const fdx = finiteDifference((xx) => dotWith(dy, rmsnormRef(xx, w, dim, eps).y), x, idx);
    expectClose(idx.map((i) => ref.dx[i]), fdx, { atol: 1e-7, rtol: 1e-6 }, `dx seed=${rng.seed}`);
    const widx = sampleIndices(dim, 4, rng.next);
    const fdw = finiteDifference((ww) => dotWith(dy, rmsnormRef(x, ww, dim, eps).y), w, widx);
    expectClose(widx.map((i) => ref.dw[i]), fdw, { atol: 1e-7, rtol: 1e-6 }, `dw seed=${rng.seed}`);
  });

  for (const [rows, dim] of [[1, 5], [17, 64], [300, 33], [4, 1025]]) {
    it(`GPU matches the reference, ${rows}x${dim}, dw accumulates`, async () => {
      const gpu = await testGpu();
      const rng = makeRng();
      const eps = 1e-5;
      const x = normal(rng, rows * dim, 1.5);
      const w = normal(rng, dim, 0.2, 1);
      const dy = normal(rng, rows * dim);
      const dw0 = normal(rng, dim);
      const ref = rmsnormBackwardRef(dy, x, w, dim, eps);
      const rstd = gpu.upload(rmsnormRef(x, w, dim, eps).rstd, [rows]);
      const dw = gpu.upload(dw0, [dim]);
      const dx = rmsnormBackward(gpu, gpu.upload(dy, [rows, dim]), gpu.upload(x, [rows, dim]), gpu.upload(w, [dim]), rstd, dw);
      expectClose(await gpu.readF32(dx), ref.dx, TOL, `dx seed=${rng.seed}`);
      expectClose(await gpu.readF32(dw), ref.dw.map((v, i) => v + dw0[i]), TOL, `dw seed=${rng.seed}`);
    });
  }

  it('refuses a dy of the wrong size', async () => {
    const gpu = await testGpu();
    expect(() => rmsnormBackward(gpu, gpu.zeros([2, 3]), gpu.zeros([2, 4]), gpu.zeros([4]), gpu.zeros([2]), null)).toThrowError(/dy \[2, 3\] does not match x \[2, 4\]/);
  });
});
