// Seeded random inputs for kernel and loss tests. Every run draws a fresh seed (printed in any
// failure message); set SEED=<n> to replay one.
import { randomInt } from 'node:crypto';

export interface Rng {
  seed: number;
  next(): number; // uniform [0, 1)
}

export function freshSeed(): number {
  const fromEnv = process.env.SEED;
  return fromEnv ? Number(fromEnv) : randomInt(1, 2 ** 31 - 1);
}

/** mulberry32: small, fast, good enough for test data. */
export function makeRng(seed = freshSeed()): Rng {
  let s = seed >>> 0;
  return {
    seed,
    next() {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

export function uniform(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng.next();
  return out;
}

export function normal(rng: Rng, n: number, std = 1, mean = 0): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rng.next(), 1e-12);
    const v = rng.next();
    out[i] = mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

export function integers(rng: Rng, n: number, lo: number, hiExclusive: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + Math.floor(rng.next() * (hiExclusive - lo));
  return out;
}
