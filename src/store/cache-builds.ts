// How each teacher cache computed in the page was built: its request (data set, response, K,
// dtype, lengths, batch size, where its models load from) and the models that made it. A reload
// reads it to resume an interrupted build with the same settings (reloading the teacher first).
// Kept in the `settings` store under one key per cache; imported caches have none.
import type { CacheBuildRequest } from '../engine/data-api.ts';
import type { LabDb } from './db.ts';

export interface ModelIdentity {
  /** ModelCard.id: `${source id}@${revision}`. */
  id: string;
  name: string;
}

export type CacheBuildPlan = {
  cacheId: string;
  request: CacheBuildRequest;
  scorer: ModelIdentity;
  /** The student whose greedy responses ŷ were scored (response 'student'). */
  student: ModelIdentity | null;
  createdAt: number;
};

const PREFIX = 'teacherCacheBuild:';
const keyOf = (cacheId: string) => `${PREFIX}${cacheId}`;

function isPlan(v: unknown): v is CacheBuildPlan {
  const p = v as Partial<CacheBuildPlan> | undefined;
  return !!p && typeof p.cacheId === 'string' && typeof p.request === 'object' && typeof p.scorer === 'object';
}

export async function saveBuildPlan(db: LabDb, plan: CacheBuildPlan): Promise<void> {
  await db.put('settings', plan, keyOf(plan.cacheId));
}

export async function getBuildPlan(db: LabDb, cacheId: string): Promise<CacheBuildPlan | null> {
  const v = await db.get('settings', keyOf(cacheId));
  return isPlan(v) ? v : null;
}

/** Every stored plan by cache id. */
export async function listBuildPlans(db: LabDb): Promise<Map<string, CacheBuildPlan>> {
  const values = await db.getAll('settings', IDBKeyRange.bound(PREFIX, `${PREFIX}\uffff`));
  return new Map(values.filter(isPlan).map((p) => [p.cacheId, p]));
}

export async function deleteBuildPlan(db: LabDb, cacheId: string): Promise<void> {
  await db.delete('settings', keyOf(cacheId));
}
