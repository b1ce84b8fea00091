import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { CHUNK_BYTES, openLabDb, type LabDb } from '../../../src/store/db.ts';
import { deleteDataset, getDataset, importPreferenceData, listDatasets, loadDatasetText, loadPreferenceSet } from '../../../src/store/datasets.ts';

const freshDb = (): Promise<LabDb> => openLabDb(`ds-${Math.random()}`);
const sha = (text: string) => createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex');

function pairsText(n: number, pad = ''): string {
  return Array.from({ length: n }, (_, i) => JSON.stringify({ id: `p${i}`, prompt: `Question ${i}? ${pad}`, chosen: `Kind answer ${i}.`, rejected: `No.` })).join('\n') + '\n';
}

/** Make every put into `storeName` after the first `okPuts` throw a QuotaExceededError DOMException. */
function failPutsAfter(okPuts: number, storeName: string): () => void {
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

describe('preference data sets in IndexedDB', () => {
  it('stores the file with its size, SHA-256 and pair count, and reads the same text back', async () => {
    const db = await freshDb();
    const text = pairsText(3).replace('Question 1', 'Quëstion 1 — ünïcode');
    const { record, replaced } = await importPreferenceData(db, { fileName: 'pairs.jsonl', text, now: 5 });
    expect(replaced).toBe(false);
    expect(record).toEqual({
      id: sha(text),
      kind: 'preference',
      name: 'pairs.jsonl',
      fileName: 'pairs.jsonl',
      bytes: Buffer.byteLength(text, 'utf8'),
      sha256: sha(text),
      pairs: 3,
      createdAt: 5,
      updatedAt: 5,
    });
    expect(await getDataset(db, record.id)).toEqual(record);
    expect((await loadDatasetText(db, record.id)).text).toBe(text);
    const { set } = await loadPreferenceSet(db, record.id);
    expect(set.sha256).toBe(sha(text));
    expect(set.pairs.map((p) => p.id)).toEqual(['p0', 'p1', 'p2']);
    expect(set.pairs[1].prompt).toEqual([{ role: 'user', content: 'Quëstion 1 — ünïcode? ' }]);
  });

  it('splits a large file into chunks and lists data sets newest first; the same bytes again update the name', async () => {
    const db = await freshDb();
    const big = pairsText(700, 'x'.repeat(12_000)); // ~8.5 MB: two chunks
    expect(Buffer.byteLength(big)).toBeGreaterThan(CHUNK_BYTES);
    const a = await importPreferenceData(db, { fileName: 'big.jsonl', text: big, now: 1 });
    const b = await importPreferenceData(db, { fileName: 'small.json', text: JSON.stringify([{ prompt: 'p', chosen: 'c', rejected: 'r' }]), now: 2 });
    expect((await db.getAll('datasetChunks', IDBKeyRange.bound([a.record.id, 0], [a.record.id, Infinity]))).length).toBe(2);
    expect((await listDatasets(db)).map((d) => d.name)).toEqual(['small.json', 'big.jsonl']);
    expect((await loadDatasetText(db, a.record.id)).text).toBe(big);

    const again = await importPreferenceData(db, { fileName: 'renamed.jsonl', text: big, now: 3 });
    expect(again.replaced).toBe(true);
    expect(again.record).toMatchObject({ id: a.record.id, name: 'renamed.jsonl', createdAt: 1, updatedAt: 3 });
    expect((await listDatasets(db)).map((d) => d.name)).toEqual(['renamed.jsonl', 'small.json']);
    expect(b.record.pairs).toBe(1);
  }, 30_000);

  it('refuses bad data naming the file and the line, and stores nothing', async () => {
    const db = await freshDb();
    const bad = `${pairsText(2)}{"prompt": "p", "chosen": "c"}\n`;
    await expect(importPreferenceData(db, { fileName: 'bad.jsonl', text: bad })).rejects.toMatchObject({
      name: 'DataError',
      message: 'bad.jsonl line 3: is missing "rejected" (preference data needs prompt, chosen and rejected).',
    });
    await expect(importPreferenceData(db, { fileName: 'broken.jsonl', text: '{"prompt": "p",\n' })).rejects.toMatchObject({ name: 'DataError', message: expect.stringMatching(/^broken\.jsonl line 1: is not valid JSON/) });
    expect(await db.getAll('datasets')).toEqual([]);
    expect(await db.getAll('datasetChunks')).toEqual([]);
  });

  it('quota exceeded while storing: StorageQuotaError naming the data set, nothing half-written, others intact', async () => {
    const db = await freshDb();
    const kept = await importPreferenceData(db, { fileName: 'kept.jsonl', text: pairsText(2) });
    const big = pairsText(700, 'y'.repeat(12_000));
    restore = failPutsAfter(1, 'datasetChunks'); // the first chunk lands, the second does not fit
    await expect(importPreferenceData(db, { fileName: 'big.jsonl', text: big })).rejects.toMatchObject({
      name: 'StorageQuotaError',
      message: expect.stringMatching(/while saving data set "big\.jsonl"; nothing was half-written/),
    });
    restore();
    restore = null;
    expect((await listDatasets(db)).map((d) => d.id)).toEqual([kept.record.id]);
    expect((await db.getAll('datasetChunks')).map((c) => c.ownerId)).toEqual([kept.record.id]);
    expect((await loadDatasetText(db, kept.record.id)).text).toBe(pairsText(2));
  }, 30_000);

  it('says when stored bytes were damaged, and deletes a data set with its chunks', async () => {
    const db = await freshDb();
    const { record } = await importPreferenceData(db, { fileName: 'd.jsonl', text: pairsText(4) });
    const chunk = await db.get('datasetChunks', [record.id, 0]);
    const data = new Uint8Array(chunk!.data.slice(0));
    data[10] ^= 1;
    await db.put('datasetChunks', { ...chunk!, data: data.buffer });
    await expect(loadDatasetText(db, record.id)).rejects.toMatchObject({
      name: 'DatasetStoreError',
      message: 'Data set "d.jsonl" is damaged in storage: its bytes no longer match their SHA-256.\nHint: Delete it and load the file again.',
    });
    await db.put('datasetChunks', { ...chunk!, data: data.buffer.slice(0, 20) });
    await expect(loadDatasetText(db, record.id)).rejects.toMatchObject({ message: expect.stringMatching(/: 20 of its \d+ bytes are stored\.\nHint: /) });

    await deleteDataset(db, record.id);
    expect(await listDatasets(db)).toEqual([]);
    expect(await db.getAll('datasetChunks')).toEqual([]);
    await expect(loadDatasetText(db, record.id)).rejects.toMatchObject({ name: 'DatasetStoreError', message: expect.stringMatching(/^There is no data set /) });
  });
});
