import { describe, expect, it } from 'vitest';
import { attentionSoftmax, attentionSoftmaxBackward } from '../../../src/engine/kernels/attention/softmax.ts';
import { attentionSoftmaxBackwardRef, attentionSoftmaxRef } from '../../../src/engine/kernels/attention/reference.ts';
import { expectClose } from '../../helpers/close.ts';
import { makeRng, normal } from '../../helpers/random.ts';
import { testGpu, withFoldLimit } from '../setup.ts';

// Probabilities: a few ulp of exp times 1/sum, the sum of ≤ 300 terms in f32: 1e-7 abs + 1e-5 rel.
const PROBS_TOL = { atol: 1e-7, rtol: 1e-5 };
// dS = scale · P (dP − Σ P dP): the f32 row dot of ≤ 300 terms (~1e-6 of its terms' size) times P ≤ 1.
const GRAD_TOL = { atol: 2e-6, rtol: 1e-5 };

interface Case { B: number; H: number; T: number; cap: number; past: number; wg: number }

// Scores of std 3, a mask with left padding (fully masked first rows) in the last sequence and
// right padding in the first, every row length from below to above the workgroup size.
async function check(c: Case, fold?: number) {
  const gpu = await testGpu();
  const rng = makeRng();
  const { B, H, T, cap, past, wg } = c;
  const S = past + T;
  const scores = normal(rng, B * H * T * S, 3);
  const mask = new Float32Array(B * cap).fill(1);
  mask[S - 1] = 0;
  for (let s = 0; s < Math.min(past + 2, S); s++) mask[(B - 1) * cap + s] = 0;
  const dims = { B, H, T, cap, past, scale: 0.37 };
  const probs = attentionSoftmaxRef(scores, mask, dims);
  const dP = normal(rng, probs.length);
  const run = async () => {
    const tp = gpu.upload(scores, [B, H, T, S]);
    attentionSoftmax(gpu, tp, gpu.upload(mask, [B, cap]), past, dims.scale, { wg });
    const tg = gpu.upload(dP, [B, H, T, S]);
    attentionSoftmaxBackward(gpu, tg, gpu.upload(Float32Array.from(probs), [B, H, T, S]), dims.scale, { wg });
    return [await gpu.readF32(tp), await gpu.readF32(tg)];
  };
  const [gotProbs, gotGrad] = fold ? await withFoldLimit(gpu, fold, run) : await run();
  expectClose(gotProbs, probs, PROBS_TOL, `probs ${JSON.stringify(c)} seed=${rng.seed}`);
  expectClose(gotGrad, attentionSoftmaxBackwardRef(dP, probs, S, dims.scale), GRAD_TOL, `dS ${JSON.stringify(c)} seed=${rng.seed}`);
  // A fully masked row (the last sequence's first query) is uniform, as the Hugging Face mask makes it.
  expect(gotProbs[(B - 1) * H * T * S]).toBeCloseTo(1 / S, 6);
}

describe('attention row kernels vs reference', () => {
  it('training rows, software workgroup', () => check({ B: 2, H: 3, T: 19, cap: 19, past: 0, wg: 8 }));
  it('training rows, wide workgroup', () => check({ B: 2, H: 3, T: 19, cap: 23, past: 0, wg: 64 }));
  it('rows longer than the workgroup after a past', () => check({ B: 2, H: 2, T: 5, cap: 310, past: 297, wg: 64 }));
  it('one invocation per row', () => check({ B: 1, H: 1, T: 7, cap: 9, past: 2, wg: 1 }));
  it('a workgroup wider than the rows', () => check({ B: 3, H: 1, T: 6, cap: 6, past: 0, wg: 256 }));
  it('grid folding (36 rows at a limit of 8: 8 × 5)', () => check({ B: 2, H: 2, T: 9, cap: 9, past: 0, wg: 8 }, 8));

  it('refuses scores that do not span past + T slots of the mask', async () => {
    const gpu = await testGpu();
    expect(() => attentionSoftmax(gpu, gpu.zeros([1, 2, 3, 5]), gpu.zeros([1, 8]), 1, 1)).toThrowError(/1 past \+ 3 new = 5 slots/);
    expect(() => attentionSoftmax(gpu, gpu.zeros([1, 2, 3, 3]), gpu.zeros([1, 8]), 0, 1, { wg: 48 })).toThrowError(/power of two/);
  });
});
