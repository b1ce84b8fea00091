import { describe, expect, it } from 'vitest';
import { decodeAttention } from '../../../src/engine/kernels/decode-attention/decode-attention.ts';
import { decodeAttentionRef } from '../../../src/engine/kernels/decode-attention/reference.ts';
import { ropeTables } from '../../../src/engine/kernels/rope/table.ts';
import { expectClose } from '../../helpers/close.ts';
import { makeRng, normal } from '../../helpers/random.ts';
import { testGpu } from '../setup.ts';

// As the attention test (dot products of length D, an f32 softmax, sums over slots), here with an
// online softmax whose rescaling adds a few ulps: 4e-6 absolute + 4e-5 relative. RoPE, the norm
// and the cache copy are single f32 operations: 1e-6.
const TOL = { atol: 4e-6, rtol: 4e-5 };
const EXACTISH = { atol: 1e-6, rtol: 1e-6 };

interface Case { H: number; Hkv: number; D: number; cap: number; slot: number; qkNorm?: boolean; holes?: boolean }

async function check(c: Case) {
  const gpu = await testGpu();
  const rng = makeRng();
  const { H, Hkv, D, cap, slot } = c;
  const qkv = normal(rng, (H + 2 * Hkv) * D, 1.5);
  const k = normal(rng, cap * Hkv * D);
  const v = normal(rng, cap * Hkv * D);
  const mask = new Float32Array(cap);
  for (let s = 0; s < slot; s++) mask[s] = c.holes && s % 5 === 2 ? 0 : 1;
  const invFreq = Array.from({ length: D / 2 }, (_, i) => 10000 ** (-(2 * i) / D));
  const tables = ropeTables(invFreq, 2048);
  const position = slot + 3; // positions need not equal slots
  const qkNorm = c.qkNorm ? { q: normal(rng, D, 0.1, 1), k: normal(rng, D, 0.1, 1), eps: 1e-6 } : undefined;
  const scale = 1 / Math.sqrt(D);
  const ref = decodeAttentionRef({ qkv, tables, qkNorm, k, v, mask, H, Hkv, D, slot, position, scale });
  const rope = new Float32Array(2 * tables.cos.length);
  rope.set(tables.cos);
  rope.set(tables.sin, tables.cos.length);
  const kc = gpu.upload(k, [1, cap, Hkv, D]);
  const vc = gpu.upload(v, [1, cap, Hkv, D]);
  const maskT = gpu.upload(mask, [1, cap]);
  const out = decodeAttention(gpu, {
    qkv: gpu.upload(qkv, [qkv.length]),
    rope: gpu.upload(rope, [2, 2048, D / 2]),
    qkNorm: qkNorm && { q: gpu.upload(qkNorm.q, [D]), k: gpu.upload(qkNorm.k, [D]), eps: qkNorm.eps },
    k: kc,
    v: vc,
    mask: maskT,
    slot,
    position,
    heads: H,
    scale,
    out: gpu.empty([H * D]),
  });
  const context = `${JSON.stringify(c)} seed=${rng.seed}`;
  const got = await gpu.readF32(out);
  expectClose(got, ref.out, TOL, `out ${context}`);
  expect(got.every(Number.isFinite)).toBe(true);
  expectClose(await gpu.readF32(kc), ref.k, EXACTISH, `k cache ${context}`);
  expectClose(await gpu.readF32(vc), ref.v, EXACTISH, `v cache ${context}`);
  expect(Array.from(await gpu.readF32(maskT))).toEqual(Array.from(ref.mask));
}

describe('decodeAttention vs reference', () => {
  it('first token (empty cache), GQA 2:1', () => check({ H: 4, Hkv: 2, D: 16, cap: 8, slot: 0 }));
  it('short cache, MHA', () => check({ H: 2, Hkv: 2, D: 16, cap: 20, slot: 9 }));
  it('cache longer than a workgroup, GQA 4:1, with masked slots', () => check({ H: 4, Hkv: 1, D: 32, cap: 200, slot: 150, holes: true }));
  it('Qwen3 q/k norms, head dim 128, GQA 3:1', () => check({ H: 6, Hkv: 2, D: 128, cap: 300, slot: 257, qkNorm: true }));
  it('head dim 24 (slot groups that do not fill the workgroup)', () => check({ H: 3, Hkv: 3, D: 24, cap: 90, slot: 77 }));
  it('a cache longer than one tile of slots (1024), with masked slots', () => check({ H: 2, Hkv: 1, D: 16, cap: 1100, slot: 1090, holes: true }));
  it('head dim 256 and the last slot of the cache', () => check({ H: 2, Hkv: 1, D: 256, cap: 70, slot: 69, qkNorm: true }));

  it('names what does not fit', async () => {
    const gpu = await testGpu();
    const kv = gpu.zeros([1, 8, 2, 16], 'f32', 'kv');
    const args = { qkv: gpu.zeros([128]), rope: gpu.zeros([2, 256, 8]), k: kv, v: kv, mask: gpu.zeros([1, 8]), position: 0, heads: 4, scale: 1, out: gpu.zeros([64]) };
    expect(() => decodeAttention(gpu, { ...args, slot: 8 })).toThrowError(/slot 8 is outside the cache \(capacity 8\)/);
    expect(() => decodeAttention(gpu, { ...args, slot: 0, position: 256 })).toThrowError(/position 256 is outside the RoPE tables/);
    expect(() => decodeAttention(gpu, { ...args, slot: 0, qkv: gpu.zeros([100], 'f32', 'qkv') })).toThrowError(/qkv "qkv" \[100\] does not hold/);
    const odd = gpu.zeros([1, 8, 2, 12]);
    expect(() => decodeAttention(gpu, { ...args, k: odd, v: odd, slot: 0 })).toThrowError(/head dim 12 must be a multiple of 8/);
  });
});
