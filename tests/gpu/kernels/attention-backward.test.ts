import { describe, it } from 'vitest';
import { attention, attentionBackward } from '../../../src/engine/kernels/attention/attention.ts';
import { attentionBackwardRef, attentionRef } from '../../../src/engine/kernels/attention/reference.ts';
import { expectClose } from '../../helpers/close.ts';
import { dotWith, finiteDifference, sampleIndices } from '../../helpers/fd.ts';
import { makeRng, normal } from '../../helpers/random.ts';
import { testGpu } from '../setup.ts';

// f32 sums of T·D products and softmax gradients vs f64: 1e-5 abs + 1e-4 rel.
const TOL = { atol: 1e-5, rtol: 1e-4 };

function rightPaddedMask(B: number, T: number): Float32Array {
  const mask = new Float32Array(B * T).fill(1);
  if (B > 1) for (let t = T - 2; t < T; t++) mask[(B - 1) * T + t] = 0;
  return mask;
}

describe('attention backward', () => {
  it('reference gradients match finite differences of the forward (f64)', () => {
    const rng = makeRng();
    const [B, T, H, Hkv, D] = [2, 4, 4, 2, 3];
    const q = normal(rng, B * T * H * D);
    const k = normal(rng, B * T * Hkv * D);
    const v = normal(rng, B * T * Hkv * D);
    const mask = rightPaddedMask(B, T);
    const dOut = normal(rng, B * T * H * D);
    const base = { B, T, H, Hkv, D, scale: 0.7, mask, cap: T, past: 0 };
    const ref = attentionBackwardRef({ q, k, v, ...base }, dOut);
    const f = (qq: ArrayLike<number>, kk: ArrayLike<number>, vv: ArrayLike<number>) => dotWith(dOut, attentionRef({ q: qq, k: kk, v: vv, ...base }).out);
    const tol = { atol: 1e-8, rtol: 1e-6 };
    const iq = sampleIndices(q.length, 10, rng.next);
    expectClose(iq.map((i) => ref.dq[i]), finiteDifference((x) => f(x, k, v), q, iq), tol, `dq seed=${rng.seed}`);
    const ik = sampleIndices(k.length, 10, rng.next);
    expectClose(ik.map((i) => ref.dk[i]), finiteDifference((x) => f(q, x, v), k, ik), tol, `dk seed=${rng.seed}`);
    expectClose(ik.map((i) => ref.dv[i]), finiteDifference((x) => f(q, k, x), v, ik), tol, `dv seed=${rng.seed}`);
  });

  for (const [B, T, H, Hkv, D] of [[1, 7, 2, 2, 8], [2, 13, 4, 1, 16], [3, 33, 6, 3, 24], [2, 9, 6, 2, 7], [1, 150, 2, 1, 64]]) {
    it(`GPU matches the reference B=${B} T=${T} H=${H} Hkv=${Hkv} D=${D}`, async () => {
      const gpu = await testGpu();
      const rng = makeRng();
      const q = normal(rng, B * T * H * D);
      const k = normal(rng, B * T * Hkv * D);
      const v = normal(rng, B * T * Hkv * D);
      const mask = rightPaddedMask(B, T);
      const dOut = normal(rng, B * T * H * D);
      const scale = 1 / Math.sqrt(D);
      const kv = [B, T, Hkv, D];
      const tq = gpu.upload(q, [B, T, H, D]);
      const tk = gpu.upload(k, kv);
      const tv = gpu.upload(v, kv);
      const fwd = attention(gpu, { q: tq, k: tk, v: tv, mask: gpu.upload(mask, [B, T]), past: 0, scale });
      const g = attentionBackward(gpu, { dOut: gpu.upload(dOut, [B * T, H * D]), q: tq, k: tk, v: tv, probs: fwd.probs, B, T, H, Hkv, D, scale });
      const ref = attentionBackwardRef({ q, k, v, mask, B, T, H, Hkv, D, scale }, dOut);
      expectClose(await gpu.readF32(g.dq), ref.dq, TOL, `dq seed=${rng.seed}`);
      expectClose(await gpu.readF32(g.dk), ref.dk, TOL, `dk seed=${rng.seed}`);
      expectClose(await gpu.readF32(g.dv), ref.dv, TOL, `dv seed=${rng.seed}`);
    });
  }
});
