// One resumable training stage of the demo build: the product's Trainer and run loop, a checkpoint
// (parameters, AdamW state, step, data cursor) in the stage's work folder every few steps, a
// progress line with the stage's ETA, and the training time summed over interrupted sessions
// (kept next to the checkpoint, so a resumed build still reports the whole stage's time).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gpu } from '../../engine/gpu.ts';
import type { Decoder } from '../../engine/models/decoder.ts';
import type { BatchSource } from '../../distill/trainer/batches.ts';
import { decodeCheckpoint, restoreCheckpoint } from '../../distill/trainer/checkpoint.ts';
import { runTraining } from '../../distill/trainer/run.ts';
import { Trainer, type StepMetrics, type TrainConfig } from '../../distill/trainer/trainer.ts';
import { writeAtomically } from './files.node.ts';

export interface StageTiming {
  /** Training seconds over every session of the stage. */
  seconds: number;
  steps: number;
  /** Real (non-padding) tokens seen. */
  tokens: number;
  /** Mean loss of the last 10 steps this session saw (NaN when resumed at the end). */
  finalLoss: number;
}

export interface StageRun {
  gpu: Gpu;
  decoder: Decoder;
  source: BatchSource;
  config: TrainConfig;
  /** Work folder of the stage (checkpoint.safetensors, timing.json). */
  dir: string;
  label: string;
  checkpointEvery: number;
  /** Progress line every this many steps. */
  logEvery: number;
  log: (line: string) => void;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min` : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

/** Train `decoder` for the stage, resuming from the stage's checkpoint when one is there. */
export async function trainStage(r: StageRun): Promise<StageTiming> {
  mkdirSync(r.dir, { recursive: true });
  const checkpointFile = join(r.dir, 'checkpoint.safetensors');
  const timingFile = join(r.dir, 'timing.json');
  const trainer = new Trainer(r.gpu, r.decoder, r.source, r.config);
  let before = { seconds: 0, tokens: 0 };
  if (existsSync(checkpointFile)) {
    restoreCheckpoint(trainer, decodeCheckpoint(new Uint8Array(readFileSync(checkpointFile)), checkpointFile));
    if (existsSync(timingFile)) before = JSON.parse(readFileSync(timingFile, 'utf8')) as typeof before;
    r.log(`[${r.label}] resumed at step ${trainer.step}/${r.config.steps} (${formatDuration(before.seconds)} trained before)`);
  }
  const startStep = trainer.step;
  const started = performance.now();
  let tokens = 0;
  const recent: number[] = [];
  const elapsed = () => (performance.now() - started) / 1000;
  const onMetrics = (m: StepMetrics) => {
    tokens += m.tokens;
    recent.push(m.loss);
    if (recent.length > 10) recent.shift();
    if (m.step % r.logEvery !== 0 && m.step !== r.config.steps && m.step !== startStep + 1) return;
    const perStep = elapsed() / (m.step - startStep);
    const eta = perStep * (r.config.steps - m.step);
    const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
    r.log(
      `[${r.label}] step ${m.step}/${r.config.steps}  loss ${mean.toFixed(3)}  lr ${m.lr.toExponential(2)}  ${(tokens / elapsed()).toFixed(0)} tok/s  ` +
        `${perStep.toFixed(1)} s/step  ETA ${formatDuration(eta)}`,
    );
  };
  try {
    await runTraining(trainer, {
      runId: r.label,
      checkpointEvery: r.checkpointEvery,
      sink: {
        save: async (_run, _step, bytes) => {
          writeAtomically(checkpointFile, bytes);
          writeAtomically(timingFile, JSON.stringify({ seconds: before.seconds + elapsed(), tokens: before.tokens + tokens }));
        },
      },
      hooks: { onMetrics },
    });
  } finally {
    trainer.release();
  }
  return {
    seconds: before.seconds + elapsed(),
    steps: r.config.steps,
    tokens: before.tokens + tokens,
    finalLoss: recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : NaN,
  };
}
