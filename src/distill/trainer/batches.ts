// Micro-batches for the trainer: padded token rows plus the loss layout of their positions.
// Examples are visited in a seeded shuffled order per epoch; the cursor (epoch, index) is part of
// every checkpoint, so a resumed run continues with exactly the examples it would have seen.
import type { LossBatch, LossSequence } from '../losses/batch.ts';
import type { BinMode, LossOptions } from '../losses/definitions.ts';
import type { TeacherHost } from '../losses/teacher.ts';
import { Rng } from '../../engine/rng.ts';
import { IGNORE, type TokenizedExample } from '../data/sft.ts';

/** B right-padded rows of T tokens. */
export interface TokenRows {
  B: number;
  T: number;
  ids: Int32Array; // [B·T]
  positions: Int32Array; // [B·T]
  mask: Float32Array; // [B·T], 1 = real token
}

export interface MicroBatch {
  rows: TokenRows;
  loss: LossBatch;
  teacher?: TeacherHost;
  divergence?: BinMode;
  /** Loss options (clamps, signed advantage, β, λ …; docs/distillation.md). */
  lossOptions?: LossOptions;
  /** Real (non-padding) tokens, for throughput. */
  tokens: number;
}

export interface DataCursor {
  epoch: number;
  /** Next position in this epoch's order. */
  index: number;
  seed: number;
}

/** A stream of micro-batches the trainer pulls from. */
export interface BatchSource {
  /** Examples per micro-batch. */
  readonly batchSize: number;
  /** Examples per epoch. */
  readonly size: number;
  /** Term names and coefficients this source's loss batches carry. */
  readonly terms: readonly { name: string; coefficient: number }[];
  /** The next micro-batch; the trainer sets its loss's sequencesPerTerm for the whole step. */
  next(): MicroBatch;
  cursor(): DataCursor;
  restore(cursor: DataCursor): void;
}

export function padRows(seqs: readonly (readonly number[])[], padId: number): TokenRows {
  const B = seqs.length;
  const T = Math.max(1, ...seqs.map((s) => s.length));
  const ids = new Int32Array(B * T).fill(padId);
  const positions = new Int32Array(B * T).fill(1);
  const mask = new Float32Array(B * T);
  seqs.forEach((s, b) => {
    for (let t = 0; t < s.length; t++) {
      ids[b * T + t] = s[t];
      positions[b * T + t] = t;
      mask[b * T + t] = 1;
    }
  });
  return { B, T, ids, positions, mask };
}

/** The loss positions of one row: row b·T + t predicts labels[t + 1] where that label is not ignored. */
export function responsePositions(labels: readonly number[], b: number, T: number): { rows: number[]; labels: number[] } {
  const rows: number[] = [];
  const out: number[] = [];
  for (let t = 0; t + 1 < labels.length; t++) {
    if (labels[t + 1] === IGNORE) continue;
    rows.push(b * T + t);
    out.push(labels[t + 1]);
  }
  return { rows, labels: out };
}

/** Seeded order of an epoch (Fisher–Yates). */
export function epochOrder(size: number, seed: number, epoch: number): Uint32Array {
  const order = Uint32Array.from({ length: size }, (_, i) => i);
  const rng = Rng.fromSeed(seed * 1000003 + epoch);
  for (let i = size - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Walks examples in shuffled epochs, batchSize at a time (the last batch of an epoch may be short). */
export class ExampleCursor<E> {
  private order: Uint32Array;
  private state: DataCursor;

  constructor(
    private readonly examples: readonly E[],
    seed: number,
  ) {
    this.state = { epoch: 0, index: 0, seed };
    this.order = epochOrder(examples.length, seed, 0);
  }

  take(count: number): E[] {
    const out: E[] = [];
    if (this.state.index >= this.examples.length) this.restore({ ...this.state, epoch: this.state.epoch + 1, index: 0 });
    while (out.length < count && this.state.index < this.examples.length) out.push(this.examples[this.order[this.state.index++]]);
    return out;
  }

  cursor(): DataCursor {
    return { ...this.state };
  }

  restore(c: DataCursor): void {
    if (c.epoch !== this.state.epoch || c.seed !== this.state.seed) this.order = epochOrder(this.examples.length, c.seed, c.epoch);
    this.state = { ...c };
  }
}

/** Plain SFT: cross-entropy on the response tokens of each example. */
export class SftBatches implements BatchSource {
  readonly terms = [{ name: 'sft', coefficient: 1 }];
  private readonly walk: ExampleCursor<TokenizedExample>;

  constructor(
    examples: readonly TokenizedExample[],
    readonly batchSize: number,
    private readonly vocab: number,
    private readonly padId: number,
    seed: number,
  ) {
    this.walk = new ExampleCursor(examples, seed);
    this.size = examples.length;
  }

  readonly size: number;
  next(): MicroBatch {
    const picked = this.walk.take(this.batchSize);
    const rows = padRows(picked.map((e) => e.ids), this.padId);
    const sequences: LossSequence[] = picked.map((e, b) => ({ ...responsePositions(e.labels, b, rows.T), ce: 0 }));
    return {
      rows,
      loss: { rowCount: rows.B * rows.T, vocab: this.vocab, terms: [{ name: 'sft', kind: 'ce', coefficient: 1 }], sequences },
      tokens: picked.reduce((n, e) => n + e.ids.length, 0),
    };
  }

  cursor(): DataCursor {
    return this.walk.cursor();
  }

  restore(c: DataCursor): void {
    this.walk.restore(c);
  }
}
