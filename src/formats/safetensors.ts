// Safetensors reader. Layout: 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}, then the
// data section; offsets are relative to the data section, which the tensors cover exactly.
//
// Three ways in, one validation (parseSafetensorsHeader):
//   parseSafetensors(bytes, file)            whole file in memory: random access, tensors are views
//   openSafetensors(randomAccess, file)      Blob/File/cached file/HTTP ranges: header first, then
//                                            read(name) or a streamed pass in file order
//   openSafetensorsStream(input, {file})     a ReadableStream / Response / Blob read once, front to back
// Streamed passes hold one tensor (tensors()) or one piece of at most `maxPieceBytes` (pieces()) at a
// time, so a 1 GB checkpoint never needs two copies in memory. Tensors from tensors() own a fresh,
// 8-aligned buffer; convert them with ./dtypes.ts (tensorToFloat32, tensorToInt32, ...).
import { ChunkReader, byteChunks, byteInputSize, type ByteInput, type RandomAccessBytes } from './bytes.ts';
import { DTYPE_BYTES, isSafetensorsDType, type SafetensorsDType, type TensorData } from './dtypes.ts';
import { SafetensorsError } from './errors.ts';

/** safetensors refuses headers above 100 MB; so do we (a larger length means a damaged file). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Byte range in the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  /** Length of the JSON header (N). */
  headerBytes: number;
  /** File offset of the data section (8 + N). */
  dataStart: number;
  /** Length of the data section (= end of the last tensor). */
  dataBytes: number;
  /** Tensors in file order. */
  entries: SafetensorsEntry[];
  byName: Map<string, SafetensorsEntry>;
  metadata: Record<string, string> | null;
}

/** One piece of a tensor in a streamed pass: `bytes` are bytes [offset, offset + bytes.length) of it. */
export interface TensorPiece {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  file: string;
  /** Total bytes of the tensor. */
  byteLength: number;
  offset: number;
  bytes: Uint8Array;
}

