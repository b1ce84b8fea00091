// Attention reference (f64): causal, GQA (query head h uses kv head h / (H / Hkv)), key mask, slots;
// and the two row steps the GPU version runs between its matmuls (attentionSoftmaxRef,
// attentionSoftmaxBackwardRef).

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

/**
 * Probabilities [B, H, T, S] from raw scores q·k [B, H, T, S] (S = past + T): softmax of
 * scale · score per row, with slots after the query's (past + t) and slots where mask [B, cap] ≤ 0.5
 * at -1e30 (a fully masked row becomes uniform).
 */
export function attentionSoftmaxRef(
  scores: ArrayLike<number>,
  mask: ArrayLike<number>,
  d: { B: number; H: number; T: number; cap: number; past: number; scale: number },
): Float64Array {
  const { B, H, T, cap, past, scale } = d;
  const S = past + T;
  const probs = new Float64Array(B * H * T * S);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const base = ((b * H + h) * T + t) * S;
        const row = new Float64Array(S);
        for (let s = 0; s < S; s++) row[s] = s <= past + t && mask[b * cap + s] > 0.5 ? scale * scores[base + s] : MASKED;
        let m = -Infinity;
        for (const x of row) m = Math.max(m, x);
        let sum = 0;
        for (let s = 0; s < S; s++) sum += (row[s] = Math.exp(row[s] - m));
        for (let s = 0; s < S; s++) probs[base + s] = row[s] / sum;
      }
    }
  }
  return probs;
}

/** Gradient of the raw scores from the probabilities' gradient dP, rows of length S: scale · P ∘ (dP − Σ P·dP). */
export function attentionSoftmaxBackwardRef(dP: ArrayLike<number>, probs: ArrayLike<number>, S: number, scale: number): Float64Array {
  const dS = new Float64Array(probs.length);
  for (let base = 0; base < probs.length; base += S) {
    let rowdot = 0;
    for (let s = 0; s < S; s++) rowdot += probs[base + s] * dP[base + s];
    for (let s = 0; s < S; s++) dS[base + s] = scale * probs[base + s] * (dP[base + s] - rowdot);
  }
  return dS;
}

export function attentionRef(a: AttentionRefArgs): { probs: Float64Array; out: Float64Array } {
  const { q, k, v, mask, B, T, H, Hkv, D, cap, past, scale } = a;
  const S = past + T;
  const scores = new Float64Array(B * H * T * S);
  const group = H / Hkv;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        for (let s = 0; s < S; s++) {
          let acc = 0;
          for (let d = 0; d < D; d++) acc += q[((b * T + t) * H + h) * D + d] * k[((b * cap + s) * Hkv + kvh) * D + d];
          scores[((b * H + h) * T + t) * S + s] = acc;
        }
      }
    }
  }
  const probs = attentionSoftmaxRef(scores, mask, { B, H, T, cap, past, scale });
  const out = new Float64Array(B * T * H * D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        const base = ((b * H + h) * T + t) * S;
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let s = 0; s < S; s++) acc += probs[base + s] * v[((b * cap + s) * Hkv + kvh) * D + d];
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
  const group = H / Hkv;
  const dP = new Float64Array(probs.length);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        for (let s = 0; s < T; s++) {
          let acc = 0;
          for (let d = 0; d < D; d++) acc += dOut[((b * T + t) * H + h) * D + d] * v[((b * T + s) * Hkv + kvh) * D + d];
          dP[((b * H + h) * T + t) * T + s] = acc;
        }
      }
    }
  }
  const dS = attentionSoftmaxBackwardRef(dP, probs, T, scale);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        const prow = ((b * H + h) * T + t) * T;
        for (let s = 0; s < T; s++) {
          for (let d = 0; d < D; d++) {
            const qi = ((b * T + t) * H + h) * D + d;
            const ki = ((b * T + s) * Hkv + kvh) * D + d;
            dq[qi] += dS[prow + s] * k[ki];
            dk[ki] += dS[prow + s] * q[qi];
            dv[ki] += probs[prow + s] * dOut[qi];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}
