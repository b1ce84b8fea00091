// Teacher caches in IndexedDB, chunked by position ranges (whole examples per chunk, a few MB
// each), so a 100k-position cache is a handful of small records, never one giant one.
//
//   saveTeacherCache(db, cache, {id, name})   an imported cache: every chunk and the record in one
//                                             transaction (all of it lands, or none)
//   TeacherCacheBuild.begin(db, ...)          a cache computed here: examples are appended, each full
//                                             chunk is written together with the progress record;
//                                             begin() on the same id after a reload resumes
//   listTeacherCaches / loadTeacherCache / deleteTeacherCache / exportTeacherCache
//
// A build is `complete: false` until finish(); loadTeacherCache refuses incomplete caches. A quota
// error aborts the transaction in flight (StorageQuotaError): earlier chunks, the recorded progress
// and every other cache stay as they were.
import { LabError } from '../engine/errors.ts';
import {
  encodeTeacherCache,
  validateTeacherCache,
  type CacheKind,
  type StoredProbs,
  type TeacherCache,
  type TeacherCacheMeta,
} from '../formats/teacher-cache.ts';
import type { IDBPTransaction } from 'idb';
import { StorageQuotaError, deleteChunked, isQuotaError, type LabDb, type LabSchema } from './db.ts';

/** Target payload of one chunk record. */
export const TEACHER_CHUNK_BYTES = 4 * 1024 * 1024;

export interface ChunkInfo {
  index: number;
  firstExample: number;
  examples: number;
  firstPosition: number;
  positions: number;
  bytes: number;
}

export type ValueDType = 'F16' | 'F32';

/** The record in the `teacherCaches` store (plain data). */
export type StoredTeacherCache = {
  id: string;
  name: string;
  kind: CacheKind;
  /** dtype of the stored probabilities (advantages are F32). */
  valueDType: ValueDType;
  meta: TeacherCacheMeta;
  /** False while a build is under way or was interrupted. */
  complete: boolean;
  /** Examples in written chunks: always a prefix of meta.exampleIds. */
  examplesDone: number;
  positionsDone: number;
  bytes: number;
  chunks: ChunkInfo[];
  createdAt: number;
  updatedAt: number;
};

export interface TeacherCacheSummary {
  id: string;
  name: string;
  kind: CacheKind;
  response: TeacherCacheMeta['response'];
  model: string;
  k: number;
  complete: boolean;
  examplesDone: number;
  examplesTotal: number;
  /** examplesDone / examplesTotal (1 for an empty data set). */
  coverage: number;
  positions: number;
  bytes: number;
  createdAt: number;
  updatedAt: number;
}

export class TeacherCacheIncompleteError extends LabError {
  constructor(name: string, done: number, total: number) {
    super('TeacherCacheIncompleteError', `Teacher cache "${name}" is incomplete: ${done} of ${total} examples were computed.`, 'Resume its build (Data & teacher cache panel) or delete it.');
  }
}

export class TeacherCacheStoreError extends LabError {
  constructor(message: string, hint?: string) {
    super('TeacherCacheStoreError', message, hint);
  }
}

// ---- chunk payloads ---------------------------------------------------------------------------
// u32 header [examples, positions, K, valueCode], then i32 exampleLengths[examples],
// i32 tokens[positions], i32 indices[positions·K], f32 rest[positions] (probs caches only),
// values[positions·K] (u16 f16 bits, or f32): every array 4-aligned except the last.

const VALUE_CODE = { F16: 0, F32: 1, advantage: 2 } as const;

interface ChunkData {
  exampleLengths: Int32Array;
  tokens: Int32Array;
  indices: Int32Array;
  rest: Float32Array | null;
  values: Uint16Array | Float32Array;
}