export interface StreamOptions {
  signal?: AbortSignal;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** N from the first 8 bytes, checked against the limit and (when known) the file size. */
export function readHeaderLength(first8: Uint8Array, file: string, fileSize: number | null): number {
  if (first8.byteLength < 8) throw new SafetensorsError(file, `the file has ${first8.byteLength} bytes, fewer than the 8-byte header length: it is truncated.`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(file, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit: the file is damaged or not a safetensors file.`);
  }
  const headerBytes = Number(n);
  if (fileSize !== null && 8 + headerBytes > fileSize) {
    throw new SafetensorsError(file, `header length ${headerBytes} runs past the end of the file (${fileSize} bytes): the file is truncated or not a safetensors file.`);
  }
  return headerBytes;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseEntry(file: string, name: string, raw: unknown): SafetensorsEntry {
  const bad = (what: string) => new SafetensorsError(file, `tensor "${name}": ${what}.`);
  if (!isRecord(raw)) throw bad('the header entry is not an object');
  const { dtype, shape, data_offsets: offsets } = raw;
  if (!isSafetensorsDType(dtype)) {
    throw new SafetensorsError(file, `tensor "${name}" has dtype ${JSON.stringify(dtype)}, which is not supported (F32, F16, BF16, F64, I32, I64, U8, BOOL).`, 'Convert the checkpoint to float32, float16 or bfloat16.');
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
    throw bad(`data_offsets ${JSON.stringify(offsets)} are not [begin, end] with 0 <= begin <= end`);
  }
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  const bytes = numel * DTYPE_BYTES[dtype];
  if (!Number.isSafeInteger(bytes) || bytes !== offsets[1] - offsets[0]) {
    throw bad(`shape [${shape.join(', ')}] of ${dtype} needs ${bytes} bytes but data_offsets [${offsets[0]}, ${offsets[1]}] span ${offsets[1] - offsets[0]}`);
  }
  return { name, dtype, shape: shape as number[], begin: offsets[0], end: offsets[1] };
}

/**
 * Parses and validates the JSON header: known dtypes, shape × dtype size equal to the byte range,
 * ranges inside the data section, no overlaps and no gaps (the format forbids both).
 * `fileSize` null means unknown (a stream without Content-Length); the caller then checks the end.
 */
export function parseSafetensorsHeader(json: Uint8Array, file: string, fileSize: number | null): SafetensorsHeader {
  const headerBytes = json.byteLength;
  let text: string;
  try {
    text = utf8.decode(json);
  } catch {
    throw new SafetensorsError(file, 'the header is not valid UTF-8: the file is damaged or not a safetensors file.');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(file, `the header is not valid JSON (${(err as Error).message}).`);
  }
  if (!isRecord(raw)) throw new SafetensorsError(file, 'the header is not a JSON object.');
  let metadata: Record<string, string> | null = null;
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (name === '__metadata__') {
      if (!isRecord(value) || !Object.values(value).every((v) => typeof v === 'string')) {
        throw new SafetensorsError(file, '__metadata__ must be an object of string values.');
      }
      metadata = value as Record<string, string>;
      continue;
    }
    entries.push(parseEntry(file, name, value));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let previous: SafetensorsEntry | null = null;
  for (const e of entries) {
    if (e.begin < expected) {
      throw new SafetensorsError(file, `tensors "${previous?.name}" [${previous?.begin}, ${previous?.end}] and "${e.name}" [${e.begin}, ${e.end}] overlap.`);
    }
    if (e.begin > expected) {
      throw new SafetensorsError(file, `data bytes [${expected}, ${e.begin}) before tensor "${e.name}" belong to no tensor (the format allows no gaps).`);
    }
    expected = e.end;
    previous = e;
  }
  const dataStart = 8 + headerBytes;
  if (fileSize !== null) {
    const available = fileSize - dataStart;
    if (expected > available) {
      const last = entries[entries.length - 1];
      throw new SafetensorsError(file, `tensor "${last.name}" has data_offsets [${last.begin}, ${last.end}] beyond the ${available}-byte data section: the file is truncated.`);
    }
    if (expected < available) {
      throw new SafetensorsError(file, `${available - expected} bytes after the last tensor belong to no tensor.`);
    }
  }
  return { file, headerBytes, dataStart, dataBytes: expected, entries, byName: new Map(entries.map((e) => [e.name, e])), metadata };
}

function entryBytes(e: SafetensorsEntry): number {
  return e.end - e.begin;
}

function truncated(header: SafetensorsHeader, e: SafetensorsEntry, position: number): SafetensorsError {
  return new SafetensorsError(header.file, `the file ends at byte ${position} inside tensor "${e.name}" (bytes ${header.dataStart + e.begin}..${header.dataStart + e.end}): it is truncated.`);
}

/** Streams the pieces of every tensor from a reader positioned at the start of the data section. */
async function* streamPieces(header: SafetensorsHeader, reader: ChunkReader, maxPieceBytes: number, signal?: AbortSignal): AsyncGenerator<TensorPiece> {
  if (!(maxPieceBytes > 0)) throw new RangeError('maxPieceBytes must be positive.');
  try {
    for (const e of header.entries) {
      const byteLength = entryBytes(e);
      const base = { name: e.name, dtype: e.dtype, shape: e.shape, file: header.file, byteLength };
      if (byteLength === 0) {
        yield { ...base, offset: 0, bytes: new Uint8Array(0) };
        continue;
      }
      for (let offset = 0; offset < byteLength; ) {
        signal?.throwIfAborted();
        const bytes = await reader.next(Math.min(maxPieceBytes, byteLength - offset));
        if (!bytes) throw truncated(header, e, reader.position);
        yield { ...base, offset, bytes };
        offset += bytes.byteLength;
      }
    }
    if (!(await reader.atEnd())) throw new SafetensorsError(header.file, `bytes continue after the last tensor (at byte ${reader.position}).`);
  } finally {
    await reader.close();
  }
}

/** Gathers pieces into whole tensors, each in its own fresh buffer. */
async function* wholeTensors(pieces: AsyncIterable<TensorPiece>): AsyncGenerator<TensorData> {
  let current: TensorData | null = null;
  for await (const p of pieces) {
    if (p.offset === 0) current = { name: p.name, dtype: p.dtype, shape: p.shape, file: p.file, data: new Uint8Array(p.byteLength) };
    if (!current) throw new Error('safetensors: piece out of order');
    current.data.set(p.bytes, p.offset);
    if (p.offset + p.bytes.byteLength === p.byteLength) yield current;
  }
}

/** A tensor's bytes as a view (no copy) into a whole file in memory. */
function viewOf(header: SafetensorsHeader, bytes: Uint8Array, e: SafetensorsEntry): TensorData {
  const start = header.dataStart + e.begin;
  return { name: e.name, dtype: e.dtype, shape: e.shape, file: header.file, data: bytes.subarray(start, start + entryBytes(e)) };
}

function missing(header: SafetensorsHeader, name: string): SafetensorsError {
  return new SafetensorsError(header.file, `has no tensor "${name}".`, 'Check the tensor name (Hugging Face names, e.g. model.layers.0.self_attn.q_proj.weight).');
}

export interface SafetensorsBuffer {
  header: SafetensorsHeader;
  /** The tensor's bytes as a view of the file buffer (no copy); throws when absent. */
  get(name: string): TensorData;
  has(name: string): boolean;
}

/** A whole safetensors file in memory: validated, with random access by name. */
export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsBuffer {
  const headerBytes = readHeaderLength(bytes.subarray(0, 8), file, bytes.byteLength);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + headerBytes), file, bytes.byteLength);
  return {
    header,
    has: (name) => header.byName.has(name),
    get(name) {
      const e = header.byName.get(name);
      if (!e) throw missing(header, name);
      return viewOf(header, bytes, e);
    },
  };
}

export interface SafetensorsFile {
  header: SafetensorsHeader;
  /** One tensor, read by its byte range. */
  read(name: string): Promise<TensorData>;
  /** A streamed pass over every tensor in file order (may be repeated). */
  tensors(options?: StreamOptions): AsyncIterable<TensorData>;
  pieces(maxPieceBytes: number, options?: StreamOptions): AsyncIterable<TensorPiece>;
}

/** Reads and validates the header of a random-access file, then reads tensors on demand. */
export async function openSafetensors(source: RandomAccessBytes, file: string): Promise<SafetensorsFile> {
  const headerBytes = readHeaderLength(await source.slice(0, Math.min(8, source.size)), file, source.size);
  const header = parseSafetensorsHeader(await source.slice(8, 8 + headerBytes), file, source.size);
  const pieces = (max: number, options?: StreamOptions) => streamPieces(header, new ChunkReader(source.chunks(header.dataStart, options?.signal)), max, options?.signal);
  return {
    header,
    async read(name) {
      const e = header.byName.get(name);
      if (!e) throw missing(header, name);
      const data = await source.slice(header.dataStart + e.begin, header.dataStart + e.end);
      if (data.byteLength !== entryBytes(e)) throw truncated(header, e, header.dataStart + e.begin + data.byteLength);
      return { name: e.name, dtype: e.dtype, shape: e.shape, file, data };
    },
    pieces,
    tensors: (options) => wholeTensors(pieces(DEFAULT_PIECE_BYTES, options)),
  };
}

/** Piece size of whole-tensor passes (only bounds the chunk copies; tensors are whole anyway). */
const DEFAULT_PIECE_BYTES = 16 * 1024 * 1024;

export interface SafetensorsStream {
  header: SafetensorsHeader;
  /** Every tensor in file order. A stream is read once: use tensors() or pieces(), not both. */
  tensors(): AsyncIterable<TensorData>;
  pieces(maxPieceBytes: number): AsyncIterable<TensorPiece>;
  /** Stop early (cancels the input). */
  close(): Promise<void>;
}

export interface StreamInputOptions extends StreamOptions {
  file: string;
  /** Total size when known (taken from a Blob or a Response's Content-Length otherwise). */
  size?: number | null;
}

/** Reads the header from the front of a one-pass input; the tensors follow as the input is read. */
export async function openSafetensorsStream(input: ByteInput, options: StreamInputOptions): Promise<SafetensorsStream> {
  const { file, signal } = options;
  const size = options.size ?? byteInputSize(input);
  const reader = new ChunkReader(byteChunks(input, signal));
  try {
    const first8 = new Uint8Array(8);
    const got = await reader.readInto(first8);
    const headerBytes = readHeaderLength(first8.subarray(0, got), file, size);
    const json = new Uint8Array(headerBytes);
    if ((await reader.readInto(json)) < headerBytes) {
      throw new SafetensorsError(file, `the file ends at byte ${reader.position}, inside the ${headerBytes}-byte header: it is truncated.`);
    }
    const header = parseSafetensorsHeader(json, file, size);
    let used = false;
    const pieces = (max: number) => {
      if (used) throw new Error(`${file}: a safetensors stream can be read only once.`);
      used = true;
      return streamPieces(header, reader, max, signal);
    };
    return { header, pieces, tensors: () => wholeTensors(pieces(DEFAULT_PIECE_BYTES)), close: () => reader.close() };
  } catch (err) {
    await reader.close();
    throw err;
  }
}
