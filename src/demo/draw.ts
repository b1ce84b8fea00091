// Seeded draws for the demo corpus (the engine's mulberry32 generator): the same seed gives the same corpus.
import type { Rng } from '../engine/rng.ts';

export function pick<T>(rng: Rng, list: readonly T[]): T {
  if (list.length === 0) throw new Error('Cannot draw from an empty list.');
  return list[Math.floor(rng.next() * list.length)];
}

/** A key drawn with probability proportional to its weight. */
export function weighted<K extends string>(rng: Rng, weights: Readonly<Record<K, number>>): K {
  const entries = Object.entries(weights) as [K, number][];
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let r = rng.next() * total;
  for (const [key, w] of entries) {
    r -= w;
    if (r < 0) return key;
  }
  return entries[entries.length - 1][0];
}

/** Fisher–Yates on a copy. */
export function shuffled<T>(rng: Rng, list: readonly T[]): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
