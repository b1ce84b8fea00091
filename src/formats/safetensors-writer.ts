// Safetensors writer: tensors (+ string metadata) -> the bytes of a .safetensors file.
//
//   writeSafetensors(tensors, metadata)  the whole file as one Uint8Array
//   safetensorsParts(tensors, metadata)  [header, data, data, ...]: hand them to `new Blob(parts)` or a
//                                        file stream, no single big copy
//   planSafetensors(specs, metadata)     header bytes and the tensor order from shapes and dtypes
//                                        alone: write the header, then each tensor's bytes in `order`
//                                        as it becomes available (export of a large model)
//
// The JSON header is padded with spaces to a multiple of 8 bytes, and tensors are laid out by
// decreasing element size (stable otherwise), so every tensor starts at a multiple of its element
// size without gaps (the format forbids gaps). Encode f32/int values with ./dtypes.ts first.
import { DTYPE_BYTES, type SafetensorsDType } from './dtypes.ts';

export interface TensorSpec {
  name: string;
  dtype: SafetensorsDType;
  shape: readonly number[];
}

export interface TensorToWrite extends TensorSpec {
  /** Little-endian bytes of the tensor (any typed array is taken as its bytes). */
  data: ArrayBufferView;
}

export interface SafetensorsPlan {
  header: Uint8Array;
  /** Tensors in file order with their byte lengths. */
  order: (TensorSpec & { byteLength: number })[];
  /** Bytes of the whole file. */
  totalBytes: number;
}

function byteLengthOf(t: TensorSpec): number {
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new TypeError(`safetensors: tensor "${t.name}" has an invalid shape [${t.shape.join(', ')}].`);
  return t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
}

export function planSafetensors(specs: readonly TensorSpec[], metadata?: Record<string, string>): SafetensorsPlan {
  const header: Record<string, unknown> = {};
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TypeError(`safetensors metadata "${k}" must be a string.`);
    }
    header.__metadata__ = metadata;
  }
  const order = specs
    .map((t, i) => ({ t, i }))
    .sort((a, b) => DTYPE_BYTES[b.t.dtype] - DTYPE_BYTES[a.t.dtype] || a.i - b.i)
    .map(({ t }) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape], byteLength: byteLengthOf(t) }));
  let offset = 0;
  for (const t of order) {
    if (t.name === '__metadata__' || Object.hasOwn(header, t.name)) throw new TypeError(`safetensors: tensor name "${t.name}" is used twice or reserved.`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.byteLength] };
    offset += t.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return { header: head, order, totalBytes: head.byteLength + offset };
}

export function safetensorsParts(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Uint8Array[] {
  const plan = planSafetensors(tensors, metadata);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  return [
    plan.header,
    ...plan.order.map((spec) => {
      const t = byName.get(spec.name)!;
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      if (bytes.byteLength !== spec.byteLength) {
        throw new TypeError(`safetensors: tensor "${t.name}" ${t.dtype} [${t.shape.join(', ')}] needs ${spec.byteLength} bytes, got ${bytes.byteLength}.`);
      }
      return bytes;
    }),
  ];
}

export function writeSafetensors(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const parts = safetensorsParts(tensors, metadata);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}
