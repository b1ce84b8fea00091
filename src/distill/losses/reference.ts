// f64 reference of every loss (value and closed-form gradient with respect to the logits), written
// from docs/distillation.md without any of the kernel's tricks: softmax in f64, the student rest
// bin as one minus the sum over S_t, clamps and floors, then the token mean per sequence and the
// mean over sequences computed directly from the batch layout.
//
// Gradient of a bin loss at one position (g_b = ∂ℓ/∂(bin b), zero where a clamp or floor changed
// the bin; ĝ_j = g_k for j = id_k ∈ S_t, g_rest otherwise; ḡ = Σ_k q_k g_k + (1 − Σ_k q_k)·g_rest):
//   ∂ℓ/∂z_j = q_j (ĝ_j − ḡ).
// CE: ∂/∂z_j [−ln q_y] = q_j − [j = y]. Full-vocabulary KL(p ‖ q): q_j − p_j.
import {
  ADPA_REST_ADVANTAGE,
  binModeFor,
  binTerm,
  clamp,
  clampStudent,
  resolveBinMode,
  teacherValue,
  type BinMode,
  type LossOptions,
  type ResolvedBinMode,
} from './definitions.ts';
import { checkBatch, sequencesPerTerm, termTokenCounts, totalLoss, type LossBatch } from './batch.ts';
import { teacherRows, type TeacherHost } from './teacher.ts';
import { ShapeError } from '../../engine/errors.ts';

export interface ReferenceResult {
  /** Per-term values (token mean per sequence, mean over sequences), in `batch.terms` order. */
  terms: Float64Array;
  /** Σ coefficient · term. */
  loss: number;
  /** ∂loss/∂logits, [rowCount, vocab]. */
  grad: Float64Array;
}

/** softmax of one row in f64 (stable). */
export function softmax64(z: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let j = 0; j < z.length; j++) m = Math.max(m, z[j]);
  const q = new Float64Array(z.length);
  let s = 0;
  for (let j = 0; j < z.length; j++) s += q[j] = Math.exp(z[j] - m);
  for (let j = 0; j < z.length; j++) q[j] /= s;
  return q;
}

/** −ln q(y) and its gradient q − onehot(y), added (times `weight`) into `grad`. */
export function crossEntropy64(z: ArrayLike<number>, y: number, grad?: Float64Array, weight = 1): number {
  let m = -Infinity;
  for (let j = 0; j < z.length; j++) m = Math.max(m, z[j]);
  let s = 0;
  for (let j = 0; j < z.length; j++) s += Math.exp(z[j] - m);
  const lse = m + Math.log(s);
  if (grad) {
    for (let j = 0; j < z.length; j++) grad[j] += weight * Math.exp(z[j] - lse);
    grad[y] -= weight;
  }
  return lse - z[y];
}

/**
 * The bin loss at one position: ids/values are this position's K slots (probabilities or
 * advantages), `rest` the teacher's rest mass (unused for ADPA). Adds weight·∂ℓ/∂z into `grad`.
 */
export function binLoss64(
  z: ArrayLike<number>,
  ids: ArrayLike<number>,
  values: ArrayLike<number>,
  rest: number,
  m: ResolvedBinMode,
  grad?: Float64Array,
  weight = 1,
): number {
  const V = z.length;
  const q = softmax64(z);
  let sumQ = 0;
  let restP = rest;
  const slots: { id: number; P: number }[] = [];
  for (let k = 0; k < ids.length; k++) {
    const id = ids[k];
    if (id >= 0 && id < V) {
      slots.push({ id, P: teacherValue(values[k], m) });
      sumQ += q[id];
    } else if (m.mode !== 'adpa') {
      restP += values[k]; // an id the student does not have: its mass belongs to the rest bin
    }
  }
  const restQ = 1 - sumQ;
  const restTeacher = m.mode === 'adpa' ? ADPA_REST_ADVANTAGE : clamp(restP);

  let value = 0;
  let gBar = 0;
  const gSlot = new Float64Array(slots.length);
  slots.forEach((s, i) => {
    const c = clampStudent(q[s.id], m.mode);
    const t = binTerm(m, s.P, c.value);
    value += t.value;
    gSlot[i] = c.passes ? t.dQ : 0;
    gBar += q[s.id] * gSlot[i];
  });
  const cRest = clampStudent(restQ, m.mode);
  const tRest = binTerm(m, restTeacher, cRest.value);
  value += tRest.value;
  const gRest = cRest.passes ? tRest.dQ : 0;
  gBar += restQ * gRest;

  if (grad) {
    for (let j = 0; j < V; j++) grad[j] += weight * q[j] * (gRest - gBar);
    slots.forEach((s, i) => {
      grad[s.id] += weight * q[s.id] * (gSlot[i] - gRest);
    });
  }
  return value;
}

