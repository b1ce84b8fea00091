// Optimiser references in f64 (torch semantics; see adamw.wgsl and sgd.wgsl).

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** One AdamW step at step number t (1-based); returns the new param, m, v. */
export function adamwRef(
  param: ArrayLike<number>,
  grad: ArrayLike<number>,
  m: ArrayLike<number>,
  v: ArrayLike<number>,
  t: number,
  h: AdamWHyper,
  gscale = 1,
): { param: Float64Array; m: Float64Array; v: Float64Array } {
  const n = param.length;
  const out = { param: new Float64Array(n), m: new Float64Array(n), v: new Float64Array(n) };
  const bc1 = 1 - h.beta1 ** t;
  const bc2 = 1 - h.beta2 ** t;
  for (let i = 0; i < n; i++) {
    const g = grad[i] * gscale;
    const mi = h.beta1 * m[i] + (1 - h.beta1) * g;
    const vi = h.beta2 * v[i] + (1 - h.beta2) * g * g;
    out.m[i] = mi;
    out.v[i] = vi;
    out.param[i] = param[i] * (1 - h.lr * h.weightDecay) - (h.lr / bc1) * (mi / (Math.sqrt(vi) / Math.sqrt(bc2) + h.eps));
  }
  return out;
}

export function sgdRef(
  param: ArrayLike<number>,
  grad: ArrayLike<number>,
  buf: ArrayLike<number> | null,
  h: { lr: number; weightDecay: number; momentum: number },
  gscale = 1,
): { param: Float64Array; buf: Float64Array } {
  const n = param.length;
  const out = { param: new Float64Array(n), buf: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    let g = grad[i] * gscale + h.weightDecay * param[i];
    if (h.momentum > 0) {
      g = buf ? h.momentum * buf[i] + g : g;
      out.buf[i] = g;
    }
    out.param[i] = param[i] - h.lr * g;
  }
  return out;
}

export function sumOfSquaresRef(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return s;
}
