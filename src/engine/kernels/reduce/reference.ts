// Plain TypeScript references for the row reductions (f64 accumulation).

/** Sum of each row of a [rows, C] array. */
export function rowSumRef(x: Float32Array, C: number): Float32Array {
  const rows = x.length / C;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < C; i++) s += x[r * C + i];
    out[r] = s;
  }
  return out;
}

/** Maximum of each row of a [rows, C] array (NaN-free input). */
export function rowMaxRef(x: Float32Array, C: number): Float32Array {
  const rows = x.length / C;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let i = 0; i < C; i++) m = Math.max(m, x[r * C + i]);
    out[r] = m;
  }
  return out;
}
