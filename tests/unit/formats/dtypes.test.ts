import { describe, expect, it } from 'vitest';
import { float32ToFloat16 } from '../../../src/engine/f16.ts';
import { encodeFloat32, encodeInt, float32ToBfloat16, tensorToFloat16Bits, tensorToFloat32, tensorToInt32, type TensorData } from '../../../src/formats/dtypes.ts';
import { makeRng, normal } from '../../helpers/random.ts';

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const t = (dtype: TensorData['dtype'], data: Uint8Array, shape = [data.byteLength]): TensorData => ({ name: 'w', dtype, shape, data, file: 'x.safetensors' });

/** bf16 rounding derived from values: the nearer of the two bf16 neighbours, ties to even. */
function bf16Reference(x: number): number {
  const f = new Float32Array([x]);
  const bits = new Uint32Array(f.buffer)[0];
  const lo = bits >>> 16;
  const hi = lo + 1;
  const value = (b: number) => new Float32Array(new Uint32Array([(b & 0xffff) << 16]).buffer)[0];
  const dLo = Math.abs(f[0] - value(lo));
  const dHi = Math.abs(value(hi) - f[0]);
  if (dLo < dHi) return lo;
  if (dHi < dLo) return hi & 0xffff;
  return lo % 2 === 0 ? lo : hi & 0xffff;
}

describe('dtype conversions', () => {
  it('BF16 -> f32 is exact: the f32 bits are the bf16 bits shifted up', () => {
    const rng = makeRng();
    const bits = new Uint16Array(4096).map(() => Math.floor(rng.next() * 65536));
    const out = tensorToFloat32(t('BF16', bytes(bits)));
    const outBits = new Uint32Array(out.buffer, out.byteOffset, out.length);
    for (let i = 0; i < bits.length; i++) expect(outBits[i], `i=${i} seed=${rng.seed}`).toBe(bits[i] << 16 >>> 0);
    expect(Array.from(tensorToFloat32(t('BF16', bytes(new Uint16Array([0x3f80, 0xc000, 0x0000])))))).toEqual([1, -2, 0]);
  });

  it('F16 -> f32 is exact for all 65536 patterns (round-trips to the same bits) and decodes known values', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const out = tensorToFloat32(t('F16', bytes(all)));
    const wrong: number[] = [];
    for (let i = 0; i < 65536; i++) {
      const isNaN = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (isNaN ? !Number.isNaN(out[i]) : float32ToFloat16(out[i]) !== i) wrong.push(i);
    }
    expect(wrong).toEqual([]);
    expect([out[0x3c00], out[0xc000], out[0x7bff], out[0x0001], out[0x7c00]]).toEqual([1, -2, 65504, 2 ** -24, Infinity]);
  });

  it('F32 from misaligned bytes is copied, aligned bytes are viewed', () => {
    const values = new Float32Array([1.5, -2.25, 3]);
    const buf = new Uint8Array(13);
    buf.set(bytes(values), 1);
    expect(Array.from(tensorToFloat32(t('F32', buf.subarray(1))))).toEqual([1.5, -2.25, 3]);
    const view = tensorToFloat32(t('F32', bytes(values)));
    expect(view.buffer).toBe(values.buffer);
  });

  it('float32ToBfloat16 rounds to nearest, ties to even', () => {
    const rng = makeRng();
    const values = normal(rng, 5000, 10);
    for (const v of values) expect(float32ToBfloat16(v), `v=${v} seed=${rng.seed}`).toBe(bf16Reference(v));
    // Exact ties: 1 + 2^-8 lies halfway between 1 (even) and 1 + 2^-7; 1 + 3 * 2^-8 halfway between 1 + 2^-7 (odd) and 1 + 2^-6.
    expect(float32ToBfloat16(1 + 2 ** -8)).toBe(0x3f80);
    expect(float32ToBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(float32ToBfloat16(Infinity)).toBe(0x7f80);
    expect(float32ToBfloat16(NaN) & 0x7fc0).toBe(0x7fc0);
  });

  it('encodeFloat32 -> tensorToFloat32 round-trips F32 exactly and F16/BF16 to their rounding', () => {
    const rng = makeRng();
    const v = normal(rng, 777);
    expect(tensorToFloat32(t('F32', encodeFloat32(v, 'F32')))).toEqual(v);
    const h = tensorToFloat32(t('F16', encodeFloat32(v, 'F16')));
    const b = tensorToFloat32(t('BF16', encodeFloat32(v, 'BF16')));
    for (let i = 0; i < v.length; i++) {
      // Relative rounding error of one conversion: 2^-11 for f16 (normal range), 2^-8 for bf16.
      expect(Math.abs(h[i] - v[i])).toBeLessThanOrEqual(Math.abs(v[i]) * 2 ** -11 + 2 ** -24);
      expect(Math.abs(b[i] - v[i])).toBeLessThanOrEqual(Math.abs(v[i]) * 2 ** -8);
    }
    expect(tensorToFloat16Bits(t('BF16', encodeFloat32(new Float32Array([1, -0.5]), 'BF16')))).toEqual(new Uint16Array([0x3c00, 0xb800]));
  });

  it('I64 -> int32 with a range check that names the tensor and element', () => {
    const ok = new BigInt64Array([0n, -1n, 2147483647n, -2147483648n, 511n]);
    expect(Array.from(tensorToInt32(t('I64', bytes(ok))))).toEqual([0, -1, 2147483647, -2147483648, 511]);
    expect(() => tensorToInt32(t('I64', bytes(new BigInt64Array([5n, 2147483648n]))))).toThrow(/x\.safetensors: tensor "w" element 1 is 2147483648, outside the int32 range/);
    expect(() => tensorToInt32(t('I64', bytes(new BigInt64Array([4294967296n]))))).toThrow(/element 0 is 4294967296/);
    expect(Array.from(tensorToInt32(t('I32', encodeInt([3, -7], 'I32'))))).toEqual([3, -7]);
    expect(Array.from(tensorToInt32(t('I64', encodeInt([3, -7, 2 ** 31 - 1], 'I64'))))).toEqual([3, -7, 2 ** 31 - 1]);
    expect(() => encodeInt([2 ** 31], 'I32')).toThrow(RangeError);
    expect(() => tensorToFloat32(t('I64', bytes(ok)))).toThrow(/dtype I64, which cannot be read as float32/);
  });
});
