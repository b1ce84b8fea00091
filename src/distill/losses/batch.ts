// The layout of one loss evaluation: which logit rows are response positions of which sequence,
// their labels, their teacher rows, and the terms they feed. planLoss() turns it into the per-row
// table the GPU kernels read (weights already divided by the token and sequence counts).
//
// Normalisation (docs/distillation.md): every term is a token mean within a sequence, then a mean
// over the sequences of the batch, each term with its own token count:
//   term_t = 1/B_t · Σ_{s ∈ batch, N_{s,t} > 0} 1/N_{s,t} · Σ_{positions i of s with term t} ℓ_t(i)
// N_{s,t}: positions of s carrying term t (a teacher term skips positions without a teacher row);
// B_t: sequences with N_{s,t} > 0, unless `sequencesPerTerm` fixes it (gradient accumulation over
// micro-batches divides by the optimiser batch). The loss is Σ_t coefficient_t · term_t.
import { ShapeError } from '../../engine/errors.ts';

export type TermKind = 'ce' | 'teacher';

export interface LossTerm {
  /** Reported name, e.g. `sft`, `kl_chosen`, `kl_rejected`, `adpa`. */
  name: string;
  /** `ce`: −ln q(label). `teacher`: the bin loss (or full-vocabulary KL) against the call's teacher. */
  kind: TermKind;
  /** Weight in the loss (ADPA's advantage term has a negative one: L = … − w_adpa·term). */
  coefficient: number;
}

export interface LossSequence {
  /** Logit row of each response position (the row that predicts its label). */
  rows: ArrayLike<number>;
  /** Target token of each position (used by a `ce` term; checked against the vocabulary). */
  labels: ArrayLike<number>;
  /** Row into the call's teacher arrays for each position; −1: no teacher entry, no teacher term there. */
  teacherRows?: ArrayLike<number>;
  /** Index of this sequence's `ce` term in `terms`, if any. */
  ce?: number;
  /** Index of this sequence's `teacher` term in `terms`, if any. */
  teacher?: number;
}

export interface LossBatch {
  /** Rows of the logits tensor [rowCount, vocab]; rows not listed get a zero gradient. */
  rowCount: number;
  vocab: number;
  terms: readonly LossTerm[];
  sequences: readonly LossSequence[];
  /** Teacher rows available (bounds check for teacherRows). */
  teacherRowCount?: number;
  /** B_t per term, overriding the count of sequences that carry it. */
  sequencesPerTerm?: readonly number[];
}

/** Words per row of the table: label, teacher, ceTerm, teacherTerm (i32/u32), ceNorm, teacherNorm, ceCoef, teacherCoef (f32). */
export const ROW_WORDS = 8;
const NO_TERM = 0xffffffff;

export interface LossPlan {
  rowCount: number;
  vocab: number;
  names: string[];
  coefficients: number[];
  /** [rowCount, ROW_WORDS] row table, raw 32-bit words (see ROW_WORDS). */
  table: Uint32Array;
}

function fail(message: string): never {
  throw new ShapeError(`loss batch: ${message}`);
}

/** Token count of each term in each sequence (positions that carry it). */
export function termTokenCounts(s: LossSequence): { ce: number; teacher: number } {
  let teacher = 0;
  if (s.teacher !== undefined) {
    for (let i = 0; i < s.rows.length; i++) if (!s.teacherRows || s.teacherRows[i] >= 0) teacher++;
  }
  return { ce: s.ce !== undefined ? s.rows.length : 0, teacher };
}

/** B_t for every term: the override, or the number of sequences with at least one token of it. */
export function sequencesPerTerm(batch: LossBatch): number[] {
  if (batch.sequencesPerTerm) {
    if (batch.sequencesPerTerm.length !== batch.terms.length) fail(`sequencesPerTerm has ${batch.sequencesPerTerm.length} entries for ${batch.terms.length} terms.`);
    batch.sequencesPerTerm.forEach((b, t) => {
      if (!(b > 0)) fail(`sequencesPerTerm[${t}] must be positive, got ${b}.`);
    });
    return [...batch.sequencesPerTerm];
  }
  const counts = batch.terms.map(() => 0);
  for (const s of batch.sequences) {
    const n = termTokenCounts(s);
    if (s.ce !== undefined && n.ce > 0) counts[s.ce]++;
    if (s.teacher !== undefined && n.teacher > 0) counts[s.teacher]++;
  }
  return counts;
}

