import { describe, expect, it } from 'vitest';
import { add, dropout, gelu, geluTanh, mul, scale, silu, siluMul, siluMulBackward } from '../../../src/engine/kernels/elementwise/elementwise.ts';
import { addRef, dropoutRef, geluRef, geluTanhRef, mulRef, scaleRef, siluMulBackwardRef, siluMulRef, siluRef } from '../../../src/engine/kernels/elementwise/reference.ts';
import { expectClose } from '../../helpers/close.ts';
import { dotWith, finiteDifference, sampleIndices } from '../../helpers/fd.ts';
import { makeRng, normal } from '../../helpers/random.ts';
import { testGpu, withFoldLimit } from '../setup.ts';

// f32 elementwise: one rounding per op plus exp/tanh ulp error; 1e-6 abs + 1e-5 rel covers it.
// GELU (erf) uses a 1.5e-7-accurate erf approximation, scaled by |x|/2 ≤ 3 here.
const TOL = { atol: 1e-6, rtol: 1e-5 };

describe('elementwise kernels vs reference', () => {
  for (const shape of [[1], [7, 13], [3, 257, 5], [1031]]) {
    it(`binary and unary ops on ${JSON.stringify(shape)}`, async () => {
      const gpu = await testGpu();
      const rng = makeRng();
      const n = shape.reduce((x, y) => x * y, 1);
      const a = normal(rng, n, 3);
      const b = normal(rng, n, 3);
      const row = normal(rng, shape[shape.length - 1], 3);
      const ta = gpu.upload(a, shape);
      const tb = gpu.upload(b, shape);
      const trow = gpu.upload(row, [row.length]);
      const alpha = rng.next() * 4 - 2;
      const cases: [string, Promise<Float32Array>, Float32Array][] = [
        ['add', gpu.readF32(add(gpu, ta, tb)), addRef(a, b)],
        ['add broadcast', gpu.readF32(add(gpu, ta, trow)), addRef(a, row)],
        ['mul', gpu.readF32(mul(gpu, ta, tb)), mulRef(a, b)],
        ['mul broadcast', gpu.readF32(mul(gpu, ta, trow)), mulRef(a, row)],
        ['scale', gpu.readF32(scale(gpu, ta, alpha)), scaleRef(a, alpha)],
        ['silu', gpu.readF32(silu(gpu, ta)), siluRef(a)],
        ['gelu', gpu.readF32(gelu(gpu, ta)), geluRef(a)],
        ['gelu_tanh', gpu.readF32(geluTanh(gpu, ta)), geluTanhRef(a)],
        ['silu_mul', gpu.readF32(siluMul(gpu, ta, tb)), siluMulRef(a, b)],
      ];
      for (const [name, got, want] of cases) expectClose(await got, want, TOL, `${name} ${JSON.stringify(shape)} seed=${rng.seed}`);
    });
  }

  it('folds the grid into 2D past maxComputeWorkgroupsPerDimension', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const n = 256 * 9 + 17; // 10 workgroups of 256, folded at a limit of 4 -> 4 x 3 (two idle)
    const a = normal(rng, n);
    const b = normal(rng, n);
    const got = await withFoldLimit(gpu, 4, () => gpu.readF32(add(gpu, gpu.upload(a, [n]), gpu.upload(b, [n]))));
    expectClose(got, addRef(a, b), TOL, `folded add seed=${rng.seed}`);
  });

  it('silu and gelu stay finite at extreme inputs', async () => {
    const gpu = await testGpu();
    const a = new Float32Array([-1e4, -100, -20, 0, 20, 100, 1e4]);
    const t = gpu.upload(a, [a.length]);
    for (const [got, want] of [
      [await gpu.readF32(silu(gpu, t)), siluRef(a)],
      [await gpu.readF32(gelu(gpu, t)), geluRef(a)],
      [await gpu.readF32(geluTanh(gpu, t)), geluTanhRef(a)],
    ]) {
      expect(Array.from(got).every(Number.isFinite)).toBe(true);
      expectClose(got, want, TOL, 'extremes');
    }
  });

  it('refuses shapes that do not broadcast, naming them', async () => {
    const gpu = await testGpu();
    const a = gpu.zeros([4, 6]);
    const b = gpu.zeros([5]);
    expect(() => add(gpu, a, b)).toThrowError(/add: b \[5\] does not broadcast onto a \[4, 6\]/);
  });

  it('silu_mul backward: reference matches finite differences, GPU matches reference', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const n = 1001;
    const gate = normal(rng, n, 3);
    const up = normal(rng, n, 2);
    const dy = normal(rng, n);
    const ref = siluMulBackwardRef(dy, gate, up);
    const idx = sampleIndices(n, 12, rng.next);
    const fwd = (g: ArrayLike<number>, u: ArrayLike<number>) => dotWith(dy, siluMulRef(Float32Array.from(g), Float32Array.from(u)));
    // Forward reference rounds to f32, so finite differences use a larger step: 1e-3 rel.
    expectClose(idx.map((i) => ref.dgate[i]), finiteDifference((g) => fwd(g, up), gate, idx, 1e-2), { atol: 1e-3, rtol: 1e-3 }, `dgate fd seed=${rng.seed}`);
    expectClose(idx.map((i) => ref.dup[i]), finiteDifference((u) => fwd(gate, u), up, idx, 1e-2), { atol: 1e-3, rtol: 1e-3 }, `dup fd seed=${rng.seed}`);
    const g = siluMulBackward(gpu, gpu.upload(dy, [n]), gpu.upload(gate, [n]), gpu.upload(up, [n]));
    expectClose(await gpu.readF32(g.dgate), ref.dgate, TOL, `dgate seed=${rng.seed}`);
    expectClose(await gpu.readF32(g.dup), ref.dup, TOL, `dup seed=${rng.seed}`);
  });

  it('dropout matches its reference mask, keeps about 1 − rate, and is reproducible by seed', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const n = 20011;
    const x = normal(rng, n);
    const seed = Math.floor(rng.next() * 2 ** 32);
    const rate = 0.3;
    const t = gpu.upload(x, [n]);
    const a = await gpu.readF32(dropout(gpu, t, rate, seed));
    const b = await gpu.readF32(dropout(gpu, t, rate, seed));
    expectClose(a, dropoutRef(x, rate, seed), { atol: 1e-7, rtol: 1e-6 }, `seed=${rng.seed}`);
    expect(Array.from(a)).toEqual(Array.from(b));
    const kept = a.filter((v) => v !== 0).length / n;
    expect(Math.abs(kept - 0.7)).toBeLessThan(0.02);
  });
});
