// Micro-batches of the distillation objectives (docs/distillation.md), from tokenised preference
// pairs and teacher caches:
//   kd family: rows = the chosen responses; L = w_sft·CE(y) + w_kd·D(y)
//   DCKD: rows = the chosen responses y_w then the rejected responses y_l of B pairs;
//         L = w_sft·CE(y_w) + w_kd·(w_c·KL on y_w + w_r·KL on y_l)
//   ADPA: rows = y_w (for CE) then the student's responses ŷ (for the advantage term);
//         L = w_sft·CE(y_w) − w_adpa·mean_t Σ_k c(q_k)·c(Â(k))
// A sequence's response positions map in order onto its example's cache positions; positions the
// cache does not cover (a truncated teacher pass) carry no teacher term.
import { ShapeError } from '../../engine/errors.ts';
import type { TeacherCache } from '../../formats/teacher-cache.ts';
import type { LossSequence, LossTerm } from '../losses/batch.ts';
import type { LossOptions } from '../losses/definitions.ts';
import { binModeOf, termsOf, type LossName, type LossWeights } from '../losses/recipes.ts';
import { gatherTeacher, type TeacherHost } from '../losses/teacher.ts';
import type { TokenizedPair } from '../data/preference.ts';
import type { TokenizedExample } from '../data/sft.ts';
import { ExampleCursor, padRows, responsePositions, type BatchSource, type DataCursor, type MicroBatch } from './batches.ts';

/** Cache positions of an example by id (for gathering its rows). */
class CacheIndex {
  private readonly byId = new Map<string, number>();

  constructor(readonly cache: TeacherCache) {
    cache.meta.exampleIds.forEach((id, e) => this.byId.set(id, e));
  }

  /** Global cache positions of the first n response positions of example `id` (−1 past its end). */
  positions(id: string, n: number): number[] {
    const e = this.byId.get(id);
    if (e === undefined) throw new ShapeError(`The teacher cache has no entry for example "${id}".`);
    const start = this.cache.exampleOffsets[e];
    const count = this.cache.exampleOffsets[e + 1] - start;
    return Array.from({ length: n }, (_, j) => (j < count ? start + j : -1));
  }
}

/** Concatenate gathered teacher rows (same kind and K) into one. */
function concatTeacher(parts: TeacherHost[]): TeacherHost {
  const first = parts[0];
  if (first.kind === 'logits') throw new ShapeError('concatTeacher: full-logit teachers are not cached.');
  if (parts.some((p) => p.kind !== first.kind || (p as { k: number }).k !== first.k)) throw new ShapeError('The teacher caches of one objective must share their kind and K.');
  const cat = <T extends Int32Array | Float32Array>(arrays: T[], make: (n: number) => T): T => {
    const out = make(arrays.reduce((n, a) => n + a.length, 0));
    let o = 0;
    for (const a of arrays) {
      out.set(a, o);
      o += a.length;
    }
    return out;
  };
  const ids = cat(parts.map((p) => (p as { ids: Int32Array }).ids), (n) => new Int32Array(n));
  if (first.kind === 'probs') {
    const ps = parts as Extract<TeacherHost, { kind: 'probs' }>[];
    return { kind: 'probs', k: first.k, ids, probs: cat(ps.map((p) => p.probs), (n) => new Float32Array(n)), rest: cat(ps.map((p) => p.rest), (n) => new Float32Array(n)) };
  }
  const as = parts as Extract<TeacherHost, { kind: 'advantage' }>[];
  return { kind: 'advantage', k: first.k, ids, advantage: cat(as.map((p) => p.advantage), (n) => new Float32Array(n)) };
}

interface TeacherPart {
  example: TokenizedExample;
  id: string;
  /** Index into `terms` of the CE term, if the sequence has one. */
  ce?: number;
  teacher?: { index: CacheIndex; term: number };
}