/** Full-vocabulary forward KL(p ‖ q), p = softmax(teacher logits). Adds weight·(q − p) into `grad`. */
export function fullKl64(z: ArrayLike<number>, t: ArrayLike<number>, grad?: Float64Array, weight = 1): number {
  const q = softmax64(z);
  const p = softmax64(t);
  let value = 0;
  for (let j = 0; j < z.length; j++) {
    if (p[j] > 0) value += p[j] * (Math.log(p[j]) - Math.log(q[j]));
    if (grad) grad[j] += weight * (q[j] - p[j]);
  }
  return value;
}

export interface ReferenceArgs {
  /** [rowCount, vocab] student logits. */
  logits: ArrayLike<number>;
  batch: LossBatch;
  teacher?: TeacherHost;
  /** Divergence of the teacher terms when the teacher holds probabilities (default forward KL). */
  divergence?: BinMode;
  options?: LossOptions;
}

/** Value and gradient of a loss in f64, from the definitions. */
export function lossReference(args: ReferenceArgs): ReferenceResult {
  const { batch, teacher } = args;
  checkBatch(batch);
  const V = batch.vocab;
  if (args.logits.length !== batch.rowCount * V) {
    throw new ShapeError(`logits have ${args.logits.length} values, expected ${batch.rowCount} × ${V}.`);
  }
  const m = resolveBinMode(binModeFor(teacher?.kind, args.divergence), args.options);
  if (teacher) teacherRows(teacher);
  if (teacher?.kind === 'logits' && teacher.vocab !== V) {
    throw new ShapeError(`teacher logits have ${teacher.vocab} columns, the student ${V}: full-vocabulary KL needs one vocabulary.`);
  }
  const B = sequencesPerTerm(batch);
  const terms = new Float64Array(batch.terms.length);
  const grad = new Float64Array(batch.rowCount * V);
  const row = (r: number) => Array.prototype.slice.call(args.logits, r * V, (r + 1) * V) as number[];

  for (const s of batch.sequences) {
    const n = termTokenCounts(s);
    for (let i = 0; i < s.rows.length; i++) {
      const r = s.rows[i];
      const z = row(r);
      const g = grad.subarray(r * V, (r + 1) * V);
      if (s.ce !== undefined) {
        const w = 1 / (n.ce * B[s.ce]);
        terms[s.ce] += w * crossEntropy64(z, s.labels[i], g, w * batch.terms[s.ce].coefficient);
      }
      const tr = s.teacherRows?.[i] ?? -1;
      if (s.teacher !== undefined && tr >= 0) {
        if (!teacher) throw new ShapeError('the batch has a teacher term but no teacher data was given.');
        const w = 1 / (n.teacher * B[s.teacher]);
        const gw = w * batch.terms[s.teacher].coefficient;
        let v: number;
        if (teacher.kind === 'logits') {
          v = fullKl64(z, teacher.logits.subarray(tr * V, (tr + 1) * V), g, gw);
        } else {
          const K = teacher.k;
          const ids = teacher.ids.subarray(tr * K, (tr + 1) * K);
          const values = (teacher.kind === 'probs' ? teacher.probs : teacher.advantage).subarray(tr * K, (tr + 1) * K);
          v = binLoss64(z, ids, values, teacher.kind === 'probs' ? teacher.rest[tr] : 0, m, g, gw);
        }
        terms[s.teacher] += w * v;
      }
    }
  }
  return { terms, loss: totalLoss(batch.terms.map((t) => t.coefficient), terms), grad };
}
