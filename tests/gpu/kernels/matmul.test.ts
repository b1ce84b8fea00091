import { describe, expect, it } from 'vitest';
import { matmul } from '../../../src/engine/kernels/matmul/matmul.ts';
import { matmulRef } from '../../../src/engine/kernels/matmul/reference.ts';
import { expectClose } from '../../helpers/close.ts';
import { makeRng, normal } from '../../helpers/random.ts';
import { testGpu } from '../setup.ts';

// f32 dot products of length K with O(1) inputs: error grows ~sqrt(K)·eps·|terms|; 1e-5·K^0.5 abs.
const tol = (K: number) => ({ atol: 2e-6 * Math.sqrt(K) * 4, rtol: 1e-5 });

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
