// The Models panel's list: one record per loaded model in the `models` store (what it is, where it
// came from, its files), while the bytes of remote models live in the weight cache. Deleting a model
// removes its cache entries first, then its record, so a record never outlives its bytes unnoticed.
import type { Architecture } from '../formats/config.ts';
import { parameterCount } from '../formats/config.ts';
import type { ModelFiles } from '../formats/model-files.ts';
import type { SourceKind } from '../formats/source.ts';
import type { LabDb } from './db.ts';
import { LISTING_FILE, type CacheEntry, type WeightCache } from './weight-cache.ts';

export type ModelRecord = {
  /** `${sourceId}@${revision}`. */
  id: string;
  sourceId: string;
  revision: string;
  kind: SourceKind;
  description: string;
  architecture: Architecture;
  parameterCount: number;
  dtype: string;
  numLayers: number;
  hiddenSize: number;
  vocabSize: number;
  files: { path: string; size: number; sha256: string | null }[];
  totalBytes: number;
  /** The files are in the weight cache (remote sources), so the model loads offline. */
  cached: boolean;
  addedAt: number;
  lastUsedAt: number;
};

export function modelRecordId(sourceId: string, revision: string): string {
  return `${sourceId}@${revision}`;
}

export function modelRecordOf(m: ModelFiles, now = Date.now()): ModelRecord {
  const { source, config } = m;
  const files = m.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 }));
  return {
    id: modelRecordId(source.id, source.revision),
    sourceId: source.id,
    revision: source.revision,
    kind: source.kind,
    description: source.describe(),
    architecture: config.architecture,
    parameterCount: parameterCount(config),
    dtype: config.dtype,
    numLayers: config.numLayers,
    hiddenSize: config.hiddenSize,
    vocabSize: config.vocabSize,
    files,
    totalBytes: files.reduce((n, f) => n + f.size, 0),
    cached: m.files.length > 0 && m.files.every((f) => f.from === 'cache' || f.from === 'download') && source.remote,
    addedAt: now,
    lastUsedAt: now,
  };
}

/** Stores the record, keeping the first-seen time of an existing one. */
export async function saveModelRecord(db: LabDb, record: ModelRecord): Promise<void> {
  const existing = (await db.get('models', record.id)) as ModelRecord | undefined;
  await db.put('models', { ...record, addedAt: existing?.addedAt ?? record.addedAt });
}

/** Most recently used first. */
export async function listModelRecords(db: LabDb): Promise<ModelRecord[]> {
  const all = (await db.getAll('models')) as ModelRecord[];
  return all.sort((a, b) => b.lastUsedAt - a.lastUsedAt);
}

/** Removes a model's cached files and then its record. */
export async function forgetModel(db: LabDb, cache: WeightCache | null, id: string): Promise<void> {
  const record = (await db.get('models', id)) as ModelRecord | undefined;
  if (record && cache) await cache.deleteSource(record.sourceId, record.revision);
  await db.delete('models', id);
}

export interface CachedSourceSummary {
  sourceId: string;
  revision: string;
  files: CacheEntry[];
  totalBytes: number;
}

/** The cache's model files grouped by model (also shows bytes whose record was lost). */
export async function summarizeCache(cache: WeightCache): Promise<CachedSourceSummary[]> {
  const groups = new Map<string, CachedSourceSummary>();
  for (const e of await cache.list()) {
    if (e.file === LISTING_FILE) continue;
    const id = modelRecordId(e.sourceId, e.revision);
    const g = groups.get(id) ?? { sourceId: e.sourceId, revision: e.revision, files: [], totalBytes: 0 };
    g.files.push(e);
    g.totalBytes += e.size;
    groups.set(id, g);
  }
  return [...groups.values()];
}
