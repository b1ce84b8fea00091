import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { float32ToFloat16 } from '../../../src/engine/f16.ts';
import { decodeTeacherCache, type TeacherCache } from '../../../src/formats/teacher-cache.ts';
import { openLabDb, type LabDb } from '../../../src/store/db.ts';
import {
  TEACHER_CHUNK_BYTES,
  TeacherCacheBuild,
  deleteTeacherCache,
  exportTeacherCache,
  listTeacherCaches,
  loadTeacherCache,
  saveTeacherCache,
  type BuildOptions,
} from '../../../src/store/teacher-caches.ts';
import { makeRng } from '../../helpers/random.ts';
import { randomCache } from '../formats/teacher-cache-data.ts';

const freshDb = (): Promise<LabDb> => openLabDb(`tc-${Math.random()}`);

/** Make every put into `storeName` after the first `okPuts` throw a QuotaExceededError DOMException. */
function failPutsAfter(okPuts: number, storeName = 'teacherCacheChunks'): () => void {
  const proto = IDBObjectStore.prototype;
  const original = proto.put;
  let count = 0;
  proto.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
    if (this.name === storeName && count++ >= okPuts) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    return original.apply(this, args);
  };
  return () => {
    proto.put = original;
  };
}

let restore: (() => void) | null = null;
afterEach(() => {
  restore?.();
  restore = null;
});

function expectSameCache(a: TeacherCache, b: TeacherCache): void {
  expect(a.kind).toBe(b.kind);
  expect(a.meta).toEqual(b.meta);
  const bytes = (x: ArrayBufferView) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  expect(bytes(a.exampleOffsets).equals(bytes(b.exampleOffsets))).toBe(true);
  expect(bytes(a.tokens).equals(bytes(b.tokens))).toBe(true);
  expect(bytes(a.indices).equals(bytes(b.indices))).toBe(true);
  if (a.kind === 'probs' && b.kind === 'probs') {
    expect(a.probs.dtype).toBe(b.probs.dtype);
    expect(bytes(a.probs.dtype === 'F16' ? a.probs.bits : a.probs.values).equals(bytes(b.probs.dtype === 'F16' ? b.probs.bits : b.probs.values))).toBe(true);
    expect(bytes(a.rest).equals(bytes(b.rest))).toBe(true);
  }
}

/** 100,000 positions (1,000 examples of 100), K = 50, f16: ~31 MB of cache. */
function bigCache(): Extract<TeacherCache, { kind: 'probs' }> {
  const E = 1000;
  const n = 100;
  const K = 50;
  const V = 32003;
  const P = E * n;
  const indices = new Int32Array(P * K);
  const bits = new Uint16Array(P * K);
  const rest = new Float32Array(P);
  const pk = Array.from({ length: K }, (_, k) => 0.9 * 2 ** -(k + 1));
  const pkBits = pk.map((x) => float32ToFloat16(x));
  const restValue = 1 - pk.reduce((a, b) => a + b, 0);
  for (let t = 0; t < P; t++) {
    for (let k = 0; k < K; k++) {
      indices[t * K + k] = (t * 7 + k * 641) % V;
      bits[t * K + k] = pkBits[k];
    }
    rest[t] = restValue;
  }
  return {
    kind: 'probs',
    meta: { response: 'chosen', k: K, temperature: 1, model: 'big', tokenizerSha256: 'a'.repeat(64), vocabSize: V, datasetSha256: 'b'.repeat(64), exampleIds: Array.from({ length: E }, (_, e) => `e${e}`) },
    exampleOffsets: Int32Array.from({ length: E + 1 }, (_, e) => e * n),
    tokens: Int32Array.from({ length: P }, (_, t) => (t * 31) % V),
    indices,
    probs: { dtype: 'F16', bits },
    rest,
  };
}

