// The demo corpus: short proactive dialogues in the six ProactiveEval domains, written from our own
// templates and slot lists (src/demo/content/), drawn with a fixed seed so every run gives the same data.
//
// A scenario = a domain, a topic, a user (name, job, habit) and the drawn details; it is stored in the
// official item schema (user_information, trigger_factor, target, 3 sub-targets, topic) and has one
// good dialogue of three assistant messages and two user replies. Each assistant message gives one
// example whose prompt is what the lab's guidance runner sends (`modelMessages` with DEMO_PROMPTS:
// a short system message, the opening cue, the earlier turns).
//   - Good style (chosen): the assistant opens, leads toward the goal one step per message, uses the
//     user's name, job or habit, at most 2 sentences and 50 words, no passive opener, no leaks.
//   - Bad style (rejected): see bad-style.ts; every rejected message fails at least one rule.
// Splits: held-out scenarios, preference-training scenarios and SFT scenarios have pairwise distinct
// slot combinations (domain, topic, drawn details, name, job, habit). The SFT set holds the scenario
// messages in either style (a coin flip per message) plus general chat, so a base model knows both.
import { Rng } from '../engine/rng.ts';
import { DOMAIN_KEYS, type DomainKey } from '../proactive/domains.ts';
import { modelMessages, referenceSetup, type DialogueTurn } from '../proactive/guidance.ts';
import { promptSet } from '../proactive/prompts.ts';
import { formatIssue, makeScenario, validateItem, type EnvironmentItem } from '../proactive/schema.ts';
import { countSentences, countWords } from '../proactive/text.ts';
import type { ChatMessage } from '../formats/tokenizer.ts';
import { BAD_KINDS, badMessage, type BadKind, type BadMessage, type Flaw } from './bad-style.ts';
import { byteLevelPieces } from './bpe.ts';
import { ambiguousInstruction } from './content/ambiguous-instruction.ts';
import { DAYS, JOBS, NAMES, withArticle } from './content/common.ts';
import { GENERAL_SYSTEM, GENERAL_TOPICS } from './content/general.ts';
import { glassesAssistant } from './content/glasses-assistant.ts';
import { longTermFollowUp } from './content/long-term-follow-up.ts';
import { persuasion } from './content/persuasion.ts';
import { recommendation } from './content/recommendation.ts';
import { systemOperation } from './content/system-operation.ts';
import type { DemoDomain } from './content/types.ts';
import { pick, shuffled } from './draw.ts';
import { ruleVerdict } from './rule-check.ts';
import { fill, type Slots } from './template.ts';

export const DEMO_DOMAINS: Readonly<Record<DomainKey, DemoDomain>> = {
  recommendation,
  persuasion,
  ambigious_instruction: ambiguousInstruction,
  'long-term_follow_up': longTermFollowUp,
  system_operation: systemOperation,
  glasses_assistant: glassesAssistant,
};

/**
 * The guidance prompts of the demo: short enough for a 256-token context. Use this prompt set in
 * the Arena with the demo models so they see what they were trained on.
 */
export const DEMO_GUIDANCE_MODEL = `You are a proactive assistant. Domain: {{domain_name}}.
User: {{user_information}}
Now: {{trigger_factor}}
Goal: {{target}}`;
export const DEMO_START_CUE = '(Start the chat.)';
export const DEMO_PROMPTS = promptSet({ 'guidance.model': DEMO_GUIDANCE_MODEL, 'guidance.start': DEMO_START_CUE });

export const DEMO_SEED = 20_260_508;

/** Scenarios per domain in each split; each scenario gives 3 examples. */
export const SPLIT_SIZES = { heldout: 14, train: 100, sft: 80 } as const;
/** General chat examples in the SFT set. */
export const GENERAL_EXAMPLES = 480;

/** Style limits of the good messages (stricter than the Engagement rule, which needs only one). */
export const GOOD_LIMITS = { sentences: 2, words: 50 } as const;

