// rowLinear reference (f64): RMSNorm (optional), then y_s = W_s x (+ b_s) for each matrix, combined by mode.
import type { RowLinearMode } from './row-linear.ts';

export interface RowLinearRefArgs {
  x: ArrayLike<number>; // [K]
  norm?: { weight: ArrayLike<number>; eps: number };
  weights: { data: ArrayLike<number>; rows: number }[]; // [rows, K] each
  biases?: ArrayLike<number>[];
  mode: RowLinearMode;
  /** The output's contents before the call (residual adds to it). */
  out: ArrayLike<number>;
}

export function rowLinearRef(a: RowLinearRefArgs): Float64Array {
  const K = a.x.length;
  let x = Float64Array.from(a.x);
  if (a.norm) {
    const ss = x.reduce((s, v) => s + v * v, 0);
    const r = 1 / Math.sqrt(ss / K + a.norm.eps);
    x = x.map((v, k) => v * r * a.norm!.weight[k]);
  }
  const ys = a.weights.map((w, s) =>
    Float64Array.from({ length: w.rows }, (_, j) => {
      let acc = a.biases?.[s][j] ?? 0;
      for (let k = 0; k < K; k++) acc += w.data[j * K + k] * x[k];
      return acc;
    }),
  );
  switch (a.mode) {
    case 'concat': {
      const out = new Float64Array(ys.reduce((n, y) => n + y.length, 0));
      let at = 0;
      for (const y of ys) {
        out.set(y, at);
        at += y.length;
      }
      return out;
    }
    case 'residual':
      return ys[0].map((v, j) => a.out[j] + v);
    case 'swiglu':
      return ys[0].map((g, j) => (g / (1 + Math.exp(-g))) * ys[1][j]);
  }
}
