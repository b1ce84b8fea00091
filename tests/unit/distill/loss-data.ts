// Random loss problems for the reference and kernel tests: ragged sequences scattered over the
// logit rows (some rows unused), teacher rows with distinct top-K ids (some >= the vocabulary),
// probabilities with a rest mass, advantages, and switches for clamp-active cases.
import type { LossBatch, LossSequence, LossTerm } from '../../../src/distill/losses/batch.ts';
import type { TeacherHost } from '../../../src/distill/losses/teacher.ts';
import { normal, type Rng } from '../../helpers/random.ts';

export interface ProblemSpec {
  vocab: number;
  k: number;
  /** Response lengths of the sequences (ragged). */
  lengths: number[];
  /** Extra logit rows that belong to no sequence (prompt / padding rows). */
  spareRows?: number;
  /** Teacher kind ('probs' default). */
  teacher?: 'probs' | 'advantage' | 'logits' | 'none';
  /** Terms of each sequence: 'ce', 'teacher' or both (default both). */
  termsOf?: (s: number) => ('ce' | 'teacher')[];
  /** Term index per sequence and kind; default: one ce term (0) and one teacher term (1) for all. */
  terms?: LossTerm[];
  termIndex?: (s: number, kind: 'ce' | 'teacher') => number;
  /** Fraction of positions without a teacher entry. */
  missingTeacher?: number;
  /** Fraction of slots whose id is >= vocab. */
  outOfVocab?: number;
  logitStd?: number;
  /** Make clamps fire: tiny and near-one student probabilities, teacher rest 0 and 1. */
  extremes?: boolean;
}

export interface Problem {
  batch: LossBatch;
  logits: Float32Array;
  teacher?: TeacherHost;
}

