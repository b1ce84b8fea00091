// The lab's IndexedDB database (idb). One schema, versioned: each upgrade step is a function of
// the old version, so a page that last ran at version 1 migrates through every later step.
// Stores hold plain data only (no live objects); large payloads are split into chunk records.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { LabError } from '../engine/errors.ts';

export const DB_NAME = 'student-lab';
export const DB_VERSION = 1;

/** Largest byte payload of one chunk record (keeps single records small for quota and memory). */
export const CHUNK_BYTES = 8 * 1024 * 1024;

export interface ChunkRecord {
  ownerId: string;
  index: number;
  data: ArrayBuffer;
}

export interface LabSchema extends DBSchema {
  /** Small key/value settings (sampling defaults, last panel, theme). */
  settings: { key: string; value: unknown };
  /** OpenAI-compatible endpoints the user configured (keys stay here, sent only to their endpoint). */
  endpoints: { key: string; value: { id: string } & Record<string, unknown> };
  /** Models the user loaded: source, files, sizes (bytes live in the weight cache). */
  models: { key: string; value: { id: string } & Record<string, unknown> };
  /** Chat conversations (kept across reloads). */
  conversations: { key: string; value: { id: string; updatedAt: number } & Record<string, unknown>; indexes: { updatedAt: number } };
  /** Preference / SFT data sets the user loaded. */
  datasets: { key: string; value: { id: string } & Record<string, unknown> };
  /** Data set rows (chunked). */
  datasetChunks: { key: [string, number]; value: ChunkRecord };
  /** Teacher caches: metadata, coverage, build progress. */
  teacherCaches: { key: string; value: { id: string } & Record<string, unknown> };
  /** Teacher cache tensors, chunked by position ranges. */
  teacherCacheChunks: { key: [string, number]; value: ChunkRecord };
  /** Training and evaluation runs: config, status, summary. */
  runs: { key: string; value: { id: string; kind: string; createdAt: number } & Record<string, unknown>; indexes: { kind: string; createdAt: number } };
  /** Metric stream of a run, one record per step. */
  runMetrics: { key: [string, number]; value: { runId: string; step: number } & Record<string, unknown> };
  /** Per-item results of evaluation runs (resumable batches). */
  evalItems: { key: [string, string]; value: { runId: string; itemKey: string } & Record<string, unknown> };
  /** Checkpoint metadata (weights or adapter + optimiser state + step + data position + RNG). */
  checkpoints: { key: string; value: { id: string; runId: string; createdAt: number } & Record<string, unknown>; indexes: { runId: string } };
  /** Checkpoint payload chunks. */
  checkpointChunks: { key: [string, number]; value: ChunkRecord };
  /** Editable prompt templates, one record per version. */
  prompts: { key: string; value: { id: string } & Record<string, unknown> };
}

export type LabDb = IDBPDatabase<LabSchema>;

const CHUNK_STORES = ['datasetChunks', 'teacherCacheChunks', 'checkpointChunks'] as const;
export type ChunkStore = (typeof CHUNK_STORES)[number];

/** Upgrade steps: index i migrates from version i to i + 1. */
const UPGRADES: ((db: IDBPDatabase<LabSchema>) => void)[] = [
  (db) => {
    db.createObjectStore('settings');
    db.createObjectStore('endpoints', { keyPath: 'id' });
    db.createObjectStore('models', { keyPath: 'id' });
    db.createObjectStore('conversations', { keyPath: 'id' }).createIndex('updatedAt', 'updatedAt');
    db.createObjectStore('datasets', { keyPath: 'id' });
    db.createObjectStore('teacherCaches', { keyPath: 'id' });
    const runs = db.createObjectStore('runs', { keyPath: 'id' });
    runs.createIndex('kind', 'kind');
    runs.createIndex('createdAt', 'createdAt');
    db.createObjectStore('runMetrics', { keyPath: ['runId', 'step'] });
    db.createObjectStore('evalItems', { keyPath: ['runId', 'itemKey'] });
    db.createObjectStore('checkpoints', { keyPath: 'id' }).createIndex('runId', 'runId');
    db.createObjectStore('prompts', { keyPath: 'id' });
    for (const store of CHUNK_STORES) db.createObjectStore(store, { keyPath: ['ownerId', 'index'] });
  },
];

