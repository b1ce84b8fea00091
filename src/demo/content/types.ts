// The shape of the demo corpus content: every domain is a set of topics (phrases as slots) and a set
// of templates for the good style, the user's replies, and the raw material of the bad style.
import type { DomainKey } from '../../proactive/domains.ts';
import type { Slots } from '../template.ts';

/** One thing a scenario is about (a book, a habit to change, a vague instruction…), as slots. */
export interface DemoTopic {
  id: string;
  slots: Slots;
  /** Groups of alternatives: one entry of each group is drawn per scenario and merged into the slots. */
  groups?: readonly (readonly Slots[])[];
  /** Habits (gerund phrases) that fit this topic; the domain's habits when absent. */
  habits?: readonly string[];
}

/** Templates keyed by the class of the user's previous reply ("yes", "doubt", "answer"). */
export type ByReply = Readonly<Record<string, readonly string[]>>;

export interface DemoDomain {
  key: DomainKey;
  topics: readonly DemoTopic[];
  /** Groups of alternatives drawn per scenario for every topic of the domain (like DemoTopic.groups). */
  groups?: readonly (readonly Slots[])[];
  /** Habits for topics that name none. */
  habits: readonly string[];
  /** The environment in the official schema (user_information is built the same way everywhere). */
  trigger: readonly string[];
  /** At most 10 words once filled. */
  goal: string;
  /** 2–4 steps of at most 10 words each once filled. */
  subTargets: readonly string[];
  topic: string;
  /** Good style: the opening message, then the next messages by the class of the user's reply. */
  opener: readonly string[];
  /** The user's replies after the assistant's first and second message, by class. */
  replies: readonly [ByReply, ByReply];
  /** Good style: the second message (by reply 1's class) and the third (by reply 2's class). */
  steps: readonly [ByReply, ByReply];
  /** Bad style: generic advice that ignores the user (topic slots only, no personal ones). */
  generic: readonly string[];
  /** Bad style: passive openers for this domain (each must trip the Tone rule). */
  passive: readonly string[];
}
