// matmul launcher: C = alpha · op(A) · op(B) (+ bias) (+ C), batched, with transposes as strides.
// A: [...batch, M, K] ([..., K, M] with transA). B: [...batch, K, N] ([..., N, K] with transB), or a
// 2D matrix shared across the batch (weights). Output [...batch, M, N].
//
// Three kernels share one parameter block (matmul_common.wgsl) and one of two operand-load preludes
// (vec4 loads when both operands' contiguous dimensions are multiples of 4, scalar loads otherwise):
//   blocked  register blocking, no workgroup memory (WGSL generated per tile: blocked.ts): fastest
//            on CPU rasterisers (llvmpipe, SwiftShader)
//   tiled    64×64 workgroup tiles staged in workgroup memory: the classic layout for real GPUs
//   gemv     M = 1 (decode): invocations split K and reduce in workgroup memory, for real GPUs
// `matmul` picks per device (pickMatmulVariant, or a measured choice: calibrate.ts); `matmulWith`
// runs a named one (tests, benchmarks).
import type { Gpu, KernelSource } from '../../gpu.ts';
import { Params } from '../../gpu.ts';
import { ShapeError } from '../../errors.ts';
import { expectDType, shapeString, type Tensor } from '../../tensor.ts';
import loadsVec4 from './loads_vec4.wgsl?raw';
import loadsScalar from './loads_scalar.wgsl?raw';
import common from './matmul_common.wgsl?raw';
import tiledBody from './matmul_tiled.wgsl?raw';
import gemvBody from './matmul_gemv.wgsl?raw';
import { blockedBody, type BlockedTile } from './blocked.ts';

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

export type MatmulVariant = 'blocked' | 'tiled' | 'gemv';

type Loads = 'vec4' | 'scalar';
const PRELUDE: Record<Loads, string> = { vec4: loadsVec4, scalar: loadsScalar };

/** Register-blocked tile per M, and invocations per workgroup (WG). */
interface BlockedConfig extends BlockedTile {
  WG: number;
}

function blockedConfig(M: number): BlockedConfig {
  if (M === 1) return { TM: 1, TN: 8, WG: 64 };
  if (M <= 4) return { TM: 4, TN: 8, WG: 32 };
  return { TM: 16, TN: 8, WG: 16 };
}

// matmul_common.wgsl: flags (runtime, so bias and accumulation do not multiply the pipelines)
const FLAG_BIAS = 1;
const FLAG_ACCUMULATE = 2;
const TILE = 64; // matmul_tiled.wgsl: T
const GEMV_WG = 64;
const GEMV_COLS = 4; // outputs per gemv workgroup

const sources = new Map<string, KernelSource>();

function source(variant: MatmulVariant, loads: Loads, transA: boolean, transB: boolean, tile?: BlockedTile): KernelSource {
  const name = tile
    ? `matmul_blocked_${tile.TM}x${tile.TN}${transA ? '_tA' : ''}${transB ? '_tB' : ''}/${loads}`
    : `matmul_${variant}/${loads}`;
  let src = sources.get(name);
  if (!src) {
    const body = tile ? blockedBody(tile, transA, transB) : variant === 'tiled' ? tiledBody : gemvBody;
    src = { name, code: `${PRELUDE[loads]}\n${common}\n${body}` };
    sources.set(name, src);
  }
  return src;
}

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

/** Variants chosen by measurement on a device (calibrate.ts), per product kind. */
export interface MatmulChoice {
  /** for M > 1 */
  rows: 'blocked' | 'tiled';
  /** for single rows (M = 1, decode) */
  row: 'blocked' | 'gemv';
}

const chosen = new WeakMap<Gpu, MatmulChoice>();

/** Record a measured choice for this Gpu (see calibrateMatmul); `matmul` follows it from then on. */
export function setMatmulChoice(gpu: Gpu, choice: MatmulChoice): void {
  chosen.set(gpu, choice);
}

/**
 * The variant `matmul` runs for this shape on this device: the measured choice when calibrateMatmul
 * ran, else by adapter kind (browsers may hide the adapter's name, so calibrating is better there).
 */
export function pickMatmulVariant(gpu: Gpu, s: MatmulShape, transA = false): MatmulVariant {
  const single = problemOf(s, transA).M === 1;
  const choice = chosen.get(gpu);
  if (choice) return single ? choice.row : choice.rows;
  if (gpu.isSoftware) return 'blocked';
  return single ? 'gemv' : 'tiled';
}

