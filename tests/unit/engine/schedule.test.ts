import { describe, expect, it } from 'vitest';
import { lrAt, warmupSteps } from '../../../src/engine/optim/schedule.ts';

describe('learning-rate schedules', () => {
  const base = { peakLr: 1e-3, totalSteps: 100, warmupSteps: 10 };
  it('warm-up rises linearly from 0', () => {
    for (const kind of ['constant', 'linear', 'cosine'] as const) {
      expect(lrAt({ ...base, kind }, 0)).toBe(0);
      expect(lrAt({ ...base, kind }, 5)).toBeCloseTo(5e-4, 15);
      expect(lrAt({ ...base, kind }, 10)).toBeCloseTo(1e-3, 15);
    }
  });
  it('constant stays, linear and cosine reach 0 at the end, cosine is half-way at the middle', () => {
    expect(lrAt({ ...base, kind: 'constant' }, 99)).toBe(1e-3);
    expect(lrAt({ ...base, kind: 'linear' }, 100)).toBe(0);
    expect(lrAt({ ...base, kind: 'linear' }, 55)).toBeCloseTo(5e-4, 15);
    expect(lrAt({ ...base, kind: 'cosine' }, 55)).toBeCloseTo(5e-4, 15);
    expect(lrAt({ ...base, kind: 'cosine' }, 100)).toBeCloseTo(0, 15);
    expect(lrAt({ ...base, kind: 'cosine' }, 32.5)).toBeCloseTo(1e-3 * 0.5 * (1 + Math.cos(Math.PI / 4)), 15);
  });
  it('warm-up from a fraction or a count', () => {
    expect(warmupSteps(0.1, 250)).toBe(25);
    expect(warmupSteps(7, 250)).toBe(7);
    expect(() => warmupSteps(-1, 10)).toThrow(/warm-up must be ≥ 0/);
  });
});
