// Reference for the scatter-add of rows (the gradient of an embedding lookup), f64.

export function scatterAddRowsRef(
  table: ArrayLike<number>,
  src: ArrayLike<number>,
  ids: ArrayLike<number>,
  dim: number,
  rowOffset = 0,
): Float64Array {
  const out = Float64Array.from(table);
  const rows = table.length / dim;
  for (let i = 0; i < ids.length; i++) {
    const row = ids[i] - rowOffset;
    if (row < 0 || row >= rows) continue;
    for (let d = 0; d < dim; d++) out[row * dim + d] += src[i * dim + d];
  }
  return out;
}
