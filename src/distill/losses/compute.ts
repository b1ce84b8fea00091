// The loss API a trainer calls right after the LM head forward:
//
//   const plan = planLoss(batch);                       // host: rows, labels, teacher rows, weights
//   const teacher = uploadTeacher(gpu, gathered);       // the cache rows of this batch
//   const out = computeLoss(gpu, { logits, plan, teacher, divergence: 'fkl' });
//   // logits now hold ∂loss/∂logits; out.terms [T] holds the per-term values (on the GPU)
//   ... backward through the LM head, optimiser step ...
//   const { loss, terms } = await readLoss(gpu, out);   // one readback per step
//
// Nothing here reads back; the per-term sums stay on the device until readLoss.
import type { Gpu } from '../../engine/gpu.ts';
import { ShapeError } from '../../engine/errors.ts';
import { expectShape, type Tensor } from '../../engine/tensor.ts';
import { ROW_WORDS, slicePlan, totalLoss, type LossPlan } from './batch.ts';
import { binModeFor, resolveBinMode, type BinMode, type LossOptions } from './definitions.ts';
import { binnedLoss, fullKlLoss, reduceTerms, type TeacherGpu } from './kernels.ts';
import { teacherRows, type TeacherHost } from './teacher.ts';

/** Upload gathered teacher rows (release with releaseTeacher). */
export function uploadTeacher(gpu: Gpu, t: TeacherHost): TeacherGpu {
  const C = teacherRows(t);
  if (C === 0) throw new ShapeError('teacher: no rows to upload.');
  switch (t.kind) {
    case 'probs':
      return {
        kind: 'probs',
        k: t.k,
        ids: gpu.upload(t.ids, [C, t.k], 'i32', 'teacher.ids'),
        probs: gpu.upload(t.probs, [C, t.k], 'f32', 'teacher.probs'),
        rest: gpu.upload(t.rest, [C], 'f32', 'teacher.rest'),
      };
    case 'advantage':
      return {
        kind: 'advantage',
        k: t.k,
        ids: gpu.upload(t.ids, [C, t.k], 'i32', 'teacher.ids'),
        advantage: gpu.upload(t.advantage, [C, t.k], 'f32', 'teacher.advantage'),
      };
    case 'logits':
      return { kind: 'logits', logits: gpu.upload(t.logits, [C, t.vocab], 'f32', 'teacher.logits') };
  }
}

export function releaseTeacher(t: TeacherGpu): void {
  if (t.kind === 'logits') t.logits.release();
  else {
    t.ids.release();
    (t.kind === 'probs' ? t.probs : t.advantage).release();
    if (t.kind === 'probs') t.rest.release();
  }
}

export interface ComputeLossArgs {
  /** f32 [P, V] student logits of the rows in `plan` (P = plan.rowCount). Overwritten with the gradient unless `grad` is given. */
  logits: Tensor;
  plan: LossPlan;
  teacher?: TeacherGpu;
  /** Divergence of the teacher terms for a probability cache (default 'fkl'); ADPA follows from an advantage cache. */
  divergence?: BinMode;
  options?: LossOptions;
  /** Write ∂loss/∂logits here ([P, V] f32) and leave `logits` untouched. */
  grad?: Tensor;
  /** Per-term sums [T] to write (or add to, with `accumulate`); a new tensor when absent. */
  terms?: Tensor;
  accumulate?: boolean;
}

export interface LossOutput {
  /** [T] per-term values: token mean per sequence, mean over sequences. */
  terms: Tensor;
  names: string[];
  coefficients: number[];
  /** The gradient ∂loss/∂logits ([P, V]): `grad` when given, else `logits`. */
  grad: Tensor;
}

