import { describe, expect, it } from 'vitest';
import { attention } from '../../../src/engine/kernels/attention/attention.ts';
import { attentionRef } from '../../../src/engine/kernels/attention/reference.ts';
import { expectClose } from '../../helpers/close.ts';
import { makeRng, normal } from '../../helpers/random.ts';
import { testGpu, withFoldLimit } from '../setup.ts';

// Dot products of length D, an f32 softmax (exp ulp error) and sums of length S:
// 2e-6 abs + 2e-5 rel.
const TOL = { atol: 2e-6, rtol: 2e-5 };

interface Case { B: number; T: number; H: number; Hkv: number; D: number; cap: number; past: number; holes?: boolean }

async function check(c: Case, fold?: number) {
  const gpu = await testGpu();
  const rng = makeRng();
  const { B, T, H, Hkv, D, cap, past } = c;
  const q = normal(rng, B * T * H * D);
  const k = normal(rng, B * cap * Hkv * D);
  const v = normal(rng, B * cap * Hkv * D);
  const mask = new Float32Array(B * cap).fill(1);
  // Padding: the last batch row ends early (right padding) and, with holes, starts late (left padding).
  if (B > 1) {
    for (let s = Math.max(1, past + T - 3); s < cap; s++) mask[(B - 1) * cap + s] = 0;
    if (c.holes) for (let s = 0; s < 2; s++) mask[s] = 0;
  }
  const scale = 1 / Math.sqrt(D);
  const ref = attentionRef({ q, k, v, mask, B, T, H, Hkv, D, cap, past, scale });
  const run = async () => {
    const r = attention(gpu, {
      q: gpu.upload(q, [B, T, H, D]),
      k: gpu.upload(k, [B, cap, Hkv, D]),
      v: gpu.upload(v, [B, cap, Hkv, D]),
      mask: gpu.upload(mask, [B, cap]),
      past,
      scale,
    });
    return [await gpu.readF32(r.probs), await gpu.readF32(r.out)];
  };
  const [probs, out] = fold ? await withFoldLimit(gpu, fold, run) : await run();
  expectClose(probs, ref.probs, TOL, `probs ${JSON.stringify(c)} seed=${rng.seed}`);
  expectClose(out, ref.out, TOL, `out ${JSON.stringify(c)} seed=${rng.seed}`);
  expect(Array.from(out).every(Number.isFinite)).toBe(true);
}

describe('attention vs reference', () => {
  it('prefill, MHA, one sequence', () => check({ B: 1, T: 13, H: 2, Hkv: 2, D: 16, cap: 13, past: 0 }));
  it('prefill, GQA 4:1, padded batch of 3', () => check({ B: 3, T: 9, H: 4, Hkv: 1, D: 32, cap: 9, past: 0 }));
  it('left padding keeps fully masked rows finite', () => check({ B: 2, T: 6, H: 2, Hkv: 1, D: 8, cap: 6, past: 0, holes: true }));
  it('decode step over a cache with spare capacity', () => check({ B: 2, T: 1, H: 6, Hkv: 3, D: 64, cap: 40, past: 23 }));
  it('chunked prefill after a past', () => check({ B: 1, T: 5, H: 3, Hkv: 1, D: 24, cap: 20, past: 7 }));
  it('long rows (S > workgroup) and head dim 128', () => check({ B: 1, T: 3, H: 2, Hkv: 2, D: 128, cap: 300, past: 290 }));
  it('GQA 2:1, odd head dim, padded batch in a larger cache', () => check({ B: 2, T: 11, H: 4, Hkv: 2, D: 7, cap: 17, past: 3 }));
  it('grid folding', () => check({ B: 2, T: 5, H: 3, Hkv: 3, D: 8, cap: 5, past: 0 }, 7));

  it('refuses more slots than the cache holds', async () => {
    const gpu = await testGpu();
    const q = gpu.zeros([1, 4, 2, 8]);
    const kv = gpu.zeros([1, 6, 2, 8]);
    expect(() => attention(gpu, { q, k: kv, v: kv, mask: gpu.zeros([1, 6]), past: 3, scale: 1 })).toThrowError(/3 past \+ 4 new slots exceed the cache capacity 6/);
  });
});