/**
 * Length budget of an example (prompt + response), in byte-level pieces plus 2 per message (the
 * ChatML markers). The tokenizer is trained on the corpus afterwards, so the corpus cannot count its
 * tokens; with the 2048-token demo vocabulary an example has at most ~40 tokens more than this
 * estimate, and data-files.ts checks the real counts against the 256-token context.
 */
export const PIECE_BUDGET = 200;
/** The kinds a bad message is drawn from: all of them, then (when it would not fit the budget) shorter ones. */
const KIND_FALLBACKS: readonly Partial<Record<BadKind, number>>[] = [BAD_KINDS, { passiveGeneric: 0.4, passivePersonal: 0.2, leak: 0.4 }, { passiveGeneric: 1 }];

function estimateLength(messages: readonly ChatMessage[]): number {
  let pieces = 0;
  for (const m of messages) pieces += byteLevelPieces(m.role).length + byteLevelPieces(m.content).length + 2;
  return pieces;
}

const PROFILE = ['{Name} is {aJob} who enjoys {habit}.', '{Name}, {aJob} at {work}, enjoys {habit}.'];

export interface DemoScenario {
  id: string;
  domain: DomainKey;
  topic: string;
  /** The slot combination; distinct across all scenarios of the corpus. */
  combination: string;
  item: EnvironmentItem;
  /** The good dialogue: turns[i].user answers turns[i].assistant; the last reply is null. */
  turns: { assistant: string; user: string | null }[];
  /** For the bad style. */
  slots: Slots;
}

export interface PreferenceRecord {
  id: string;
  prompt: ChatMessage[];
  chosen: string;
  rejected: string;
  meta: { domain: DomainKey; step: number; kind: BadKind; flaws: Flaw[] };
}

export interface SftRecord {
  id: string;
  prompt: ChatMessage[];
  response: string;
  meta: { domain: DomainKey | 'general'; step: number; style: 'good' | 'bad'; flaws: Flaw[] };
}

export type Split = keyof typeof SPLIT_SIZES;

export interface DemoCorpus {
  /** Every scenario by split (slot combinations are distinct across all of them). */
  scenarios: Record<Split, DemoScenario[]>;
  trainPairs: PreferenceRecord[];
  heldoutPairs: PreferenceRecord[];
  sft: SftRecord[];
}

const ABBREVIATION: Record<DomainKey, string> = {
  recommendation: 'rec',
  persuasion: 'per',
  ambigious_instruction: 'ai',
  'long-term_follow_up': 'lf',
  system_operation: 'sys',
  glasses_assistant: 'gas',
};

function checkGood(text: string, where: string): void {
  const verdict = ruleVerdict(text);
  const sentences = countSentences(text);
  const words = countWords(text);
  if (!verdict.pass || sentences > GOOD_LIMITS.sentences || words > GOOD_LIMITS.words) {
    throw new Error(`Good-style message of ${where} breaks the style (${sentences} sentences, ${words} words, fails: ${verdict.failed.join(', ') || 'none'}): ${JSON.stringify(text)}`);
  }
}

function checkBad(text: string, where: string): void {
  if (ruleVerdict(text).pass) throw new Error(`Bad-style message of ${where} passes every rule: ${JSON.stringify(text)}`);
}

