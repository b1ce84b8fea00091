// Plain TypeScript references for argmax and top-k along the last axis (ties: lower index first).

export function argmaxRef(x: Float32Array, C: number): Int32Array {
  const rows = x.length / C;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let i = 1; i < C; i++) if (x[r * C + i] > x[r * C + best]) best = i;
    out[r] = best;
  }
  return out;
}

/** Values [rows, k] descending and their indices; a full stable sort per row (fine for tests). */
export function topkRef(x: Float32Array, C: number, k: number): { values: Float32Array; indices: Int32Array } {
  const rows = x.length / C;
  const values = new Float32Array(rows * k);
  const indices = new Int32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const order = Array.from({ length: C }, (_, i) => i).sort((i, j) => x[r * C + j] - x[r * C + i] || i - j);
    for (let j = 0; j < k; j++) {
      indices[r * k + j] = order[j];
      values[r * k + j] = x[r * C + order[j]];
    }
  }
  return { values, indices };
}
