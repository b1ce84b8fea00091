// Evaluation runs in IndexedDB: the run record in `runs` (kind "proactive-eval"), one record per
// finished item in `evalItems` (key [runId, itemKey]), written the moment the item finishes.
import type { EvalItemRecord, ResultStore, RunRecord } from '../proactive/records.ts';
import { isQuotaError, StorageQuotaError, type LabDb, type LabSchema } from './db.ts';

// The stores' row types are open records; our records are plain data of a fixed shape.
type RunRow = LabSchema['runs']['value'];
type ItemRow = LabSchema['evalItems']['value'];

/** Every key [runId, <string>]: arrays sort after strings, so [runId, []] bounds them above. */
function itemRange(runId: string): IDBKeyRange {
  return IDBKeyRange.bound([runId], [runId, []]);
}

export class IdbResultStore implements ResultStore {
  constructor(private readonly db: LabDb) {}

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = await this.db.get('runs', id);
    return row?.kind === 'proactive-eval' ? (row as unknown as RunRecord) : undefined;
  }

  async putRun(run: RunRecord): Promise<void> {
    await this.put(() => this.db.put('runs', run as unknown as RunRow), 'an evaluation run');
  }

  async getItems(runId: string): Promise<EvalItemRecord[]> {
    return (await this.db.getAll('evalItems', itemRange(runId))) as unknown as EvalItemRecord[];
  }

  async putItem(item: EvalItemRecord): Promise<void> {
    await this.put(() => this.db.put('evalItems', item as unknown as ItemRow), 'an evaluation result');
  }

  private async put(write: () => Promise<unknown>, what: string): Promise<void> {
    try {
      await write();
    } catch (err) {
      if (isQuotaError(err) || isQuotaError((err as { cause?: unknown }).cause)) throw new StorageQuotaError(what);
      throw err;
    }
  }
}

/** Evaluation runs, newest first. */
export async function listEvalRuns(db: LabDb): Promise<RunRecord[]> {
  const rows = (await db.getAllFromIndex('runs', 'kind', 'proactive-eval')) as unknown as RunRecord[];
  return rows.sort((a, b) => b.createdAt - a.createdAt);
}

/** Deletes a run and all its items in one transaction. */
export async function deleteEvalRun(db: LabDb, runId: string): Promise<void> {
  const tx = db.transaction(['runs', 'evalItems'], 'readwrite');
  await tx.objectStore('evalItems').delete(itemRange(runId));
  await tx.objectStore('runs').delete(runId);
  await tx.done;
}
