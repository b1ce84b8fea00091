import { describe, expect, it } from 'vitest';
import { matmul, matmulWith, pickMatmulVariant, matmulShape, type MatmulVariant } from '../../../src/engine/kernels/matmul/matmul.ts';
import { matmulRef } from '../../../src/engine/kernels/matmul/reference.ts';
import { calibrateMatmul } from '../../../src/engine/kernels/matmul/calibrate.ts';
import type { Gpu } from '../../../src/engine/gpu.ts';
import { expectClose } from '../../helpers/close.ts';
import { makeRng, normal, type Rng } from '../../helpers/random.ts';
import { testGpu, withFoldLimit } from '../setup.ts';

// f32 dot products of length K with O(1) inputs: error grows ~sqrt(K)·eps·|terms|; 1e-5·K^0.5 abs.
const tol = (K: number) => ({ atol: 2e-6 * Math.sqrt(K) * 4, rtol: 1e-5 });

interface Case {
  batch: number;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  /** B is one [K, N] matrix shared by the batch. */
  broadcastB?: boolean;
  bias?: boolean;
  accumulate?: boolean;
  alpha?: number;
  /** Set A(·, K-1) and B(K-1, ·) to +inf: every output is +inf, and a kernel that lets a zero
   *  padded past K meet an inf (0 · inf = NaN) in an edge tile fails. */
  infAtLastK?: boolean;
}

/** Run one case through `variant` ('auto' = matmul's own pick) and compare with the reference. */
async function check(gpu: Gpu, variant: MatmulVariant | 'auto', c: Case, rng: Rng = makeRng()): Promise<void> {
  const { batch, M, N, K, transA = false, transB = false, broadcastB = false } = c;
  const a = normal(rng, batch * M * K);
  const b = normal(rng, (broadcastB ? 1 : batch) * K * N);
  if (c.infAtLastK) {
    for (let t = 0; t < batch; t++) {
      for (let m = 0; m < M; m++) a[t * M * K + (transA ? (K - 1) * M + m : m * K + K - 1)] = Infinity;
    }
    for (let t = 0; t < (broadcastB ? 1 : batch); t++) {
      for (let n = 0; n < N; n++) b[t * K * N + (transB ? n * K + K - 1 : (K - 1) * N + n)] = Infinity;
    }
  }
  const bias = c.bias ? normal(rng, N) : undefined;
  const init = c.accumulate ? normal(rng, batch * M * N) : undefined;
  const ta = gpu.upload(a, transA ? [batch, K, M] : [batch, M, K], 'f32', 'a');
  const bMat = transB ? [N, K] : [K, N];
  const tb = gpu.upload(b, broadcastB ? bMat : [batch, ...bMat], 'f32', 'b');
  const out = init ? gpu.upload(init, [batch, M, N], 'f32', 'c') : undefined;
  const opts = { transA, transB, alpha: c.alpha, bias: bias && gpu.upload(bias, [N]), out, accumulate: c.accumulate };
  const got = variant === 'auto' ? matmul(gpu, ta, tb, opts) : matmulWith(gpu, variant, ta, tb, opts);
  const want = matmulRef({ a, b, M, N, K, batch, transA, transB, broadcastB, alpha: c.alpha, bias, c: init });
  expectClose(await gpu.readF32(got), want, tol(K), `${variant} ${JSON.stringify(c)} seed=${rng.seed}`);
  for (const t of [ta, tb, got, opts.bias]) t?.release();
}

const TRANSPOSES = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const;

