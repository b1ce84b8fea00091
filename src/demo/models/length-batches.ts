// SFT micro-batches grouped by length, for the demo build's long runs. The demo examples range
// from ~60 to ~240 tokens; random batches of 16 pad every row to the longest (~45 % padding), and
// attention costs grow with T². Each epoch here takes the seeded shuffled order, cuts it into
// windows of `window` batches, sorts each window by length, cuts it into batches and serves the
// epoch's batches in a second seeded order, so a step still sees a random part of the data. The
// cursor (epoch, batch index) goes into checkpoints like SftBatches'.
import type { TokenizedExample } from '../../distill/data/sft.ts';
import { epochOrder, SftBatches, type BatchSource, type DataCursor, type MicroBatch } from '../../distill/trainer/batches.ts';

/** Seed offset of the batch order (distinct from the example order's seed). */
const BATCH_ORDER_SEED = 7919;

export class LengthGroupedBatches implements BatchSource {
  readonly terms = [{ name: 'sft', coefficient: 1 }];
  readonly size: number;
  private state: DataCursor;
  private plan: number[][];

  constructor(
    private readonly examples: readonly TokenizedExample[],
    readonly batchSize: number,
    private readonly vocab: number,
    private readonly padId: number,
    seed: number,
    private readonly window = 8,
  ) {
    if (examples.length === 0) throw new RangeError('LengthGroupedBatches: no examples.');
    this.size = examples.length;
    this.state = { epoch: 0, index: 0, seed };
    this.plan = this.planEpoch(0);
  }

  /** The epoch's batches (example indices), in serving order. */
  planEpoch(epoch: number): number[][] {
    const { seed } = this.state;
    const order = epochOrder(this.size, seed, epoch);
    const span = this.batchSize * this.window;
    const batches: number[][] = [];
    for (let w = 0; w < this.size; w += span) {
      const chunk = Array.from(order.subarray(w, w + span)).sort((a, b) => this.examples[a].ids.length - this.examples[b].ids.length || a - b);
      for (let i = 0; i < chunk.length; i += this.batchSize) batches.push(chunk.slice(i, i + this.batchSize));
    }
    return Array.from(epochOrder(batches.length, seed + BATCH_ORDER_SEED, epoch), (i) => batches[i]);
  }

  next(): MicroBatch {
    if (this.state.index >= this.plan.length) this.restore({ ...this.state, epoch: this.state.epoch + 1, index: 0 });
    const picked = this.plan[this.state.index++].map((i) => this.examples[i]);
    // One SftBatches batch of exactly these examples: the same rows and loss layout as plain SFT.
    return new SftBatches(picked, picked.length, this.vocab, this.padId, 0).next();
  }

  cursor(): DataCursor {
    return { ...this.state };
  }

  restore(c: DataCursor): void {
    if (c.epoch !== this.state.epoch || c.seed !== this.state.seed) {
      this.state = { ...c };
      this.plan = this.planEpoch(c.epoch);
    }
    this.state = { ...c };
  }
}
