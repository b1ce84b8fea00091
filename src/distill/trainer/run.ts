// A training run around a Trainer: steps until done, checkpoints every N steps and when paused,
// and stops cleanly on pause or cancel. The page's worker and the CLI both drive runs through
// this, each with its own checkpoint store (IndexedDB, files).
import { captureCheckpoint, encodeCheckpoint } from './checkpoint.ts';
import type { StepMetrics, Trainer } from './trainer.ts';

export type RunOutcome = 'finished' | 'paused' | 'cancelled';

export interface CheckpointSink {
  /** Store the encoded checkpoint; must leave the previous one valid if it fails. */
  save(runId: string, step: number, bytes: Uint8Array): Promise<void>;
}

export interface RunHooks {
  onMetrics?(m: StepMetrics): void;
  onCheckpoint?(step: number, bytes: number): void;
  /** Polled between steps. */
  control?(): 'run' | 'pause' | 'cancel';
}

export interface RunOptions {
  runId: string;
  /** Checkpoint every this many optimiser steps (0: only at the end and on pause). */
  checkpointEvery: number;
  sink?: CheckpointSink;
  hooks?: RunHooks;
}

export async function saveCheckpoint(trainer: Trainer, o: RunOptions): Promise<void> {
  if (!o.sink) return;
  const bytes = encodeCheckpoint(await captureCheckpoint(trainer, o.runId));
  await o.sink.save(o.runId, trainer.step, bytes);
  o.hooks?.onCheckpoint?.(trainer.step, bytes.byteLength);
}

export async function runTraining(trainer: Trainer, o: RunOptions): Promise<RunOutcome> {
  while (!trainer.done) {
    const control = o.hooks?.control?.() ?? 'run';
    if (control === 'cancel') return 'cancelled';
    if (control === 'pause') {
      await saveCheckpoint(trainer, o);
      return 'paused';
    }
    const metrics = await trainer.trainStep();
    o.hooks?.onMetrics?.(metrics);
    if (o.checkpointEvery > 0 && trainer.step % o.checkpointEvery === 0 && !trainer.done) await saveCheckpoint(trainer, o);
  }
  await saveCheckpoint(trainer, o);
  return 'finished';
}
