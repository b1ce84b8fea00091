// Causal GQA attention over slots as batched matmuls. Query head h reads kv head g = h / r
// (r = H / Hkv, Hugging Face repeat_kv order), so with heads moved ahead of positions the r query
// heads of group g are one matrix Q_g [r·T, D] against K_g, V_g [S, D], batched over the B·Hkv
// groups:
//   forward   P_g = softmax(scale · Q_g K_gᵀ; causal, key mask)   [r·T, S]  (probs [B, H, T, S])
//             O_gᵀ = V_gᵀ P_gᵀ                                   [D, r·T]
//   backward  dP_g = dO_g V_gᵀ,  dS_g = scale · P_g ∘ (dP_g − rowsum(dP_g ∘ P_g))
//             dQ_gᵀ = K_gᵀ dS_gᵀ,  dK_gᵀ = Q_gᵀ dS_g,  dV_gᵀ = dO_gᵀ P_g  (the products over r·T sum
//             the r query heads of the group)
// Products whose natural result is [·, D] are computed transposed: a register-blocked matmul
// workgroup spans 128 output columns, so D = 64 columns leave half of it idle while [D, ·] does not
// (llvmpipe, T = 256: 8 → 15 GFLOP/s). Activations and gradients stay in the projections' layouts
// ([B, T, heads, D]); permute moves them in and out of the per-group ones. The probabilities are
// returned so the backward pass can reuse them.
import type { Gpu } from '../../gpu.ts';
import { ShapeError } from '../../errors.ts';
import { expectDType, expectShape, shapeString, type Tensor } from '../../tensor.ts';
import { matmul } from '../matmul/matmul.ts';
import { permute } from '../permute/permute.ts';
import { attentionSoftmax, attentionSoftmaxBackward } from './softmax.ts';

/** [B, T, heads, D] → [B, heads, T, D] */
const HEADS_FIRST = [0, 2, 1, 3];
/** [B, Hkv, D, r, T] (transposed per-group results) → [B, T, Hkv, r, D] = [B, T, H, D] */
const QUERIES_BACK = [0, 4, 1, 3, 2];
/** [B, Hkv, D, T] → [B, T, Hkv, D] */
const KEYS_BACK = [0, 3, 1, 2];

export interface AttentionArgs {
  q: Tensor; // [B, T, H, D]
  k: Tensor; // [B, cap, Hkv, D]
  v: Tensor; // [B, cap, Hkv, D]
  mask: Tensor; // [B, cap] f32
  /** Slot of the first query (tokens already in the cache). */
  past: number;
  scale: number;
  /** Reuse buffers: probs [B, H, T, past+T], out [B·T, H·D]. */
  probs?: Tensor;
  out?: Tensor;
}

export interface AttentionResult {
  probs: Tensor;
  out: Tensor;
}

export function attention(gpu: Gpu, a: AttentionArgs): AttentionResult {
  for (const [name, t] of [['q', a.q], ['k', a.k], ['v', a.v], ['mask', a.mask]] as const) expectDType('attention', name, t, 'f32');
  if (a.q.rank !== 4 || a.k.rank !== 4) {
    throw new ShapeError(`attention: q ${shapeString(a.q.shape)} and k ${shapeString(a.k.shape)} must be rank 4.`);
  }
  const [B, T, H, D] = a.q.shape;
  const [, cap, Hkv] = a.k.shape;
  expectShape('attention', 'k', a.k, [B, cap, Hkv, D]);
  expectShape('attention', 'v', a.v, [B, cap, Hkv, D]);
  expectShape('attention', 'mask', a.mask, [B, cap]);
  if (H % Hkv !== 0) throw new ShapeError(`attention: ${H} query heads are not a multiple of ${Hkv} kv heads.`);
  const S = a.past + T;
  if (S > cap) throw new ShapeError(`attention: ${a.past} past + ${T} new slots exceed the cache capacity ${cap}.`);
  const probs = a.probs ?? gpu.empty([B, H, T, S], 'f32', 'attention.probs');
  const out = a.out ?? gpu.empty([B * T, H * D], 'f32', 'attention.out');
  expectShape('attention', 'probs', probs, [B, H, T, S]);
  if (out.numel !== B * T * H * D) throw new ShapeError(`attention: out ${shapeString(out.shape)} does not hold [${B * T}, ${H * D}].`);
  if (B * T * H === 0) return { probs, out };
  const G = B * Hkv;
  const r = H / Hkv;
  const q = permute(gpu, a.q, HEADS_FIRST); // [B, H, T, D] = [G, r·T, D]
  const k = permute(gpu, a.k, HEADS_FIRST, { lengths: [B, S, Hkv, D] }); // [B, Hkv, S, D]
  const v = permute(gpu, a.v, HEADS_FIRST, { lengths: [B, S, Hkv, D] });
  const probsG = probs.reshape([G, r * T, S]);
  matmul(gpu, q.reshape([G, r * T, D]), k.reshape([G, S, D]), { transB: true, out: probsG });
  attentionSoftmax(gpu, probs, a.mask, a.past, a.scale);
  const outT = matmul(gpu, v.reshape([G, S, D]), probsG, { transA: true, transB: true }); // [G, D, r·T]
  permute(gpu, outT.reshape([B, Hkv, D, r, T]), QUERIES_BACK, { out });
  for (const t of [q, k, v, outT]) t.release();
  return { probs, out };
}

