// Local rule checks of assistant messages: instant, no LLM. They cover three of the five guidance
// criteria as rules can see them (Engagement, Naturalness, Tone), plus a word-overlap estimate of
// target density. Sentences and words are counted as described in text.ts.
import { contentWords, countSentences, countWords } from './text.ts';

/** Engagement: a message passes with at most this many sentences OR at most this many words. */
export const ENGAGEMENT_LIMITS = { sentences: 2, words: 50 } as const;

/** Words that give away the evaluation set-up when they show up in a chat message. */
const LEAKS: readonly { label: string; pattern: RegExp }[] = [
  { label: 'sub-target', pattern: /\bsub[-_ ]?targets?\b/i },
  { label: 'target', pattern: /(?<!sub[-_ ]?)\btargets?\b/i },
  { label: 'turn N', pattern: /\b(?:turn|round)\s*#?\s*\d+\b/i },
  { label: 'trigger factor', pattern: /\btrigger[_ ]factors?\b/i },
  { label: 'user information', pattern: /\buser[_ ]information\b/i },
  { label: 'agreeableness', pattern: /\bagreeableness\b/i },
  { label: 'simulated user', pattern: /\bsimulated user\b/i },
  { label: 'placeholder', pattern: /\[(?:user|your|the user's|insert|name)[^\]\n]{0,30}\]|\{\{?\s*\w+\s*\}?\}/i },
];

/** A role label at the start of a line ("User:", "**Assistant:**", "[User]"). */
const ROLE_LINE = /^\s*(?:[>*_\-\s]*)\[?(user|human|customer|person|client|assistant|ai|bot|agent|system|me|you)\]?\s*(?:\*\*|__)?\s*[:：]/i;
const USER_SIDE = /^(user|human|customer|person|client|you)$/i;

/** Openers that describe the user's feelings back to them instead of leading. */
const PASSIVE_OPENERS: readonly RegExp[] = [
  /^it (?:sounds|seems|looks) (?:like|as if|as though|that)\b/i,
  /^(?:it )?sounds like\b/i,
  /^it seems\b/i,
  /^i (?:understand|hear you|hear that|see that|see you|can see|can tell|can imagine|get that|know that|know how|appreciate that|notice that)\b/i,
  /^that (?:sounds|must be|must have been)\b/i,
  /^(?:i'm|i am) sorry to hear\b/i,
  /^sorry to hear\b/i,
  /^it must be\b/i,
];
/** A greeting or interjection before the opener ("Hi Anna, it sounds like…"). */
const LEAD_IN = /^(?:(?:hi|hey|hello|oh|ah|well|so|wow|hmm)\b[^.!?,\n]{0,20}[,!.]\s*)+/i;

export interface MessageCheck {
  sentences: number;
  words: number;
  engagement: { pass: boolean };
  naturalness: { pass: boolean; leaked: string[]; severalTurns: boolean; roleLabels: string[] };
  tone: { pass: boolean; opener: string | null };
}

export function checkMessage(text: string): MessageCheck {
  const sentences = countSentences(text);
  const words = countWords(text);
  const leaked = LEAKS.filter((l) => l.pattern.test(text)).map((l) => l.label);
  const roleLabels = text
    .split(/\r?\n/)
    .map((line) => ROLE_LINE.exec(line)?.[1])
    .filter((label): label is string => label !== undefined);
  // The user's lines written by the assistant, or two labelled lines: several turns in one message.
  const severalTurns = roleLabels.some((l) => USER_SIDE.test(l)) || roleLabels.length >= 2;
  const start = text.trim().replace(/^[*_"“]+/, '').replace(LEAD_IN, '');
  const opener = PASSIVE_OPENERS.map((p) => p.exec(start)?.[0]).find((m) => m !== undefined) ?? null;
  return {
    sentences,
    words,
    engagement: { pass: sentences <= ENGAGEMENT_LIMITS.sentences || words <= ENGAGEMENT_LIMITS.words },
    naturalness: { pass: leaked.length === 0 && roleLabels.length === 0, leaked, severalTurns, roleLabels },
    tone: { pass: opener === null, opener },
  };
}

export interface DensityEstimate {
  /** Sub-target numbers (1-based) the message seems to touch. */
  touched: number[];
  method: 'local-word-overlap';
}

/**
 * Local estimate of which sub-targets a message touches: a sub-target counts as touched when the
 * message shares at least 2 of its content words and at least a third of them (1 word suffices
 * for sub-targets with 1–2 content words). A rough stand-in for the judge's count, labelled so.
 */
export function estimateDensity(message: string, subTargets: readonly string[]): DensityEstimate {
  const words = contentWords(message);
  const touched: number[] = [];
  subTargets.forEach((sub, i) => {
    const target = contentWords(sub);
    if (target.size === 0) return;
    let shared = 0;
    for (const w of target) if (words.has(w)) shared++;
    const enough = target.size <= 2 ? shared >= 1 : shared >= 2 && shared * 3 >= target.size;
    if (enough) touched.push(i + 1);
  });
  return { touched, method: 'local-word-overlap' };
}

export interface CriterionTally {
  /** Assistant messages that pass. */
  passed: number;
  total: number;
  /** The criterion holds for the dialogue: every message passes. */
  pass: boolean;
}

/** The rule-based result used when no judge is configured: partial by design, no overall score. */
export interface LocalJudgement {
  kind: 'local-partial';
  label: string;
  messages: MessageCheck[];
  engagement: CriterionTally;
  naturalness: CriterionTally;
  tone: CriterionTally;
  overall: null;
}

export const LOCAL_JUDGE_LABEL = 'Local rule checks: partial (Engagement, Naturalness and Tone only; Effectiveness and Personalization need a judge; no overall score)';

export function localJudge(assistantMessages: readonly string[]): LocalJudgement {
  const messages = assistantMessages.map(checkMessage);
  const tally = (passes: (m: MessageCheck) => boolean): CriterionTally => {
    const passed = messages.filter(passes).length;
    return { passed, total: messages.length, pass: passed === messages.length };
  };
  return {
    kind: 'local-partial',
    label: LOCAL_JUDGE_LABEL,
    messages,
    engagement: tally((m) => m.engagement.pass),
    naturalness: tally((m) => m.naturalness.pass),
    tone: tally((m) => m.tone.pass),
    overall: null,
  };
}
