import { describe, expect, it } from 'vitest';
import { sampleToken, sampleTopK } from '../../../src/engine/models/sampling.ts';
import { Rng } from '../../../src/engine/rng.ts';
import { makeRng, normal } from '../../helpers/random.ts';

describe('sampleTopK', () => {
  it('draws what sampleToken draws from the whole row, given the k best logits in order', () => {
    const rng = makeRng();
    for (const options of [{ temperature: 0.8, topK: 5 }, { temperature: 1.5, topK: 64, topP: 0.9 }, { temperature: 0.3, topK: 1 }, { topK: 20, topP: 0.5 }]) {
      for (let trial = 0; trial < 40; trial++) {
        const row = normal(rng, 300, 2);
        row[7] = row[9]; // a tie: the lower index ranks first
        // The k best, by value then lower index (what the GPU top-k kernel returns), found independently.
        const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b).slice(0, options.topK);
        const values = Float32Array.from(order, (i) => row[i]);
        const seed = rng.next() * 2 ** 31;
        const host = sampleToken(row.slice(), options, Rng.fromSeed(seed), []);
        const gpu = sampleTopK(values, Int32Array.from(order), options, Rng.fromSeed(seed));
        expect(gpu, `${JSON.stringify(options)} trial ${trial} seed=${rng.seed}`).toBe(host);
      }
    }
  });
});
