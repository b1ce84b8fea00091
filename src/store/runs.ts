// Training runs in IndexedDB: the run record in `runs` (kind "train": options, resolved config,
// status, progress, checkpoints taken, notices, summary), its data text in `datasets` (chunked,
// id "run-data:<runId>", so a reload re-tokenises exactly the same examples), and its metrics in
// `runMetrics`, one record per optimiser step. The worker writes them while it trains; the page
// reads them after a reload to show the run and resume it.
import type { ErrorInfo } from '../engine/api.ts';
import type { DistillRunInfo, TrainOptions } from '../engine/train-api.ts';
import type { TrainConfig } from '../distill/trainer/trainer.ts';
import { deleteCheckpoints, type CheckpointInfo } from './checkpoints.ts';
import { deleteChunked, getChunked, isQuotaError, putChunked, StorageQuotaError, type LabDb, type LabSchema } from './db.ts';

/** `running` after a reload means the tab closed mid-run: it is resumable like `paused`. */
export type TrainStatus = 'running' | 'paused' | 'finished' | 'cancelled' | 'failed';

/** Something the person should know about a run (shown in the panel, kept with the run). */
export interface RunNotice {
  kind: 'device-lost' | 'recovered' | 'resumed' | 'checkpoint-failed' | 'metrics-not-stored' | 'stage';
  step: number;
  at: number;
  message: string;
  hint?: string;
}

export interface TrainRunRecord {
  id: string;
  kind: 'train';
  name: string;
  createdAt: number;
  updatedAt: number;
  status: TrainStatus;
  model: {
    /** The ModelCard id (`source@revision`) the run trained. */
    id: string;
    name: string;
    parameters: number;
    tokenizerSha256: string;
    /** What to type in Models to load it again (null: a local folder the person must pick again). */
    location: string | null;
  };
  data: { id: string; name: string; bytes: number; examples: number; truncated: number; skipped: number; empty: number };
  options: TrainOptions;
  config: TrainConfig;
  /** Optimiser steps done (the last step with metrics). */
  step: number;
  totalSteps: number;
  /** The stored checkpoint (the latest valid one), if any. */
  checkpoint: CheckpointInfo | null;
  /** Every checkpoint taken during the run (only the latest is kept in storage). */
  checkpoints: { step: number; createdAt: number; bytes: number }[];
  notices: RunNotice[];
  summary: { loss: number | null; tokens: number; trainMs: number; deviceLosses: number; lostSteps: number };
  error: ErrorInfo | null;
  /** Distillation runs: the data set, caches and stages (ADPA+ has two); absent for SFT. */
  distill?: DistillRunInfo;
}

/** One optimiser step's metrics, as stored and charted. */
export interface MetricPoint {
  runId: string;
  step: number;
  loss: number;
  terms: Record<string, number>;
  gradNorm: number;
  lr: number;
  tokens: number;
  tokensPerSecond: number;
  ms: number;
  liveBytes: number;
  skipped: boolean;
  at: number;
}

type RunRow = LabSchema['runs']['value'];
type MetricRow = LabSchema['runMetrics']['value'];

export function newRunId(now = Date.now()): string {
  return `train-${now.toString(36)}-${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
}

export function runDataId(runId: string): string {
  return `run-data:${runId}`;
}

/** Resumable: stopped before its last step with its data and options intact. */
export function isResumable(run: TrainRunRecord): boolean {
  return (run.status === 'running' || run.status === 'paused') && run.step < run.totalSteps;
}

async function guard<T>(write: () => Promise<T>, what: string): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isQuotaError(err) || isQuotaError((err as { cause?: unknown }).cause)) throw new StorageQuotaError(what);
    throw err;
  }
}

function isTrainRun(v: unknown): v is TrainRunRecord {
  const r = v as Partial<TrainRunRecord> | null;
  return !!r && r.kind === 'train' && typeof r.id === 'string' && typeof r.status === 'string' && typeof r.options === 'object' && typeof r.config === 'object';
}

/** Store a new run with its data text (data first: a run record never points at missing data). */
export async function createTrainRun(db: LabDb, run: TrainRunRecord, dataText: string): Promise<void> {
  const bytes = new TextEncoder().encode(dataText);
  await putChunked(db, 'datasets', 'datasetChunks', { id: run.data.id, kind: 'run-data', runId: run.id, name: run.data.name, bytes: bytes.byteLength, createdAt: run.createdAt }, bytes, `the data of run "${run.name}"`);
  try {
    await putTrainRun(db, run);
  } catch (err) {
    await deleteChunked(db, 'datasets', 'datasetChunks', run.data.id).catch(() => undefined);
    throw err;
  }
}

export async function putTrainRun(db: LabDb, run: TrainRunRecord): Promise<void> {
  await guard(() => db.put('runs', structuredClone(run) as unknown as RunRow), `the record of run "${run.name}"`);
}

export async function getTrainRun(db: LabDb, id: string): Promise<TrainRunRecord | null> {
  const row = await db.get('runs', id);
  return isTrainRun(row) ? row : null;
}

/** Training runs, newest first. */
export async function listTrainRuns(db: LabDb): Promise<TrainRunRecord[]> {
  const rows = await db.getAllFromIndex('runs', 'kind', 'train');
  return (rows as unknown[]).filter(isTrainRun).sort((a, b) => b.createdAt - a.createdAt);
}

/** The run's data text, or null when it was deleted. */
export async function loadRunData(db: LabDb, run: TrainRunRecord): Promise<string | null> {
  const bytes = await getChunked(db, 'datasetChunks', run.data.id);
  return bytes ? new TextDecoder().decode(bytes) : null;
}

export async function putMetric(db: LabDb, point: MetricPoint): Promise<void> {
  await guard(() => db.put('runMetrics', { ...point, terms: { ...point.terms } } as unknown as MetricRow), `the metrics of step ${point.step}`);
}

function metricRange(runId: string, fromStep = -Infinity): IDBKeyRange {
  return IDBKeyRange.bound([runId, fromStep], [runId, Infinity]);
}

/** A run's metrics in step order. */
export async function loadMetrics(db: LabDb, runId: string): Promise<MetricPoint[]> {
  return (await db.getAll('runMetrics', metricRange(runId))) as unknown as MetricPoint[];
}

/** Drop the metrics of steps after `step` (steps lost with the device or the tab, about to be redone). */
export async function dropMetricsAfter(db: LabDb, runId: string, step: number): Promise<void> {
  await db.delete('runMetrics', IDBKeyRange.bound([runId, step], [runId, Infinity], true));
}

/** Stop a run for good: status cancelled, its checkpoints deleted (its metrics and data stay). */
export async function cancelTrainRun(db: LabDb, run: TrainRunRecord, now = Date.now()): Promise<TrainRunRecord> {
  await deleteCheckpoints(db, run.id);
  const next: TrainRunRecord = { ...run, status: 'cancelled', checkpoint: null, updatedAt: now };
  await putTrainRun(db, next);
  return next;
}

/** Delete a run with everything it stored. */
export async function deleteTrainRun(db: LabDb, run: TrainRunRecord): Promise<void> {
  await deleteCheckpoints(db, run.id);
  await db.delete('runMetrics', metricRange(run.id));
  await deleteChunked(db, 'datasets', 'datasetChunks', run.data.id);
  await db.delete('runs', run.id);
}
