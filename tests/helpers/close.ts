// Tolerance checks in the llm.c style: |actual - expected| <= atol + rtol * |expected|, with a
// message that names the worst element and the seed, so a failure can be replayed.
import { expect } from 'vitest';

export interface Tolerance {
  atol: number;
  rtol: number;
}

export interface CloseReport {
  ok: boolean;
  worst: number;
  worstIndex: number;
  maxAbs: number;
  bad: number;
}

export function compare(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): CloseReport {
  if (actual.length !== expected.length) {
    return { ok: false, worst: Infinity, worstIndex: -1, maxAbs: Infinity, bad: Math.max(actual.length, expected.length) };
  }
  let worst = 0;
  let worstIndex = -1;
  let maxAbs = 0;
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const diff = Math.abs(a - e);
    const allowed = tol.atol + tol.rtol * Math.abs(e);
    const excess = Number.isNaN(diff) ? Infinity : diff / allowed;
    if (!(diff <= allowed) && !(Number.isNaN(a) && Number.isNaN(e)) && !(a === e)) bad++;
    if (excess > worst) {
      worst = excess;
      worstIndex = i;
    }
    if (diff > maxAbs || Number.isNaN(diff)) maxAbs = Number.isNaN(diff) ? Infinity : diff;
  }
  return { ok: bad === 0, worst, worstIndex, maxAbs, bad };
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, context: string): void {
  const r = compare(actual, expected, tol);
  const where =
    r.worstIndex >= 0 ? ` worst at [${r.worstIndex}]: got ${actual[r.worstIndex]}, want ${expected[r.worstIndex]};` : '';
  expect(
    r.ok,
    `${context}: ${r.bad} of ${expected.length} outside atol=${tol.atol} rtol=${tol.rtol} (lengths ${actual.length}/${expected.length});${where} max abs diff ${r.maxAbs}`,
  ).toBe(true);
}

/** Relative L2 error ||a - e|| / ||e|| (for gradient tensors, norm-wise). */
export function relativeL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num += (actual[i] - expected[i]) ** 2;
    den += expected[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}