function shuffle(rng: Rng, n: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** K distinct ids from [0, vocab), with a fraction replaced by distinct ids >= vocab. */
function distinctIds(rng: Rng, vocab: number, k: number, outOfVocab: number): number[] {
  const chosen = new Set<number>();
  const ids: number[] = [];
  while (ids.length < k) {
    const id = rng.next() < outOfVocab ? vocab + Math.floor(rng.next() * 64) : Math.floor(rng.next() * vocab);
    if (chosen.has(id)) continue;
    chosen.add(id);
    ids.push(id);
  }
  return ids;
}

export function makeProblem(rng: Rng, spec: ProblemSpec): Problem {
  const { vocab: V, k: K, lengths } = spec;
  const positions = lengths.reduce((a, b) => a + b, 0);
  const rowCount = positions + (spec.spareRows ?? 0);
  const order = shuffle(rng, rowCount);
  const logits = normal(rng, rowCount * V, spec.logitStd ?? 2);
  const teacherKind = spec.teacher ?? 'probs';
  const terms: LossTerm[] = spec.terms ?? [
    { name: 'ce', kind: 'ce', coefficient: 0.7 },
    { name: 'teacher', kind: 'teacher', coefficient: teacherKind === 'advantage' ? -1.6 : 1.3 },
  ];
  const termIndex = spec.termIndex ?? ((_s: number, kind: 'ce' | 'teacher') => (kind === 'ce' ? 0 : 1));
  const sequences: LossSequence[] = [];
  let next = 0;
  let teacherRow = 0;
  lengths.forEach((n, s) => {
    const kinds = spec.termsOf?.(s) ?? ['ce', 'teacher'];
    const rows = order.slice(next, next + n);
    next += n;
    const labels = rows.map(() => Math.floor(rng.next() * V));
    const hasTeacher = kinds.includes('teacher') && teacherKind !== 'none';
    const teacherRows = hasTeacher ? rows.map(() => (rng.next() < (spec.missingTeacher ?? 0) ? -1 : teacherRow++)) : undefined;
    sequences.push({
      rows,
      labels,
      teacherRows,
      ce: kinds.includes('ce') ? termIndex(s, 'ce') : undefined,
      teacher: hasTeacher ? termIndex(s, 'teacher') : undefined,
    });
  });
  const C = teacherRow;

  let teacher: TeacherHost | undefined;
  if (teacherKind === 'logits') {
    teacher = { kind: 'logits', vocab: V, logits: normal(rng, Math.max(C, 1) * V, spec.logitStd ?? 2) };
  } else if (teacherKind === 'probs' || teacherKind === 'advantage') {
    const ids = new Int32Array(Math.max(C, 1) * K);
    const probs = new Float32Array(ids.length);
    const rest = new Float32Array(Math.max(C, 1));
    for (let c = 0; c < C; c++) {
      distinctIds(rng, V, K, spec.outOfVocab ?? 0).forEach((id, k) => (ids[c * K + k] = id));
      if (teacherKind === 'advantage') {
        // Advantages in about [-3, 3]: negative ones and ones above 1 exercise the parity clamp.
        for (let k = 0; k < K; k++) probs[c * K + k] = 6 * rng.next() - 3;
        continue;
      }
      const w = Array.from({ length: K + 1 }, () => Math.exp(3 * normal(rng, 1)[0]));
      const total = w.reduce((a, b) => a + b, 0);
      const p = w.map((x) => x / total).slice(0, K).sort((a, b) => b - a);
      p.forEach((x, k) => (probs[c * K + k] = x));
      rest[c] = 1 - p.reduce((a, b) => a + Math.fround(b), 0);
    }
    teacher = teacherKind === 'probs' ? { kind: 'probs', k: K, ids, probs, rest } : { kind: 'advantage', k: K, ids, advantage: probs };
  }

  if (spec.extremes && teacher && teacher.kind !== 'logits') applyExtremes(rng, logits, V, sequences, teacher);
  return { batch: { rowCount, vocab: V, terms, sequences, teacherRowCount: teacher ? teacherRows(teacher) : 0 }, logits, teacher };
}

function teacherRows(t: TeacherHost): number {
  return t.kind === 'logits' ? t.logits.length / t.vocab : t.ids.length / t.k;
}

/**
 * Clamp-active rows, each far from any threshold so f32 and f64 take the same branch:
 *  0 tiny student probabilities (logit −60 on half the cached ids: q < 1e-20, floored);
 *  1 a near-one student probability on a cached id (+60: 1 − q < 1e-20, upper clamp; rest floored);
 *  2 teacher rest 0 (clamped up to 1e-8);  3 teacher rest 1 with zero probabilities (clamped up);
 *  4 a near-one probability outside S_t (the rest bin is upper-clamped, every cached bin floored);
 *  5 floored bins that still carry weight: q in [1e-10, 3e-9] on a third of the cached ids;
 *  6 S_t holds almost all the student mass (+10 on every cached id): a small, exact rest bin;
 *  7 a floored rest bin that still carries weight: 1 − Σ_S q in [1e-10, 3e-9];
 *  8 untouched.
 */
function applyExtremes(rng: Rng, logits: Float32Array, V: number, sequences: LossSequence[], t: Exclude<TeacherHost, { kind: 'logits' }>): void {
  const K = t.k;
  const values = t.kind === 'probs' ? t.probs : t.advantage;
  let caseNo = 0;
  for (const s of sequences) {
    for (let i = 0; i < s.rows.length; i++) {
      const c = s.teacherRows?.[i] ?? -1;
      if (c < 0) continue;
      const row = s.rows[i] * V;
      const kind = caseNo++ % 9;
      const cached = [...Array(K).keys()].map((k) => t.ids[c * K + k]).filter((id) => id < V);
      const pick = <T>(a: T[]) => a[Math.floor(rng.next() * a.length)];
      if (kind === 0) {
        cached.filter((_, n) => n % 2 === 0).forEach((id) => (logits[row + id] = -60));
      } else if (kind === 1 && cached.length > 0) {
        logits[row + pick(cached)] = 60;
      } else if (kind === 2 && t.kind === 'probs') {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += values[c * K + k];
        for (let k = 0; k < K; k++) values[c * K + k] /= sum;
        t.rest[c] = 0;
      } else if (kind === 3 && t.kind === 'probs') {
        for (let k = 0; k < K; k++) values[c * K + k] = 0;
        t.rest[c] = 1;
      } else if (kind === 4) {
        const outside = [...Array(V).keys()].filter((j) => !cached.includes(j));
        cached.forEach((id) => (logits[row + id] = -30));
        if (outside.length > 0) logits[row + pick(outside)] = 60;
      } else if (kind === 5) {
        const targets = cached.filter((_, n) => n % 3 === 0);
        let m = -Infinity;
        for (let j = 0; j < V; j++) if (!targets.includes(j)) m = Math.max(m, logits[row + j]);
        let sum = 0;
        for (let j = 0; j < V; j++) if (!targets.includes(j)) sum += Math.exp(logits[row + j] - m);
        const lse = m + Math.log(sum);
        targets.forEach((id) => (logits[row + id] = Math.log(1e-10 + 2.9e-9 * rng.next()) + lse));
      } else if (kind === 6) {
        cached.forEach((id) => (logits[row + id] += 10));
      } else if (kind === 7 && cached.length > 0 && cached.length < V) {
        let tail = 0;
        let inS = 0;
        for (let j = 0; j < V; j++) (cached.includes(j) ? (x: number) => (inS += x) : (x: number) => (tail += x))(Math.exp(logits[row + j]));
        const t = 1e-10 + 2.9e-9 * rng.next();
        const shift = Math.log((tail * (1 - t)) / (t * inS));
        cached.forEach((id) => (logits[row + id] += shift));
      }
    }
  }
}
