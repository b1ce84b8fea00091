// Learning-rate schedules (Hugging Face semantics): warm-up rises linearly from 0 over the first
// `warmupSteps`, then constant, linear decay to 0, or half-cosine decay to 0 at `totalSteps`.

export type ScheduleKind = 'constant' | 'linear' | 'cosine';

export interface Schedule {
  kind: ScheduleKind;
  peakLr: number;
  totalSteps: number;
  warmupSteps: number;
}

/** Warm-up steps from a fraction (0.1 = 10 % of the run) or an absolute count (≥ 1). */
export function warmupSteps(warmup: number, totalSteps: number): number {
  if (!(warmup >= 0)) throw new RangeError(`warm-up must be ≥ 0, got ${warmup}.`);
  return warmup < 1 ? Math.floor(warmup * totalSteps) : Math.floor(warmup);
}

/** Learning rate for optimiser step `step` (0-based: the rate used by the first update is lrAt(0)). */
export function lrAt(s: Schedule, step: number): number {
  if (step < s.warmupSteps) return (s.peakLr * step) / Math.max(1, s.warmupSteps);
  if (s.kind === 'constant') return s.peakLr;
  const progress = (step - s.warmupSteps) / Math.max(1, s.totalSteps - s.warmupSteps);
  if (s.kind === 'linear') return s.peakLr * Math.max(0, 1 - progress);
  return s.peakLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
}