describe('teacher caches in IndexedDB', () => {
  it('a 100k-position cache is stored in chunks of a few MB and loads back identical', async () => {
    const db = await freshDb();
    const cache = bigCache();
    const record = await saveTeacherCache(db, cache, { id: 'big', name: 'big.safetensors' });
    const chunks = await db.getAll('teacherCacheChunks');
    expect(chunks.length).toBe(record.chunks.length);
    expect(chunks.length).toBeGreaterThanOrEqual(7);
    for (const c of chunks) expect(c.data.byteLength).toBeLessThanOrEqual(TEACHER_CHUNK_BYTES);
    expect(record.bytes).toBe(chunks.reduce((n, c) => n + c.data.byteLength, 0));
    expectSameCache(await loadTeacherCache(db, 'big'), cache);
  }, 60_000);

  it('lists caches with size and coverage, exports the file, deletes one without touching another', async () => {
    const db = await freshDb();
    const a = randomCache(makeRng(), { lengths: [5, 2, 7, 1], k: 6, vocab: 70, dtype: 'F32' });
    const b = randomCache(makeRng(), { lengths: [3, 3], k: 4 });
    await saveTeacherCache(db, a, { id: 'a', name: 'a', chunkBytes: 200, now: 1 });
    await saveTeacherCache(db, b, { id: 'b', name: 'b', now: 2 });
    const list = await listTeacherCaches(db);
    expect(list.map((x) => x.id)).toEqual(['b', 'a']);
    const la = list[1];
    expect(la).toMatchObject({ complete: true, examplesDone: 4, examplesTotal: 4, coverage: 1, positions: 15, k: 6, kind: 'probs', response: 'chosen' });
    expect(la.bytes).toBe((await db.getAll('teacherCacheChunks', IDBKeyRange.bound(['a', 0], ['a', Infinity]))).reduce((n, c) => n + c.data.byteLength, 0));
    expect((await db.getAll('teacherCacheChunks', IDBKeyRange.bound(['a', 0], ['a', Infinity]))).length).toBeGreaterThan(1);
    expectSameCache(decodeTeacherCache(await exportTeacherCache(db, 'a'), 'export'), a);
    await deleteTeacherCache(db, 'a');
    expect((await listTeacherCaches(db)).map((x) => x.id)).toEqual(['b']);
    expect(await db.getAll('teacherCacheChunks', IDBKeyRange.bound(['a', 0], ['a', Infinity]))).toEqual([]);
    expectSameCache(await loadTeacherCache(db, 'b'), b);
  });

  it('quota exceeded while importing: StorageQuotaError, nothing of the new cache stored, others intact', async () => {
    const db = await freshDb();
    const old = randomCache(makeRng(), { lengths: [4, 4] });
    await saveTeacherCache(db, old, { id: 'old', name: 'old' });
    const chunksBefore = (await db.getAll('teacherCacheChunks')).length;
    restore = failPutsAfter(2);
    const big = randomCache(makeRng(), { lengths: [6, 6, 6, 6, 6], k: 8, dtype: 'F32' });
    await expect(saveTeacherCache(db, big, { id: 'new', name: 'new.safetensors', chunkBytes: 300 })).rejects.toMatchObject({
      name: 'StorageQuotaError',
      message: expect.stringMatching(/teacher cache "new\.safetensors"; nothing was half-written/),
    });
    restore();
    restore = null;
    expect(await db.get('teacherCaches', 'new')).toBeUndefined();
    expect((await db.getAll('teacherCacheChunks')).length).toBe(chunksBefore);
    expectSameCache(await loadTeacherCache(db, 'old'), old);
  });

  it('quota exceeded when replacing a cache keeps the previous version', async () => {
    const db = await freshDb();
    const v1 = randomCache(makeRng(), { lengths: [2, 2] });
    await saveTeacherCache(db, v1, { id: 'x', name: 'x' });
    restore = failPutsAfter(0);
    await expect(saveTeacherCache(db, randomCache(makeRng(), { lengths: [3] }), { id: 'x', name: 'x' })).rejects.toMatchObject({ name: 'StorageQuotaError' });
    restore();
    restore = null;
    expectSameCache(await loadTeacherCache(db, 'x'), v1);
  });
});