export function matmul(gpu: Gpu, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  return matmulWith(gpu, pickMatmulVariant(gpu, matmulShape(a, b, opts), opts.transA), a, b, opts);
}

/** matmul with a chosen kernel variant ('gemv' needs M = 1 per batch entry). */
export function matmulWith(gpu: Gpu, variant: MatmulVariant, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  expectDType('matmul', 'a', a, 'f32');
  expectDType('matmul', 'b', b, 'f32');
  const s = matmulShape(a, b, opts);
  if (opts.accumulate && !opts.out) throw new ShapeError('matmul: accumulate needs an `out` tensor to add to.');
  if (opts.out && opts.out.numel !== s.batch * s.M * s.N) {
    throw new ShapeError(`matmul: out "${opts.out.label}" ${shapeString(opts.out.shape)} does not hold ${shapeString(s.outShape)}.`);
  }
  if (opts.out) expectDType('matmul', 'out', opts.out, 'f32');
  if (opts.bias) {
    expectDType('matmul', 'bias', opts.bias, 'f32');
    if (opts.bias.numel !== s.N) throw new ShapeError(`matmul: bias "${opts.bias.label}" ${shapeString(opts.bias.shape)} does not match N=${s.N}.`);
  }
  if (opts.out && [a, b, opts.bias].some((t) => t && t.buffer === opts.out!.buffer)) {
    throw new ShapeError(`matmul: out "${opts.out.label}" must not share a buffer with an input.`);
  }
  const out = opts.out ?? gpu.empty(s.outShape, 'f32', 'matmul.out');
  if (out.numel === 0) return out;
  if (s.K === 0) {
    throw new ShapeError(`matmul: inner dimension K is 0 for ${shapeString(s.outShape)}.`, 'Skip the product (its sum is empty) or fill the output directly.');
  }
  const prob = problemOf(s, opts.transA ?? false);
  if (variant === 'gemv' && prob.M !== 1) {
    throw new ShapeError(`matmul: the gemv variant needs one row per batch entry, got M=${s.M} (batch ${s.batch}).`);
  }
  const transA = (opts.transA ?? false) && prob.M > 1; // a 1×K row and a K×1 column are the same memory
  const transB = opts.transB ?? false;
  const loads: Loads = (transA ? prob.M : prob.K) % 4 === 0 && (transB ? prob.K : prob.N) % 4 === 0 ? 'vec4' : 'scalar';
  let kernel: KernelSource;
  let tilesM: number;
  let tilesN: number;
  let constants: Record<string, number> = {};
  if (variant === 'blocked') {
    const cfg = blockedConfig(prob.M);
    kernel = source('blocked', loads, transA, transB, cfg);
    tilesM = Math.ceil(prob.M / cfg.TM);
    tilesN = Math.ceil(prob.N / (cfg.TN * cfg.WG));
    constants = { WG: cfg.WG };
  } else if (variant === 'tiled') {
    kernel = source('tiled', loads, transA, transB);
    tilesM = Math.ceil(prob.M / TILE);
    tilesN = Math.ceil(prob.N / TILE);
  } else {
    kernel = source('gemv', loads, transA, transB);
    tilesM = 1;
    tilesN = Math.ceil(prob.N / GEMV_COLS);
    constants = { WG: GEMV_WG };
  }
  gpu.run({
    kernel,
    constants: { ...constants, TRANS_A: +transA, TRANS_B: +transB },
    bindings: [a, b, opts.bias ?? a, out],
    params: new Params()
      .u32(prob.M, prob.N, prob.K, prob.batch, prob.M * prob.K, s.broadcastB ? 0 : prob.K * prob.N, tilesM, tilesN)
      .f32(opts.alpha ?? 1)
      .u32((opts.bias ? FLAG_BIAS : 0) | (opts.accumulate ? FLAG_ACCUMULATE : 0)),
    workgroups: gpu.grid(tilesM * tilesN * prob.batch),
  });
  return out;
}

/**
 * The problem the kernels see: a batch that shares B and keeps A untransposed is one taller matrix
 * ([batch·M, K] · [K, N]), which tiles better and turns batched decode rows into one GEMM.
 */
function problemOf(s: MatmulShape, transA: boolean): { M: number; N: number; K: number; batch: number } {
  if (s.broadcastB && !transA && s.batch > 1) return { M: s.batch * s.M, N: s.N, K: s.K, batch: 1 };
  return { M: s.M, N: s.N, K: s.K, batch: s.batch };
}