function encodeChunk(kind: CacheKind, dtype: ValueDType, K: number, c: ChunkData): ArrayBuffer {
  const E = c.exampleLengths.length;
  const P = c.tokens.length;
  const valueBytes = kind === 'probs' && dtype === 'F16' ? 2 : 4;
  const size = 16 + 4 * (E + P + P * K + (kind === 'probs' ? P : 0)) + valueBytes * P * K;
  const buf = new ArrayBuffer(size);
  new Uint32Array(buf, 0, 4).set([E, P, K, kind === 'advantage' ? VALUE_CODE.advantage : VALUE_CODE[dtype]]);
  let o = 16;
  const put = (a: Int32Array | Float32Array | Uint16Array) => {
    new Uint8Array(buf, o, a.byteLength).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    o += a.byteLength;
  };
  put(c.exampleLengths);
  put(c.tokens);
  put(c.indices);
  if (kind === 'probs' && c.rest) put(c.rest);
  put(c.values);
  return buf;
}

function decodeChunk(buf: ArrayBuffer, where: string): ChunkData & { K: number; code: number } {
  const damaged = (what: string) => new TeacherCacheStoreError(`${where} is damaged: ${what}.`, 'Delete the cache and import or build it again.');
  if (buf.byteLength < 16) throw damaged('the chunk is shorter than its header');
  const [E, P, K, code] = new Uint32Array(buf, 0, 4);
  const valueBytes = code === VALUE_CODE.F16 ? 2 : 4;
  const expected = 16 + 4 * (E + P + P * K + (code === VALUE_CODE.advantage ? 0 : P)) + valueBytes * P * K;
  if (buf.byteLength !== expected) throw damaged(`the chunk has ${buf.byteLength} bytes, its header announces ${expected}`);
  let o = 16;
  const i32 = (n: number) => {
    const a = new Int32Array(buf, o, n);
    o += 4 * n;
    return a;
  };
  const exampleLengths = i32(E);
  const tokens = i32(P);
  const indices = i32(P * K);
  let rest: Float32Array | null = null;
  if (code !== VALUE_CODE.advantage) {
    rest = new Float32Array(buf, o, P);
    o += 4 * P;
  }
  const values = code === VALUE_CODE.F16 ? new Uint16Array(buf, o, P * K) : new Float32Array(buf, o, P * K);
  return { exampleLengths, tokens, indices, rest, values, K, code };
}

// ---- transactions -----------------------------------------------------------------------------

/** Run writes in one readwrite transaction over the cache stores; a quota error aborts all of them. */
type CacheTx = IDBPTransaction<LabSchema, ('teacherCaches' | 'teacherCacheChunks')[], 'readwrite'>;

async function atomically(db: LabDb, what: string, write: (tx: CacheTx) => Promise<void>): Promise<void> {
  const tx = db.transaction(['teacherCaches', 'teacherCacheChunks'], 'readwrite');
  try {
    await write(tx);
    await tx.done;
  } catch (err) {
    try {
      tx.abort();
    } catch {
      // already finished or aborted
    }
    await tx.done.catch(() => undefined);
    const cause = (err as { cause?: unknown })?.cause;
    if (isQuotaError(err) || isQuotaError(cause) || isQuotaError(tx.error)) throw new StorageQuotaError(what);
    throw err;
  }
}

function chunkKeyRange(id: string): IDBKeyRange {
  return IDBKeyRange.bound([id, 0], [id, Infinity]);
}

function isStored(v: unknown): v is StoredTeacherCache {
  const r = v as Partial<StoredTeacherCache> | undefined;
  return !!r && typeof r.id === 'string' && typeof r.complete === 'boolean' && Array.isArray(r.chunks) && typeof r.meta === 'object';
}

async function getRecord(db: LabDb, id: string): Promise<StoredTeacherCache | undefined> {
  const r = await db.get('teacherCaches', id);
  if (r === undefined) return undefined;
  if (!isStored(r)) throw new TeacherCacheStoreError(`The stored record of teacher cache "${id}" is not a teacher cache record.`);
  return r;
}

// ---- splitting a cache into chunk payloads ---------------------------------------------------

