// The matmul benchmark's cases and the measurement of our kernels, shared by Node and the page.
import type { Gpu } from '../../../src/engine/gpu.ts';
import { matmulWith, type MatmulVariant } from '../../../src/engine/kernels/matmul/matmul.ts';
import { timeBatches } from '../../lib/stats.ts';

export interface MatmulCase {
  M: number;
  K: number;
  N: number;
}

export function caseName(c: MatmulCase): string {
  return `${c.M}x${c.K}x${c.N}`;
}

export function flopsOf(c: MatmulCase): number {
  return 2 * c.M * c.K * c.N;
}

/** Square sizes and decode rows (1×K×N: one token through a weight matrix). */
export function matmulCases(quick: boolean): MatmulCase[] {
  const square = (quick ? [256, 512] : [256, 512, 1024]).map((n) => ({ M: n, K: n, N: n }));
  const decode = quick ? [{ M: 1, K: 1024, N: 1024 }] : [{ M: 1, K: 1024, N: 1024 }, { M: 1, K: 2048, N: 8192 }];
  return [...square, ...decode];
}

/** Our variants worth timing: gemv exists for single rows only, where 64×64 tiles would idle. */
export function variantsFor(c: MatmulCase): MatmulVariant[] {
  return c.M === 1 ? ['blocked', 'gemv'] : ['blocked', 'tiled'];
}

/** Matmuls recorded per submit: ~1 GFLOP per batch, at most 10 (submit overhead stays small). */
export function opsPerSubmit(c: MatmulCase): number {
  return Math.max(1, Math.min(10, Math.floor(1e9 / flopsOf(c))));
}

/** Inputs uniform in [-1, 1) from a fixed-seed generator (same data in Node and the page). */
export function inputs(c: MatmulCase): { a: Float32Array; b: Float32Array } {
  let s = 0x9e3779b9 ^ (c.M * 31 + c.K * 17 + c.N);
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 31 - 1;
  };
  const a = new Float32Array(c.M * c.K);
  const b = new Float32Array(c.K * c.N);
  for (let i = 0; i < a.length; i++) a[i] = next();
  for (let i = 0; i < b.length; i++) b[i] = next();
  return { a, b };
}

/** Compare 64 entries of C = A·B with float64 dot products: "ok" or what went wrong. */
export function spotCheck(c: MatmulCase, a: Float32Array, b: Float32Array, got: Float32Array): string {
  let worst = 0;
  for (let t = 0; t < 64; t++) {
    const m = (t * 7919) % c.M;
    const n = (t * 104729) % c.N;
    let want = 0;
    let scale = 0;
    for (let k = 0; k < c.K; k++) {
      want += a[m * c.K + k] * b[k * c.N + n];
      scale += Math.abs(a[m * c.K + k] * b[k * c.N + n]);
    }
    const err = Math.abs(got[m * c.N + n] - want) / Math.max(scale, 1e-30);
    if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
  }
  // f32 accumulation: relative to the sum of |terms|, errors stay near K·eps at worst.
  return worst <= 1e-4 ? 'ok' : `WRONG (relative error ${worst.toExponential(1)})`;
}

export interface OursResult {
  variant: MatmulVariant;
  samplesMs: number[];
  check: string;
}

/** Time our matmul variants on one case: opsPerSubmit(c) matmuls per submit, waited for. */
export async function measureOurs(gpu: Gpu, c: MatmulCase, budgetMs: number): Promise<OursResult[]> {
  const { a, b } = inputs(c);
  const ta = gpu.upload(a, [c.M, c.K], 'f32', 'bench.a');
  const tb = gpu.upload(b, [c.K, c.N], 'f32', 'bench.b');
  const out = gpu.empty([c.M, c.N], 'f32', 'bench.c');
  const n = opsPerSubmit(c);
  const results: OursResult[] = [];
  try {
    for (const variant of variantsFor(c)) {
      const samplesMs = await timeBatches(
        async () => {
          for (let i = 0; i < n; i++) matmulWith(gpu, variant, ta, tb, { out });
          await gpu.sync();
        },
        { opsPerBatch: n, budgetMs },
      );
      results.push({ variant, samplesMs, check: spotCheck(c, a, b, await gpu.readF32(out)) });
    }
  } finally {
    for (const t of [ta, tb, out]) t.release();
  }
  return results;
}
