// The K+1-bin losses of docs/distillation.md in f64: clamps, floors and the value and derivative
// of one bin. The f64 reference (reference.ts) is built on these; loss.wgsl mirrors them in f32.
//
// Bins of a position t: the teacher's top-K ids S_t (ids >= the student's vocabulary count in the
// rest bin) and one rest bin. Teacher bins P = (p_k, r_t); student bins Q = (q_k, 1 - Σ_{S_t} q).
// Tail assumption of the zoo: the rest bin is one outcome (its mass is not spread over the tail).
import { LabError } from '../../engine/errors.ts';

/** A loss configured inconsistently (a weight out of range, a cache of the wrong kind for the loss). */
export class LossConfigError extends LabError {
  constructor(message: string, hint?: string) {
    super('LossConfigError', message, hint);
  }
}

/** Parity clamp of every bin: [1e-8, 1 - 1e-8]. */
export const CLAMP_LO = 1e-8;
export const CLAMP_HI = 1 - 1e-8;
/** Parity floor of the student bins of the divergences (after the clamp). */
export const STUDENT_FLOOR = 1e-7;
/** ADPA: the advantage that stands for every id outside S_t. */
export const ADPA_REST_ADVANTAGE = 1e-8;

/** Divergences between the teacher bins P and the student bins Q. */
export const DIVERGENCES = ['fkl', 'rkl', 'skew-fkl', 'skew-rkl', 'jsd', 'tvd'] as const;
export type Divergence = (typeof DIVERGENCES)[number];
/** What the kernel computes per bin: a divergence, or the ADPA advantage term. */
export type BinMode = Divergence | 'adpa';

export interface LossOptions {
  /** Skew KL λ (DistiLLM): skew-fkl = KL(P ‖ λP + (1−λ)Q), skew-rkl = KL(Q ‖ (1−λ)P + λQ). Default 0.1. */
  skewLambda?: number;
  /** Generalised JSD β (GKD): m = βP + (1−β)Q. β = 0 is forward KL, β = 1 reverse KL. Default 0.5. */
  jsdBeta?: number;
  /**
   * ADPA advantage. 'parity' (default): c(Â), clamped to [1e-8, 1 − 1e-8] like the reference
   * implementation (negative advantages count as 1e-8, values above 1 saturate). 'signed' departs
   * from parity: β·Â unclamped (negative advantages push the student away).
   */
  advantage?: { mode: 'parity' } | { mode: 'signed'; beta?: number };
}

export const DEFAULT_SKEW_LAMBDA = 0.1;
export const DEFAULT_JSD_BETA = 0.5;

export interface ResolvedBinMode {
  mode: BinMode;
  /** λ for skew modes, β for jsd and for the signed advantage; 0 otherwise. */
  param: number;
  signedAdvantage: boolean;
}

/** The mode the kernel runs (jsd at β = 0 or 1 is the forward or reverse KL) and its parameter. */
export function resolveBinMode(mode: BinMode, options: LossOptions = {}): ResolvedBinMode {
  const check = (name: string, v: number, lo: number, hi: number) => {
    if (!(v >= lo && v <= hi)) throw new LossConfigError(`${name} must lie in [${lo}, ${hi}], got ${v}.`);
    return v;
  };
  switch (mode) {
    case 'skew-fkl':
    case 'skew-rkl':
      return { mode, param: check('skewLambda', options.skewLambda ?? DEFAULT_SKEW_LAMBDA, 0, 1), signedAdvantage: false };
    case 'jsd': {
      const beta = check('jsdBeta', options.jsdBeta ?? DEFAULT_JSD_BETA, 0, 1);
      if (beta === 0) return { mode: 'fkl', param: 0, signedAdvantage: false };
      if (beta === 1) return { mode: 'rkl', param: 0, signedAdvantage: false };
      return { mode, param: beta, signedAdvantage: false };
    }
    case 'adpa': {
      const a = options.advantage ?? { mode: 'parity' };
      if (a.mode === 'signed') {
        const beta = a.beta ?? 1;
        if (!Number.isFinite(beta)) throw new LossConfigError(`advantage beta must be a finite number, got ${beta}.`);
        return { mode, param: beta, signedAdvantage: true };
      }
      return { mode, param: 0, signedAdvantage: false };
    }
    default:
      return { mode, param: 0, signedAdvantage: false };
  }
}

