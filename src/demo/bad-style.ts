// The bad style (rejected responses): every message carries at least one flaw the ProactiveEval rules
// can see — a passive opener (Tone), a long multi-sentence wall (Engagement), leaked planning words or
// several turns written at once (Naturalness) — and often generic advice that ignores the user (which
// only a judge can see, so it never comes alone).
import type { Rng } from '../engine/rng.ts';
import { countSentences, countWords } from '../proactive/text.ts';
import { CLOSING_ANSWERS, CLOSING_REPLIES, FILLER, LEAK_TEMPLATES, PASSIVE_OPENERS } from './content/common.ts';
import { pick, shuffled, weighted } from './draw.ts';
import { fill, type Slots } from './template.ts';

export const FLAWS = ['passive', 'generic', 'long', 'dump', 'leak', 'turns'] as const;
export type Flaw = (typeof FLAWS)[number];

/** How a bad message is made, and how often (weights). */
export const BAD_KINDS = {
  /** A passive opener, then one line of generic advice. */
  passiveGeneric: 0.2,
  /** A passive opener in front of the good message. */
  passivePersonal: 0.12,
  /** A wall of generic advice and filler (> 2 sentences and > 50 words), sometimes opened passively. */
  long: 0.23,
  /** This and the following good messages at once, padded past 50 words. */
  dump: 0.1,
  /** The good message with planning words leaked into it ("target", "sub-target 2", "turn 3"). */
  leak: 0.2,
  /** The good message, the user's reply and the next message, written as one message with role labels. */
  turns: 0.15,
} as const;
export type BadKind = keyof typeof BAD_KINDS;

export interface BadMaterial {
  slots: Slots;
  /** Passive openers of the domain (added to the shared ones). */
  passive: readonly string[];
  /** Generic advice lines of the domain (added to the shared filler for walls). */
  generic: readonly string[];
  /** The good messages of the dialogue and the user's replies (user[i] answers assistant[i]). */
  assistant: readonly string[];
  user: readonly string[];
  /** The goal of the conversation (for leaks); null where there is none. */
  goal: string | null;
}

export interface BadMessage {
  text: string;
  kind: BadKind;
  flaws: Flaw[];
}

const WALL_WORDS = 50;

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** Adds lines from the pool (in a random order) until the text has more than 2 sentences and more than 50 words. */
function pad(rng: Rng, parts: string[], pool: readonly string[]): string[] {
  const out = [...parts];
  const lines = shuffled(rng, pool);
  while (countWords(out.join(' ')) <= WALL_WORDS || countSentences(out.join(' ')) <= 2) {
    const line = lines.pop();
    if (line === undefined) throw new Error(`Not enough lines to pad a long message: ${JSON.stringify(out.join(' '))}`);
    if (!out.includes(line)) out.push(line);
  }
  return out;
}

/** A bad message for the assistant's message number `step` (0-based) of the dialogue. */
export function badMessage(rng: Rng, m: BadMaterial, step: number, kinds: Partial<Record<BadKind, number>> = BAD_KINDS): BadMessage {
  const kind = weighted(rng, kinds as Record<BadKind, number>);
  const good = m.assistant[step];
  const passive = () => fill(pick(rng, [...m.passive, ...PASSIVE_OPENERS]), m.slots);
  const generic = m.generic.map((g) => fill(g, m.slots));
  switch (kind) {
    case 'passiveGeneric':
      return { kind, text: `${passive()} ${pick(rng, generic)}`, flaws: ['passive', 'generic'] };
    case 'passivePersonal':
      return { kind, text: `${passive()} ${good}`, flaws: ['passive'] };
    case 'long': {
      const opened = rng.next() < 0.3;
      const text = pad(rng, opened ? [passive()] : [], [...generic, ...FILLER]).join(' ');
      return { kind, text, flaws: opened ? ['passive', 'long', 'generic'] : ['long', 'generic'] };
    }
    case 'dump':
      return { kind, text: pad(rng, m.assistant.slice(step), FILLER).join(' '), flaws: ['long', 'dump'] };
    case 'leak': {
      const templates = m.goal === null ? LEAK_TEMPLATES.filter((t) => !t.includes('{goal}')) : LEAK_TEMPLATES;
      const slots = { good, k: `${step + 1}`, n: `${step + 2}`, goal: lowerFirst(m.goal ?? '') };
      return { kind, text: fill(pick(rng, templates), slots), flaws: ['leak'] };
    }
    case 'turns': {
      const last = step + 1 >= m.assistant.length;
      const reply = last ? pick(rng, CLOSING_REPLIES) : m.user[step];
      const next = last ? fill(pick(rng, CLOSING_ANSWERS), m.slots) : m.assistant[step + 1];
      const first = rng.next() < 0.5 ? `Assistant: ${good}` : good;
      return { kind, text: `${first}\nUser: ${reply}\nAssistant: ${next}`, flaws: ['turns'] };
    }
  }
}