/** Record the loss kernels (no readback): gradient into the logits (or `grad`), per-term sums into `terms`. */
export function computeLoss(gpu: Gpu, a: ComputeLossArgs): LossOutput {
  const { plan } = a;
  const P = plan.rowCount;
  const V = plan.vocab;
  expectShape('computeLoss', 'logits', a.logits, [P, V]);
  const T = plan.names.length;
  const terms = a.terms ?? gpu.empty([Math.max(T, 1)], 'f32', 'loss.terms');
  if (a.terms) expectShape('computeLoss', 'terms', a.terms, [T]);
  let target = a.logits;
  if (a.grad) {
    expectShape('computeLoss', 'grad', a.grad, [P, V]);
    gpu.copy(a.logits, a.grad);
    target = a.grad;
  }
  const mode = resolveBinMode(binModeFor(a.teacher?.kind, a.divergence), a.options);
  const out: LossOutput = { terms, names: plan.names, coefficients: plan.coefficients, grad: target };
  if (P === 0 || T === 0) {
    if (!a.accumulate) gpu.clear(terms);
    return out;
  }
  const rows = gpu.upload(plan.table, [P, ROW_WORDS], 'u32', 'loss.rows');
  const partials = gpu.empty([P, 2], 'f32', 'loss.partials');
  if (a.teacher?.kind === 'logits') fullKlLoss(gpu, { logits: target, rows, partials, teacherLogits: a.teacher.logits });
  else binnedLoss(gpu, { logits: target, rows, partials, teacher: a.teacher, mode });
  reduceTerms(gpu, partials, rows, terms, a.accumulate ?? false);
  // Queue order keeps these valid for the dispatches above; the pool reuses them afterwards.
  rows.release();
  partials.release();
  return out;
}

export interface LossValues {
  loss: number;
  terms: Record<string, number>;
}

/** Read the per-term values back (once per step) and combine them into the loss. */
export async function readLoss(gpu: Gpu, out: Pick<LossOutput, 'terms' | 'names' | 'coefficients'>): Promise<LossValues> {
  const values = await gpu.readF32(out.terms);
  const terms: Record<string, number> = {};
  out.names.forEach((n, t) => {
    terms[n] = values[t];
  });
  return { loss: totalLoss(out.coefficients, values), terms };
}

export interface HostLossArgs {
  /** [plan.rowCount, plan.vocab] logits on the host. */
  logits: Float32Array;
  plan: LossPlan;
  teacher?: TeacherGpu;
  divergence?: BinMode;
  options?: LossOptions;
  /** Rows per dispatch (default: as many as one storage binding holds). */
  maxRows?: number;
}

/**
 * Host logits of any size: uploaded and evaluated in row chunks that fit one storage binding,
 * per-term sums accumulated on the GPU, the gradient read back chunk by chunk (for the CLI).
 */
export async function computeLossOnHost(gpu: Gpu, a: HostLossArgs): Promise<LossValues & { values: number[]; grad: Float32Array }> {
  const { plan } = a;
  const V = plan.vocab;
  const R = plan.rowCount;
  const fit = Math.max(1, Math.floor(gpu.limits.maxStorageBufferBindingSize / (4 * V)));
  const maxRows = Math.min(a.maxRows ?? fit, fit);
  if (plan.names.length === 0) throw new ShapeError('computeLossOnHost: the loss has no terms.');
  const grad = new Float32Array(R * V);
  const terms = gpu.zeros([plan.names.length], 'f32', 'loss.terms');
  for (let r0 = 0; r0 < R; r0 += maxRows) {
    const r1 = Math.min(R, r0 + maxRows);
    const logits = gpu.upload(a.logits.subarray(r0 * V, r1 * V), [r1 - r0, V], 'f32', 'loss.logits');
    computeLoss(gpu, { logits, plan: slicePlan(plan, r0, r1), teacher: a.teacher, divergence: a.divergence, options: a.options, terms, accumulate: true });
    grad.set(await gpu.readF32(logits), r0 * V);
    logits.release();
  }
  const values = await readLoss(gpu, { terms, names: plan.names, coefficients: plan.coefficients });
  terms.release();
  return { ...values, values: plan.names.map((n) => values.terms[n]), grad };
}
