// Preference data sets in IndexedDB: a record in `datasets` (name, file name, size, SHA-256 of the
// bytes, pair count) and the file's UTF-8 bytes in `datasetChunks`, so the Data panel, cache
// builds and training re-read exactly the same text after a reload.
//
//   importPreferenceData(db, {fileName, text})   parse first (errors name the file and line), then
//                                                store chunks and record in one transaction
//   listDatasets / getDataset / loadDatasetText / loadPreferenceSet / deleteDataset
//
// The id is the SHA-256 of the bytes: importing the same file again updates its name, not a copy.
// It is also the `dataset_sha256` a teacher cache of these data records (docs/distillation.md).
import { LabError } from '../engine/errors.ts';
import { readPreferenceData, type PreferenceSet } from '../distill/data/preference.ts';
import { sha256Hex } from '../formats/tokenizer.ts';
import { deleteChunked, getChunked, putChunked, type LabDb } from './db.ts';

/** The record in the `datasets` store (plain data). */
export type DatasetRecord = {
  /** SHA-256 (hex) of the bytes. */
  id: string;
  kind: 'preference';
  /** What the lists show (the file name unless renamed). */
  name: string;
  fileName: string;
  bytes: number;
  sha256: string;
  pairs: number;
  createdAt: number;
  updatedAt: number;
};

export class DatasetStoreError extends LabError {
  constructor(message: string, hint?: string) {
    super('DatasetStoreError', message, hint);
  }
}

function isDataset(v: unknown): v is DatasetRecord {
  const r = v as Partial<DatasetRecord> | undefined;
  return !!r && r.kind === 'preference' && typeof r.id === 'string' && typeof r.sha256 === 'string' && typeof r.bytes === 'number';
}

export interface ImportOptions {
  fileName: string;
  text: string;
  /** Defaults to the file name. */
  name?: string;
  now?: number;
}

/**
 * Parse preference pairs and store them. Bad data throws a DataError naming the file and line and
 * stores nothing; a quota error (StorageQuotaError) leaves every stored data set as it was.
 */
export async function importPreferenceData(db: LabDb, o: ImportOptions): Promise<{ record: DatasetRecord; replaced: boolean }> {
  const set = await readPreferenceData(o.text, o.fileName);
  const bytes = new TextEncoder().encode(o.text);
  const now = o.now ?? Date.now();
  const old = await getDataset(db, set.sha256);
  const record: DatasetRecord = {
    id: set.sha256,
    kind: 'preference',
    name: o.name ?? o.fileName,
    fileName: o.fileName,
    bytes: bytes.byteLength,
    sha256: set.sha256,
    pairs: set.pairs.length,
    createdAt: old?.createdAt ?? now,
    updatedAt: now,
  };
  await putChunked(db, 'datasets', 'datasetChunks', record, bytes, `data set "${record.name}"`);
  return { record, replaced: old !== undefined };
}

/** Every stored data set, most recently imported first. */
export async function listDatasets(db: LabDb): Promise<DatasetRecord[]> {
  return (await db.getAll('datasets')).filter(isDataset).sort((a, b) => b.updatedAt - a.updatedAt);
}

export async function getDataset(db: LabDb, id: string): Promise<DatasetRecord | undefined> {
  const r = await db.get('datasets', id);
  return isDataset(r) ? r : undefined;
}

/** The stored text, checked against the record's size and SHA-256. */
export async function loadDatasetText(db: LabDb, id: string): Promise<{ record: DatasetRecord; text: string }> {
  const record = await getDataset(db, id);
  if (!record) throw new DatasetStoreError(`There is no data set ${id.slice(0, 12)}… in this browser's storage.`, 'Load the preference file again (Data & teacher cache panel).');
  const bytes = (await getChunked(db, 'datasetChunks', id)) ?? new Uint8Array(0);
  const damaged = (what: string) => new DatasetStoreError(`Data set "${record.name}" is damaged in storage: ${what}.`, 'Delete it and load the file again.');
  if (bytes.byteLength !== record.bytes) throw damaged(`${bytes.byteLength} of its ${record.bytes} bytes are stored`);
  if ((await sha256Hex(bytes)) !== record.sha256) throw damaged('its bytes no longer match their SHA-256');
  return { record, text: new TextDecoder().decode(bytes) };
}

/** The stored pairs, parsed as when they were imported. */
export async function loadPreferenceSet(db: LabDb, id: string): Promise<{ record: DatasetRecord; set: PreferenceSet }> {
  const { record, text } = await loadDatasetText(db, id);
  return { record, set: await readPreferenceData(text, record.fileName) };
}

/** Remove a data set (record and chunks together). Teacher caches made from it stay. */
export async function deleteDataset(db: LabDb, id: string): Promise<void> {
  await deleteChunked(db, 'datasets', 'datasetChunks', id);
}