describe('matmul vs reference', () => {
  for (const [batch, M, N, K] of [[1, 1, 1, 1], [1, 7, 13, 5], [3, 33, 17, 65], [2, 64, 70, 129]]) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        it(`b=${batch} ${M}x${N}x${K} transA=${transA} transB=${transB}`, async () => {
          const gpu = await testGpu();
          const rng = makeRng();
          const a = normal(rng, batch * M * K);
          const b = normal(rng, batch * K * N);
          const ta = gpu.upload(a, transA ? [batch, K, M] : [batch, M, K]);
          const tb = gpu.upload(b, transB ? [batch, N, K] : [batch, K, N]);
          const got = await gpu.readF32(matmul(gpu, ta, tb, { transA, transB }));
          expectClose(got, matmulRef({ a, b, M, N, K, batch, transA, transB }), tol(K), `seed=${rng.seed}`);
        });
      }
    }
  }

  it('broadcasts a 2D B, scales, adds bias and accumulates', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const [batch, M, N, K] = [3, 9, 11, 7];
    const a = normal(rng, batch * M * K);
    const b = normal(rng, N * K);
    const bias = normal(rng, N);
    const c = normal(rng, batch * M * N);
    const out = gpu.upload(c, [batch, M, N]);
    matmul(gpu, gpu.upload(a, [batch, M, K]), gpu.upload(b, [N, K]), {
      transB: true,
      alpha: 0.5,
      bias: gpu.upload(bias, [N]),
      out,
      accumulate: true,
    });
    const want = matmulRef({ a, b, M, N, K, batch, transB: true, broadcastB: true, alpha: 0.5, bias, c });
    expectClose(await gpu.readF32(out), want, tol(K), `seed=${rng.seed}`);
  });

  it('names the operands when inner dimensions differ', async () => {
    const gpu = await testGpu();
    const a = gpu.zeros([4, 5], 'f32', 'x');
    const b = gpu.zeros([6, 3], 'f32', 'w');
    expect(() => matmul(gpu, a, b)).toThrowError(/matmul\("x" \[4, 5\], "w" \[6, 3\]\): inner dimensions differ \(5 vs 6\)/);
  });
});

// Every variant on its own: shapes whose contiguous dimensions are multiples of 4 take the vec4
// loads, odd ones the scalar loads; both cut tiles at the edges.
describe.each(['blocked', 'tiled'] as const)('matmul variant %s', (variant) => {
  for (const [transA, transB] of TRANSPOSES) {
    it(`odd shapes (scalar loads), transA=${transA} transB=${transB}`, async () => {
      const gpu = await testGpu();
      const rng = makeRng();
      const odd = () => 1 + 2 * Math.floor(rng.next() * 40); // 1..79, odd
      await check(gpu, variant, { batch: 2, M: 16 + odd(), N: odd() + 2 * 64, K: odd(), transA, transB }, rng);
    });

    it(`multiple-of-4 shapes (vec4 loads), transA=${transA} transB=${transB}`, async () => {
      const gpu = await testGpu();
      const rng = makeRng();
      const four = () => 4 * (1 + Math.floor(rng.next() * 20)); // 4..80
      await check(gpu, variant, { batch: 2, M: 4 + four(), N: four() + 128, K: four(), transA, transB }, rng);
    });
  }

  it('infinite inputs at the last k give inf, not NaN, in every transpose and load width', async () => {
    const gpu = await testGpu();
    for (const [transA, transB] of TRANSPOSES) {
      await check(gpu, variant, { batch: 1, M: 20, N: 24, K: 7, transA, transB, infAtLastK: true });
      await check(gpu, variant, { batch: 1, M: 19, N: 21, K: 7, transA, transB, infAtLastK: true });
    }
  });

  it('broadcast B folded into one tall product, with alpha, bias and accumulate', async () => {
    const gpu = await testGpu();
    await check(gpu, variant, { batch: 3, M: 21, N: 36, K: 40, transB: true, broadcastB: true, alpha: -0.75, bias: true, accumulate: true });
  });

  it('broadcast B with A transposed (not folded), with alpha, bias and accumulate', async () => {
    const gpu = await testGpu();
    await check(gpu, variant, { batch: 2, M: 19, N: 23, K: 17, transA: true, broadcastB: true, alpha: 1.5, bias: true, accumulate: true });
  });

  it('a single row (M = 1) and short ones (M = 3)', async () => {
    const gpu = await testGpu();
    await check(gpu, variant, { batch: 1, M: 1, N: 300, K: 64, transB: true });
    await check(gpu, variant, { batch: 2, M: 3, N: 37, K: 29, transA: true, bias: true });
  });

  it('folds the grid into 2D past maxComputeWorkgroupsPerDimension', async () => {
    const gpu = await testGpu();
    // blocked: 3 row tiles x 3 column groups x 2 = 18 workgroups; tiled: 1 x 5 x 2 = 10; limit 5 (5² ≥ 18).
    await withFoldLimit(gpu, 5, () => check(gpu, variant, { batch: 2, M: 40, N: 300, K: 9 }));
  });
});

