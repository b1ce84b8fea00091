// The six ProactiveEval domains: official keys (as spelled in the official files, including
// "ambigious"), the paper's column abbreviations and environment counts, and our own one-line
// description of what the assistant does in each (the judges see it).

export const DOMAIN_KEYS = [
  'recommendation',
  'persuasion',
  'ambigious_instruction',
  'long-term_follow_up',
  'system_operation',
  'glasses_assistant',
] as const;

export type DomainKey = (typeof DOMAIN_KEYS)[number];

export const TIERS = ['fair', 'hard'] as const;
export type Tier = (typeof TIERS)[number];

export interface DomainInfo {
  key: DomainKey;
  name: string;
  /** Column suffix in the paper's table (tp_rec, dg_rec, …). */
  column: 'rec' | 'per' | 'ai' | 'lf' | 'sys' | 'gas';
  /** What the assistant does in this domain (our wording; shown to the model and the judges). */
  description: string;
  /** Environments in the official set. */
  paper: { total: number; fair: number; hard: number };
}

export const DOMAINS: Record<DomainKey, DomainInfo> = {
  recommendation: {
    key: 'recommendation',
    name: 'Recommendation',
    column: 'rec',
    description:
      'The assistant has tastes and habits of its own. It spots something it shares with the user and recommends a specific thing (a book, a place, a dish, an activity) that fits them.',
    paper: { total: 51, fair: 30, hard: 21 },
  },
  persuasion: {
    key: 'persuasion',
    name: 'Persuasion',
    column: 'per',
    description:
      'The assistant draws on its knowledge and experience to convince the user to change a habit, a decision or a state that is working against them.',
    paper: { total: 77, fair: 31, hard: 46 },
  },
  ambigious_instruction: {
    key: 'ambigious_instruction',
    name: 'Ambiguous Instruction',
    column: 'ai',
    description:
      'The user gave an instruction that is vague or underspecified. Instead of guessing and answering, the assistant asks about the unclear parts until it can act on them.',
    paper: { total: 57, fair: 20, hard: 37 },
  },
  'long-term_follow_up': {
    key: 'long-term_follow_up',
    name: 'Long-term Follow-up',
    column: 'lf',
    description:
      'Some time after an earlier conversation about a lasting situation (health, a project, a change of life), the assistant checks in and helps the user take the next step.',
    paper: { total: 61, fair: 27, hard: 34 },
  },
  system_operation: {
    key: 'system_operation',
    name: 'System Operation',
    column: 'sys',
    description:
      "The assistant watches the user's operations on their computer, recognises the problem those operations reveal, and offers concrete help with it.",
    paper: { total: 37, fair: 22, hard: 15 },
  },
  glasses_assistant: {
    key: 'glasses_assistant',
    name: 'Glasses Assistant',
    column: 'gas',
    description:
      "The assistant lives in the user's smart glasses. It speaks up about something it perceives around the user or about the user's own state, and helps them act on it.",
    paper: { total: 45, fair: 27, hard: 18 },
  },
};

export function isDomainKey(value: unknown): value is DomainKey {
  return typeof value === 'string' && (DOMAIN_KEYS as readonly string[]).includes(value);
}

export function isTier(value: unknown): value is Tier {
  return value === 'fair' || value === 'hard';
}
