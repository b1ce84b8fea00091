// Random valid teacher caches for the format and store tests.
import { float32ToFloat16 } from '../../../src/engine/f16.ts';
import type { TeacherCache } from '../../../src/formats/teacher-cache.ts';
import type { Rng } from '../../helpers/random.ts';

export const SHA_A = 'a'.repeat(64);
export const SHA_B = 'b'.repeat(64);

/** A valid random cache: ragged examples, distinct ids, descending probabilities, rest from unrounded values. */
export function randomCache(rng: Rng, o: { lengths?: number[]; k?: number; vocab?: number; dtype?: 'F16' | 'F32' } = {}): Extract<TeacherCache, { kind: 'probs' }> {
  const lengths = o.lengths ?? [3, 0, 5, 2];
  const K = o.k ?? 4;
  const V = o.vocab ?? 50;
  const P = lengths.reduce((a, b) => a + b, 0);
  const exampleOffsets = new Int32Array(lengths.length + 1);
  lengths.forEach((n, e) => (exampleOffsets[e + 1] = exampleOffsets[e] + n));
  const tokens = Int32Array.from({ length: P }, () => Math.floor(rng.next() * V));
  const indices = new Int32Array(P * K);
  const probs = new Float64Array(P * K);
  const rest = new Float32Array(P);
  for (let t = 0; t < P; t++) {
    const ids = new Set<number>();
    while (ids.size < K) ids.add(Math.floor(rng.next() * V));
    const w = Array.from({ length: K + 1 }, () => rng.next() ** 3);
    const s = w.reduce((a, b) => a + b, 0);
    const p = w.slice(0, K).map((x) => x / s).sort((a, b) => b - a);
    [...ids].forEach((id, k) => {
      indices[t * K + k] = id;
      probs[t * K + k] = p[k];
    });
    rest[t] = 1 - p.reduce((a, b) => a + b, 0);
  }
  const dtype = o.dtype ?? 'F16';
  return {
    kind: 'probs',
    meta: {
      response: 'chosen',
      k: K,
      temperature: 1,
      model: 'teacher/tiny',
      tokenizerSha256: SHA_A,
      vocabSize: V,
      datasetSha256: SHA_B,
      exampleIds: lengths.map((_, e) => `ex-${e}`),
    },
    exampleOffsets,
    tokens,
    indices,
    probs: dtype === 'F16' ? { dtype, bits: Uint16Array.from(probs, (x) => float32ToFloat16(x)) } : { dtype, values: Float32Array.from(probs) },
    rest,
  };
}

