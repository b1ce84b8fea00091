// matmul launcher: C = alpha · op(A) · op(B) (+ bias) (+ C), batched, with transposes as strides.
// A: [...batch, M, K] ([..., K, M] with transA). B: [...batch, K, N] ([..., N, K] with transB), or a
// 2D matrix shared across the batch (weights). Output [...batch, M, N].
import type { Gpu, KernelSource } from '../../gpu.ts';
import { Params } from '../../gpu.ts';
import { ShapeError } from '../../errors.ts';
import { expectDType, shapeString, type Tensor } from '../../tensor.ts';
import naiveCode from './matmul_naive.wgsl?raw';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  /** [N], added to every row. */
  bias?: Tensor;
  /** Write into this tensor; with `accumulate`, add to its contents. */
  out?: Tensor;
  accumulate?: boolean;
}

export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  batch: number;
  broadcastB: boolean;
  outShape: number[];
}

const NAIVE: KernelSource = { name: 'matmul_naive', code: naiveCode };
const WG = 256;

export function matmulShape(a: Tensor, b: Tensor, opts: MatmulOptions = {}): MatmulShape {
  const what = `matmul("${a.label}" ${shapeString(a.shape)}${opts.transA ? 'ᵀ' : ''}, "${b.label}" ${shapeString(b.shape)}${opts.transB ? 'ᵀ' : ''})`;
  if (a.rank < 2 || b.rank < 2) throw new ShapeError(`${what}: both operands need rank ≥ 2.`);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const M = opts.transA ? ac : ar;
  const K = opts.transA ? ar : ac;
  const Kb = opts.transB ? bc : br;
  const N = opts.transB ? br : bc;
  if (K !== Kb) throw new ShapeError(`${what}: inner dimensions differ (${K} vs ${Kb}).`);
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const batch = aBatch.reduce((x, y) => x * y, 1);
  const broadcastB = bBatch.length === 0 || (bBatch.reduce((x, y) => x * y, 1) === 1 && batch !== 1);
  if (!broadcastB && shapeString(aBatch) !== shapeString(bBatch)) {
    throw new ShapeError(`${what}: batch dimensions differ (${shapeString(aBatch)} vs ${shapeString(bBatch)}).`);
  }
  return { M, N, K, batch, broadcastB, outShape: [...aBatch, M, N] };
}

export function matmul(gpu: Gpu, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  expectDType('matmul', 'a', a, 'f32');
  expectDType('matmul', 'b', b, 'f32');
  const s = matmulShape(a, b, opts);
  const out = opts.out ?? gpu.empty(s.outShape, 'f32', 'matmul.out');
  if (out.numel !== s.batch * s.M * s.N) {
    throw new ShapeError(`matmul: out ${shapeString(out.shape)} does not hold ${shapeString(s.outShape)}.`);
  }
  if (opts.accumulate && !opts.out) throw new ShapeError('matmul: accumulate needs an `out` tensor to add to.');
  if (opts.bias && opts.bias.numel !== s.N) {
    throw new ShapeError(`matmul: bias ${shapeString(opts.bias.shape)} does not match N=${s.N}.`);
  }
  if (out.buffer === a.buffer || out.buffer === b.buffer) throw new ShapeError('matmul: out must not alias an input.');
  if (out.numel === 0) return out;
  const { M, N, K, batch } = s;
  const sam = opts.transA ? 1 : K;
  const sak = opts.transA ? M : 1;
  const sbk = opts.transB ? 1 : N;
  const sbn = opts.transB ? K : 1;
  gpu.run({
    kernel: NAIVE,
    constants: { WG, ACCUMULATE: opts.accumulate ? 1 : 0, HAS_BIAS: opts.bias ? 1 : 0 },
    bindings: [a, b, opts.bias ?? a, out],
    params: new Params()
      .u32(M, N, K, batch, sam, sak, M * K, sbk, sbn, s.broadcastB ? 0 : K * N)
      .f32(opts.alpha ?? 1),
    workgroups: gpu.grid(Math.ceil((batch * M * N) / WG)),
  });
  return out;
}
