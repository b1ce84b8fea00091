import { describe, expect, it } from 'vitest';
import { rowMax, rowSum } from '../../../src/engine/kernels/reduce/reduce.ts';
import { rowMaxRef, rowSumRef } from '../../../src/engine/kernels/reduce/reference.ts';
import { expectClose } from '../../helpers/close.ts';
import { makeRng, normal } from '../../helpers/random.ts';
import { testGpu, withFoldLimit } from '../setup.ts';

// Sums of C N(0,1) terms in f32: rounding errors add up like a random walk, ~sqrt(C)·eps·|partial
// sums|; 1e-5·sqrt(C) absolute covers it with margin. Max is exact.
const sumTol = (C: number) => ({ atol: 1e-5 * Math.sqrt(C), rtol: 1e-6 });
const EXACT = { atol: 0, rtol: 0 };

describe('row reductions vs reference', () => {
  for (const shape of [[1], [7, 13], [3, 5, 257], [2, 151936], [300, 3]]) {
    it(`sum and max along the last axis of ${JSON.stringify(shape)}`, async () => {
      const gpu = await testGpu();
      const rng = makeRng();
      const C = shape[shape.length - 1];
      const x = normal(rng, shape.reduce((a, b) => a * b, 1), 3);
      const t = gpu.upload(x, shape);
      const sum = rowSum(gpu, t);
      const max = rowMax(gpu, t);
      expect(sum.shape).toEqual([x.length / C]);
      expectClose(await gpu.readF32(sum), rowSumRef(x, C), sumTol(C), `sum ${JSON.stringify(shape)} seed=${rng.seed}`);
      expectClose(await gpu.readF32(max), rowMaxRef(x, C), EXACT, `max ${JSON.stringify(shape)} seed=${rng.seed}`);
    });
  }

  it('max of rows holding -inf, and of a row of only -inf', async () => {
    const gpu = await testGpu();
    const x = new Float32Array([-Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -3, -Infinity, -Infinity]);
    const got = await gpu.readF32(rowMax(gpu, gpu.upload(x, [2, 4])));
    expect(Array.from(got)).toEqual([-Infinity, -3]);
  });

  it('folds the grid into 2D past maxComputeWorkgroupsPerDimension', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const x = normal(rng, 11 * 70); // 11 rows = 11 workgroups, folded at a limit of 4 -> 3 x 4
    const [sum, max] = await withFoldLimit(gpu, 4, async () => {
      const t = gpu.upload(x, [11, 70]);
      return [await gpu.readF32(rowSum(gpu, t)), await gpu.readF32(rowMax(gpu, t))];
    });
    expectClose(sum, rowSumRef(x, 70), sumTol(70), `folded sum seed=${rng.seed}`);
    expectClose(max, rowMaxRef(x, 70), EXACT, `folded max seed=${rng.seed}`);
  });

  it('names the tensor when the last axis is empty or out does not fit', async () => {
    const gpu = await testGpu();
    expect(() => rowSum(gpu, gpu.zeros([3, 0], 'f32', 'logits'))).toThrowError(/rowSum: "logits" \[3, 0\] has an empty last axis/);
    expect(() => rowMax(gpu, gpu.zeros([3, 4]), gpu.zeros([4], 'f32', 'small'))).toThrowError(/rowMax: out "small" \[4\] does not hold \[3\]/);
  });
});
