import { describe, expect, it } from 'vitest';
import { rowLinear, type RowLinearMode } from '../../../src/engine/kernels/row-linear/row-linear.ts';
import { rowLinearRef } from '../../../src/engine/kernels/row-linear/reference.ts';
import type { Gpu } from '../../../src/engine/gpu.ts';
import { expectClose } from '../../helpers/close.ts';
import { makeRng, normal, type Rng } from '../../helpers/random.ts';
import { testGpu, withFoldLimit } from '../setup.ts';

// f32 dot products of K ≤ 200 terms of N(0, 1) products (plus a norm factor): rounding grows like
// √K·eps·|partial sums| ≈ 1e-5; 1e-4 absolute keeps margin and still catches any wrong index/term.
const TOL = { atol: 1e-4, rtol: 1e-5 };

interface Case {
  mode: RowLinearMode;
  K: number;
  rows: number[];
  norm: boolean;
  bias: boolean;
}

async function check(gpu: Gpu, rng: Rng, c: Case, split: number): Promise<void> {
  const x = normal(rng, c.K);
  const g = normal(rng, c.K, 0.1, 1);
  const ws = c.rows.map((n) => normal(rng, n * c.K, 0.3));
  const bs = c.rows.map((n) => normal(rng, n, 0.1));
  const N = c.mode === 'concat' ? c.rows.reduce((a, b) => a + b, 0) : c.rows[0];
  const before = normal(rng, N);
  const eps = 1e-5;
  const out = gpu.upload(before, [N], 'f32', 'out');
  rowLinear(gpu, {
    x: gpu.upload(x, [1, c.K], 'f32', 'x'),
    norm: c.norm ? { weight: gpu.upload(g, [c.K], 'f32', 'g'), eps } : undefined,
    weights: ws.map((w, s) => gpu.upload(w, [c.rows[s], c.K], 'f32', `w${s}`)),
    biases: c.bias ? bs.map((b, s) => gpu.upload(b, [c.rows[s]], 'f32', `b${s}`)) : undefined,
    mode: c.mode,
    out,
    split,
  });
  const ref = rowLinearRef({
    x,
    norm: c.norm ? { weight: g, eps } : undefined,
    weights: ws.map((data, s) => ({ data, rows: c.rows[s] })),
    biases: c.bias ? bs : undefined,
    mode: c.mode,
    out: before,
  });
  expectClose(await gpu.readF32(out), ref, TOL, `${JSON.stringify(c)} split=${split} seed=${rng.seed}`);
}

const CASES: Case[] = [
  { mode: 'concat', K: 36, rows: [20, 7, 5], norm: true, bias: true }, // q/k/v of Qwen2 (odd sizes)
  { mode: 'concat', K: 64, rows: [64, 32, 32], norm: true, bias: false }, // q/k/v of Llama
  { mode: 'concat', K: 8, rows: [3, 9], norm: false, bias: true },
  { mode: 'concat', K: 200, rows: [131], norm: true, bias: false }, // final norm + LM head
  { mode: 'residual', K: 172, rows: [64], norm: false, bias: false }, // down_proj into x
  { mode: 'residual', K: 64, rows: [67], norm: false, bias: true },
  { mode: 'swiglu', K: 64, rows: [172, 172], norm: true, bias: false },
  { mode: 'swiglu', K: 12, rows: [9, 9], norm: true, bias: true },
];

describe('rowLinear vs reference', () => {
  for (const c of CASES) {
    for (const split of [1, 16]) {
      it(`${c.mode} K=${c.K} rows=${c.rows.join('+')}${c.norm ? ' norm' : ''}${c.bias ? ' bias' : ''}, split ${split}`, async () => {
        await check(await testGpu(), makeRng(), c, split);
      });
    }
  }

  it('folds the grid past the dispatch limit', async () => {
    const gpu = await testGpu();
    await withFoldLimit(gpu, 3, () => check(gpu, makeRng(), { mode: 'concat', K: 16, rows: [70], norm: true, bias: false }, 4));
  });
});

describe('rowLinear input checks', () => {
  it('names what does not fit', async () => {
    const gpu = await testGpu();
    const x = gpu.zeros([6], 'f32', 'x6');
    expect(() => rowLinear(gpu, { x, weights: [gpu.zeros([2, 6])], mode: 'concat', out: gpu.zeros([2]) })).toThrowError(/"x6" has 6 values; a positive multiple of 4/);
    const x8 = gpu.zeros([8]);
    const w = gpu.zeros([3, 8], 'f32', 'up');
    expect(() => rowLinear(gpu, { x: x8, weights: [w], biases: [gpu.zeros([4], 'f32', 'up.bias')], mode: 'concat', out: gpu.zeros([3]) })).toThrowError(
      /bias "up.bias" \[4\] does not match weight "up" \[3, 8\]/,
    );
    expect(() => rowLinear(gpu, { x: x8, weights: [w, w], mode: 'residual', out: gpu.zeros([3]) })).toThrowError(/exactly one weight matrix/);
    expect(() => rowLinear(gpu, { x: x8, weights: [w], mode: 'concat', out: gpu.zeros([4], 'f32', 'y') })).toThrowError(/out "y" \[4\] does not hold 3 values/);
  });
});