/** Draws one scenario of a domain (not yet checked for a repeated combination). */
function drawScenario(rng: Rng, d: DemoDomain): Omit<DemoScenario, 'id'> {
  const topic = pick(rng, d.topics);
  const drawn: string[] = [];
  let slots: Record<string, string> = {};
  for (const group of [...(topic.groups ?? []), ...(d.groups ?? [])]) {
    const i = Math.floor(rng.next() * group.length);
    drawn.push(`${i}`);
    slots = { ...slots, ...group[i] };
  }
  const name = pick(rng, NAMES);
  const job = pick(rng, JOBS);
  const habit = pick(rng, topic.habits ?? d.habits);
  const friend = pick(rng, NAMES.filter((n) => n !== name));
  slots = { ...topic.slots, ...slots, name, friend, habit, job: job.job, aJob: withArticle(job.job), work: job.work, task: job.task, day: pick(rng, DAYS) };
  const f = (template: string) => fill(template, slots);

  const classes1 = Object.keys(d.replies[0]);
  const classes2 = Object.keys(d.replies[1]);
  const c1 = pick(rng, classes1);
  const c2 = pick(rng, classes2);
  const assistant = [f(pick(rng, d.opener)), f(pick(rng, d.steps[0][c1])), f(pick(rng, d.steps[1][c2]))];
  const user = [f(pick(rng, d.replies[0][c1])), f(pick(rng, d.replies[1][c2]))];
  const raw: EnvironmentItem = {
    environment: { user_information: f(pick(rng, PROFILE)), trigger_factor: f(pick(rng, d.trigger)) },
    target: f(d.goal),
    sub_target: d.subTargets.map(f),
    topic: f(d.topic),
  };
  // The schema's own validation: the paper's word limits hold for every demo environment.
  const { item, issues } = validateItem(raw, `demo ${d.key}/${topic.id}`, 0);
  if (!item || issues.length > 0) throw new Error(`Demo environment breaks the item schema: ${issues.map(formatIssue).join('; ')} (${JSON.stringify(raw)})`);
  return {
    domain: d.key,
    topic: topic.id,
    combination: [d.key, topic.id, drawn.join('.'), name, job.job, habit].join('|'),
    item,
    turns: assistant.map((a, i) => ({ assistant: a, user: user[i] ?? null })),
    slots,
  };
}

/** Distinct scenarios of every split for one domain, in a seeded order. */
function domainScenarios(rng: Rng, d: DemoDomain): Record<Split, DemoScenario[]> {
  const total = SPLIT_SIZES.heldout + SPLIT_SIZES.train + SPLIT_SIZES.sft;
  const byCombination = new Map<string, Omit<DemoScenario, 'id'>>();
  for (let tries = 0; byCombination.size < total; tries++) {
    if (tries > total * 50) throw new Error(`Domain ${d.key}: too few distinct slot combinations for ${total} scenarios.`);
    const s = drawScenario(rng, d);
    if (!byCombination.has(s.combination)) byCombination.set(s.combination, s);
  }
  const all = [...byCombination.values()];
  const split = (name: Split, from: number) =>
    all.slice(from, from + SPLIT_SIZES[name]).map((s, i) => ({ ...s, id: `${ABBREVIATION[d.key]}-${name}-${String(i).padStart(3, '0')}` }));
  return {
    heldout: split('heldout', 0),
    train: split('train', SPLIT_SIZES.heldout),
    sft: split('sft', SPLIT_SIZES.heldout + SPLIT_SIZES.train),
  };
}

/** The messages the model sees before its message number `step` (0-based): the guidance runner's own layout. */
export function promptFor(s: DemoScenario, step: number): ChatMessage[] {
  const scenario = makeScenario(s.item, s.domain, null, 0, 'demo');
  const turns: DialogueTurn[] = s.turns.slice(0, step).map((t) => ({ assistant: t.assistant, user: t.user }));
  return modelMessages(referenceSetup(scenario), DEMO_PROMPTS, turns).map((m) => ({ role: m.role, content: m.content }));
}

function material(s: DemoScenario) {
  const d = DEMO_DOMAINS[s.domain];
  return {
    slots: s.slots,
    passive: d.passive,
    generic: d.generic,
    assistant: s.turns.map((t) => t.assistant),
    user: s.turns.map((t) => t.user ?? ''),
    goal: s.item.target,
  };
}