/** Lay out sequences with their CE / teacher terms into one micro-batch. */
function assemble(parts: TeacherPart[], terms: LossTerm[], vocab: number, padId: number, lossOptions: LossOptions | undefined, divergence: MicroBatch['divergence']): MicroBatch {
  const rows = padRows(parts.map((p) => p.example.ids), padId);
  const gathered: TeacherHost[] = [];
  let teacherOffset = 0;
  const sequences: LossSequence[] = parts.map((p, b) => {
    const pos = responsePositions(p.example.labels, b, rows.T);
    const seq: LossSequence = { rows: pos.rows, labels: pos.labels, ce: p.ce };
    if (p.teacher) {
      const cachePos = p.teacher.index.positions(p.id, pos.rows.length);
      const covered = cachePos.filter((c) => c >= 0);
      gathered.push(gatherTeacher(p.teacher.index.cache, covered));
      let next = teacherOffset;
      seq.teacherRows = cachePos.map((c) => (c >= 0 ? next++ : -1));
      seq.teacher = p.teacher.term;
      teacherOffset = next;
    }
    return seq;
  });
  const teacher = gathered.length ? concatTeacher(gathered) : undefined;
  return {
    rows,
    loss: { rowCount: rows.B * rows.T, vocab, terms, sequences, teacherRowCount: teacherOffset },
    teacher,
    divergence,
    lossOptions,
    tokens: parts.reduce((n, p) => n + p.example.ids.length, 0),
  };
}

export interface DistillData {
  /** Probability cache on the chosen responses y_w (kd family, DCKD). */
  chosen?: TeacherCache;
  /** Probability cache on the rejected responses y_l (DCKD). */
  rejected?: TeacherCache;
  /** Advantage cache on the student's responses ŷ (ADPA). */
  advantage?: TeacherCache;
  /** ŷ sequences by pair id (ADPA). */
  student?: ReadonlyMap<string, TokenizedExample>;
}

/**
 * Micro-batches of any named loss (src/distill/losses/recipes.ts) over preference pairs: the
 * chosen responses carry the CE term and, for the kd family and DCKD, the teacher term; DCKD adds
 * the rejected responses; ADPA adds the student's responses ŷ with the advantage term.
 */
export class DistillBatches implements BatchSource {
  readonly terms: LossTerm[];
  readonly size: number;
  private readonly walk: ExampleCursor<TokenizedPair>;
  private readonly layout: ReturnType<typeof termsOf>;
  private readonly chosen?: CacheIndex;
  private readonly rejected?: CacheIndex;
  private readonly advantage?: CacheIndex;
  private readonly divergence: MicroBatch['divergence'];

  constructor(
    pairs: readonly TokenizedPair[],
    readonly loss: LossName,
    weights: LossWeights,
    private readonly data: DistillData,
    readonly batchSize: number,
    private readonly vocab: number,
    private readonly padId: number,
    seed: number,
    private readonly lossOptions?: LossOptions,
  ) {
    this.walk = new ExampleCursor(pairs, seed);
    this.size = pairs.length;
    this.layout = termsOf(loss, weights);
    this.terms = this.layout.terms;
    this.divergence = binModeOf(loss);
    const need = (what: keyof DistillData, why: string) => {
      if (!data[what]) throw new ShapeError(`The ${loss} loss needs ${why}.`);
    };
    if (loss === 'adpa') {
      need('advantage', 'an advantage cache on the student responses ŷ');
      need('student', 'the student responses ŷ');
      if (data.advantage!.kind !== 'advantage') throw new ShapeError('ADPA needs an advantage cache (student-lab advantage --dpo … --reference …).');
      this.advantage = new CacheIndex(data.advantage!);
    } else if (loss !== 'sft') {
      need('chosen', 'a teacher cache on the chosen responses');
      this.chosen = new CacheIndex(data.chosen!);
      if (loss === 'dckd') {
        need('rejected', 'a teacher cache on the rejected responses');
        this.rejected = new CacheIndex(data.rejected!);
      }
    }
  }

  next(): MicroBatch {
    const pairs = this.walk.take(this.batchSize);
    const { ce, teacher, rejected } = this.layout;
    const parts: TeacherPart[] = pairs.map((p) => ({
      example: p.chosen,
      id: p.id,
      ce,
      teacher: this.chosen && teacher !== undefined ? { index: this.chosen, term: teacher } : undefined,
    }));
    if (this.rejected && rejected !== undefined) {
      parts.push(...pairs.map((p) => ({ example: p.rejected, id: p.id, teacher: { index: this.rejected!, term: rejected } })));
    }
    if (this.advantage && teacher !== undefined) {
      parts.push(
        ...pairs.map((p) => {
          const s = this.data.student!.get(p.id);
          if (!s) throw new ShapeError(`No student response ŷ for example "${p.id}".`);
          return { example: s, id: p.id, teacher: { index: this.advantage!, term: teacher } };
        }),
      );
    }
    return assemble(parts, this.terms, this.vocab, this.padId, this.lossOptions, this.divergence);
  }

  cursor(): DataCursor {
    return this.walk.cursor();
  }

  restore(c: DataCursor): void {
    this.walk.restore(c);
  }
}
