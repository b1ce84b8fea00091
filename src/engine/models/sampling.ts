// Next-token choice on the host from one row of logits: repetition penalty, greedy, temperature,
// top-k and top-p (nucleus), with a seeded generator. Semantics follow Hugging Face's logits
// processors: the penalty divides positive and multiplies negative logits of tokens already seen;
// top-k keeps the k largest; top-p keeps the smallest set of most likely tokens whose probability
// reaches p (at least one).
import { ShapeError } from '../errors.ts';
import type { Rng } from '../rng.ts';

export interface SamplingOptions {
  /** Pick the most likely token (ignores temperature, top-k, top-p). */
  greedy?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  seed?: number;
}

export function validateSampling(o: SamplingOptions): void {
  if (o.temperature !== undefined && !(o.temperature >= 0)) throw new ShapeError(`temperature must be ≥ 0, got ${o.temperature}.`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) throw new ShapeError(`top-k must be a whole number ≥ 0, got ${o.topK}.`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new ShapeError(`top-p must be in (0, 1], got ${o.topP}.`);
  if (o.repetitionPenalty !== undefined && !(o.repetitionPenalty > 0)) {
    throw new ShapeError(`repetition penalty must be > 0, got ${o.repetitionPenalty}.`);
  }
}

export function isGreedy(o: SamplingOptions): boolean {
  return Boolean(o.greedy) || o.temperature === 0;
}

/** Index of the largest value, lowest index on ties. */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

export function applyRepetitionPenalty(row: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(seen)) {
    if (id < 0 || id >= row.length) continue;
    row[id] = row[id] < 0 ? row[id] * penalty : row[id] / penalty;
  }
}

/** Ids sorted by logit, descending (lower id first on ties). */
function sortDescending(row: Float32Array, ids: number[]): number[] {
  return ids.sort((a, b) => row[b] - row[a] || a - b);
}

/** The k largest logits' ids, sorted descending: one pass keeping a sorted list of k. */
export function topKIds(row: Float32Array, k: number): number[] {
  const best: number[] = [];
  for (let id = 0; id < row.length; id++) {
    const v = row[id];
    if (best.length === k && v <= row[best[k - 1]]) continue;
    let at = best.length;
    while (at > 0 && row[best[at - 1]] < v) at--;
    best.splice(at, 0, id);
    if (best.length > k) best.pop();
  }
  return best;
}

/**
 * Choose the next token; `row` may be modified. Exact in distribution: top-k is a true selection;
 * top-p sorts only tokens within 1e-12 of the best weight and falls back to sorting the whole
 * vocabulary when the nucleus is not reached among them.
 */
export function sampleToken(row: Float32Array, o: SamplingOptions, rng: Rng, seen: readonly number[]): number {
  applyRepetitionPenalty(row, seen, o.repetitionPenalty ?? 1);
  if (isGreedy(o)) return argmax(row);
  const temperature = o.temperature ?? 1;
  const max = row[argmax(row)];
  const weight = (id: number) => Math.exp((row[id] - max) / temperature);
  const topP = o.topP ?? 1;
  let ids: number[];
  if (o.topK && o.topK > 0 && o.topK < row.length) {
    ids = topKIds(row, o.topK);
  } else if (topP < 1) {
    let total = 0;
    const likely: number[] = [];
    for (let id = 0; id < row.length; id++) {
      const w = weight(id);
      total += w;
      if (w >= 1e-12) likely.push(id);
    }
    ids = sortDescending(row, likely);
    if (nucleusSize(ids, weight, total, topP) === null) ids = sortDescending(row, Array.from(row.keys()));
    return draw(ids.slice(0, nucleusSize(ids, weight, total, topP) ?? ids.length), weight, rng);
  } else {
    ids = Array.from(row.keys());
  }
  return drawWithTopP(ids, weight, topP, rng);
}

/**
 * sampleToken for top-k sampling from the k best logits alone (`values` descending, as the GPU
 * top-k kernel gives them, with their token `indices`): the same arithmetic on the same values, so
 * the same token for the same generator state. Needs 0 < k < vocabulary, no repetition penalty and
 * a temperature > 0.
 */
export function sampleTopK(values: ArrayLike<number>, indices: ArrayLike<number>, o: SamplingOptions, rng: Rng): number {
  const temperature = o.temperature ?? 1;
  const weight = (i: number) => Math.exp((values[i] - values[0]) / temperature);
  return indices[drawWithTopP(Array.from({ length: values.length }, (_, i) => i), weight, o.topP ?? 1, rng)];
}

/** With topP < 1, keep the nucleus of `ids` (sorted by logit, descending); then draw by weight. */
function drawWithTopP(ids: number[], weight: (id: number) => number, topP: number, rng: Rng): number {
  if (topP < 1) {
    const total = ids.reduce((sum, id) => sum + weight(id), 0);
    ids = ids.slice(0, nucleusSize(ids, weight, total, topP) ?? ids.length);
  }
  return draw(ids, weight, rng);
}

/** Size of the smallest prefix of sorted `ids` whose share of `total` reaches p; null if none. */
function nucleusSize(ids: readonly number[], weight: (id: number) => number, total: number, p: number): number | null {
  let cum = 0;
  for (let i = 0; i < ids.length; i++) {
    cum += weight(ids[i]) / total;
    if (cum >= p) return i + 1;
  }
  return null;
}

function draw(ids: readonly number[], weight: (id: number) => number, rng: Rng): number {
  let total = 0;
  for (const id of ids) total += weight(id);
  let r = rng.next() * total;
  for (const id of ids) {
    r -= weight(id);
    if (r < 0) return id;
  }
  return ids[ids.length - 1];
}
