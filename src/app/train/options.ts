// The Train panel's defaults and the one-line explanations shown under each option, plus small
// helpers for metric values and the time left.
import type { LossSettings, TrainOptions } from '../../engine/train-api.ts';
import type { ProjectionName } from '../../engine/models/weights.ts';
import { DEFAULT_JSD_BETA, DEFAULT_SKEW_LAMBDA } from '../../distill/losses/definitions.ts';
import { DEFAULT_WEIGHTS } from '../../distill/losses/recipes.ts';

const W = DEFAULT_WEIGHTS;

/** The objective's defaults: SFT, and the reference defaults of docs/distillation.md for every weight and option. */
export const DEFAULT_LOSS: LossSettings = {
  objective: 'sft',
  weights: {
    kd: { sft: W.kd.sft!, kd: W.kd.kd! },
    dckd: { sft: W.dckd.sft!, kd: W.dckd.kd!, c: W.dckd.c!, r: W.dckd.r! },
    adpa: { sft: W.adpa.sft!, adpa: W.adpa.adpa! },
  },
  skewLambda: DEFAULT_SKEW_LAMBDA,
  jsdBeta: DEFAULT_JSD_BETA,
  advantage: 'parity',
  advantageBeta: 1,
  maxNewTokens: 128,
  k: 50,
};

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
  recompute: false,
  loss: DEFAULT_LOSS,
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
  recompute: 'Keeps only each layer’s input and computes the rest again during the backward pass: much less memory for about a third more compute.',
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

/** One line under each objective, weight and option of the distillation losses (docs/distillation.md). */
export const LOSS_HELP = {
  objective: {
    sft: 'Supervised fine-tuning: cross-entropy on the responses of a data file.',
    kd: 'Knowledge distillation from a teacher cache on the chosen responses: one divergence between teacher and student over the K+1 bins.',
    dckd: 'Dual-constrained KD: match the preference-aligned teacher on both the chosen and the rejected response of each pair.',
    adpa: 'Advantage-guided: the student writes ŷ, the teacher and a reference score it, and the student moves toward the tokens the teacher prefers.',
    'adpa+': 'Two stages in one run: DCKD, then ADPA from the DCKD student, with ŷ written by it.',
  },
  zoo: 'Forward KL is the classic KD; reverse KL is mode-seeking; the skew KLs (DistiLLM), generalised JSD (GKD) and total variation sit between.',
  kdSft: 'Cross-entropy on the response next to the divergence; 0 is pure distillation.',
  kd: 'Scales the divergence to the teacher.',
  sft: 'Cross-entropy on the chosen response y_w: keeps the student fluent on the preferred answers.',
  dckd: 'Scales both teacher terms below.',
  c: 'KL to the teacher on the chosen responses y_w (inside w_kd).',
  r: 'KL to the teacher on the rejected responses y_l: the student also matches how the teacher would answer badly (inside w_kd).',
  adpa: 'Advantage term on ŷ: raises the tokens the DPO teacher favours over the reference model.',
  lambda: 'Skew KL mixes λ of one distribution into the other (DistiLLM); the reference uses 0.1.',
  beta: 'Mixture weight of the generalised JSD (GKD): 0 is forward KL, 1 reverse KL.',
  advantage: {
    parity: 'As the reference implementation: Â clamped to [1e-8, 1 − 1e-8], so negative advantages count as 1e-8 and those above 1 saturate.',
    signed: 'Departs from the reference implementation: β·Â without the clamp, so tokens the teacher disfavours are pushed down.',
  },
  advantageBeta: 'Scales the signed advantage β·Â.',
  maxNewTokens: 'Tokens the student writes per prompt for ŷ (greedy), when the run builds its ADPA data.',
  k: 'Teacher and reference probabilities kept per position in the caches built for ŷ (at most 64).',
} as const;
