import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { openLabDb, type LabDb } from '../../../src/store/db.ts';
import { latestCheckpoint, saveCheckpoint } from '../../../src/store/checkpoints.ts';
import {
  cancelTrainRun,
  createTrainRun,
  deleteTrainRun,
  dropMetricsAfter,
  getTrainRun,
  isResumable,
  listTrainRuns,
  loadMetrics,
  loadRunData,
  newRunId,
  putMetric,
  putTrainRun,
  runDataId,
  type MetricPoint,
  type TrainRunRecord,
} from '../../../src/store/runs.ts';
import { DEFAULT_OPTIONS } from '../../../src/app/train/options.ts';

const freshDb = (): Promise<LabDb> => openLabDb(`runs-${Math.random()}`);

function run(id: string, createdAt: number, over: Partial<TrainRunRecord> = {}): TrainRunRecord {
  return {
    id,
    kind: 'train',
    name: `model · data-${id}.jsonl`,
    createdAt,
    updatedAt: createdAt,
    status: 'running',
    model: { id: 'hf:org/model@main', name: 'org/model', parameters: 1000, tokenizerSha256: 'ab'.repeat(32), location: 'org/model' },
    data: { id: runDataId(id), name: `data-${id}.jsonl`, bytes: 10, examples: 3, truncated: 0, skipped: 0, empty: 0 },
    options: structuredClone(DEFAULT_OPTIONS),
    config: { mode: 'lora', optimizer: { kind: 'adamw', weightDecay: 0 }, lr: 2e-4, schedule: 'cosine', warmup: 0.1, steps: 12, gradAccum: 1, maxGradNorm: 1, seed: 0 },
    step: 0,
    totalSteps: 12,
    checkpoint: null,
    checkpoints: [],
    notices: [],
    summary: { loss: null, tokens: 0, trainMs: 0, deviceLosses: 0, lostSteps: 0 },
    error: null,
    ...over,
  };
}

function point(runId: string, step: number): MetricPoint {
  return { runId, step, loss: 3 - step * 0.1, terms: { sft: 3 - step * 0.1 }, gradNorm: 1, lr: 1e-4, tokens: 20, tokensPerSecond: 100, ms: 200, liveBytes: 1024, skipped: false, at: step };
}

let restore: (() => void) | null = null;
afterEach(() => {
  restore?.();
  restore = null;
});

describe('training runs in IndexedDB', () => {
  it('stores a run with its data text and lists training runs newest first, ignoring other kinds', async () => {
    const db = await freshDb();
    const text = '{"prompt": "héllo", "response": "wörld"}\n';
    await createTrainRun(db, run('a', 1), text);
    await createTrainRun(db, run('b', 2), 'x');
    await db.put('runs', { id: 'eval-1', kind: 'proactive-eval', createdAt: 3 });
    expect((await listTrainRuns(db)).map((r) => r.id)).toEqual(['b', 'a']);
    const a = await getTrainRun(db, 'a');
    expect(a).toEqual(run('a', 1));
    expect(await loadRunData(db, a!)).toBe(text);
    expect(await getTrainRun(db, 'eval-1')).toBeNull();
    expect(await getTrainRun(db, 'missing')).toBeNull();
  });

  it('keeps one metrics record per step, in step order, and drops the steps after a checkpoint', async () => {
    const db = await freshDb();
    for (const step of [3, 1, 2, 4, 5]) await putMetric(db, point('r', step));
    await putMetric(db, point('other', 2));
    expect((await loadMetrics(db, 'r')).map((p) => p.step)).toEqual([1, 2, 3, 4, 5]);
    // A redone step replaces its record.
    await putMetric(db, { ...point('r', 2), loss: 9 });
    expect((await loadMetrics(db, 'r'))[1].loss).toBe(9);
    await dropMetricsAfter(db, 'r', 3);
    expect((await loadMetrics(db, 'r')).map((p) => p.step)).toEqual([1, 2, 3]);
    expect((await loadMetrics(db, 'other')).map((p) => p.step)).toEqual([2]);
  });

  it('cancel deletes the checkpoints and keeps the metrics; delete removes everything of one run', async () => {
    const db = await freshDb();
    await createTrainRun(db, run('c', 1), 'data c');
    await createTrainRun(db, run('d', 2), 'data d');
    await saveCheckpoint(db, 'c', 4, new Uint8Array([1, 2, 3]));
    await saveCheckpoint(db, 'd', 4, new Uint8Array([4, 5]));
    await putMetric(db, point('c', 1));
    await putMetric(db, point('d', 1));

    const cancelled = await cancelTrainRun(db, (await getTrainRun(db, 'c'))!, 50);
    expect(cancelled).toMatchObject({ status: 'cancelled', checkpoint: null, updatedAt: 50 });
    expect(isResumable(cancelled)).toBe(false);
    expect((await getTrainRun(db, 'c'))?.status).toBe('cancelled');
    expect(await latestCheckpoint(db, 'c')).toBeNull();
    expect((await loadMetrics(db, 'c')).length).toBe(1);

    await deleteTrainRun(db, (await getTrainRun(db, 'd'))!);
    expect(await getTrainRun(db, 'd')).toBeNull();
    expect(await latestCheckpoint(db, 'd')).toBeNull();
    expect(await loadMetrics(db, 'd')).toEqual([]);
    expect(await db.get('datasets', runDataId('d'))).toBeUndefined();
    // The other run is untouched.
    expect(await loadRunData(db, (await getTrainRun(db, 'c'))!)).toBe('data c');
  });

  it('a run is resumable while running (interrupted) or paused, and before its last step', () => {
    expect(isResumable(run('x', 1, { status: 'running', step: 3 }))).toBe(true);
    expect(isResumable(run('x', 1, { status: 'paused', step: 3 }))).toBe(true);
    expect(isResumable(run('x', 1, { status: 'paused', step: 12 }))).toBe(false);
    expect(isResumable(run('x', 1, { status: 'finished', step: 12 }))).toBe(false);
    expect(isResumable(run('x', 1, { status: 'failed', step: 3 }))).toBe(false);
  });

  it('quota exceeded on the run record: StorageQuotaError naming the run, and its data is not left behind', async () => {
    const db = await freshDb();
    const proto = IDBObjectStore.prototype;
    const original = proto.put;
    proto.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      if (this.name === 'runs') throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return original.apply(this, args);
    };
    restore = () => {
      proto.put = original;
    };
    await expect(createTrainRun(db, run('q', 1), 'text')).rejects.toMatchObject({ name: 'StorageQuotaError', message: expect.stringMatching(/record of run "model · data-q\.jsonl"/) });
    restore();
    restore = null;
    expect(await db.get('datasets', runDataId('q'))).toBeUndefined();
    expect(await db.getAll('datasetChunks')).toEqual([]);
  });

  it('updates replace the record; ids are unique', async () => {
    const db = await freshDb();
    await createTrainRun(db, run('u', 1), 't');
    await putTrainRun(db, run('u', 1, { status: 'paused', step: 6 }));
    expect(await getTrainRun(db, 'u')).toMatchObject({ status: 'paused', step: 6 });
    const ids = new Set(Array.from({ length: 50 }, () => newRunId(5)));
    expect(ids.size).toBe(50);
  });
});
