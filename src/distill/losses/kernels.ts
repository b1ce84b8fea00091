// Launchers of the loss kernels: shapes and dtypes checked here, then one dispatch each.
//   binnedLoss   — K+1-bin losses (divergences, ADPA) + CE, gradient in place   (loss.wgsl)
//   fullKlLoss   — full-vocabulary forward KL + CE, gradient in place            (full-kl.wgsl)
//   reduceTerms  — per-row partials -> per-term sums                              (reduce-terms.wgsl)
// The row table ([P, ROW_WORDS] u32, from planLoss) says, per logit row, its label, teacher row,
// terms and weights; partials [P, 2] f32 receives each row's ce and teacher values (already scaled
// by their norms), which reduceTerms sums per term on the GPU.
import type { Gpu, KernelSource } from '../../engine/gpu.ts';
import { Params } from '../../engine/gpu.ts';
import { ShapeError } from '../../engine/errors.ts';
import { expectDType, expectShape, type Tensor } from '../../engine/tensor.ts';
import { ROW_WORDS } from './batch.ts';
import type { ResolvedBinMode, BinMode } from './definitions.ts';
import common from './common.wgsl?raw';
import lossCode from './loss.wgsl?raw';
import fullKlCode from './full-kl.wgsl?raw';
import reduceCode from './reduce-terms.wgsl?raw';

const BINNED: KernelSource = { name: 'loss_bins', code: common + lossCode };
const FULL_KL: KernelSource = { name: 'loss_full_kl', code: common + fullKlCode };
const REDUCE: KernelSource = { name: 'loss_reduce_terms', code: common + reduceCode };
const WG = 256;
/** Largest K: one slot per invocation, and the workgroup hash set (512 entries) at most half full. */
export const MAX_K = 256;

const MODE_CODES: Record<BinMode, number> = { fkl: 0, rkl: 1, 'skew-fkl': 2, 'skew-rkl': 3, jsd: 4, tvd: 5, adpa: 6 };

/** Teacher tensors on the device; row c is what the row table's teacher field points at. */
export type TeacherGpu =
  | { kind: 'probs'; k: number; ids: Tensor; probs: Tensor; rest: Tensor }
  | { kind: 'advantage'; k: number; ids: Tensor; advantage: Tensor }
  | { kind: 'logits'; logits: Tensor };

function checkRows(op: string, logits: Tensor, rows: Tensor, partials: Tensor): [number, number] {
  expectDType(op, 'logits', logits, 'f32');
  expectShape(op, 'logits', logits, [null, null]);
  const [P, V] = logits.shape;
  expectDType(op, 'rows', rows, 'u32');
  expectShape(op, 'rows', rows, [P, ROW_WORDS]);
  expectDType(op, 'partials', partials, 'f32');
  expectShape(op, 'partials', partials, [P, 2]);
  return [P, V];
}

const dummies = new WeakMap<Gpu, { i32: Tensor; f32: Tensor }>();
/** One-element stand-ins for the teacher bindings of a batch without a binned teacher. */
function dummy(gpu: Gpu): { i32: Tensor; f32: Tensor } {
  let d = dummies.get(gpu);
  if (!d) {
    d = { i32: gpu.upload(new Int32Array([-1]), [1], 'i32', 'loss.no-teacher.ids'), f32: gpu.upload(new Float32Array(1), [1], 'f32', 'loss.no-teacher.vals') };
    dummies.set(gpu, d);
  }
  return d;
}

export interface BinnedLossArgs {
  /** f32 [P, V]: read, then overwritten with ∂loss/∂logits. */
  logits: Tensor;
  rows: Tensor;
  partials: Tensor;
  /** A binned teacher (probs or advantage), or none for CE-only batches. */
  teacher?: Extract<TeacherGpu, { kind: 'probs' | 'advantage' }>;
  mode: ResolvedBinMode;
}

