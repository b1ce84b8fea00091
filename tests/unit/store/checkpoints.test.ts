import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { CHUNK_BYTES, openLabDb, type LabDb } from '../../../src/store/db.ts';
import { deleteCheckpoints, latestCheckpoint, listCheckpoints, loadLatestCheckpoint, saveCheckpoint } from '../../../src/store/checkpoints.ts';
import { makeRng } from '../../helpers/random.ts';

const freshDb = (): Promise<LabDb> => openLabDb(`ck-${Math.random()}`);

function randomBytes(n: number): Uint8Array {
  const rng = makeRng();
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rng.next() * 256);
  return out;
}

const same = (a: Uint8Array | undefined, b: Uint8Array) => a !== undefined && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** Make every put into `storeName` after the first `okPuts` throw a QuotaExceededError DOMException. */
function failPutsAfter(okPuts: number, storeName = 'checkpointChunks'): () => void {
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

describe('checkpoints in IndexedDB', () => {
  it('keeps only the latest checkpoint of a run, byte for byte, across chunk boundaries', async () => {
    const db = await freshDb();
    const first = randomBytes(1000);
    const second = randomBytes(CHUNK_BYTES + 17); // two chunks
    await saveCheckpoint(db, 'run-a', 5, first, 100);
    const info = await saveCheckpoint(db, 'run-a', 10, second, 200);
    expect(info).toEqual({ id: 'run-a/step-10', runId: 'run-a', step: 10, createdAt: 200, bytes: second.byteLength });
    expect(await listCheckpoints(db, 'run-a')).toEqual([info]);
    const back = await loadLatestCheckpoint(db, 'run-a');
    expect(back?.info).toEqual(info);
    expect(same(back?.bytes, second)).toBe(true);
    // The replaced checkpoint's chunks are gone, not just its record.
    const chunks = await db.getAll('checkpointChunks');
    expect(chunks.map((c) => c.ownerId)).toEqual(['run-a/step-10', 'run-a/step-10']);
  });

  it('keeps runs apart, and deletes one run’s checkpoints only', async () => {
    const db = await freshDb();
    const a = randomBytes(64);
    const b = randomBytes(96);
    await saveCheckpoint(db, 'a', 3, a);
    await saveCheckpoint(db, 'b', 4, b);
    expect((await latestCheckpoint(db, 'a'))?.step).toBe(3);
    await deleteCheckpoints(db, 'a');
    expect(await latestCheckpoint(db, 'a')).toBeNull();
    expect(await loadLatestCheckpoint(db, 'a')).toBeNull();
    expect(same((await loadLatestCheckpoint(db, 'b'))?.bytes, b)).toBe(true);
    expect((await db.getAll('checkpointChunks')).every((c) => c.ownerId.startsWith('b/'))).toBe(true);
  });

  it('saving the same step again replaces it in place', async () => {
    const db = await freshDb();
    await saveCheckpoint(db, 'r', 7, randomBytes(CHUNK_BYTES + 1));
    const again = randomBytes(33);
    await saveCheckpoint(db, 'r', 7, again);
    expect((await listCheckpoints(db, 'r')).length).toBe(1);
    expect(same((await loadLatestCheckpoint(db, 'r'))?.bytes, again)).toBe(true);
    expect((await db.getAll('checkpointChunks')).length).toBe(1);
  });

  it('quota exceeded mid-write: a StorageQuotaError naming the step, and the previous checkpoint stays readable', async () => {
    const db = await freshDb();
    const kept = randomBytes(CHUNK_BYTES + 5);
    await saveCheckpoint(db, 'run-q', 4, kept, 1);
    restore = failPutsAfter(1); // the new checkpoint's first chunk lands, its second does not
    await expect(saveCheckpoint(db, 'run-q', 8, randomBytes(CHUNK_BYTES * 2 + 3), 2)).rejects.toMatchObject({
      name: 'StorageQuotaError',
      message: expect.stringMatching(/storage quota is full while saving the checkpoint at step 8; nothing was half-written/),
    });
    restore();
    restore = null;
    const list = await listCheckpoints(db, 'run-q');
    expect(list.map((c) => c.step)).toEqual([4]);
    expect(same((await loadLatestCheckpoint(db, 'run-q'))?.bytes, kept)).toBe(true);
    // Nothing of the failed checkpoint is left behind.
    expect((await db.getAll('checkpointChunks')).every((c) => c.ownerId === 'run-q/step-4')).toBe(true);
  });

  it('quota exceeded on the very first checkpoint leaves the run with none (not a broken one)', async () => {
    const db = await freshDb();
    restore = failPutsAfter(0);
    await expect(saveCheckpoint(db, 'fresh', 2, randomBytes(10))).rejects.toMatchObject({ name: 'StorageQuotaError' });
    restore();
    restore = null;
    expect(await loadLatestCheckpoint(db, 'fresh')).toBeNull();
    expect(await db.getAll('checkpointChunks')).toEqual([]);
  });
});
