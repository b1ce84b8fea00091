// Teacher data of one loss evaluation, on the host: the rows of a teacher cache gathered for the
// batch (top-K ids with probabilities and rest mass, or with advantages), or full teacher logits.
// Row c of these arrays is what LossSequence.teacherRows points at.
import { ShapeError } from '../../engine/errors.ts';
import { float16ToFloat32 } from '../../engine/f16.ts';
import type { TeacherCache } from '../../formats/teacher-cache.ts';

export type TeacherHost =
  | {
      kind: 'probs';
      /** Slots per row. */
      k: number;
      /** [C, K] top-K ids, descending probability; ids >= the student's vocabulary count in the rest bin. */
      ids: Int32Array;
      /** [C, K] teacher probabilities. */
      probs: Float32Array;
      /** [C] remaining mass 1 − Σ probs. */
      rest: Float32Array;
    }
  | {
      kind: 'advantage';
      k: number;
      /** [C, K] the DPO teacher's top-K ids (ordered by descending advantage). */
      ids: Int32Array;
      /** [C, K] Â(k). */
      advantage: Float32Array;
    }
  | {
      kind: 'logits';
      /** Columns per row (the teacher's vocabulary must equal the student's here). */
      vocab: number;
      /** [C, vocab] teacher logits at temperature 1. */
      logits: Float32Array;
    };

/** The number of teacher rows, after checking that the arrays agree with each other. */
export function teacherRows(t: TeacherHost): number {
  const bad = (what: string) => {
    throw new ShapeError(`teacher (${t.kind}): ${what}`);
  };
  if (t.kind === 'logits') {
    if (!(t.vocab >= 1) || t.logits.length % t.vocab !== 0) bad(`logits has ${t.logits.length} values, not a multiple of vocab ${t.vocab}.`);
    return t.logits.length / t.vocab;
  }
  if (!Number.isInteger(t.k) || t.k < 1) bad(`k = ${t.k} is not a slot count.`);
  if (t.ids.length % t.k !== 0) bad(`ids has ${t.ids.length} values, not a multiple of k = ${t.k}.`);
  const rows = t.ids.length / t.k;
  const values = t.kind === 'probs' ? t.probs : t.advantage;
  if (values.length !== t.ids.length) bad(`${t.kind === 'probs' ? 'probs' : 'advantage'} has ${values.length} values, ids ${t.ids.length}.`);
  if (t.kind === 'probs' && t.rest.length !== rows) bad(`rest has ${t.rest.length} values for ${rows} rows.`);
  return rows;
}

/** The rows of a cache at the given positions (row c of the result = cache position positions[c]). */
export function gatherTeacher(cache: TeacherCache, positions: ArrayLike<number>): TeacherHost {
  const K = cache.meta.k;
  const C = positions.length;
  const P = cache.tokens.length;
  const ids = new Int32Array(C * K);
  const values = new Float32Array(C * K);
  const rest = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const t = positions[c];
    if (!Number.isInteger(t) || t < 0 || t >= P) throw new ShapeError(`gatherTeacher: position ${t} is outside the cache's ${P} positions.`);
    ids.set(cache.indices.subarray(t * K, (t + 1) * K), c * K);
    if (cache.kind === 'advantage') values.set(cache.advantage.subarray(t * K, (t + 1) * K), c * K);
    else if (cache.probs.dtype === 'F32') values.set(cache.probs.values.subarray(t * K, (t + 1) * K), c * K);
    else for (let k = 0; k < K; k++) values[c * K + k] = float16ToFloat32(cache.probs.bits[t * K + k]);
    if (cache.kind === 'probs') rest[c] = cache.rest[t];
  }
  return cache.kind === 'probs' ? { kind: 'probs', k: K, ids, probs: values, rest } : { kind: 'advantage', k: K, ids, advantage: values };
}
