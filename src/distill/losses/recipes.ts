// The named losses of the lab (the same names in `student-lab loss --loss` and `train --loss`),
// their weights with the reference defaults of docs/distillation.md, and the terms they report.
//
//   sft                 L = w_sft·CE(y)
//   kd, rkl, skew-fkl,  L = w_kd·mean_t D(P_t, Q_t) on the cached response (+ w_sft·CE(y), default 0)
//   skew-rkl, jsd, tvd      D = forward KL, reverse KL, skew KLs (λ), generalised JSD (β), TV
//   dckd                L = w_sft·CE(y_w) + w_kd·(w_c·mean_t KL on y_w + w_r·mean_t KL on y_l)
//                           defaults w_sft 1, w_kd 1, w_c 0.1, w_r 0.1
//   adpa                L = w_sft·CE(y_w) − w_adpa·mean_t[Σ_k c(q_k) c(Â_k) + c(1 − Σ q)·1e-8] on ŷ
//                           defaults w_sft 1, w_adpa 1.6
import { LossConfigError, type BinMode } from './definitions.ts';
import type { LossTerm } from './batch.ts';

export const LOSS_NAMES = ['sft', 'kd', 'rkl', 'skew-fkl', 'skew-rkl', 'jsd', 'tvd', 'dckd', 'adpa'] as const;
export type LossName = (typeof LOSS_NAMES)[number];

export type WeightName = 'sft' | 'kd' | 'c' | 'r' | 'adpa';
export type LossWeights = Partial<Record<WeightName, number>>;

export const DEFAULT_WEIGHTS: Record<LossName, LossWeights> = {
  sft: { sft: 1 },
  kd: { sft: 0, kd: 1 },
  rkl: { sft: 0, kd: 1 },
  'skew-fkl': { sft: 0, kd: 1 },
  'skew-rkl': { sft: 0, kd: 1 },
  jsd: { sft: 0, kd: 1 },
  tvd: { sft: 0, kd: 1 },
  dckd: { sft: 1, kd: 1, c: 0.1, r: 0.1 },
  adpa: { sft: 1, adpa: 1.6 },
};

export function isLossName(s: string): s is LossName {
  return (LOSS_NAMES as readonly string[]).includes(s);
}

/** The bin mode of a loss's teacher terms (none for sft). */
export function binModeOf(loss: LossName): BinMode | undefined {
  switch (loss) {
    case 'sft':
      return undefined;
    case 'kd':
    case 'dckd':
      return 'fkl';
    default:
      return loss;
  }
}

/** What the teacher data of a loss must be: none, a probability cache, or an advantage cache. */
export function cacheKindOf(loss: LossName): 'probs' | 'advantage' | null {
  return loss === 'sft' ? null : loss === 'adpa' ? 'advantage' : 'probs';
}

/** "sft=1,adpa=1.6" over the loss's defaults; refuses names the loss does not use and non-numbers. */
export function parseWeights(loss: LossName, text: string | undefined): LossWeights {
  const weights: LossWeights = { ...DEFAULT_WEIGHTS[loss] };
  if (!text) return weights;
  const allowed = Object.keys(DEFAULT_WEIGHTS[loss]);
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z]+)\s*=\s*(.+)$/.exec(part);
    if (!m) throw new LossConfigError(`weight "${part}" is not name=value.`, `Weights of ${loss}: ${allowed.join(', ')}.`);
    const [, name, value] = m;
    if (!allowed.includes(name)) throw new LossConfigError(`the ${loss} loss has no weight "${name}".`, `Weights of ${loss}: ${allowed.join(', ')}.`);
    const v = Number(value);
    if (!Number.isFinite(v)) throw new LossConfigError(`weight ${name} must be a number, got "${value}".`);
    weights[name as WeightName] = v;
  }
  return weights;
}

/** Terms of a loss, with their coefficients in L = Σ coefficient·term. */
export function termsOf(loss: LossName, w: LossWeights): { terms: LossTerm[]; ce?: number; teacher?: number; rejected?: number } {
  const terms: LossTerm[] = [];
  const add = (t: LossTerm) => terms.push(t) - 1;
  const sft = w.sft ?? 0;
  switch (loss) {
    case 'sft':
      return { terms, ce: add({ name: 'sft', kind: 'ce', coefficient: sft }) };
    case 'dckd': {
      const ce = add({ name: 'sft', kind: 'ce', coefficient: sft });
      const kd = w.kd ?? 1;
      const teacher = add({ name: 'kl_chosen', kind: 'teacher', coefficient: kd * (w.c ?? 0) });
      const rejected = add({ name: 'kl_rejected', kind: 'teacher', coefficient: kd * (w.r ?? 0) });
      return { terms, ce, teacher, rejected };
    }
    case 'adpa': {
      const ce = add({ name: 'sft', kind: 'ce', coefficient: sft });
      const teacher = add({ name: 'adpa', kind: 'teacher', coefficient: -(w.adpa ?? 0) });
      return { terms, ce, teacher };
    }
    default: {
      const ce = sft !== 0 ? add({ name: 'sft', kind: 'ce', coefficient: sft }) : undefined;
      const teacher = add({ name: loss, kind: 'teacher', coefficient: w.kd ?? 1 });
      return { terms, ce, teacher };
    }
  }
}
