import { describe, expect, it } from 'vitest';
import { logSoftmax, softmax } from '../../../src/engine/kernels/softmax/softmax.ts';
import { logSoftmaxRef, softmaxRef } from '../../../src/engine/kernels/softmax/reference.ts';
import { expectClose } from '../../helpers/close.ts';
import { makeRng, normal } from '../../helpers/random.ts';
import { testGpu, withFoldLimit } from '../setup.ts';

// softmax: outputs in [0, 1], each a few ulp of exp times 1/sum, the row sum accumulated in f32
// (relative error ~1e-6 for 150k terms): 2e-5 relative. log-softmax: x - max - log(sum), absolute
// error ~eps·|x| plus the log of the sum's relative error: 2e-5 absolute + 1e-5 relative.
const SOFTMAX_TOL = { atol: 1e-8, rtol: 2e-5 };
const LOG_TOL = { atol: 2e-5, rtol: 1e-5 };

describe('softmax and log-softmax along the last axis vs reference', () => {
  for (const [shape, scale] of [[[1, 1], 1], [[5, 13], 0.5], [[3, 2, 1000], 1], [[2, 151936], 1.25]] as const) {
    it(`${JSON.stringify(shape)} scale=${scale}`, async () => {
      const gpu = await testGpu();
      const rng = makeRng();
      const C = shape[shape.length - 1];
      const x = normal(rng, shape.reduce((a: number, b: number) => a * b, 1), 4);
      const t = gpu.upload(x, shape);
      const y = softmax(gpu, t, { scale });
      const ly = logSoftmax(gpu, t, { scale });
      expect(y.shape).toEqual(shape);
      expectClose(await gpu.readF32(y), softmaxRef(x, C, scale), SOFTMAX_TOL, `softmax ${JSON.stringify(shape)} seed=${rng.seed}`);
      expectClose(await gpu.readF32(ly), logSoftmaxRef(x, C, scale), LOG_TOL, `logSoftmax ${JSON.stringify(shape)} seed=${rng.seed}`);
    });
  }

  it('stays finite and exact with large logits and -inf masks', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const C = 301;
    // Row 0: values up to 3e4 (exp would overflow without the max); row 1: half masked to -inf,
    // the first entry masked (the running max starts below it); row 2: one finite value; row 3:
    // all -1e35 (finite, so uniform).
    const x = new Float32Array(4 * C).fill(-1e35);
    for (let i = 0; i < C; i++) {
      x[i] = 2e4 + 1e4 * rng.next();
      x[C + i] = i === 0 || rng.next() < 0.5 ? -Infinity : 50 * (rng.next() - 0.5);
      x[2 * C + i] = i === 123 ? -7 : -Infinity;
    }
    const t = gpu.upload(x, [4, C]);
    const y = await gpu.readF32(softmax(gpu, t));
    const ly = await gpu.readF32(logSoftmax(gpu, t));
    expectClose(y, softmaxRef(x, C), SOFTMAX_TOL, `softmax extremes seed=${rng.seed}`);
    expect(y[2 * C + 123]).toBe(1);
    expect(y[C]).toBe(0);
    // log-softmax of 3e4-scale logits: ulp(3e4) = 0.002 bounds the error of x - max.
    expectClose(ly, logSoftmaxRef(x, C), { atol: 4e-3, rtol: 1e-5 }, `logSoftmax extremes seed=${rng.seed}`);
    expect(ly[C]).toBe(-Infinity);
  });

  it('folds the grid into 2D past maxComputeWorkgroupsPerDimension', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const x = normal(rng, 10 * 33, 2); // 10 rows, folded at a limit of 4 -> 3 x 4
    const got = await withFoldLimit(gpu, 4, () => gpu.readF32(softmax(gpu, gpu.upload(x, [10, 33]))));
    expectClose(got, softmaxRef(x, 33), SOFTMAX_TOL, `folded seed=${rng.seed}`);
  });

  it('refuses an output of the wrong size, naming it', async () => {
    const gpu = await testGpu();
    expect(() => softmax(gpu, gpu.zeros([2, 5]), { out: gpu.zeros([2, 4], 'f32', 'probs') })).toThrowError(
      /softmax: out "probs" \[2, 4\] does not hold \[2, 5\]/,
    );
  });
});
