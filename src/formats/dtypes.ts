// Safetensors dtypes and conversions between their little-endian bytes and typed arrays.
//
//   tensorToFloat32(t)     F32 (view when aligned), F16 and BF16 (exact), F64 (rounded to f32)
//   tensorToFloat16Bits(t) F16 (view when aligned), BF16 / F32 (round to nearest even)
//   tensorToInt32(t)       I32, I64 (range-checked), U8, BOOL
//   encodeFloat32(values, dtype) / encodeInt(values, dtype)   typed arrays -> bytes for the writer
//
// A "view when aligned" shares memory with the input bytes; copy it if the input buffer is reused.
import { float16ToFloat32, float32ToFloat16 } from '../engine/f16.ts';
import { SafetensorsError } from './errors.ts';

export const SAFETENSORS_DTYPES = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'U8', 'BOOL'] as const;
export type SafetensorsDType = (typeof SAFETENSORS_DTYPES)[number];

export const DTYPE_BYTES: Record<SafetensorsDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, BOOL: 1 };

export function isSafetensorsDType(value: unknown): value is SafetensorsDType {
  return typeof value === 'string' && (SAFETENSORS_DTYPES as readonly string[]).includes(value);
}

/** The bytes of one tensor with what they mean. `file` is where it came from (for messages). */
export interface TensorData {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  data: Uint8Array;
  file?: string;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes whose offset is a multiple of `align` (a copy only when the input is misaligned). */
function aligned(bytes: Uint8Array, align: number): Uint8Array {
  if (!LITTLE_ENDIAN) throw new Error('Student Lab needs a little-endian platform to read tensors.');
  return bytes.byteOffset % align === 0 ? bytes : bytes.slice();
}

function where(t: TensorData): string {
  return t.file ?? 'tensor data';
}

function unsupported(t: TensorData, wanted: string): SafetensorsError {
  return new SafetensorsError(where(t), `tensor "${t.name}" has dtype ${t.dtype}, which cannot be read as ${wanted}.`);
}

let f16Table: Float32Array | null = null;

/** All 65536 f16 values as f32 (256 KiB, built once): an exact, fast F16 -> F32 conversion. */
function float16Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let b = 0; b < 65536; b++) f16Table[b] = float16ToFloat32(b);
  }
  return f16Table;
}

export function tensorToFloat32(t: TensorData): Float32Array {
  const b = aligned(t.data, DTYPE_BYTES[t.dtype]);
  switch (t.dtype) {
    case 'F32':
      return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    case 'BF16': {
      // bf16 is the top half of an f32: shifting the bits is the exact conversion.
      const src = new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
      const out = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = src[i] << 16;
      return new Float32Array(out.buffer);
    }
    case 'F16': {
      const src = new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
      const table = float16Table();
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
      return out;
    }
    case 'F64':
      return Float32Array.from(new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8));
    default:
      throw unsupported(t, 'float32');
  }
}

/** f16 bit patterns (for uploads to `shader-f16` devices). BF16 and F32 are rounded to nearest even. */
export function tensorToFloat16Bits(t: TensorData): Uint16Array {
  if (t.dtype === 'F16') {
    const b = aligned(t.data, 2);
    return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
  }
  if (t.dtype !== 'F32' && t.dtype !== 'BF16') throw unsupported(t, 'float16');
  const values = tensorToFloat32(t);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16(values[i]);
  return out;
}

export function tensorToInt32(t: TensorData): Int32Array {
  const b = aligned(t.data, DTYPE_BYTES[t.dtype]);
  switch (t.dtype) {
    case 'I32':
      return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    case 'I64': {
      // Each value is (lo, hi) in little-endian order; it fits in i32 when hi is lo's sign extension.
      const words = new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
      const out = new Int32Array(words.length / 2);
      for (let i = 0; i < out.length; i++) {
        const lo = words[2 * i];
        if (words[2 * i + 1] !== lo >> 31) {
          const value = new BigInt64Array(b.buffer, b.byteOffset + 8 * i, 1)[0];
          throw new SafetensorsError(where(t), `tensor "${t.name}" element ${i} is ${value}, outside the int32 range.`, 'Token ids and labels must fit in 32 bits.');
        }
        out[i] = lo;
      }
      return out;
    }
    case 'U8':
    case 'BOOL':
      return Int32Array.from(b);
    default:
      throw unsupported(t, 'int32');
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round-to-nearest-even f32 -> bf16 bits (NaN stays a quiet NaN). */
export function float32ToBfloat16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** f32 values as the bytes of a float dtype (F32, F16, BF16). */
export function encodeFloat32(values: Float32Array, dtype: 'F32' | 'F16' | 'BF16'): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const out = new Uint16Array(values.length);
  const convert = dtype === 'F16' ? float32ToFloat16 : float32ToBfloat16;
  for (let i = 0; i < values.length; i++) out[i] = convert(values[i]);
  return new Uint8Array(out.buffer);
}

/** Integers as the bytes of I32 or I64 (I32 refuses values outside its range). */
export function encodeInt(values: ArrayLike<number | bigint>, dtype: 'I32' | 'I64'): Uint8Array {
  const n = values.length;
  if (dtype === 'I64') {
    const out = new BigInt64Array(n);
    for (let i = 0; i < n; i++) out[i] = BigInt(checkInteger(values[i], i));
    return new Uint8Array(out.buffer);
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = Number(checkInteger(values[i], i));
    if ((v | 0) !== v) throw new RangeError(`encodeInt: element ${i} (${v}) is outside the int32 range.`);
    out[i] = v;
  }
  return new Uint8Array(out.buffer);
}

function checkInteger(v: number | bigint, i: number): number | bigint {
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new RangeError(`encodeInt: element ${i} (${v}) is not an integer.`);
  return v;
}
