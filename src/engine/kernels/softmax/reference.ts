// Plain TypeScript references for softmax and log-softmax along the last axis (f64, max-subtracted).

function rows(x: Float32Array, C: number, scale: number, log: boolean): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / C; r++) {
    const o = r * C;
    let m = -Infinity;
    for (let i = 0; i < C; i++) m = Math.max(m, scale * x[o + i]);
    let s = 0;
    for (let i = 0; i < C; i++) s += Math.exp(scale * x[o + i] - m);
    for (let i = 0; i < C; i++) {
      const v = scale * x[o + i] - m;
      out[o + i] = log ? v - Math.log(s) : Math.exp(v) / s;
    }
  }
  return out;
}

export function softmaxRef(x: Float32Array, C: number, scale = 1): Float32Array {
  return rows(x, C, scale, false);
}

export function logSoftmaxRef(x: Float32Array, C: number, scale = 1): Float32Array {
  return rows(x, C, scale, true);
}
