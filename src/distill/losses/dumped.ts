// Dumped logits and labels (as another implementation writes them) -> one loss batch, for the
// `student-lab loss` parity command.
//
// A part is one set of sequences: logits [T, V] or [B, T, V], labels [T] or [B, T] where
// labels[i] is the target of logits row i (the shift already applied) and −100 marks ignored
// positions. Sequences: each row of [B, T] labels; with [T] labels, the examples of the part's
// cache (one sequence without a cache). A cache's positions map in order onto the non-ignored
// positions, and its tokens must equal those labels. Parts are concatenated row-wise.
import { ShapeError } from '../../engine/errors.ts';
import { TeacherCacheMismatchError, type TeacherCache } from '../../formats/teacher-cache.ts';
import type { LossBatch, LossSequence, LossTerm } from './batch.ts';
import { gatherTeacher, type TeacherHost } from './teacher.ts';

export const IGNORE_INDEX = -100;

export interface DumpedPart {
  /** Where the labels came from (for messages). */
  file: string;
  logits: Float32Array;
  logitsShape: readonly number[];
  labels: Int32Array;
  labelsShape: readonly number[];
  cache?: TeacherCache;
  cacheFile?: string;
  /** Term indices of this part's sequences. */
  ce?: number;
  teacher?: number;
}

export interface DumpedBatch {
  batch: LossBatch;
  /** All parts' logits, concatenated: [rows, vocab]. */
  logits: Float32Array;
  teacher?: TeacherHost;
  /** First logit row of each part. */
  rowOffsets: number[];
}

function vocabOf(p: DumpedPart): number {
  const s = p.logitsShape;
  const lead = s.slice(0, -1);
  if ((s.length !== 2 && s.length !== 3) || lead.length !== p.labelsShape.length || lead.some((d, i) => d !== p.labelsShape[i])) {
    throw new ShapeError(`${p.file}: labels [${p.labelsShape.join(', ')}] do not match logits [${s.join(', ')}] (expected labels [T] with logits [T, V], or [B, T] with [B, T, V]).`);
  }
  return s[s.length - 1];
}

/** The part's sequences: per batch row, or per cache example, each a list of flat label indices. */
function groups(p: DumpedPart, V: number): number[][] {
  const labelled: number[] = [];
  for (let i = 0; i < p.labels.length; i++) {
    const y = p.labels[i];
    if (y === IGNORE_INDEX) continue;
    if (!(y >= 0 && y < V)) throw new ShapeError(`${p.file}: label ${y} at position ${i} is outside the vocabulary [0, ${V}) (use ${IGNORE_INDEX} for ignored positions).`);
    labelled.push(i);
  }
  const c = p.cache;
  const where = p.cacheFile ?? 'teacher cache';
  if (c && c.tokens.length !== labelled.length) {
    throw new TeacherCacheMismatchError(where, `has ${c.tokens.length} positions, ${p.file} has ${labelled.length} labelled (non-ignored) positions.`, 'The cache positions map in order onto the labels that are not -100.');
  }
  if (p.labelsShape.length === 2) {
    const [B, T] = p.labelsShape;
    const rows: number[][] = Array.from({ length: B }, () => []);
    for (const i of labelled) rows[Math.floor(i / T)].push(i);
    if (c) {
      const E = c.meta.exampleIds.length;
      if (E !== B) throw new TeacherCacheMismatchError(where, `has ${E} examples, ${p.file} has ${B} sequences (one example per row).`);
      rows.forEach((r, b) => {
        const n = c.exampleOffsets[b + 1] - c.exampleOffsets[b];
        if (n !== r.length) throw new TeacherCacheMismatchError(where, `example ${b} ("${c.meta.exampleIds[b]}") has ${n} positions, row ${b} of ${p.file} has ${r.length} labelled positions.`);
      });
    }
    return rows;
  }
  if (!c) return [labelled];
  const E = c.meta.exampleIds.length;
  return Array.from({ length: E }, (_, e) => labelled.slice(c.exampleOffsets[e], c.exampleOffsets[e + 1]));
}

