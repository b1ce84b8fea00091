// Central finite differences in f64, to check closed-form gradients of reference implementations.

/** ∂f/∂x_i at the given indices, by (f(x + h e_i) − f(x − h e_i)) / 2h. */
export function finiteDifference(f: (x: Float64Array) => number, x: ArrayLike<number>, indices: readonly number[], h = 1e-5): number[] {
  const at = Float64Array.from(x);
  return indices.map((i) => {
    const saved = at[i];
    at[i] = saved + h;
    const up = f(at);
    at[i] = saved - h;
    const down = f(at);
    at[i] = saved;
    return (up - down) / (2 * h);
  });
}

/** Σ dy ⊙ y: turns a vector function into the scalar whose gradient the backward pass computes. */
export function dotWith(dy: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += dy[i] * y[i];
  return s;
}

/** A few spread-out indices of an array of length n (first, last, and random ones). */
export function sampleIndices(n: number, count: number, next: () => number): number[] {
  const out = new Set([0, n - 1]);
  while (out.size < Math.min(n, count)) out.add(Math.floor(next() * n));
  return [...out];
}
