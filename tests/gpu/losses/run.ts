// Run a loss problem on the GPU and compare with the f64 reference.
import { computeLoss, readLoss, releaseTeacher, uploadTeacher } from '../../../src/distill/losses/compute.ts';
import { planLoss } from '../../../src/distill/losses/batch.ts';
import type { BinMode, LossOptions } from '../../../src/distill/losses/definitions.ts';
import { lossReference, type ReferenceResult } from '../../../src/distill/losses/reference.ts';
import type { Gpu } from '../../../src/engine/gpu.ts';
import { expect } from 'vitest';
import { expectClose } from '../../helpers/close.ts';
import type { Problem } from '../../unit/distill/loss-data.ts';

export interface GpuResult {
  terms: Float32Array;
  loss: number;
  grad: Float32Array;
}

export async function runOnGpu(gpu: Gpu, pr: Problem, divergence?: BinMode, options?: LossOptions, separateGrad = false): Promise<GpuResult> {
  const plan = planLoss(pr.batch);
  const logits = gpu.upload(pr.logits, [pr.batch.rowCount, pr.batch.vocab], 'f32', 'test.logits');
  const teacher = pr.teacher ? uploadTeacher(gpu, pr.teacher) : undefined;
  const grad = separateGrad ? gpu.empty(logits.shape, 'f32', 'test.grad') : undefined;
  const out = computeLoss(gpu, { logits, plan, teacher, divergence, options, grad });
  const values = await readLoss(gpu, out);
  const g = await gpu.readF32(out.grad);
  const terms = await gpu.readF32(out.terms);
  if (separateGrad) {
    // The logits must be untouched when a separate gradient tensor is given.
    const back = await gpu.readF32(logits);
    if (back.some((x, i) => x !== pr.logits[i])) throw new Error('computeLoss with `grad` modified the logits.');
    grad?.release();
  }
  logits.release();
  out.terms.release();
  if (teacher) releaseTeacher(teacher);
  return { terms, loss: values.loss, grad: g };
}

export function reference(pr: Problem, divergence?: BinMode, options?: LossOptions): ReferenceResult {
  return lossReference({ logits: pr.logits, batch: pr.batch, teacher: pr.teacher, divergence, options });
}

// f32 kernel vs f64 reference. Values go through exp/log (WGSL: a few ulp, growing with |z − max|,
// here ≤ 120, so ≤ ~1e-5·|z−max|/100 relative... in practice ≤ 4e-6), an online Σ exp over ≤ 1031
// terms and tree sums over rows (≤ 11 levels, ~1e-6): 1e-5 relative covers both. A gradient element
// is q_j·(w_t (ĝ_j − ḡ) + w_ce) (− w_ce at the label): its f32 error is ~1e-6 of q_j times the
// magnitudes it combines, so each element is held to 1e-5·(|want_j| + q_j·U) with
// U = max_{j ≠ label} |want_j| / q_j, the row's largest gradient per unit of probability.
export const RTOL = 1e-5;

function softmaxRow(z: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let j = 0; j < z.length; j++) m = Math.max(m, z[j]);
  const q = Float64Array.from(z as ArrayLike<number>, (x) => Math.exp(x - m));
  const s = q.reduce((a, b) => a + b, 0);
  return q.map((x) => x / s);
}

export function expectLossClose(got: GpuResult, want: ReferenceResult, pr: Problem, context: string): void {
  expectClose(got.terms, want.terms, { atol: 1e-7, rtol: RTOL }, `${context} terms`);
  expectClose([got.loss], [want.loss], { atol: 1e-7, rtol: RTOL }, `${context} loss`);
  const labelOf = new Map<number, number>();
  for (const s of pr.batch.sequences) if (s.ce !== undefined) for (let i = 0; i < s.rows.length; i++) labelOf.set(s.rows[i], s.labels[i]);
  expectGradClose(got.grad, want.grad, pr.logits, pr.batch.vocab, (r) => labelOf.get(r) ?? -1, context);
}

/** Per element: |got − want| ≤ RTOL·(|want| + q_j·U_row), U_row = max_{j ≠ label} |want_j| / q_j. */
export function expectGradClose(got: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> }, want: Float64Array | Float32Array, logits: Float32Array, V: number, labelOfRow: (r: number) => number, context: string): void {
  const rows = logits.length / V;
  for (let r = 0; r < rows; r++) {
    const w = want.subarray(r * V, (r + 1) * V);
    const g = got.subarray(r * V, (r + 1) * V);
    const q = softmaxRow(logits.subarray(r * V, (r + 1) * V));
    const y = labelOfRow(r);
    let U = 0;
    for (let j = 0; j < V; j++) if (j !== y && q[j] > 0) U = Math.max(U, Math.abs(w[j]) / q[j]);
    let worst = 0;
    let at = -1;
    for (let j = 0; j < V; j++) {
      const excess = Math.abs(g[j] - w[j]) / (RTOL * (Math.abs(w[j]) + q[j] * U) + 1e-38);
      if (!(excess <= worst)) {
        worst = excess;
        at = j;
      }
    }
    expect(worst <= 1, `${context} grad row ${r}: element ${at} got ${g[at]}, want ${w[at]} (q=${q[at]}, U=${U}), ${worst.toFixed(2)}× the tolerance`).toBe(true);
  }
}
