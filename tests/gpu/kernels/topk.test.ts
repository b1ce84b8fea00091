import { describe, expect, it } from 'vitest';
import { argmax, topk } from '../../../src/engine/kernels/topk/topk.ts';
import { argmaxRef, topkRef } from '../../../src/engine/kernels/topk/reference.ts';
import type { Gpu } from '../../../src/engine/gpu.ts';
import { integers, makeRng, normal, type Rng } from '../../helpers/random.ts';
import { testGpu, withFoldLimit } from '../setup.ts';

// argmax and top-k select and copy values: results must match the reference exactly.

async function checkTopk(gpu: Gpu, x: Float32Array, C: number, k: number, context: string): Promise<void> {
  const r = topk(gpu, gpu.upload(x, [x.length / C, C]), k);
  const want = topkRef(x, C, k);
  expect(r.values.shape).toEqual([x.length / C, k]);
  expect(Array.from(await gpu.read(r.indices)), `indices ${context}`).toEqual(Array.from(want.indices));
  expect(Array.from(await gpu.read(r.values)), `values ${context}`).toEqual(Array.from(want.values));
}

/** Values from a small set of integers: many ties. */
function tied(rng: Rng, n: number): Float32Array {
  return Float32Array.from(integers(rng, n, -4, 5));
}

describe('argmax along the last axis vs reference', () => {
  for (const shape of [[1, 1], [7, 13], [2, 3, 300], [3, 151936]]) {
    it(`${JSON.stringify(shape)}`, async () => {
      const gpu = await testGpu();
      const rng = makeRng();
      const C = shape[shape.length - 1];
      const x = normal(rng, shape.reduce((a, b) => a * b, 1));
      const got = await gpu.read(argmax(gpu, gpu.upload(x, shape)));
      expect(Array.from(got), `seed=${rng.seed}`).toEqual(Array.from(argmaxRef(x, C)));
    });
  }

  it('picks the lowest index among equal maxima, and index 0 in a row of -inf', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const C = 1000;
    const x = tied(rng, 5 * C);
    x.fill(-Infinity, 4 * C);
    const got = await gpu.read(argmax(gpu, gpu.upload(x, [5, C])));
    expect(Array.from(got), `seed=${rng.seed}`).toEqual(Array.from(argmaxRef(x, C)));
    expect(got[4]).toBe(0);
  });

  it('folds the grid into 2D past maxComputeWorkgroupsPerDimension', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const x = normal(rng, 10 * 50); // 10 rows, folded at a limit of 4
    const got = await withFoldLimit(gpu, 4, () => gpu.read(argmax(gpu, gpu.upload(x, [10, 50]))));
    expect(Array.from(got), `seed=${rng.seed}`).toEqual(Array.from(argmaxRef(x, 50)));
  });
});

describe('top-k along the last axis vs reference', () => {
  for (const [rows, C, k] of [[1, 1, 1], [3, 64, 64], [4, 100, 5], [2, 1001, 64], [2, 151936, 50]]) {
    it(`rows=${rows} C=${C} k=${k}`, async () => {
      const gpu = await testGpu();
      const rng = makeRng();
      await checkTopk(gpu, normal(rng, rows * C), C, k, `seed=${rng.seed}`);
    });
  }

  it('orders equal values by lower index, -inf included', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const C = 777;
    const x = tied(rng, 3 * C);
    for (let i = 0; i < C; i++) if (rng.next() < 0.97) x[2 * C + i] = -Infinity; // row 2: fewer finite values than k
    await checkTopk(gpu, x, C, 64, `ties seed=${rng.seed}`);
    await checkTopk(gpu, x, C, 7, `ties seed=${rng.seed}`);
  });

  it('handles rows sorted ascending (every element enters a list)', async () => {
    const gpu = await testGpu();
    const C = 5000;
    const x = Float32Array.from({ length: C }, (_, i) => i * 0.5 - 100);
    await checkTopk(gpu, x, C, 33, 'ascending');
  });

  it('folds the grid into 2D past maxComputeWorkgroupsPerDimension', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const x = normal(rng, 10 * 40);
    await withFoldLimit(gpu, 4, () => checkTopk(gpu, x, 40, 8, `folded seed=${rng.seed}`));
  });

  it('refuses k outside 1..min(64, C), naming the tensor', async () => {
    const gpu = await testGpu();
    const x = gpu.zeros([2, 100], 'f32', 'logits');
    expect(() => topk(gpu, x, 65)).toThrowError(/topk: k=65 for rows of 100 \("logits"\); k must be a whole number in 1..min\(64, 100\)/);
    expect(() => topk(gpu, gpu.zeros([2, 10]), 11)).toThrowError(/k=11 for rows of 10/);
  });
});