/** Teacher rows of several caches, concatenated; narrower ones padded with id −1 (outside the vocabulary: rest bin, mass 0). */
function concatTeachers(parts: TeacherHost[]): TeacherHost | undefined {
  if (parts.length === 0) return undefined;
  const kind = parts[0].kind;
  if (kind === 'logits' || parts.some((t) => t.kind !== kind)) throw new ShapeError('the caches of one loss must all hold probabilities or all advantages.');
  const K = Math.max(...parts.map((t) => (t.kind === 'logits' ? 0 : t.k)));
  const rows = parts.reduce((n, t) => n + (t.kind === 'logits' ? 0 : t.ids.length / t.k), 0);
  const ids = new Int32Array(rows * K).fill(-1);
  const values = new Float32Array(rows * K);
  const rest = new Float32Array(rows);
  let r0 = 0;
  for (const t of parts) {
    if (t.kind === 'logits') continue;
    const n = t.ids.length / t.k;
    const v = t.kind === 'probs' ? t.probs : t.advantage;
    for (let r = 0; r < n; r++) {
      ids.set(t.ids.subarray(r * t.k, (r + 1) * t.k), (r0 + r) * K);
      values.set(v.subarray(r * t.k, (r + 1) * t.k), (r0 + r) * K);
    }
    if (t.kind === 'probs') rest.set(t.rest, r0);
    r0 += n;
  }
  return kind === 'probs' ? { kind, k: K, ids, probs: values, rest } : { kind: 'advantage', k: K, ids, advantage: values };
}

export function assembleDumped(parts: readonly DumpedPart[], terms: readonly LossTerm[]): DumpedBatch {
  const V = vocabOf(parts[0]);
  const sequences: LossSequence[] = [];
  const teachers: TeacherHost[] = [];
  const rowOffsets: number[] = [];
  let rows = 0;
  let teacherRows = 0;
  for (const p of parts) {
    const v = vocabOf(p);
    if (v !== V) throw new ShapeError(`${p.file}: logits have ${v} columns, the first part ${V}.`);
    rowOffsets.push(rows);
    const c = p.teacher !== undefined ? p.cache : undefined;
    if (p.teacher !== undefined && !c) throw new ShapeError(`${p.file}: this part needs a teacher cache.`);
    // rank[i]: how many labelled positions come before i = the cache position of label i.
    const rank = new Int32Array(p.labels.length);
    for (let i = 1; i < rank.length; i++) rank[i] = rank[i - 1] + (p.labels[i - 1] !== IGNORE_INDEX ? 1 : 0);
    for (const g of groups(p, V)) {
      if (g.length === 0) continue;
      sequences.push({
        rows: g.map((i) => rows + i),
        labels: g.map((i) => p.labels[i]),
        teacherRows: c ? g.map((i) => teacherRows + rank[i]) : undefined,
        ce: p.ce,
        teacher: c ? p.teacher : undefined,
      });
    }
    if (c) {
      checkTokens(p);
      teachers.push(gatherTeacher(c, Int32Array.from({ length: c.tokens.length }, (_, t) => t)));
      teacherRows += c.tokens.length;
    }
    rows += p.labels.length;
  }
  const logits = new Float32Array(rows * V);
  parts.forEach((p, i) => logits.set(p.logits, rowOffsets[i] * V));
  const teacher = concatTeachers(teachers);
  return { batch: { rowCount: rows, vocab: V, terms, sequences, teacherRowCount: teacherRows }, logits, teacher, rowOffsets };
}

function checkTokens(p: DumpedPart): void {
  const c = p.cache;
  if (!c) return;
  let t = 0;
  for (let i = 0; i < p.labels.length; i++) {
    if (p.labels[i] === IGNORE_INDEX) continue;
    if (c.tokens[t] !== p.labels[i]) {
      throw new TeacherCacheMismatchError(p.cacheFile ?? 'teacher cache', `position ${t} holds token ${c.tokens[t]}, but the label it maps onto (${p.file}, index ${i}) is ${p.labels[i]}.`);
    }
    t++;
  }
}
