// The demo build's length-grouped SFT batches: every example once per epoch, far less padding than
// random batches, and a restored cursor continues with the same batches (resumable builds).
import { describe, expect, it } from 'vitest';
import type { TokenizedExample } from '../../../src/distill/data/sft.ts';
import { SftBatches } from '../../../src/distill/trainer/batches.ts';
import { LengthGroupedBatches } from '../../../src/demo/models/length-batches.ts';
import { makeRng, type Rng } from '../../helpers/random.ts';

function examples(n: number, rng: Rng): TokenizedExample[] {
  return Array.from({ length: n }, (_, i) => {
    const len = 20 + Math.floor(rng.next() * 200);
    const ids = Array.from({ length: len }, (_, t) => (i * 31 + t) % 500);
    return { ids, labels: ids.map((id, t) => (t < len / 2 ? -100 : id)), where: `example ${i}` };
  });
}

/** Which example a row is: its first token ((i·31) mod 500, distinct for i < 500) and its length. */
const key = (ids: Int32Array, T: number, b: number, mask: Float32Array) => `${ids[b * T]}:${mask.subarray(b * T, (b + 1) * T).reduce((a, x) => a + x, 0)}`;

describe('LengthGroupedBatches', () => {
  it('serves every example once per epoch, with much less padding than random batches', () => {
    const rng = makeRng();
    const { seed } = rng;
    const data = examples(203, rng);
    const batches = new LengthGroupedBatches(data, 8, 512, 0, seed, 8);
    const plain = new SftBatches(data, 8, 512, 0, seed);
    const seen: string[] = [];
    let padded = 0;
    let real = 0;
    let plainPadded = 0;
    for (let i = 0; i < Math.ceil(203 / 8); i++) {
      const m = batches.next();
      for (let b = 0; b < m.rows.B; b++) seen.push(key(m.rows.ids, m.rows.T, b, m.rows.mask));
      padded += m.rows.B * m.rows.T;
      real += m.tokens;
      const p = plain.next();
      plainPadded += p.rows.B * p.rows.T;
    }
    expect(new Set(seen).size, `seed ${seed}`).toBe(203);
    expect(seen.sort()).toEqual(data.map((e) => `${e.ids[0]}:${e.ids.length}`).sort());
    // Lengths uniform in 20…220 (mean 120): a random batch of 8 pads to ~200 (~65 % waste); sorted
    // windows of 64 examples give batches spanning ~25 tokens (~10 %).
    expect(padded / real, `seed ${seed}`).toBeLessThan(1.25);
    expect(plainPadded / real, `seed ${seed}`).toBeGreaterThan(1.4);
    // The next epoch is a new draw: another order of other batches.
    expect(batches.cursor().epoch).toBe(0);
    const firstOfEpoch1 = batches.next();
    expect(batches.cursor().epoch).toBe(1);
    const again = new LengthGroupedBatches(data, 8, 512, 0, seed, 8).next();
    expect(Array.from(firstOfEpoch1.rows.ids), `seed ${seed}`).not.toEqual(Array.from(again.rows.ids));
  });

  it('continues with the same batches from a restored cursor, across epochs', () => {
    const rng = makeRng();
    const { seed } = rng;
    const data = examples(50, rng);
    const a = new LengthGroupedBatches(data, 4, 512, 0, seed);
    for (let i = 0; i < 20; i++) a.next(); // 13 batches per epoch: the cursor is in epoch 1
    const cursor = a.cursor();
    const b = new LengthGroupedBatches(data, 4, 512, 0, seed);
    b.restore(cursor);
    for (let i = 0; i < 20; i++) {
      const x = a.next();
      const y = b.next();
      expect(Array.from(y.rows.ids), `seed ${seed}, batch ${i}`).toEqual(Array.from(x.rows.ids));
    }
  });
});