/** Validate a batch layout (names what is wrong). */
export function checkBatch(batch: LossBatch): void {
  const { rowCount, vocab, terms } = batch;
  if (!Number.isInteger(rowCount) || rowCount < 0) fail(`rowCount ${rowCount} is not a count.`);
  if (!Number.isInteger(vocab) || vocab < 1) fail(`vocab ${vocab} is not a vocabulary size.`);
  terms.forEach((t, i) => {
    if (!Number.isFinite(t.coefficient)) fail(`term ${i} ("${t.name}") has coefficient ${t.coefficient}.`);
  });
  const seen = new Uint8Array(rowCount);
  batch.sequences.forEach((s, si) => {
    const where = `sequence ${si}`;
    if (s.labels.length !== s.rows.length) fail(`${where} has ${s.rows.length} rows and ${s.labels.length} labels.`);
    if (s.teacherRows && s.teacherRows.length !== s.rows.length) fail(`${where} has ${s.rows.length} rows and ${s.teacherRows.length} teacher rows.`);
    if (s.ce !== undefined && terms[s.ce]?.kind !== 'ce') fail(`${where}: ce term ${s.ce} is not a "ce" term.`);
    if (s.teacher !== undefined && terms[s.teacher]?.kind !== 'teacher') fail(`${where}: teacher term ${s.teacher} is not a "teacher" term.`);
    if (s.teacher !== undefined && !s.teacherRows) fail(`${where} has a teacher term but no teacherRows.`);
    for (let i = 0; i < s.rows.length; i++) {
      const r = s.rows[i];
      if (!Number.isInteger(r) || r < 0 || r >= rowCount) fail(`${where} position ${i}: row ${r} is outside [0, ${rowCount}).`);
      if (seen[r]) fail(`${where} position ${i}: row ${r} belongs to two positions.`);
      seen[r] = 1;
      const y = s.labels[i];
      if (s.ce !== undefined && (!Number.isInteger(y) || y < 0 || y >= vocab)) {
        fail(`${where} position ${i}: label ${y} is outside the vocabulary [0, ${vocab}).`);
      }
      const tr = s.teacherRows?.[i] ?? -1;
      if (!Number.isInteger(tr) || tr < -1 || (batch.teacherRowCount !== undefined && tr >= batch.teacherRowCount)) {
        fail(`${where} position ${i}: teacher row ${tr} is outside [-1, ${batch.teacherRowCount ?? '∞'}).`);
      }
    }
  });
}

/** Build the per-row table of a batch (after checking it). */
export function planLoss(batch: LossBatch): LossPlan {
  checkBatch(batch);
  const perTerm = sequencesPerTerm(batch);
  const buffer = new ArrayBuffer(batch.rowCount * ROW_WORDS * 4);
  const i32 = new Int32Array(buffer);
  const u32 = new Uint32Array(buffer);
  const f32 = new Float32Array(buffer);
  for (let r = 0; r < batch.rowCount; r++) {
    i32[r * ROW_WORDS] = -1;
    i32[r * ROW_WORDS + 1] = -1;
    u32[r * ROW_WORDS + 2] = NO_TERM;
    u32[r * ROW_WORDS + 3] = NO_TERM;
  }
  for (const s of batch.sequences) {
    const n = termTokenCounts(s);
    const ceNorm = s.ce !== undefined && n.ce > 0 ? 1 / (n.ce * perTerm[s.ce]) : 0;
    const tNorm = s.teacher !== undefined && n.teacher > 0 ? 1 / (n.teacher * perTerm[s.teacher]) : 0;
    for (let i = 0; i < s.rows.length; i++) {
      const o = s.rows[i] * ROW_WORDS;
      if (s.ce !== undefined) {
        i32[o] = s.labels[i];
        u32[o + 2] = s.ce;
        f32[o + 4] = ceNorm;
        f32[o + 6] = batch.terms[s.ce].coefficient;
      }
      const tr = s.teacherRows?.[i] ?? -1;
      if (s.teacher !== undefined && tr >= 0) {
        i32[o + 1] = tr;
        u32[o + 3] = s.teacher;
        f32[o + 5] = tNorm;
        f32[o + 7] = batch.terms[s.teacher].coefficient;
      }
    }
  }
  return {
    rowCount: batch.rowCount,
    vocab: batch.vocab,
    names: batch.terms.map((t) => t.name),
    coefficients: batch.terms.map((t) => t.coefficient),
    table: u32,
  };
}

/** The loss from per-term values: Σ coefficient · term. */
export function totalLoss(coefficients: readonly number[], terms: ArrayLike<number>): number {
  let loss = 0;
  for (let t = 0; t < coefficients.length; t++) loss += coefficients[t] * terms[t];
  return loss;
}

/** Rows [start, end) of a plan (weights stay those of the whole batch): for logits processed in row chunks. */
export function slicePlan(plan: LossPlan, start: number, end: number): LossPlan {
  if (!(start >= 0 && start <= end && end <= plan.rowCount)) throw new ShapeError(`slicePlan: rows [${start}, ${end}) outside [0, ${plan.rowCount}).`);
  return { ...plan, rowCount: end - start, table: plan.table.subarray(start * ROW_WORDS, end * ROW_WORDS) };
}
