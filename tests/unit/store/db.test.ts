import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { CHUNK_BYTES, deleteChunked, getChunked, openLabDb, putChunked } from '../../../src/store/db.ts';

describe('lab database', () => {
  it('round-trips a chunked payload larger than one chunk and deletes it with its metadata', async () => {
    const db = await openLabDb(`t-${Math.random()}`);
    const payload = new Uint8Array(CHUNK_BYTES * 2 + 123);
    for (let i = 0; i < payload.length; i += 4099) payload[i] = (i / 4099) & 0xff;
    await putChunked(db, 'teacherCaches', 'teacherCacheChunks', { id: 'c1', k: 50 }, payload, 'a teacher cache');
    const chunks = await db.getAll('teacherCacheChunks');
    expect(chunks.length).toBe(3);
    const back = await getChunked(db, 'teacherCacheChunks', 'c1');
    // Byte compare (a deep toEqual on 16 MiB arrays exhausts the heap).
    expect(back && Buffer.compare(back, payload)).toBe(0);
    expect(await db.get('teacherCaches', 'c1')).toEqual({ id: 'c1', k: 50 });
    await deleteChunked(db, 'teacherCaches', 'teacherCacheChunks', 'c1');
    expect(await getChunked(db, 'teacherCacheChunks', 'c1')).toBeNull();
    expect(await db.get('teacherCaches', 'c1')).toBeUndefined();
  });

  it('replacing a payload drops the old chunks', async () => {
    const db = await openLabDb(`t-${Math.random()}`);
    await putChunked(db, 'checkpoints', 'checkpointChunks', { id: 'k', runId: 'r', createdAt: 1 }, new Uint8Array(CHUNK_BYTES + 5), 'a checkpoint');
    await putChunked(db, 'checkpoints', 'checkpointChunks', { id: 'k', runId: 'r', createdAt: 2 }, new Uint8Array([1, 2, 3]), 'a checkpoint');
    expect(await getChunked(db, 'checkpointChunks', 'k')).toEqual(new Uint8Array([1, 2, 3]));
    expect((await db.getAll('checkpointChunks')).length).toBe(1);
  });
});
