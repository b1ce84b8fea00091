// Reference for the column block copies.

export function insertColumnsRef(narrow: ArrayLike<number>, wide: ArrayLike<number>, rows: number, cols: number, wideCols: number, offset: number): Float64Array {
  const out = Float64Array.from(wide);
  for (let n = 0; n < rows; n++) for (let c = 0; c < cols; c++) out[n * wideCols + offset + c] = narrow[n * cols + c];
  return out;
}

export function extractColumnsRef(wide: ArrayLike<number>, rows: number, wideCols: number, offset: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let n = 0; n < rows; n++) for (let c = 0; c < cols; c++) out[n * cols + c] = wide[n * wideCols + offset + c];
  return out;
}