function slice(c: TeacherCache, e0: number, e1: number): ChunkData {
  const K = c.meta.k;
  const p0 = c.exampleOffsets[e0];
  const p1 = c.exampleOffsets[e1];
  const exampleLengths = new Int32Array(e1 - e0);
  for (let e = e0; e < e1; e++) exampleLengths[e - e0] = c.exampleOffsets[e + 1] - c.exampleOffsets[e];
  const values = c.kind === 'advantage' ? c.advantage : c.probs.dtype === 'F16' ? c.probs.bits : c.probs.values;
  return {
    exampleLengths,
    tokens: c.tokens.subarray(p0, p1),
    indices: c.indices.subarray(p0 * K, p1 * K),
    rest: c.kind === 'probs' ? c.rest.subarray(p0, p1) : null,
    values: values.subarray(p0 * K, p1 * K),
  };
}

function bytesPerPosition(kind: CacheKind, dtype: ValueDType, K: number): number {
  return 4 + 4 * K + (kind === 'probs' ? 4 + (dtype === 'F16' ? 2 : 4) * K : 4 * K);
}

function valueDTypeOf(c: TeacherCache): ValueDType {
  return c.kind === 'probs' ? c.probs.dtype : 'F32';
}

/** Example ranges [e0, e1) of about `target` bytes each (at least one example per chunk). */
function chunkRanges(c: TeacherCache, target: number): [number, number][] {
  const per = bytesPerPosition(c.kind, valueDTypeOf(c), c.meta.k);
  const E = c.meta.exampleIds.length;
  const ranges: [number, number][] = [];
  let e0 = 0;
  while (e0 < E) {
    let e1 = e0 + 1;
    while (e1 < E && (c.exampleOffsets[e1 + 1] - c.exampleOffsets[e0]) * per <= target) e1++;
    ranges.push([e0, e1]);
    e0 = e1;
  }
  return ranges;
}

// ---- public API -------------------------------------------------------------------------------

export interface SaveOptions {
  id: string;
  name: string;
  chunkBytes?: number;
  now?: number;
}

/** Store a whole (imported) cache: all chunks and the record in one transaction. */
export async function saveTeacherCache(db: LabDb, cache: TeacherCache, o: SaveOptions): Promise<StoredTeacherCache> {
  validateTeacherCache(cache, o.name);
  const dtype = valueDTypeOf(cache);
  const now = o.now ?? Date.now();
  const chunks: ChunkInfo[] = [];
  const payloads: ArrayBuffer[] = [];
  for (const [e0, e1] of chunkRanges(cache, o.chunkBytes ?? TEACHER_CHUNK_BYTES)) {
    const data = encodeChunk(cache.kind, dtype, cache.meta.k, slice(cache, e0, e1));
    chunks.push({ index: chunks.length, firstExample: e0, examples: e1 - e0, firstPosition: cache.exampleOffsets[e0], positions: cache.exampleOffsets[e1] - cache.exampleOffsets[e0], bytes: data.byteLength });
    payloads.push(data);
  }
  const record: StoredTeacherCache = {
    id: o.id,
    name: o.name,
    kind: cache.kind,
    valueDType: dtype,
    meta: cache.meta,
    complete: true,
    examplesDone: cache.meta.exampleIds.length,
    positionsDone: cache.tokens.length,
    bytes: payloads.reduce((n, p) => n + p.byteLength, 0),
    chunks,
    createdAt: now,
    updatedAt: now,
  };
  await atomically(db, `teacher cache "${o.name}"`, async (tx) => {
    const store = tx.objectStore('teacherCacheChunks');
    await store.delete(chunkKeyRange(o.id));
    for (let i = 0; i < payloads.length; i++) await store.put({ ownerId: o.id, index: i, data: payloads[i] });
    await tx.objectStore('teacherCaches').put(record);
  });
  return record;
}

