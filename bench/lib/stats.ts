// Timing helpers shared by Node and browser pages: medians of repeated batches, warm-up excluded.

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export interface TimingOptions {
  /** Operations done by one call of `batch` (the per-op time divides by it). */
  opsPerBatch: number;
  /** Rough time to spend on the timed repetitions of this case, ms. */
  budgetMs: number;
  minReps?: number;
  maxReps?: number;
}

/**
 * Time `batch` (which records, submits and waits for `opsPerBatch` operations): one warm-up call
 * (pipeline compilation, first uploads) is excluded; then as many repetitions as fit the budget,
 * at least `minReps`. Returns per-operation times in ms, in run order.
 */
export async function timeBatches(batch: () => Promise<void>, opts: TimingOptions): Promise<number[]> {
  const { opsPerBatch, budgetMs, minReps = 3, maxReps = 9 } = opts;
  await batch();
  const samples: number[] = [];
  let reps = minReps;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await batch();
    const ms = performance.now() - t0;
    samples.push(ms / opsPerBatch);
    if (r === 0) reps = Math.max(minReps, Math.min(maxReps, Math.floor(budgetMs / Math.max(ms, 1e-3))));
  }
  return samples;
}
