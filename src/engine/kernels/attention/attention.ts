// Causal GQA attention over slots (see attention_probs.wgsl for the layouts): probabilities, then
// the weighted sum of values. The probabilities are returned so the backward pass can reuse them.
import type { Gpu, KernelSource } from '../../gpu.ts';
import { Params } from '../../gpu.ts';
import { ShapeError } from '../../errors.ts';
import { expectDType, expectShape, shapeString, type Tensor } from '../../tensor.ts';
import probsCode from './attention_probs.wgsl?raw';
import valuesCode from './attention_values.wgsl?raw';
import bwScoresCode from './attention_backward_scores.wgsl?raw';
import bwDqCode from './attention_backward_dq.wgsl?raw';
import bwDkvCode from './attention_backward_dkv.wgsl?raw';

const PROBS: KernelSource = { name: 'attention_probs', code: probsCode };
const VALUES: KernelSource = { name: 'attention_values', code: valuesCode };
const WG_PROBS = 128;
const WG_VALUES = 256;
const MAX_D = 256;

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
  if (D > MAX_D) throw new ShapeError(`attention: head dim ${D} exceeds ${MAX_D}.`);
  const S = a.past + T;
  if (S > cap) throw new ShapeError(`attention: ${a.past} past + ${T} new slots exceed the cache capacity ${cap}.`);
  const probs = a.probs ?? gpu.empty([B, H, T, S], 'f32', 'attention.probs');
  const out = a.out ?? gpu.empty([B * T, H * D], 'f32', 'attention.out');
  expectShape('attention', 'probs', probs, [B, H, T, S]);
  if (out.numel !== B * T * H * D) throw new ShapeError(`attention: out ${shapeString(out.shape)} does not hold [${B * T}, ${H * D}].`);
  if (B * T * H === 0) return { probs, out };
  gpu.run({
    kernel: PROBS,
    constants: { WG: WG_PROBS, MAX_D },
    bindings: [a.q, a.k, a.mask, probs],
    params: new Params().u32(B, T, H, Hkv, D, S, cap, a.past).f32(a.scale),
    workgroups: gpu.grid(B * H * T),
  });
  gpu.run({
    kernel: VALUES,
    constants: { WG: WG_VALUES },
    bindings: [probs, a.v, out],
    params: new Params().u32(B, T, H, Hkv, D, S, cap),
    workgroups: gpu.grid(Math.ceil((B * T * H * D) / WG_VALUES)),
  });
  return { probs, out };
}

const BW_SCORES: KernelSource = { name: 'attention_backward_scores', code: bwScoresCode };
const BW_DQ: KernelSource = { name: 'attention_backward_dq', code: bwDqCode };
const BW_DKV: KernelSource = { name: 'attention_backward_dkv', code: bwDkvCode };

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
  if (D > MAX_D) throw new ShapeError(`attentionBackward: head dim ${D} exceeds ${MAX_D}.`);
  const dscores = gpu.empty([B, H, T, T], 'f32', 'attention.dscores');
  const dq = gpu.empty([B * T, H * D], 'f32', 'attention.dq');
  const dk = gpu.empty([B * T, Hkv * D], 'f32', 'attention.dk');
  const dv = gpu.empty([B * T, Hkv * D], 'f32', 'attention.dv');
  gpu.run({
    kernel: BW_SCORES,
    constants: { WG: WG_PROBS, MAX_D },
    bindings: [a.dOut, a.v, a.probs, dscores],
    params: new Params().u32(B, T, H, Hkv, D),
    workgroups: gpu.grid(B * H * T),
  });
  gpu.run({
    kernel: BW_DQ,
    constants: { WG: WG_VALUES },
    bindings: [dscores, a.k, dq],
    params: new Params().u32(B, T, H, Hkv, D).f32(a.scale),
    workgroups: gpu.grid(Math.ceil((B * T * H * D) / WG_VALUES)),
  });
  gpu.run({
    kernel: BW_DKV,
    constants: { WG: WG_VALUES },
    bindings: [dscores, a.probs, a.q, a.dOut, dk, dv],
    params: new Params().u32(B, T, H, Hkv, D).f32(a.scale),
    workgroups: gpu.grid(Math.ceil((B * T * Hkv * D) / WG_VALUES)),
  });
  dscores.release();
  return { dq, dk, dv };
}