export class StorageQuotaError extends LabError {
  constructor(what: string) {
    super(
      'StorageQuotaError',
      `The browser's storage quota is full while saving ${what}; nothing was half-written and earlier data is intact.`,
      'Delete cached models, teacher caches or old runs (Models and Runs panels), or allow more storage for this site.',
    );
  }
}

export function isQuotaError(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}

const opened = new Map<string, Promise<LabDb>>();

/** Open (and migrate) the lab's database. `name` is for tests. */
export function openLabDb(name = DB_NAME): Promise<LabDb> {
  let db = opened.get(name);
  if (!db) {
    db = openDB<LabSchema>(name, DB_VERSION, {
      upgrade(database, oldVersion) {
        for (let v = oldVersion; v < DB_VERSION; v++) UPGRADES[v](database);
      },
      blocking() {
        // A newer tab wants to upgrade: let it.
        void db?.then((d) => d.close());
        opened.delete(name);
      },
    });
    opened.set(name, db);
  }
  return db;
}

/**
 * Write a payload as chunk records and then its metadata record, in one transaction: either all
 * of it lands or none (a quota error aborts the transaction and leaves earlier records intact).
 */
export async function putChunked<S extends 'teacherCaches' | 'datasets' | 'checkpoints'>(
  db: LabDb,
  metaStore: S,
  chunkStore: ChunkStore,
  meta: LabSchema[S]['value'],
  payload: Uint8Array,
  what: string,
): Promise<void> {
  const tx = db.transaction([metaStore, chunkStore], 'readwrite');
  // If a put fails we abort and rethrow below; tx.done then rejects too, with nobody awaiting it.
  tx.done.catch(() => undefined);
  try {
    const chunks = tx.objectStore(chunkStore);
    await chunks.delete(IDBKeyRange.bound([meta.id, 0], [meta.id, Infinity]));
    for (let i = 0, index = 0; i < payload.byteLength || index === 0; i += CHUNK_BYTES, index++) {
      const part = payload.slice(i, Math.min(payload.byteLength, i + CHUNK_BYTES));
      await chunks.put({ ownerId: meta.id, index, data: part.buffer });
    }
    await tx.objectStore(metaStore).put(meta as never);
    await tx.done;
  } catch (err) {
    try {
      tx.abort();
    } catch {
      // already aborted
    }
    if (isQuotaError(err) || isQuotaError((err as { cause?: unknown }).cause)) throw new StorageQuotaError(what);
    throw err;
  }
}

/** Read a chunked payload back as one byte array (null when the owner has no chunks). */
export async function getChunked(db: LabDb, chunkStore: ChunkStore, ownerId: string): Promise<Uint8Array | null> {
  const records = await db.getAll(chunkStore, IDBKeyRange.bound([ownerId, 0], [ownerId, Infinity]));
  if (records.length === 0) return null;
  records.sort((a, b) => a.index - b.index);
  const total = records.reduce((n, r) => n + r.data.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const r of records) {
    out.set(new Uint8Array(r.data), offset);
    offset += r.data.byteLength;
  }
  return out;
}

/** Delete a chunked payload and its metadata record together. */
export async function deleteChunked(db: LabDb, metaStore: 'teacherCaches' | 'datasets' | 'checkpoints', chunkStore: ChunkStore, ownerId: string): Promise<void> {
  const tx = db.transaction([metaStore, chunkStore], 'readwrite');
  await tx.objectStore(chunkStore).delete(IDBKeyRange.bound([ownerId, 0], [ownerId, Infinity]));
  await tx.objectStore(metaStore).delete(ownerId);
  await tx.done;
}