export function clamp(x: number, lo = CLAMP_LO, hi = CLAMP_HI): number {
  return Math.min(Math.max(x, lo), hi);
}

/** A student bin after the parity clamp (and, for divergences, the floor); `passes` = unchanged. */
export function clampStudent(q: number, mode: BinMode): { value: number; passes: boolean } {
  const lo = mode === 'adpa' ? CLAMP_LO : STUDENT_FLOOR;
  const value = clamp(q, lo, CLAMP_HI);
  return { value, passes: value === q };
}

/** The "teacher" value of a bin: the clamped probability, or ADPA's (clamped or β-scaled) advantage. */
export function teacherValue(p: number, m: ResolvedBinMode): number {
  if (m.mode === 'adpa') return m.signedAdvantage ? m.param * p : clamp(p);
  return clamp(p);
}

/**
 * Value of one bin and its derivative with respect to the (clamped) student bin Q, for teacher
 * value P (already clamped). Forward and reverse KL, skew KLs, generalised JSD, total variation,
 * and the ADPA term Q·Ã (its sign and weight come from the term's coefficient).
 */
export function binTerm(m: ResolvedBinMode, P: number, Q: number): { value: number; dQ: number } {
  const lnP = Math.log(P);
  const lnQ = Math.log(Q);
  switch (m.mode) {
    case 'fkl':
      return { value: P * (lnP - lnQ), dQ: -P / Q };
    case 'rkl':
      return { value: Q * (lnQ - lnP), dQ: lnQ - lnP + 1 };
    case 'skew-fkl': {
      const l = m.param;
      const mix = l * P + (1 - l) * Q;
      return { value: P * (lnP - Math.log(mix)), dQ: (-(1 - l) * P) / mix };
    }
    case 'skew-rkl': {
      const l = m.param;
      const mix = (1 - l) * P + l * Q;
      const lnMix = Math.log(mix);
      return { value: Q * (lnQ - lnMix), dQ: lnQ - lnMix + 1 - (l * Q) / mix };
    }
    case 'jsd': {
      const b = m.param;
      const lnMix = Math.log(b * P + (1 - b) * Q);
      // d/dQ [β P ln(P/m) + (1−β) Q ln(Q/m)] simplifies to (1−β) ln(Q/m).
      return { value: b * P * (lnP - lnMix) + (1 - b) * Q * (lnQ - lnMix), dQ: (1 - b) * (lnQ - lnMix) };
    }
    case 'tvd':
      return { value: 0.5 * Math.abs(P - Q), dQ: 0.5 * Math.sign(Q - P) };
    case 'adpa':
      return { value: Q * P, dQ: P };
  }
}

/** The binned mode a teacher implies: ADPA for advantage caches, the chosen divergence otherwise. */
export function binModeFor(teacher: 'probs' | 'advantage' | 'logits' | undefined, divergence: BinMode | undefined): BinMode {
  if (teacher === 'advantage') {
    if (divergence && divergence !== 'adpa') throw new LossConfigError(`an advantage cache goes with the adpa loss, not ${divergence}.`);
    return 'adpa';
  }
  if (divergence === 'adpa') throw new LossConfigError('the adpa loss needs an advantage cache (kind "advantage").');
  if (teacher === 'logits' && divergence && divergence !== 'fkl') {
    throw new LossConfigError(`full teacher logits go with the forward KL only, not ${divergence}.`);
  }
  return divergence ?? 'fkl';
}
