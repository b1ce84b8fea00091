// The rule checks the demo kit measures with: a thin view over the ProactiveEval local rules
// (src/proactive/rules.ts), which stay the single definition. A message passes when it meets all
// three rule-checkable criteria: Engagement (≤ 2 sentences or ≤ 50 words), Naturalness (no leaked
// metadata words, no role labels / several turns in one message) and Tone (no passive opener).
import { checkMessage } from '../proactive/rules.ts';

export const RULES = ['engagement', 'naturalness', 'tone'] as const;
export type RuleName = (typeof RULES)[number];

export interface RuleVerdict {
  pass: boolean;
  /** The rules the message fails, in RULES order. */
  failed: RuleName[];
}

export function ruleVerdict(message: string): RuleVerdict {
  const check = checkMessage(message);
  const failed = RULES.filter((rule) => !check[rule].pass);
  return { pass: failed.length === 0, failed };
}

export type RuleRates = Record<RuleName | 'all', number>;

/** Fraction of messages passing each rule and all of them (NaN for no messages). */
export function rulePassRates(messages: readonly string[]): RuleRates {
  const verdicts = messages.map(ruleVerdict);
  const rate = (passes: (v: RuleVerdict) => boolean) => verdicts.filter(passes).length / verdicts.length;
  return {
    all: rate((v) => v.pass),
    engagement: rate((v) => !v.failed.includes('engagement')),
    naturalness: rate((v) => !v.failed.includes('naturalness')),
    tone: rate((v) => !v.failed.includes('tone')),
  };
}
