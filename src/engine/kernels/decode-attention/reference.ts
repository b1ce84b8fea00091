// decodeAttention reference (f64), composed of the references of the steps it fuses: per-head
// RMSNorm of q and k (Qwen3), RoPE, the cache update, and attention over the cache.
import { attentionRef } from '../attention/reference.ts';
import { rmsnormRef } from '../rmsnorm/reference.ts';
import { ropeRef } from '../rope/reference.ts';
import type { RopeTables } from '../rope/table.ts';

export interface DecodeAttentionRefArgs {
  qkv: Float32Array; // [H·D | Hkv·D | Hkv·D]
  tables: RopeTables;
  qkNorm?: { q: Float32Array; k: Float32Array; eps: number };
  k: Float32Array; // [cap, Hkv, D] before the step
  v: Float32Array;
  mask: Float32Array; // [cap]
  H: number;
  Hkv: number;
  D: number;
  slot: number;
  position: number;
  scale: number;
}

export function decodeAttentionRef(a: DecodeAttentionRefArgs): { out: Float64Array; k: Float32Array; v: Float32Array; mask: Float32Array } {
  const { H, Hkv, D, slot } = a;
  let q: ArrayLike<number> = a.qkv.subarray(0, H * D);
  let k: ArrayLike<number> = a.qkv.subarray(H * D, (H + Hkv) * D);
  const v = a.qkv.subarray((H + Hkv) * D);
  if (a.qkNorm) {
    q = rmsnormRef(q, a.qkNorm.q, D, a.qkNorm.eps).y;
    k = rmsnormRef(k, a.qkNorm.k, D, a.qkNorm.eps).y;
  }
  const position = Int32Array.of(a.position);
  const qr = ropeRef(Float32Array.from(q), position, H, a.tables);
  const kr = ropeRef(Float32Array.from(k), position, Hkv, a.tables);
  const cap = a.mask.length;
  const kc = Float32Array.from(a.k);
  const vc = Float32Array.from(a.v);
  kc.set(kr, slot * Hkv * D);
  vc.set(v, slot * Hkv * D);
  const mask = Float32Array.from(a.mask);
  mask[slot] = 1;
  const { out } = attentionRef({ q: qr, k: kc, v: vc, mask, B: 1, T: 1, H, Hkv, D, cap, past: slot, scale: a.scale });
  return { out, k: kc, v: vc, mask };
}