export function binnedLoss(gpu: Gpu, a: BinnedLossArgs): void {
  const op = 'binnedLoss';
  const [P, V] = checkRows(op, a.logits, a.rows, a.partials);
  let ids: Tensor, vals: Tensor, rest: Tensor, K: number;
  if (a.teacher) {
    K = a.teacher.k;
    if (!Number.isInteger(K) || K < 1 || K > MAX_K) throw new ShapeError(`${op}: K = ${K} slots per row; the kernel handles 1 to ${MAX_K}.`);
    ids = a.teacher.ids;
    vals = a.teacher.kind === 'probs' ? a.teacher.probs : a.teacher.advantage;
    expectDType(op, 'teacher ids', ids, 'i32');
    expectShape(op, 'teacher ids', ids, [null, K]);
    expectDType(op, 'teacher values', vals, 'f32');
    expectShape(op, 'teacher values', vals, [ids.shape[0], K]);
    if (a.teacher.kind === 'probs') {
      rest = a.teacher.rest;
      expectDType(op, 'teacher rest', rest, 'f32');
      expectShape(op, 'teacher rest', rest, [ids.shape[0]]);
    } else rest = dummy(gpu).f32;
    if ((a.teacher.kind === 'advantage') !== (a.mode.mode === 'adpa')) {
      throw new ShapeError(`${op}: a ${a.teacher.kind} teacher cannot run the ${a.mode.mode} loss (ADPA needs an advantage cache, divergences a probability cache).`);
    }
  } else {
    const d = dummy(gpu);
    [ids, vals, rest, K] = [d.i32, d.f32, d.f32, 1];
  }
  if (P === 0) return;
  gpu.run({
    kernel: BINNED,
    constants: { WG, MODE: MODE_CODES[a.mode.mode] },
    bindings: [a.logits, a.rows, ids, vals, rest, a.partials],
    params: new Params().u32(P, V, K, a.mode.signedAdvantage ? 1 : 0).f32(a.mode.param),
    workgroups: gpu.grid(P),
  });
}

export interface FullKlLossArgs {
  logits: Tensor;
  rows: Tensor;
  partials: Tensor;
  /** f32 [C, V] teacher logits. */
  teacherLogits: Tensor;
}

export function fullKlLoss(gpu: Gpu, a: FullKlLossArgs): void {
  const op = 'fullKlLoss';
  const [P, V] = checkRows(op, a.logits, a.rows, a.partials);
  expectDType(op, 'teacher logits', a.teacherLogits, 'f32');
  expectShape(op, 'teacher logits', a.teacherLogits, [null, V]);
  if (P === 0) return;
  gpu.run({
    kernel: FULL_KL,
    constants: { WG },
    bindings: [a.logits, a.rows, a.teacherLogits, a.partials],
    params: new Params().u32(P, V),
    workgroups: gpu.grid(P),
  });
}

/** terms[t] (+)= Σ partials of the rows feeding term t. */
export function reduceTerms(gpu: Gpu, partials: Tensor, rows: Tensor, terms: Tensor, accumulate: boolean): void {
  const op = 'reduceTerms';
  expectDType(op, 'partials', partials, 'f32');
  expectShape(op, 'partials', partials, [null, 2]);
  expectDType(op, 'rows', rows, 'u32');
  expectShape(op, 'rows', rows, [partials.shape[0], ROW_WORDS]);
  expectDType(op, 'terms', terms, 'f32');
  expectShape(op, 'terms', terms, [null]);
  const T = terms.shape[0];
  if (T === 0) return;
  if (T > (gpu.limits.maxComputeWorkgroupsPerDimension || 65535)) throw new ShapeError(`${op}: ${T} terms is too many.`);
  gpu.run({
    kernel: REDUCE,
    constants: { WG },
    bindings: [partials, rows, terms],
    params: new Params().u32(partials.shape[0], T, accumulate ? 1 : 0),
    workgroups: [T],
  });
}