export interface AttentionBackwardArgs {
  dOut: Tensor; // [B·T, H·D], the gradient of the attention output
  q: Tensor; // the forward's queries, B·T·H·D values
  k: Tensor; // keys, B·T·Hkv·D values
  v: Tensor;
  probs: Tensor; // [B, H, T, T] from the forward
  B: number;
  T: number;
  H: number;
  Hkv: number;
  D: number;
  scale: number;
}

/** Gradients of a training-batch attention (past = 0): dq [B·T, H·D], dk and dv [B·T, Hkv·D]. */
export function attentionBackward(gpu: Gpu, a: AttentionBackwardArgs): { dq: Tensor; dk: Tensor; dv: Tensor } {
  const { B, T, H, Hkv, D } = a;
  expectShape('attentionBackward', 'probs', a.probs, [B, H, T, T]);
  for (const [name, t, n] of [['dOut', a.dOut, B * T * H * D], ['q', a.q, B * T * H * D], ['k', a.k, B * T * Hkv * D], ['v', a.v, B * T * Hkv * D]] as const) {
    if (t.numel !== n) throw new ShapeError(`attentionBackward: ${name} "${t.label}" has ${t.numel} values, expected ${n}.`);
  }
  if (H % Hkv !== 0) throw new ShapeError(`attentionBackward: ${H} query heads are not a multiple of ${Hkv} kv heads.`);
  const dq = gpu.empty([B * T, H * D], 'f32', 'attention.dq');
  const dk = gpu.empty([B * T, Hkv * D], 'f32', 'attention.dk');
  const dv = gpu.empty([B * T, Hkv * D], 'f32', 'attention.dv');
  if (B * T * H === 0) return { dq, dk, dv };
  const G = B * Hkv;
  const r = H / Hkv;
  const perGroup = (t: Tensor, heads: number) => permute(gpu, t.reshape([B, T, heads, D]), HEADS_FIRST); // [B, heads, T, D]
  const dOut = perGroup(a.dOut, H);
  const q = perGroup(a.q, H);
  const k = perGroup(a.k, Hkv);
  const v = perGroup(a.v, Hkv);
  const dOutG = dOut.reshape([G, r * T, D]);
  const qG = q.reshape([G, r * T, D]);
  const kG = k.reshape([G, T, D]);
  const probsG = a.probs.reshape([G, r * T, T]);
  const dscores = gpu.empty([G, r * T, T], 'f32', 'attention.dscores');
  matmul(gpu, dOutG, v.reshape([G, T, D]), { transB: true, out: dscores }); // dP
  attentionSoftmaxBackward(gpu, dscores, probsG, a.scale); // dS
  const dqT = matmul(gpu, kG, dscores, { transA: true, transB: true }); // [G, D, r·T]
  const dkT = matmul(gpu, qG, dscores, { transA: true }); // [G, D, T]
  const dvT = matmul(gpu, dOutG, probsG, { transA: true });
  permute(gpu, dqT.reshape([B, Hkv, D, r, T]), QUERIES_BACK, { out: dq });
  permute(gpu, dkT.reshape([B, Hkv, D, T]), KEYS_BACK, { out: dk });
  permute(gpu, dvT.reshape([B, Hkv, D, T]), KEYS_BACK, { out: dv });
  for (const t of [dOut, q, k, v, dscores, dqT, dkT, dvT]) t.release();
  return { dq, dk, dv };
}
