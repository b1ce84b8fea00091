// The Train panel's defaults and the one-line explanations shown under each option, plus small
// helpers for metric values and the time left.
import type { TrainOptions } from '../../engine/train-api.ts';
import type { ProjectionName } from '../../engine/models/weights.ts';

export const DEFAULT_OPTIONS: TrainOptions = {
  mode: 'lora',
  lora: { rank: 8, alpha: 16, dropout: 0, targets: ['q_proj', 'v_proj'] },
  optimizer: 'adamw',
  lr: 2e-4,
  weightDecay: 0,
  momentum: 0,
  length: { unit: 'epochs', value: 1 },
  batchSize: 4,
  gradAccum: 1,
  maxGradNorm: 1,
  schedule: 'cosine',
  warmup: 0.1,
  maxLength: 512,
  overLength: 'truncate',
  checkpointEvery: 50,
  seed: 0,
  budgetMiB: 4096,
};

/** A fresh copy of the defaults (the panel edits its own). */
export function defaultOptions(): TrainOptions {
  return structuredClone(DEFAULT_OPTIONS);
}

export const LORA_TARGETS: { value: ProjectionName; label: string }[] = [
  { value: 'q_proj', label: 'q' },
  { value: 'k_proj', label: 'k' },
  { value: 'v_proj', label: 'v' },
  { value: 'o_proj', label: 'o' },
  { value: 'gate_proj', label: 'gate' },
  { value: 'up_proj', label: 'up' },
  { value: 'down_proj', label: 'down' },
];

/** One line under each option: what it does and when to change it. */
export const HELP = {
  mode: 'LoRA trains small adapter matrices beside frozen weights: a fraction of the memory. Full trains every weight.',
  rank: 'Size of each adapter. 4–16 is typical; larger learns more and costs more.',
  alpha: 'Scales the adapters’ output (alpha ÷ rank). Twice the rank is a common choice.',
  dropout: 'Randomly drops adapter inputs while training, against overfitting small data. 0 turns it off.',
  targets: 'Which projections get adapters. q and v is the classic choice; all seven learn most.',
  optimizer: 'AdamW adapts each weight’s step size and is the usual choice. SGD needs a larger learning rate.',
  lr: 'Peak step size. LoRA: 1e-4 to 5e-4. Full fine-tuning: 1e-5 to 5e-5.',
  weightDecay: 'Pulls weights towards zero (not norms or biases). 0 to 0.1.',
  momentum: 'SGD only: carries part of the last update into the next.',
  length: 'How long to train: optimiser steps, or passes over the whole data set.',
  batchSize: 'Examples per forward pass. Memory grows with it.',
  gradAccum: 'Forward passes summed into one update: a larger effective batch without more memory.',
  maxGradNorm: 'Rescales updates whose gradient norm exceeds this, against spikes. 0 disables.',
  schedule: 'How the learning rate changes over the run after warm-up.',
  warmup: 'Learning rate rises from 0 over this fraction of the steps (or this many steps, if ≥ 1).',
  maxLength: 'Tokens per example (at most the model’s context). Longer examples are cut or skipped.',
  overLength: 'What to do with examples over the max length.',
  checkpointEvery: 'Save progress every this many steps. A reload or a lost GPU loses at most this many.',
  seed: 'Fixes the data order, adapter start values and dropout: the same seed repeats the run.',
  budgetMiB: 'GPU memory this run may use. Runs estimated above it are refused before they start.',
} as const;

/** A loss or norm with 4 significant digits, or "—". */
export function formatMetric(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toPrecision(4);
}

/** Estimated time left: the mean duration of the last `window` steps times the steps to go. */
export function etaMs(stepMs: readonly number[], remaining: number, window = 20): number | null {
  const recent = stepMs.slice(-window);
  if (recent.length === 0 || remaining <= 0) return remaining <= 0 ? 0 : null;
  return (recent.reduce((a, b) => a + b, 0) / recent.length) * remaining;
}