describe('matmul variant gemv (M = 1)', () => {
  for (const transB of [false, true]) {
    for (const K of [1, 6, 67, 256]) {
      it(`K=${K} transB=${transB}`, async () => {
        const gpu = await testGpu();
        await check(gpu, 'gemv', { batch: 1, M: 1, N: 4 * 20 + 3, K, transB, bias: K > 60, accumulate: K === 67, alpha: 2 });
      });
    }
  }

  it('infinite inputs at the last k give inf, not NaN', async () => {
    const gpu = await testGpu();
    for (const transB of [false, true]) await check(gpu, 'gemv', { batch: 1, M: 1, N: 21, K: 7, transB, infAtLastK: true });
  });

  it('batched rows with per-entry B, A given as a column (transA)', async () => {
    const gpu = await testGpu();
    await check(gpu, 'gemv', { batch: 3, M: 1, N: 29, K: 33, transA: true, transB: true });
    await check(gpu, 'gemv', { batch: 3, M: 1, N: 28, K: 32, transA: true });
  });

  it('folds the grid into 2D past maxComputeWorkgroupsPerDimension', async () => {
    const gpu = await testGpu();
    // 10 column groups x 2 = 20 workgroups, limit 5.
    await withFoldLimit(gpu, 5, () => check(gpu, 'gemv', { batch: 2, M: 1, N: 37, K: 12, transB: true }));
  });

  it('refuses more than one row per batch entry', async () => {
    const gpu = await testGpu();
    const a = gpu.zeros([2, 8], 'f32', 'x');
    const b = gpu.zeros([8, 4], 'f32', 'w');
    expect(() => matmulWith(gpu, 'gemv', a, b)).toThrowError(/gemv variant needs one row per batch entry, got M=2/);
  });
});

describe('matmul variant choice', () => {
  it('decode rows (M = 1) through the automatic pick', async () => {
    const gpu = await testGpu();
    await check(gpu, 'auto', { batch: 1, M: 1, N: 131, K: 96, transB: true, bias: true });
    await check(gpu, 'auto', { batch: 4, M: 1, N: 40, K: 24, broadcastB: true });
  });

  it('uses register blocking on CPU adapters, tiles or gemv on GPUs', async () => {
    const gpu = await testGpu();
    const a = gpu.zeros([1, 8]);
    const a2 = gpu.zeros([5, 8]);
    const w = gpu.zeros([8, 4]);
    const pick = (x: typeof a) => pickMatmulVariant(gpu, matmulShape(x, w));
    if (gpu.isSoftware) {
      expect([pick(a), pick(a2)]).toEqual(['blocked', 'blocked']);
    } else {
      expect([pick(a), pick(a2)]).toEqual(['gemv', 'tiled']);
    }
  });
});

describe('matmul calibration', () => {
  it('records a measured choice that matmul then follows, and results stay right', async () => {
    const gpu = await testGpu();
    const cal = await calibrateMatmul(gpu);
    expect(['blocked', 'tiled']).toContain(cal.rows);
    expect(['blocked', 'gemv']).toContain(cal.row);
    expect(Object.values(cal.timesMs).every((ms) => ms > 0 && Number.isFinite(ms))).toBe(true);
    const w = gpu.zeros([8, 4]);
    expect(pickMatmulVariant(gpu, matmulShape(gpu.zeros([5, 8]), w))).toBe(cal.rows);
    expect(pickMatmulVariant(gpu, matmulShape(gpu.zeros([1, 8]), w))).toBe(cal.row);
    await check(gpu, 'auto', { batch: 1, M: 1, N: 70, K: 33, transB: true });
    await check(gpu, 'auto', { batch: 2, M: 17, N: 70, K: 33 });
  });
});