function summary(r: StoredTeacherCache): TeacherCacheSummary {
  const total = r.meta.exampleIds.length;
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    response: r.meta.response,
    model: r.meta.model,
    k: r.meta.k,
    complete: r.complete,
    examplesDone: r.examplesDone,
    examplesTotal: total,
    coverage: total === 0 ? 1 : r.examplesDone / total,
    positions: r.positionsDone,
    bytes: r.bytes,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/** Every stored cache with its size and coverage, newest first. */
export async function listTeacherCaches(db: LabDb): Promise<TeacherCacheSummary[]> {
  const all = (await db.getAll('teacherCaches')).filter(isStored);
  return all.map(summary).sort((a, b) => b.updatedAt - a.updatedAt);
}

/** A complete stored cache, reassembled (refuses incomplete or damaged ones). */
export async function loadTeacherCache(db: LabDb, id: string): Promise<TeacherCache> {
  const r = await getRecord(db, id);
  if (!r) throw new TeacherCacheStoreError(`There is no teacher cache "${id}" in this browser's storage.`, 'Import or build it (Data & teacher cache panel).');
  if (!r.complete) throw new TeacherCacheIncompleteError(r.name, r.examplesDone, r.meta.exampleIds.length);
  const records = await db.getAll('teacherCacheChunks', chunkKeyRange(id));
  records.sort((a, b) => a.index - b.index);
  const where = `Teacher cache "${r.name}"`;
  if (records.length !== r.chunks.length || records.some((c, i) => c.index !== i)) {
    throw new TeacherCacheStoreError(`${where} is damaged: ${records.length} of its ${r.chunks.length} chunks are stored.`, 'Delete the cache and import or build it again.');
  }
  const K = r.meta.k;
  const E = r.meta.exampleIds.length;
  const P = r.positionsDone;
  const exampleOffsets = new Int32Array(E + 1);
  const tokens = new Int32Array(P);
  const indices = new Int32Array(P * K);
  const rest = new Float32Array(r.kind === 'probs' ? P : 0);
  const values = r.kind === 'probs' && r.valueDType === 'F16' ? new Uint16Array(P * K) : new Float32Array(P * K);
  let e = 0;
  let p = 0;
  for (const rec of records) {
    const c = decodeChunk(rec.data, `${where}, chunk ${rec.index}`);
    if (c.K !== K || p + c.tokens.length > P || e + c.exampleLengths.length > E) {
      throw new TeacherCacheStoreError(`${where} is damaged: chunk ${rec.index} does not fit the record.`, 'Delete the cache and import or build it again.');
    }
    for (const n of c.exampleLengths) exampleOffsets[++e] = exampleOffsets[e - 1] + n;
    tokens.set(c.tokens, p);
    indices.set(c.indices, p * K);
    if (c.rest) rest.set(c.rest, p);
    values.set(c.values, p * K);
    p += c.tokens.length;
  }
  if (e !== E || p !== P) throw new TeacherCacheStoreError(`${where} is damaged: its chunks hold ${e} examples and ${p} positions, the record ${E} and ${P}.`);
  const base = { meta: r.meta, exampleOffsets, tokens, indices };
  if (r.kind === 'advantage') return { ...base, kind: 'advantage', advantage: values as Float32Array };
  const probs: StoredProbs = values instanceof Uint16Array ? { dtype: 'F16', bits: values } : { dtype: 'F32', values };
  return { ...base, kind: 'probs', probs, rest };
}

/** The cache as a teacher-cache safetensors file. */
export async function exportTeacherCache(db: LabDb, id: string): Promise<Uint8Array> {
  const c = await loadTeacherCache(db, id);
  return encodeTeacherCache(c, id);
}

/** Remove a cache (record and chunks together). */
export async function deleteTeacherCache(db: LabDb, id: string): Promise<void> {
  await deleteChunked(db, 'teacherCaches', 'teacherCacheChunks', id);
}

// ---- resumable builds -------------------------------------------------------------------------

/** One example's teacher rows: n positions of K slots. */
export interface BuiltExample {
  tokens: Int32Array;
  /** [n, K] */
  indices: Int32Array;
  /** [n, K]: f16 bits (Uint16Array) for an F16 build, f32 otherwise; advantages for an advantage build. */
  values: Uint16Array | Float32Array;
  /** [n] (probs builds only). */
  rest?: Float32Array;
}

export interface BuildOptions {
  id: string;
  name: string;
  kind: CacheKind;
  valueDType: ValueDType;
  meta: TeacherCacheMeta;
  chunkBytes?: number;
}

function sameBuild(r: StoredTeacherCache, o: BuildOptions): string | null {
  if (r.kind !== o.kind) return `kind ${r.kind} vs ${o.kind}`;
  if (r.valueDType !== o.valueDType) return `value dtype ${r.valueDType} vs ${o.valueDType}`;
  const a = r.meta;
  const b = o.meta;
  for (const f of ['response', 'k', 'temperature', 'model', 'tokenizerSha256', 'vocabSize', 'datasetSha256'] as const) {
    if (a[f] !== b[f]) return `${f} ${a[f]} vs ${b[f]}`;
  }
  if (a.exampleIds.length !== b.exampleIds.length || a.exampleIds.some((x, i) => x !== b.exampleIds[i])) return 'the example ids';
  return null;
}

/**
 * A cache being computed in the lab. Append examples in data order; every `chunkBytes` of them are
 * written as one chunk together with the progress record. After a reload, begin() with the same id
 * resumes at `nextExample` (examples buffered but not yet written are computed again).
 */
export class TeacherCacheBuild {
  private pending: BuiltExample[] = [];
  private pendingPositions = 0;

  private constructor(
    private readonly db: LabDb,
    private record: StoredTeacherCache,
    private readonly chunkBytes: number,
  ) {}

  static async begin(db: LabDb, o: BuildOptions): Promise<TeacherCacheBuild> {
    const chunkBytes = o.chunkBytes ?? TEACHER_CHUNK_BYTES;
    const existing = await getRecord(db, o.id);
    if (existing) {
      if (existing.complete) throw new TeacherCacheStoreError(`Teacher cache "${existing.name}" is already complete.`, 'Delete it first to build it again.');
      const diff = sameBuild(existing, o);
      if (diff) throw new TeacherCacheStoreError(`The interrupted build "${existing.name}" used other settings (${diff}); it cannot be resumed with these.`, 'Delete it, or resume it with its own settings.');
      return new TeacherCacheBuild(db, existing, chunkBytes);
    }
    const now = Date.now();
    const record: StoredTeacherCache = {
      id: o.id,
      name: o.name,
      kind: o.kind,
      valueDType: o.kind === 'advantage' ? 'F32' : o.valueDType,
      meta: o.meta,
      complete: false,
      examplesDone: 0,
      positionsDone: 0,
      bytes: 0,
      chunks: [],
      createdAt: now,
      updatedAt: now,
    };
    await atomically(db, `teacher cache "${o.name}"`, async (tx) => {
      await tx.objectStore('teacherCacheChunks').delete(chunkKeyRange(o.id));
      await tx.objectStore('teacherCaches').put(record);
    });
    return new TeacherCacheBuild(db, record, chunkBytes);
  }

  /** Examples already written (a reload resumes here). */
  get examplesDone(): number {
    return this.record.examplesDone;
  }

  /** The example to compute next (written + buffered). */
  get nextExample(): number {
    return this.record.examplesDone + this.pending.length;
  }

  get examplesTotal(): number {
    return this.record.meta.exampleIds.length;
  }

  get info(): TeacherCacheSummary {
    return summary(this.record);
  }

  /**
   * Append the next example (validated); writes a chunk when the buffer reaches the chunk size. If
   * that write fails (StorageQuotaError), the example stays buffered (nextExample counts it):
   * free space and call flush() again rather than adding it a second time.
   */
  async add(x: BuiltExample): Promise<void> {
    const { meta, kind } = this.record;
    const K = meta.k;
    const n = x.tokens.length;
    const e = this.nextExample;
    const what = `example ${e} ("${meta.exampleIds[e]}")`;
    if (e >= this.examplesTotal) throw new TeacherCacheStoreError(`Teacher cache "${this.record.name}": all ${this.examplesTotal} examples are in already.`);
    const f16 = kind === 'probs' && this.record.valueDType === 'F16';
    if (x.indices.length !== n * K || x.values.length !== n * K || (f16 ? !(x.values instanceof Uint16Array) : !(x.values instanceof Float32Array))) {
      throw new TeacherCacheStoreError(`${what}: expected ${n}×${K} indices and ${f16 ? 'f16 bits' : 'f32 values'}, got ${x.indices.length} and ${x.values.length} ${x.values.constructor.name}.`);
    }
    if (kind === 'probs' && x.rest?.length !== n) throw new TeacherCacheStoreError(`${what}: expected ${n} rest values, got ${x.rest?.length ?? 0}.`);
    validateTeacherCache(this.asCache([x], e), `teacher cache "${this.record.name}", ${what}`);
    this.pending.push(x);
    this.pendingPositions += n;
    if (this.pendingPositions * bytesPerPosition(kind, this.record.valueDType, K) >= this.chunkBytes) await this.flush();
  }

  /** Write the buffered examples as one chunk, with the progress, in one transaction. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const { kind, meta } = this.record;
    const K = meta.k;
    const cache = this.asCache(this.pending, this.record.examplesDone);
    const data = encodeChunk(kind, this.record.valueDType, K, slice(cache, 0, this.pending.length));
    const chunk: ChunkInfo = {
      index: this.record.chunks.length,
      firstExample: this.record.examplesDone,
      examples: this.pending.length,
      firstPosition: this.record.positionsDone,
      positions: this.pendingPositions,
      bytes: data.byteLength,
    };
    const next: StoredTeacherCache = {
      ...this.record,
      examplesDone: this.record.examplesDone + this.pending.length,
      positionsDone: this.record.positionsDone + this.pendingPositions,
      bytes: this.record.bytes + data.byteLength,
      chunks: [...this.record.chunks, chunk],
      updatedAt: Date.now(),
    };
    await atomically(this.db, `teacher cache "${this.record.name}"`, async (tx) => {
      await tx.objectStore('teacherCacheChunks').put({ ownerId: this.record.id, index: chunk.index, data });
      await tx.objectStore('teacherCaches').put(next);
    });
    // Only after the transaction committed: on a quota error the buffer stays for a retry.
    this.record = next;
    this.pending = [];
    this.pendingPositions = 0;
  }

  /** Write what is left and mark the cache complete (only when every example is in). */
  async finish(): Promise<TeacherCacheSummary> {
    if (this.nextExample !== this.examplesTotal) {
      throw new TeacherCacheStoreError(`Teacher cache "${this.record.name}" has ${this.nextExample} of ${this.examplesTotal} examples; it stays incomplete.`);
    }
    await this.flush();
    const done: StoredTeacherCache = { ...this.record, complete: true, updatedAt: Date.now() };
    await atomically(this.db, `teacher cache "${this.record.name}"`, async (tx) => {
      await tx.objectStore('teacherCaches').put(done);
    });
    this.record = done;
    return summary(done);
  }

  /** The given examples as a small cache (for validation and chunk encoding). */
  private asCache(examples: BuiltExample[], firstExample: number): TeacherCache {
    const { meta, kind } = this.record;
    const K = meta.k;
    const P = examples.reduce((s, x) => s + x.tokens.length, 0);
    const exampleOffsets = new Int32Array(examples.length + 1);
    const tokens = new Int32Array(P);
    const indices = new Int32Array(P * K);
    const rest = new Float32Array(P);
    const f16 = kind === 'probs' && this.record.valueDType === 'F16';
    const values = f16 ? new Uint16Array(P * K) : new Float32Array(P * K);
    let p = 0;
    examples.forEach((x, i) => {
      tokens.set(x.tokens, p);
      indices.set(x.indices, p * K);
      values.set(x.values, p * K);
      if (x.rest) rest.set(x.rest, p);
      p += x.tokens.length;
      exampleOffsets[i + 1] = p;
    });
    const m: TeacherCacheMeta = { ...meta, exampleIds: meta.exampleIds.slice(firstExample, firstExample + examples.length) };
    if (kind === 'advantage') return { kind, meta: m, exampleOffsets, tokens, indices, advantage: values as Float32Array };
    return { kind, meta: m, exampleOffsets, tokens, indices, rest, probs: values instanceof Uint16Array ? { dtype: 'F16', bits: values } : { dtype: 'F32', values } };
  }
}
