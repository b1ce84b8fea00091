import { describe, expect, it } from 'vitest';
import { permute } from '../../../src/engine/kernels/permute/permute.ts';
import { permuteRef } from '../../../src/engine/kernels/permute/reference.ts';
import { expectClose } from '../../helpers/close.ts';
import { makeRng, normal } from '../../helpers/random.ts';
import { testGpu, withFoldLimit } from '../setup.ts';

// Pure copies: exact.
const EXACT = { atol: 0, rtol: 0 };

interface Case { shape: number[]; order: number[]; lengths?: number[] }

const CASES: Case[] = [
  { shape: [3, 7, 5, 9], order: [0, 2, 1, 3] }, // heads ahead of positions
  { shape: [2, 11, 3, 6], order: [0, 2, 1, 3], lengths: [2, 4, 3, 6] }, // the first slots of a KV cache
  { shape: [2, 3, 5, 2, 7], order: [0, 4, 1, 3, 2] }, // transposed per-group results back
  { shape: [3, 2, 13, 17], order: [0, 3, 1, 2], lengths: [2, 2, 13, 10] },
  { shape: [2, 3, 2, 3, 2, 5], order: [5, 4, 3, 2, 1, 0] },
  { shape: [37, 29], order: [1, 0] },
  { shape: [1000], order: [0], lengths: [777] },
];

describe('permute vs reference', () => {
  for (const c of CASES) {
    it(`${JSON.stringify(c)}`, async () => {
      const gpu = await testGpu();
      const rng = makeRng();
      const x = normal(rng, c.shape.reduce((a, b) => a * b, 1));
      const y = permute(gpu, gpu.upload(x, c.shape), c.order, { lengths: c.lengths });
      const lengths = c.lengths ?? c.shape;
      expect(y.shape).toEqual(c.order.map((a) => lengths[a]));
      expectClose(await gpu.readF32(y), permuteRef(x, c.shape, c.order, c.lengths), EXACT, `${JSON.stringify(c)} seed=${rng.seed}`);
    });
  }

  it('writes into a given tensor and folds the grid', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const shape = [2, 9, 4, 33]; // 2376 elements: 10 workgroups, folded at a limit of 4 into 4 × 3
    const x = normal(rng, 2 * 9 * 4 * 33);
    const out = gpu.empty([18, 132]);
    const got = await withFoldLimit(gpu, 4, async () => {
      permute(gpu, gpu.upload(x, shape), [0, 2, 1, 3], { out });
      return gpu.readF32(out);
    });
    expectClose(got, permuteRef(x, shape, [0, 2, 1, 3]), EXACT, `folded seed=${rng.seed}`);
  });

  it('refuses a bad order, lengths past the shape, and an out of the wrong size', async () => {
    const gpu = await testGpu();
    const x = gpu.zeros([2, 3, 4]);
    expect(() => permute(gpu, x, [0, 1, 1])).toThrowError(/each of the 3 axes once/);
    expect(() => permute(gpu, x, [0, 2, 1], { lengths: [2, 5, 4] })).toThrowError(/lengths \[2, 5, 4\]/);
    expect(() => permute(gpu, x, [0, 2, 1], { out: gpu.zeros([2, 3]) })).toThrowError(/does not hold \[2, 4, 3\]/);
    expect(() => permute(gpu, gpu.zeros([1, 1, 1, 1, 1, 1, 1]), [0, 1, 2, 3, 4, 5, 6])).toThrowError(/rank 7 exceeds 6/);
  });
});
