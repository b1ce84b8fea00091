// decodeAttention: one decode step's attention for batch 1, from the raw q/k/v projections to the
// o_proj input in one dispatch (see decode_attention.wgsl): q/k norm (Qwen3), RoPE, the new key and
// value into the KV cache, its slot marked valid, and GQA attention over the cache.
import type { Gpu, KernelSource } from '../../gpu.ts';
import { Params } from '../../gpu.ts';
import { ShapeError } from '../../errors.ts';
import { expectDType, expectShape, shapeString, type Tensor } from '../../tensor.ts';
import { variantName, wgslVariant } from '../wgsl-variants.ts';
import code from './decode_attention.wgsl?raw';

export interface DecodeAttentionArgs {
  /** [H·D + 2·Hkv·D]: q, k, v of the new token. */
  qkv: Tensor;
  /** [2, L, D/2]: RoPE cos table, then sin table. */
  rope: Tensor;
  /** Per-head RMSNorm weights [D] of q and k (Qwen3), with their epsilon. */
  qkNorm?: { q: Tensor; k: Tensor; eps: number };
  /** The cache of one layer: [1, cap, Hkv, D] each, and its key mask [1, cap]. */
  k: Tensor;
  v: Tensor;
  mask: Tensor;
  /** Cache slot of the new token (tokens before it are in slots 0 … slot-1). */
  slot: number;
  /** Its position (RoPE). */
  position: number;
  heads: number;
  scale: number;
  /** [H·D] */
  out: Tensor;
}

const MAX_D = 256;
const WG = 64;
const sources = new Map<string, KernelSource>();

function source(qkNorm: boolean): KernelSource {
  const flags = { QK_NORM: qkNorm };
  const name = variantName('decode_attention', flags);
  let s = sources.get(name);
  if (!s) sources.set(name, (s = { name, code: wgslVariant(code, flags) }));
  return s;
}

/** Storage buffers the kernel binds (with or without the q/k norms). */
export function decodeAttentionBindings(qkNorm: boolean): number {
  return qkNorm ? 8 : 6;
}

export function decodeAttention(gpu: Gpu, a: DecodeAttentionArgs): Tensor {
  const op = 'decodeAttention';
  const norms = a.qkNorm ? [a.qkNorm.q, a.qkNorm.k] : [];
  for (const t of [a.qkv, a.rope, a.k, a.v, a.mask, a.out, ...norms]) expectDType(op, `"${t.label}"`, t, 'f32');
  if (a.k.rank !== 4 || a.k.shape[0] !== 1) throw new ShapeError(`${op}: cache keys "${a.k.label}" ${shapeString(a.k.shape)} must be [1, cap, Hkv, D].`);
  const [, cap, Hkv, D] = a.k.shape;
  const H = a.heads;
  expectShape(op, 'v', a.v, [1, cap, Hkv, D]);
  expectShape(op, 'mask', a.mask, [1, cap]);
  if (!Number.isInteger(H) || H < 1 || H % Hkv !== 0) throw new ShapeError(`${op}: ${H} query heads are not a multiple of ${Hkv} kv heads.`);
  if (D % 8 !== 0 || D > MAX_D) throw new ShapeError(`${op}: head dim ${D} must be a multiple of 8 and at most ${MAX_D}.`);
  if (a.qkv.numel !== (H + 2 * Hkv) * D) throw new ShapeError(`${op}: qkv "${a.qkv.label}" ${shapeString(a.qkv.shape)} does not hold (${H} + 2·${Hkv})·${D} values.`);
  if (a.out.numel !== H * D) throw new ShapeError(`${op}: out "${a.out.label}" ${shapeString(a.out.shape)} does not hold ${H}·${D} values.`);
  expectShape(op, 'rope', a.rope, [2, null, D / 2]);
  const L = a.rope.shape[1];
  if (!Number.isInteger(a.slot) || a.slot < 0 || a.slot >= cap) throw new ShapeError(`${op}: slot ${a.slot} is outside the cache (capacity ${cap}).`);
  if (!Number.isInteger(a.position) || a.position < 0 || a.position >= L) {
    throw new ShapeError(`${op}: position ${a.position} is outside the RoPE tables (${L} positions).`);
  }
  for (const n of norms) expectShape(op, 'q/k norm weight', n, [D]);
  gpu.run({
    kernel: source(Boolean(a.qkNorm)),
    constants: { WG },
    bindings: [a.qkv, a.rope, ...norms, a.k, a.v, a.mask, a.out],
    params: new Params().u32(H, Hkv, D / 4, a.slot, a.position, L).f32(a.scale, a.qkNorm?.eps ?? 0),
    workgroups: [H],
  });
  return a.out;
}