describe('building a cache in the lab: chunked, resumable, never complete when interrupted', () => {
  const source = randomCache(makeRng(), { lengths: [4, 3, 5, 2, 6, 1, 3], k: 5, vocab: 80 });
  const E = source.meta.exampleIds.length;
  const example = (e: number) => {
    const p0 = source.exampleOffsets[e];
    const p1 = source.exampleOffsets[e + 1];
    const K = source.meta.k;
    return {
      tokens: source.tokens.slice(p0, p1),
      indices: source.indices.slice(p0 * K, p1 * K),
      values: source.probs.dtype === 'F16' ? source.probs.bits.slice(p0 * K, p1 * K) : source.probs.values.slice(p0 * K, p1 * K),
      rest: source.rest.slice(p0, p1),
    };
  };
  // About two examples per chunk.
  const options: BuildOptions = { id: 'build', name: 'built here', kind: 'probs', valueDType: 'F16', meta: source.meta, chunkBytes: 6 * 45 };

  it('a reload resumes where the written chunks stop; finish() marks it complete; the result equals the source', async () => {
    const db = await freshDb();
    let build = await TeacherCacheBuild.begin(db, options);
    for (let e = 0; e < 4; e++) await build.add(example(e));
    // "Reload": a fresh builder for the same id. Examples buffered but not written are redone.
    const written = build.examplesDone;
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThanOrEqual(4);
    let info = (await listTeacherCaches(db))[0];
    expect(info).toMatchObject({ complete: false, examplesDone: written, examplesTotal: E });
    expect(info.coverage).toBeCloseTo(written / E, 12);
    await expect(loadTeacherCache(db, 'build')).rejects.toMatchObject({ name: 'TeacherCacheIncompleteError', message: expect.stringMatching(new RegExp(`${written} of ${E} examples`)) });

    build = await TeacherCacheBuild.begin(db, options);
    expect(build.nextExample).toBe(written);
    for (let e = build.nextExample; e < E; e++) await build.add(example(e));
    info = await build.finish();
    expect(info).toMatchObject({ complete: true, examplesDone: E, coverage: 1 });
    expectSameCache(await loadTeacherCache(db, 'build'), source);
    await expect(TeacherCacheBuild.begin(db, options)).rejects.toThrowError(/already complete/);
  });

  it('finish() refuses while examples are missing; a resumed build must use the same settings', async () => {
    const db = await freshDb();
    const build = await TeacherCacheBuild.begin(db, options);
    await build.add(example(0));
    await expect(build.finish()).rejects.toThrowError(/has 1 of 7 examples; it stays incomplete/);
    expect((await listTeacherCaches(db))[0].complete).toBe(false);
    await expect(TeacherCacheBuild.begin(db, { ...options, meta: { ...options.meta, model: 'other' } })).rejects.toThrowError(/used other settings \(model teacher\/tiny vs other\)/);
  });

  it('refuses an invalid example, naming it', async () => {
    const db = await freshDb();
    const build = await TeacherCacheBuild.begin(db, options);
    const bad = example(0);
    bad.rest = bad.rest.map(() => -0.5);
    await expect(build.add(bad)).rejects.toThrowError(/example 0 \("ex-0"\).*rest: .* is -0.5/);
    expect(build.nextExample).toBe(0);
  });

  it('quota exceeded while writing a chunk: progress stays at the last chunk, the cache stays incomplete, a retry continues', async () => {
    const db = await freshDb();
    const other = randomCache(makeRng(), { lengths: [2] });
    await saveTeacherCache(db, other, { id: 'other', name: 'other' });
    const build = await TeacherCacheBuild.begin(db, options);
    await build.add(example(0));
    await build.add(example(1));
    await build.flush();
    const before = build.examplesDone;
    expect(before).toBe(2);
    restore = failPutsAfter(0);
    await build.add(example(2));
    await build.add(example(3));
    await expect(build.flush()).rejects.toMatchObject({ name: 'StorageQuotaError' });
    const stored = (await listTeacherCaches(db)).find((x) => x.id === 'build');
    expect(stored).toMatchObject({ complete: false, examplesDone: before });
    expect((await db.getAll('teacherCacheChunks', IDBKeyRange.bound(['build', 0], ['build', Infinity]))).length).toBe(1);
    restore();
    restore = null;
    // The buffered examples were kept: flushing again writes them.
    expect(build.nextExample).toBe(4);
    await build.flush();
    for (let e = build.nextExample; e < E; e++) await build.add(example(e));
    await build.finish();
    expectSameCache(await loadTeacherCache(db, 'build'), source);
    expectSameCache(await loadTeacherCache(db, 'other'), other);
  });
});
