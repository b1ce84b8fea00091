import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DownloadError } from '../../../src/formats/errors.ts';
import { forgetModel, listModelRecords, saveModelRecord, summarizeCache, type ModelRecord } from '../../../src/store/cached-models.ts';
import { openLabDb } from '../../../src/store/db.ts';
import { openBrowserWeightCache, OpfsCacheStore, WeightCache, type CacheKey } from '../../../src/store/weight-cache.ts';
import { DiskCacheStore } from '../../../src/store/weight-cache.node.ts';
import { makeRng } from '../../helpers/random.ts';
import { FakeOpfsDirectory } from './fake-opfs.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const key = (file: string, sourceId = 'hf:org/model', revision = 'main'): CacheKey => ({ sourceId, revision, file });

async function* chunksOf(bytes: Uint8Array, size = 1000, failAt?: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += size) {
    if (failAt !== undefined && i >= failAt) throw new DownloadError('model.safetensors', i, bytes.byteLength, 'the connection broke (test).');
    signal?.throwIfAborted();
    yield bytes.subarray(i, i + size);
  }
}

const tmpDirs: string[] = [];
afterAll(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

type Store = 'opfs-writable' | 'opfs-sync' | 'disk';
let clock = 1_000_000;
const now = () => clock;

async function makeCache(kind: Store, quota?: number): Promise<WeightCache> {
  if (kind === 'disk') {
    const dir = await mkdtemp(join(tmpdir(), 'sl-cache-'));
    tmpDirs.push(dir);
    return new WeightCache(new DiskCacheStore(dir)); // real clock: file times are real
  }
  const dir = new FakeOpfsDirectory({ mode: kind === 'opfs-sync' ? 'sync' : 'writable', quota, now });
  return new WeightCache(new OpfsCacheStore(dir), now);
}

const randomBytes = (n: number) => {
  const rng = makeRng();
  return new Uint8Array(n).map(() => Math.floor(rng.next() * 256));
};

describe.each(['opfs-writable', 'opfs-sync', 'disk'] as const)('weight cache over %s', (kind) => {
  it('stores, lists, reads back and deletes entries', async () => {
    const cache = await makeCache(kind);
    const bytes = randomBytes(10_001);
    const put = await cache.put(key('model.safetensors'), chunksOf(bytes), { size: bytes.byteLength, sha256: sha(bytes) });
    expect(put.entry.sha256).toBe(sha(bytes));
    await cache.put(key('config.json'), chunksOf(new TextEncoder().encode('{}')));
    await cache.put(key('config.json', 'hf:other/model'), chunksOf(new TextEncoder().encode('{"a":1}')));
    const got = await cache.get(key('model.safetensors'));
    expect(got && Buffer.compare(new Uint8Array(await got.blob.arrayBuffer()), bytes)).toBe(0);
    const list = await cache.list();
    expect(list.map((e) => [e.sourceId, e.file, e.size])).toEqual([
      ['hf:org/model', 'config.json', 2],
      ['hf:org/model', 'model.safetensors', 10_001],
      ['hf:other/model', 'config.json', 7],
    ]);
    expect((await summarizeCache(cache)).map((s) => [s.sourceId, s.totalBytes])).toEqual([
      ['hf:org/model', 10_003],
      ['hf:other/model', 7],
    ]);
    expect(await cache.verify(key('model.safetensors'))).toBe(true);
    expect(await cache.deleteSource('hf:org/model')).toBe(2);
    expect(await cache.get(key('model.safetensors'))).toBeNull();
    expect((await cache.list()).map((e) => e.sourceId)).toEqual(['hf:other/model']);
    expect(await cache.delete(key('config.json', 'hf:other/model'))).toBe(true);
    expect(await cache.store.list()).toEqual([]);
  });

  it('a broken download leaves no partial entry or file, and the previously cached copy intact', async () => {
    const cache = await makeCache(kind);
    const old = randomBytes(3000);
    await cache.put(key('model.safetensors'), chunksOf(old), { sha256: sha(old) });
    const filesBefore = (await cache.store.list()).map((f) => f.name).sort();
    const fresh = randomBytes(9000);
    await expect(cache.put(key('model.safetensors'), chunksOf(fresh, 1000, 4000))).rejects.toThrow(/Download of model\.safetensors failed at byte 4000 of 9000/);
    expect((await cache.store.list()).map((f) => f.name).sort()).toEqual(filesBefore);
    const got = await cache.get(key('model.safetensors'));
    expect(got && Buffer.compare(new Uint8Array(await got.blob.arrayBuffer()), old)).toBe(0);
  });

  it('a size or SHA-256 that differs from the announced one is refused and not kept', async () => {
    const cache = await makeCache(kind);
    const bytes = randomBytes(5000);
    const wrong = sha(new Uint8Array([1]));
    await expect(cache.put(key('model.safetensors'), chunksOf(bytes), { sha256: wrong })).rejects.toMatchObject({
      name: 'IntegrityError',
      message: expect.stringMatching(/^model\.safetensors: SHA-256 [0-9a-f]{64} differs from the announced [0-9a-f]{64}: the download is corrupt/),
    });
    await expect(cache.put(key('model.safetensors'), chunksOf(bytes), { size: 5001 })).rejects.toThrow(/received 5000 bytes but 5001 were announced/);
    expect(await cache.store.list()).toEqual([]);
    expect(await cache.get(key('model.safetensors'))).toBeNull();
  });

  it('cancelling through the signal removes the partial file', async () => {
    const cache = await makeCache(kind);
    const controller = new AbortController();
    const bytes = randomBytes(5000);
    async function* abortMidway() {
      let n = 0;
      for await (const c of chunksOf(bytes)) {
        if (++n === 3) controller.abort();
        yield c;
      }
    }
    await expect(cache.put(key('model.safetensors'), abortMidway(), { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(await cache.store.list()).toEqual([]);
  });

  it('a data file damaged behind its back (wrong size) is detected, dropped and never returned', async () => {
    const cache = await makeCache(kind);
    const bytes = randomBytes(4000);
    const { entry } = await cache.put(key('model.safetensors'), chunksOf(bytes));
    const w = await cache.store.create(entry.dataName);
    await w.write(bytes.subarray(0, 1234));
    await w.close();
    expect(await cache.get(key('model.safetensors'))).toBeNull();
    expect(await cache.list()).toEqual([]);
  });

  it('verify() re-hashes and drops an entry whose bytes changed with the same size', async () => {
    const cache = await makeCache(kind);
    const bytes = randomBytes(4000);
    const { entry } = await cache.put(key('model.safetensors'), chunksOf(bytes));
    const flipped = bytes.slice();
    flipped[1234] ^= 1;
    const w = await cache.store.create(entry.dataName);
    await w.write(flipped);
    await w.close();
    expect(await cache.verify(key('model.safetensors'))).toBe(false);
    expect(await cache.get(key('model.safetensors'))).toBeNull();
  });

  it('a torn manifest counts as no entry', async () => {
    const cache = await makeCache(kind);
    const { entry } = await cache.put(key('config.json'), chunksOf(new TextEncoder().encode('{}')));
    const manifest = (await cache.store.list()).find((f) => f.name.endsWith('.json'))!.name;
    const w = await cache.store.create(manifest);
    await w.write(new TextEncoder().encode('{"v":1,"sourceId":'));
    await w.close();
    expect(await cache.get(key('config.json'))).toBeNull();
    // The orphaned data file goes with the next sweep once it is older than the grace period.
    expect((await cache.store.list()).map((f) => f.name)).toEqual([entry.dataName]);
    expect(await cache.sweep(0)).toBe(1);
    expect(await cache.store.list()).toEqual([]);
  });

  it('replacing an entry removes the old data file once the new one is committed', async () => {
    const cache = await makeCache(kind);
    const a = await cache.put(key('model.safetensors'), chunksOf(randomBytes(100)));
    const b = await cache.put(key('model.safetensors'), chunksOf(randomBytes(200)));
    const names = (await cache.store.list()).map((f) => f.name);
    expect(names).toContain(b.entry.dataName);
    expect(names).not.toContain(a.entry.dataName);
    expect((await cache.get(key('model.safetensors')))?.entry.size).toBe(200);
  });
});

describe('weight cache quota (OPFS)', () => {
  it('a write beyond the quota fails as StorageQuotaError, leaves nothing partial and keeps earlier entries', async () => {
    for (const mode of ['opfs-writable', 'opfs-sync'] as const) {
      const cache = await makeCache(mode, 6000);
      const small = randomBytes(1000);
      await cache.put(key('config.json'), chunksOf(small));
      const before = (await cache.store.list()).map((f) => f.name).sort();
      const err = await cache.put(key('model.safetensors'), chunksOf(randomBytes(8000))).catch((e: Error) => e);
      expect(err).toMatchObject({ name: 'StorageQuotaError', message: expect.stringMatching(/storage quota is full while saving model\.safetensors of hf:org\/model \(main\)/) });
      expect((await cache.store.list()).map((f) => f.name).sort()).toEqual(before);
      const got = await cache.get(key('config.json'));
      expect(got && Buffer.compare(new Uint8Array(await got.blob.arrayBuffer()), small)).toBe(0);
    }
  });

  it('sweep keeps young orphans (downloads in progress elsewhere) and removes old ones', async () => {
    const cache = await makeCache('opfs-writable');
    const w = await cache.store.create('abc.123.bin');
    await w.write(new Uint8Array(10));
    await w.close();
    expect(await cache.sweep(60_000)).toBe(0);
    clock += 120_000;
    expect(await cache.sweep(60_000)).toBe(1);
  });

  it('openBrowserWeightCache uses student-lab/weights under the OPFS root', async () => {
    const root = new FakeOpfsDirectory();
    const cache = await openBrowserWeightCache(root);
    await cache.put(key('config.json'), chunksOf(new TextEncoder().encode('{}')));
    const weights = await (await root.getDirectoryHandle('student-lab')).getDirectoryHandle('weights');
    expect(weights.files.size).toBe(2);
  });
});

describe('model records (models store)', () => {
  it('saves, lists most recent first, and forgets a model with its cached files', async () => {
    const db = await openLabDb(`t-${Math.random()}`);
    const cache = await makeCache('opfs-writable');
    const record = (id: string, lastUsedAt: number): ModelRecord => ({
      id: `${id}@main`,
      sourceId: id,
      revision: 'main',
      kind: 'hub',
      description: id,
      architecture: 'llama',
      parameterCount: 1,
      dtype: 'float32',
      numLayers: 1,
      hiddenSize: 1,
      vocabSize: 1,
      files: [],
      totalBytes: 0,
      cached: true,
      addedAt: lastUsedAt,
      lastUsedAt,
    });
    await saveModelRecord(db, record('hf:a/b', 10));
    await saveModelRecord(db, record('hf:c/d', 20));
    await saveModelRecord(db, record('hf:a/b', 30));
    expect((await listModelRecords(db)).map((r) => [r.id, r.addedAt])).toEqual([
      ['hf:a/b@main', 10],
      ['hf:c/d@main', 20],
    ]);
    await cache.put(key('config.json', 'hf:a/b'), chunksOf(new TextEncoder().encode('{}')));
    await cache.put(key('config.json', 'hf:c/d'), chunksOf(new TextEncoder().encode('{}')));
    await forgetModel(db, cache, 'hf:a/b@main');
    expect((await listModelRecords(db)).map((r) => r.id)).toEqual(['hf:c/d@main']);
    expect((await cache.list()).map((e) => e.sourceId)).toEqual(['hf:c/d']);
  });
});
