import { openAsBlob } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { blobBytes, memoryBytes } from '../../../src/formats/bytes.ts';
import { encodeFloat32, encodeInt, float32ToBfloat16, tensorToFloat32, tensorToInt32, type SafetensorsDType } from '../../../src/formats/dtypes.ts';
import { openSafetensors, openSafetensorsStream, parseSafetensors } from '../../../src/formats/safetensors.ts';
import { writeSafetensors, type TensorToWrite } from '../../../src/formats/safetensors-writer.ts';
import { makeRng, normal, type Rng } from '../../helpers/random.ts';
import { fixtureBytes, fixtureJson, fixturePath, MODELS } from './fixtures.ts';

const FILES = MODELS.flatMap((m) => [`${m}/model.safetensors`, `${m}/reference.safetensors`, `${m}/lora/adapter_model.safetensors`]);

/** A ReadableStream that delivers `bytes` in random chunk sizes (1..maxChunk). */
function choppedStream(bytes: Uint8Array, rng: Rng, maxChunk: number): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i >= bytes.byteLength) return c.close();
      const n = 1 + Math.floor(rng.next() * maxChunk);
      c.enqueue(bytes.slice(i, i + n));
      i += n;
    },
  });
}

/** A file with a hand-made header (no validation on the way out). */
function craft(header: Record<string, unknown>, data: Uint8Array, headerLength?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

const f32 = (name: string, shape: number[], begin: number) => ({ [name]: { dtype: 'F32', shape, data_offsets: [begin, begin + 4 * shape.reduce((a, b) => a * b, 1)] } });

describe('safetensors reader on the fixtures', () => {
  it('reference.safetensors headers match the dtype/shape index in reference.json', () => {
    for (const m of MODELS) {
      const st = parseSafetensors(fixtureBytes(m, 'reference.safetensors'), 'reference.safetensors');
      const index = fixtureJson<{ tensors: Record<string, { dtype: string; shape: number[] }> }>(m, 'reference.json').tensors;
      expect(new Set(st.header.byName.keys())).toEqual(new Set(Object.keys(index)));
      for (const [name, want] of Object.entries(index)) {
        const e = st.header.byName.get(name)!;
        expect({ dtype: e.dtype, shape: e.shape }, `${m} ${name}`).toEqual({ dtype: want.dtype === 'float32' ? 'F32' : 'I64', shape: want.shape });
      }
    }
  });

  it('values agree with what reference.json lists independently (ids, loss)', () => {
    for (const m of MODELS) {
      const st = parseSafetensors(fixtureBytes(m, 'reference.safetensors'), 'reference.safetensors');
      const ref = fixtureJson<{ inputs: { a: { input_ids: number[] }; c: { input_ids: number[][] } }; lora: { loss: number } }>(m, 'reference.json');
      expect(Array.from(tensorToInt32(st.get('a.input_ids')))).toEqual(ref.inputs.a.input_ids);
      expect(Array.from(tensorToInt32(st.get('c.input_ids')))).toEqual(ref.inputs.c.input_ids.flat());
      expect(tensorToFloat32(st.get('lora.loss'))[0]).toBe(Math.fround(ref.lora.loss));
    }
  });

  it('reads BF16 weights as the exact bf16 rounding of the f32 weights they were cast from', () => {
    const full = parseSafetensors(fixtureBytes('llama', 'model.safetensors'), 'llama');
    const half = parseSafetensors(fixtureBytes('llama-bf16', 'model.safetensors'), 'llama-bf16');
    expect(half.header.entries.map((e) => e.name)).toEqual(full.header.entries.map((e) => e.name));
    for (const e of half.header.entries) {
      expect(e.dtype).toBe('BF16');
      const f = tensorToFloat32(full.get(e.name));
      const want = new Uint16Array(f.length);
      for (let i = 0; i < f.length; i++) want[i] = float32ToBfloat16(f[i]);
      expect(Buffer.compare(half.get(e.name).data, new Uint8Array(want.buffer)), e.name).toBe(0);
      const back = tensorToFloat32(half.get(e.name));
      expect(Buffer.compare(new Uint8Array(back.buffer), new Uint8Array(Uint32Array.from(want, (b) => b << 16).buffer)), e.name).toBe(0);
    }
  });

  it('streams every fixture file (random chunking, Blob, pieces) to the same tensors as random access, in file order', async () => {
    const rng = makeRng();
    for (const file of FILES) {
      const bytes = fixtureBytes(file);
      const st = parseSafetensors(bytes, file);
      const names = st.header.entries.map((e) => e.name);

      const stream = await openSafetensorsStream(choppedStream(bytes, rng, 3000), { file });
      const streamed = [];
      for await (const t of stream.tensors()) streamed.push(t);
      expect(streamed.map((t) => t.name), `${file} seed=${rng.seed}`).toEqual(names);
      for (const t of streamed) {
        expect(t.data.byteOffset % 8).toBe(0);
        expect(Buffer.compare(t.data, st.get(t.name).data), `${file} ${t.name} seed=${rng.seed}`).toBe(0);
      }

      const fromBlob = await openSafetensors(blobBytes(await openAsBlob(fixturePath(file))), file);
      const last = names[names.length - 1];
      expect(Buffer.compare((await fromBlob.read(last)).data, st.get(last).data)).toBe(0);
      const parts = new Map<string, Uint8Array>();
      for await (const p of fromBlob.pieces(997)) {
        expect(p.bytes.byteLength).toBeLessThanOrEqual(997);
        const whole = parts.get(p.name) ?? new Uint8Array(p.byteLength);
        whole.set(p.bytes, p.offset);
        parts.set(p.name, whole);
      }
      expect([...parts.keys()]).toEqual(names);
      for (const [name, data] of parts) expect(Buffer.compare(data, st.get(name).data), name).toBe(0);
    }
  });
});

describe('safetensors writer', () => {
  it('rewrites every fixture file byte for byte from its tensors and metadata', () => {
    for (const file of FILES) {
      const bytes = fixtureBytes(file);
      const st = parseSafetensors(bytes, file);
      const again = writeSafetensors(st.header.entries.map((e) => st.get(e.name)), st.header.metadata ?? undefined);
      expect(Buffer.compare(again, bytes), file).toBe(0);
    }
  });

  it('round-trips F32/F16/BF16/I32/I64 tensors, scalars, empty tensors and metadata, every tensor aligned', async () => {
    const rng = makeRng();
    const v = normal(rng, 3 * 5);
    const tensors: TensorToWrite[] = [
      { name: 'h', dtype: 'F16', shape: [3, 5], data: encodeFloat32(v, 'F16') },
      { name: 'b', dtype: 'BF16', shape: [15], data: encodeFloat32(v, 'BF16') },
      { name: 'w', dtype: 'F32', shape: [5, 3], data: v },
      { name: 'ids', dtype: 'I64', shape: [2, 2], data: encodeInt([1, -2, 3, 2 ** 31 - 1], 'I64') },
      { name: 'n', dtype: 'I32', shape: [3], data: encodeInt([7, 8, -9], 'I32') },
      { name: 'scalar', dtype: 'F32', shape: [], data: new Float32Array([0.5]) },
      { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
      { name: 'mask', dtype: 'U8', shape: [3], data: new Uint8Array([1, 0, 1]) },
    ];
    const bytes = writeSafetensors(tensors, { format: 'pt', note: 'hi' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const st = parseSafetensors(bytes, 'out.safetensors');
    expect(st.header.metadata).toEqual({ format: 'pt', note: 'hi' });
    for (const e of st.header.entries) {
      const size = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, U8: 1, BOOL: 1 }[e.dtype as SafetensorsDType];
      expect((st.header.dataStart + e.begin) % size, e.name).toBe(0);
    }
    for (const t of tensors) {
      const got = st.get(t.name);
      expect({ dtype: got.dtype, shape: got.shape }).toEqual({ dtype: t.dtype, shape: t.shape });
      expect(Buffer.compare(got.data, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)), t.name).toBe(0);
    }
    expect(Array.from(tensorToInt32(st.get('ids')))).toEqual([1, -2, 3, 2 ** 31 - 1]);
    const streamed = await openSafetensorsStream(new Blob([bytes as Uint8Array<ArrayBuffer>]), { file: 'out' });
    const names = [];
    for await (const t of streamed.tensors()) names.push(t.name);
    expect(names).toEqual(st.header.entries.map((e) => e.name));
  });

  it('refuses tensors whose bytes do not fit their shape, and duplicate names', () => {
    expect(() => writeSafetensors([{ name: 'x', dtype: 'F32', shape: [2, 2], data: new Float32Array(3) }])).toThrow(/"x" F32 \[2, 2\] needs 16 bytes, got 12/);
    expect(() => writeSafetensors([{ name: 'x', dtype: 'F32', shape: [1], data: new Float32Array(1) }, { name: 'x', dtype: 'F16', shape: [1], data: new Uint16Array(1) }])).toThrow(/"x" is used twice/);
  });
});

describe('safetensors bad input', () => {
  const good = craft({ ...f32('a', [2, 3], 0), ...f32('b', [4], 24) }, new Uint8Array(40));
  const open = (bytes: Uint8Array) => parseSafetensors(bytes, 'bad.safetensors');

  it('accepts the well-formed base case', () => {
    expect(open(good).header.entries.map((e) => e.name)).toEqual(['a', 'b']);
  });

  it('truncated files: shorter than 8 bytes, inside the header, inside the data', async () => {
    expect(() => open(good.subarray(0, 5))).toThrow(/bad\.safetensors: the file has 5 bytes, fewer than the 8-byte header length: it is truncated/);
    expect(() => open(good.subarray(0, 20))).toThrow(/header length \d+ runs past the end of the file \(20 bytes\)/);
    expect(() => open(good.subarray(0, good.byteLength - 3))).toThrow(/tensor "b" has data_offsets \[24, 40\] beyond the 37-byte data section: the file is truncated/);
    // A stream of unknown length finds out while reading the tensor.
    const s = await openSafetensorsStream(new ReadableStream({ start: (c) => (c.enqueue(good.slice(0, good.byteLength - 3)), c.close()) }), { file: 'cut.safetensors' });
    await expect(async () => {
      for await (const _ of s.tensors()) void _;
    }).rejects.toThrow(/cut\.safetensors: the file ends at byte \d+ inside tensor "b"/);
  });

  it('oversized header lengths', () => {
    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
    expect(() => open(huge)).toThrow(/header length 1099511627776 exceeds the 100000000-byte limit/);
    const long = good.slice();
    new DataView(long.buffer).setBigUint64(0, BigInt(good.byteLength), true);
    expect(() => open(long)).toThrow(/runs past the end of the file/);
  });

  it('offsets out of range, overlapping, with gaps, or disagreeing with shape × dtype', () => {
    expect(() => open(craft({ ...f32('a', [2, 3], 0), ...f32('b', [4], 30) }, new Uint8Array(46)))).toThrow(/data bytes \[24, 30\) before tensor "b" belong to no tensor/);
    expect(() => open(craft({ ...f32('a', [2, 3], 0), ...f32('b', [4], 20) }, new Uint8Array(36)))).toThrow(/tensors "a" \[0, 24\] and "b" \[20, 36\] overlap/);
    expect(() => open(craft({ ...f32('a', [2, 3], 0), ...f32('b', [4], 24) }, new Uint8Array(30)))).toThrow(/tensor "b" has data_offsets \[24, 40\] beyond the 30-byte data section/);
    expect(() => open(craft({ a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, new Uint8Array(20)))).toThrow(/tensor "a": shape \[2, 3\] of F32 needs 24 bytes but data_offsets \[0, 20\] span 20/);
    expect(() => open(craft({ a: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, new Uint8Array(8)))).toThrow(/data_offsets \[8,4\] are not \[begin, end\]/);
    expect(() => open(craft({ ...f32('a', [2], 0) }, new Uint8Array(12)))).toThrow(/4 bytes after the last tensor belong to no tensor/);
  });

  it('unsupported dtypes, invalid JSON, bad metadata', () => {
    expect(() => open(craft({ w: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } }, new Uint8Array(4)))).toThrow(/tensor "w" has dtype "F8_E4M3", which is not supported/);
    const text = new TextEncoder().encode('{"a": ');
    const broken = new Uint8Array(8 + text.byteLength);
    new DataView(broken.buffer).setBigUint64(0, BigInt(text.byteLength), true);
    broken.set(text, 8);
    expect(() => open(broken)).toThrow(/the header is not valid JSON/);
    expect(() => open(craft({ __metadata__: { format: 1 } }, new Uint8Array(0)))).toThrow(/__metadata__ must be an object of string values/);
    expect(() => open(craft([] as unknown as Record<string, unknown>, new Uint8Array(0)))).toThrow(/the header is not a JSON object/);
  });

  it('random access to an absent tensor names it', async () => {
    const f = await openSafetensors(memoryBytes(good), 'good.safetensors');
    await expect(f.read('zzz')).rejects.toThrow(/good\.safetensors: has no tensor "zzz"/);
  });
});
