// Attention reference (f64): causal, GQA (query head h uses kv head h / (H / Hkv)), key mask, slots.

export interface AttentionRefArgs {
  q: ArrayLike<number>; // [B, T, H, D]
  k: ArrayLike<number>; // [B, cap, Hkv, D]
  v: ArrayLike<number>; // [B, cap, Hkv, D]
  mask: ArrayLike<number>; // [B, cap]
  B: number;
  T: number;
  H: number;
  Hkv: number;
  D: number;
  cap: number;
  past: number;
  scale: number;
}

const MASKED = -1e30;

export function attentionRef(a: AttentionRefArgs): { probs: Float64Array; out: Float64Array } {
  const { q, k, v, mask, B, T, H, Hkv, D, cap, past, scale } = a;
  const S = past + T;
  const probs = new Float64Array(B * H * T * S);
  const out = new Float64Array(B * T * H * D);
  const group = H / Hkv;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        const scores = new Float64Array(S);
        for (let s = 0; s < S; s++) {
          if (s <= past + t && mask[b * cap + s] > 0.5) {
            let acc = 0;
            for (let d = 0; d < D; d++) acc += q[((b * T + t) * H + h) * D + d] * k[((b * cap + s) * Hkv + kvh) * D + d];
            scores[s] = acc * scale;
          } else scores[s] = MASKED;
        }
        let m = -Infinity;
        for (const x of scores) m = Math.max(m, x);
        let sum = 0;
        for (let s = 0; s < S; s++) sum += (scores[s] = Math.exp(scores[s] - m));
        const base = ((b * H + h) * T + t) * S;
        for (let s = 0; s < S; s++) probs[base + s] = scores[s] / sum;
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let s = 0; s < S; s++) acc += (scores[s] / sum) * v[((b * cap + s) * Hkv + kvh) * D + d];
          out[((b * T + t) * H + h) * D + d] = acc;
        }
      }
    }
  }
  return { probs, out };
}

/** Gradients of Σ dOut ⊙ attention(q, k, v) for a training batch (past = 0, cap = T), f64. */
export function attentionBackwardRef(
  a: Omit<AttentionRefArgs, 'past' | 'cap'>,
  dOut: ArrayLike<number>,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { q, k, v, B, T, H, Hkv, D, scale } = a;
  const { probs } = attentionRef({ ...a, cap: T, past: 0 });
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const group = H / Hkv;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        const prow = ((b * H + h) * T + t) * T;
        const dP = new Float64Array(T);
        let rowdot = 0;
        for (let s = 0; s < T; s++) {
          for (let d = 0; d < D; d++) dP[s] += dOut[((b * T + t) * H + h) * D + d] * v[((b * T + s) * Hkv + kvh) * D + d];
          rowdot += probs[prow + s] * dP[s];
        }
        for (let s = 0; s < T; s++) {
          const p = probs[prow + s];
          const dS = p * (dP[s] - rowdot);
          for (let d = 0; d < D; d++) {
            const qi = ((b * T + t) * H + h) * D + d;
            const ki = ((b * T + s) * Hkv + kvh) * D + d;
            dq[qi] += scale * dS * k[ki];
            dk[ki] += scale * dS * q[qi];
            dv[ki] += p * dOut[qi];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}
