// What the demo measures about a model, on held-out data it never trained on:
//   - its preference: the mean per-token log-probability margin between the chosen and the
//     rejected held-out responses (src/distill/margin.ts);
//   - its style: replies to held-out prompts, checked with the ProactiveEval rules
//     (src/demo/rule-check.ts): greedy replies to the opening prompts (message 1 of each held-out
//     scenario: they leave the model the most room, since no earlier good message shows it the
//     style), and replies sampled at temperature 1 to every held-out prompt. Greedy decoding shows
//     the single most likely reply; sampling shows how often each style comes out, which is where
//     a shift of preference between two styles shows first.
import type { Decoder } from '../../engine/models/decoder.ts';
import { GenerationSession } from '../../engine/models/generate.ts';
import { readRecords } from '../../distill/data/records.ts';
import type { TokenizedPair } from '../../distill/data/preference.ts';
import { preferenceMargin, type MarginReport } from '../../distill/margin.ts';
import type { Tokenizer } from '../../formats/tokenizer.ts';
import { rulePassRates, type RuleRates } from '../rule-check.ts';

/** Ids of the pairs whose prompt asks for the assistant's message number `step` (1-based), from the records' meta. */
export function pairIdsAtStep(jsonl: string, file: string, step: number): Set<string> {
  const ids = new Set<string>();
  for (const { value } of readRecords(jsonl, file)) {
    const r = value as { id?: unknown; meta?: { step?: unknown } };
    if (r.meta?.step === step && typeof r.id === 'string') ids.add(r.id);
  }
  return ids;
}

/**
 * The pairs ordered by length (longest response pair first): a margin is a mean over pairs, and
 * batches of similar lengths waste less on padding (attention costs grow with T²).
 */
export function byLength(pairs: readonly TokenizedPair[]): TokenizedPair[] {
  const length = (p: TokenizedPair) => Math.max(p.chosen.ids.length, p.rejected.ids.length);
  return [...pairs].sort((a, b) => length(b) - length(a));
}

export interface Reply {
  id: string;
  text: string;
  tokens: number;
  /** Ended with the end-of-turn token (not cut at the token limit). */
  finished: boolean;
}

export interface ReplyOptions {
  maxNewTokens: number;
  eosTokenIds: readonly number[];
  /** Greedy, or sampled at temperature 1 with seed + the prompt's index (reproducible). */
  sample?: { seed: number };
}

/** One reply to each pair's prompt, decoded without special tokens. */
export async function replies(decoder: Decoder, tok: Tokenizer, pairs: readonly TokenizedPair[], o: ReplyOptions): Promise<Reply[]> {
  const capacity = Math.max(...pairs.map((p) => p.promptIds.length)) + o.maxNewTokens;
  const session = new GenerationSession(decoder, capacity);
  const out: Reply[] = [];
  try {
    for (const [i, p] of pairs.entries()) {
      session.reset();
      const sampling = o.sample ? { temperature: 1, seed: o.sample.seed + i } : { greedy: true };
      const r = await session.generate(p.promptIds, { maxNewTokens: o.maxNewTokens, eosTokenIds: o.eosTokenIds, ...sampling });
      out.push({ id: p.id, text: tok.decode(r.ids, { skipSpecialTokens: true }).trim(), tokens: r.ids.length, finished: r.stop === 'eos' });
    }
  } finally {
    session.release();
  }
  return out;
}

export interface ReplyScores {
  rules: RuleRates;
  /** Share of replies that ended with the end-of-turn token. */
  finished: number;
  replies: Reply[];
}

export function scoreReplies(list: Reply[]): ReplyScores {
  return { rules: rulePassRates(list.map((r) => r.text)), finished: list.filter((r) => r.finished).length / list.length, replies: list };
}

export interface ModelScores {
  margin: MarginReport;
  /** Greedy replies to the opening prompts. */
  greedy: ReplyScores;
  /** Sampled replies (temperature 1) to every held-out prompt: how often each style comes out. */
  sampled: ReplyScores;
}

export interface HeldoutSets {
  /** Pairs for the margin. */
  marginPairs: readonly TokenizedPair[];
  /** Prompts for greedy replies (the opening prompts). */
  greedyPrompts: readonly TokenizedPair[];
  /** Prompts for sampled replies. */
  sampledPrompts: readonly TokenizedPair[];
}

export async function scoreModel(decoder: Decoder, tok: Tokenizer, sets: HeldoutSets, o: ReplyOptions & { sample: { seed: number } }): Promise<ModelScores> {
  const margin = await preferenceMargin(decoder, byLength(sets.marginPairs));
  const greedy = scoreReplies(await replies(decoder, tok, sets.greedyPrompts, { ...o, sample: undefined }));
  const sampled = scoreReplies(await replies(decoder, tok, sets.sampledPrompts, o));
  return { margin, greedy, sampled };
}
