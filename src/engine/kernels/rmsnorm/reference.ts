// RMSNorm references in f64: y = x / sqrt(mean(x²) + eps) · w per row of length dim, and its gradients.

export function rmsnormRef(x: ArrayLike<number>, w: ArrayLike<number>, dim: number, eps: number): { y: Float64Array; rstd: Float64Array } {
  const rows = x.length / dim;
  const y = new Float64Array(x.length);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2;
    const s = 1 / Math.sqrt(ss / dim + eps);
    rstd[r] = s;
    for (let i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i] * s * w[i];
  }
  return { y, rstd };
}

/** Gradients of sum(dy ⊙ rmsnorm(x)) with respect to x and w (f64). */
export function rmsnormBackwardRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  dim: number,
  eps: number,
): { dx: Float64Array; dw: Float64Array } {
  const rows = x.length / dim;
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2;
    const s = 1 / Math.sqrt(ss / dim + eps);
    let dot = 0;
    for (let i = 0; i < dim; i++) dot += w[i] * dy[r * dim + i] * x[r * dim + i];
    for (let i = 0; i < dim; i++) {
      const k = r * dim + i;
      dx[k] = s * w[i] * dy[k] - (x[k] * s ** 3 * dot) / dim;
      dw[i] += dy[k] * x[k] * s;
    }
  }
  return { dx, dw };
}