function pairsOf(rng: Rng, s: DemoScenario): PreferenceRecord[] {
  return s.turns.map((t, step) => {
    const where = `${s.id} message ${step + 1}`;
    const prompt = promptFor(s, step);
    const length = (response: string) => estimateLength([...prompt, { role: 'assistant', content: response }]);
    checkGood(t.assistant, where);
    if (length(t.assistant) > PIECE_BUDGET) throw new Error(`${where}: prompt and good message are too long for the demo context (${length(t.assistant)} > ${PIECE_BUDGET} pieces).`);
    let bad: BadMessage | undefined;
    for (const kinds of KIND_FALLBACKS) {
      bad = badMessage(rng, material(s), step, kinds);
      if (length(bad.text) <= PIECE_BUDGET) break;
    }
    if (!bad || length(bad.text) > PIECE_BUDGET) throw new Error(`${where}: no bad message fits the demo context.`);
    checkBad(bad.text, where);
    return {
      id: `${s.id}-${step + 1}`,
      prompt,
      chosen: t.assistant,
      rejected: bad.text,
      meta: { domain: s.domain, step: step + 1, kind: bad.kind, flaws: bad.flaws },
    };
  });
}

function sftOf(rng: Rng, s: DemoScenario): SftRecord[] {
  return pairsOf(rng, s).map((p) => {
    const good = rng.next() < 0.5;
    return {
      id: p.id,
      prompt: p.prompt,
      response: good ? p.chosen : p.rejected,
      meta: { domain: s.domain, step: p.meta.step, style: good ? 'good' : 'bad', flaws: good ? [] : p.meta.flaws },
    };
  });
}

function generalExample(rng: Rng, index: number): SftRecord {
  const topic = pick(rng, GENERAL_TOPICS);
  let slots: Record<string, string> = { name: pick(rng, NAMES) };
  for (const group of topic.groups ?? []) slots = { ...slots, ...pick(rng, group) };
  if (topic.compute) slots = { ...slots, ...topic.compute(rng) };
  const answer = fill(pick(rng, topic.answer), slots);
  const prompt: ChatMessage[] = [
    { role: 'system', content: fill(GENERAL_SYSTEM, slots) },
    { role: 'user', content: fill(pick(rng, topic.question), slots) },
  ];
  const id = `general-${String(index).padStart(3, '0')}`;
  if (rng.next() < 0.5) return { id, prompt, response: answer, meta: { domain: 'general', step: 1, style: 'good', flaws: [] } };
  const bad = badMessage(
    rng,
    { slots, passive: [], generic: topic.generic, assistant: [answer], user: [], goal: null },
    0,
    { passiveGeneric: 0.4, passivePersonal: 0.15, long: 0.3, turns: 0.15 },
  );
  checkBad(bad.text, id);
  return { id, prompt, response: bad.text, meta: { domain: 'general', step: 1, style: 'bad', flaws: bad.flaws } };
}

export function buildDemoCorpus(seed = DEMO_SEED): DemoCorpus {
  const rng = Rng.fromSeed(seed);
  const scenarios: Record<Split, DemoScenario[]> = { heldout: [], train: [], sft: [] };
  for (const key of DOMAIN_KEYS) {
    const splits = domainScenarios(rng, DEMO_DOMAINS[key]);
    for (const split of Object.keys(scenarios) as Split[]) scenarios[split].push(...splits[split]);
  }
  const trainPairs = shuffled(rng, scenarios.train.flatMap((s) => pairsOf(rng, s)));
  const heldoutPairs = scenarios.heldout.flatMap((s) => pairsOf(rng, s));
  const general = Array.from({ length: GENERAL_EXAMPLES }, (_, i) => generalExample(rng, i));
  const sft = shuffled(rng, [...scenarios.sft.flatMap((s) => sftOf(rng, s)), ...general]);
  return { scenarios, trainPairs, heldoutPairs, sft };
}

/** Held-out environments as one scenario file for the lab's loader (items with a "domain" field). */
export function scenarioFileItems(scenarios: readonly DemoScenario[]): (EnvironmentItem & { id: string; domain: DomainKey })[] {
  return scenarios.map((s) => ({ id: s.id, domain: s.domain, ...s.item }));
}
