// Training checkpoints in IndexedDB: the latest valid checkpoint of each run (one safetensors blob,
// src/distill/trainer/checkpoint.ts, split into chunk records). A new checkpoint is written under
// its own id and replaces the older ones in the SAME transaction, so at every moment the run has
// exactly one complete checkpoint: if the write fails (quota, a closed tab), the transaction aborts
// and the previous checkpoint is still there, whole.
import { CHUNK_BYTES, getChunked, isQuotaError, StorageQuotaError, type LabDb } from './db.ts';

export interface CheckpointInfo {
  id: string;
  runId: string;
  /** Optimiser steps done when it was taken. */
  step: number;
  createdAt: number;
  bytes: number;
}

function checkpointId(runId: string, step: number): string {
  return `${runId}/step-${step}`;
}

function chunkRange(id: string): IDBKeyRange {
  return IDBKeyRange.bound([id, 0], [id, Infinity]);
}

function readInfo(v: unknown): CheckpointInfo | null {
  const r = v as Partial<CheckpointInfo> | null;
  if (!r || typeof r.id !== 'string' || typeof r.runId !== 'string' || typeof r.step !== 'number' || typeof r.bytes !== 'number') return null;
  return { id: r.id, runId: r.runId, step: r.step, createdAt: typeof r.createdAt === 'number' ? r.createdAt : 0, bytes: r.bytes };
}

/** Every stored checkpoint of a run, oldest first (normally one). */
export async function listCheckpoints(db: LabDb, runId: string): Promise<CheckpointInfo[]> {
  const rows = await db.getAllFromIndex('checkpoints', 'runId', runId);
  return rows
    .map(readInfo)
    .filter((c): c is CheckpointInfo => c !== null)
    .sort((a, b) => a.step - b.step || a.createdAt - b.createdAt);
}

export async function latestCheckpoint(db: LabDb, runId: string): Promise<CheckpointInfo | null> {
  return (await listCheckpoints(db, runId)).at(-1) ?? null;
}

/**
 * Store a checkpoint and drop the run's older ones, in one transaction. On a full quota this throws
 * a StorageQuotaError naming the step, and the previous checkpoint stays readable.
 */
export async function saveCheckpoint(db: LabDb, runId: string, step: number, payload: Uint8Array, now = Date.now()): Promise<CheckpointInfo> {
  const info: CheckpointInfo = { id: checkpointId(runId, step), runId, step, createdAt: now, bytes: payload.byteLength };
  const tx = db.transaction(['checkpoints', 'checkpointChunks'], 'readwrite');
  // On a failed put we abort and rethrow below; tx.done then rejects too, with nobody awaiting it.
  tx.done.catch(() => undefined);
  try {
    const metas = tx.objectStore('checkpoints');
    const chunks = tx.objectStore('checkpointChunks');
    const older = (await metas.index('runId').getAllKeys(runId)).filter((id) => id !== info.id);
    await chunks.delete(chunkRange(info.id));
    for (let offset = 0, index = 0; offset < payload.byteLength || index === 0; offset += CHUNK_BYTES, index++) {
      await chunks.put({ ownerId: info.id, index, data: payload.slice(offset, Math.min(payload.byteLength, offset + CHUNK_BYTES)).buffer });
    }
    await metas.put({ ...info });
    for (const id of older) {
      await chunks.delete(chunkRange(id));
      await metas.delete(id);
    }
    await tx.done;
    return info;
  } catch (err) {
    try {
      tx.abort();
    } catch {
      // already aborted by the failed request
    }
    if (isQuotaError(err) || isQuotaError((err as { cause?: unknown }).cause)) throw new StorageQuotaError(`the checkpoint at step ${step}`);
    throw err;
  }
}

/** The latest checkpoint's bytes, or null when the run has none. */
export async function loadLatestCheckpoint(db: LabDb, runId: string): Promise<{ info: CheckpointInfo; bytes: Uint8Array } | null> {
  const info = await latestCheckpoint(db, runId);
  if (!info) return null;
  const bytes = await getChunked(db, 'checkpointChunks', info.id);
  return bytes ? { info, bytes } : null;
}

/** Delete every checkpoint of a run. */
export async function deleteCheckpoints(db: LabDb, runId: string): Promise<void> {
  const tx = db.transaction(['checkpoints', 'checkpointChunks'], 'readwrite');
  const metas = tx.objectStore('checkpoints');
  for (const id of await metas.index('runId').getAllKeys(runId)) {
    await tx.objectStore('checkpointChunks').delete(chunkRange(id));
    await metas.delete(id);
  }
  await tx.done;
}
