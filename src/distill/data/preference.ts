// Preference data: {"prompt", "chosen", "rejected"} records (JSONL or a JSON array), each field a
// string or chat messages (the prompt may hold system and user turns; chosen and rejected hold the
// assistant turn, as a string or as a list ending with the assistant message). Rendered with the
// student's chat template; each pair yields a chosen and a rejected sequence whose labels cover the
// response (everything after the generation prompt). Example ids come from an "id" field or the
// record's position; the data set is identified by the SHA-256 of its file bytes.
import type { ChatMessage, Tokenizer } from '../../formats/tokenizer.ts';
import { sha256Hex } from '../../formats/tokenizer.ts';
import { DataError, isObject, readRecords } from './records.ts';
import { IGNORE, renderPair, type OverLength, type TokenizedExample } from './sft.ts';

export interface PreferencePair {
  id: string;
  prompt: ChatMessage[];
  chosen: string;
  rejected: string;
  where: string;
}

export interface TokenizedPair {
  id: string;
  prompt: ChatMessage[];
  /** Prompt tokens with the generation prompt (what a student continues from). */
  promptIds: number[];
  chosen: TokenizedExample;
  rejected: TokenizedExample;
}

export interface PreferenceSet {
  file: string;
  sha256: string;
  pairs: PreferencePair[];
}

function messages(v: unknown, file: string, where: string, field: string): ChatMessage[] {
  if (typeof v === 'string') return [{ role: 'user', content: v }];
  if (!Array.isArray(v) || v.length === 0) throw new DataError(file, where, `"${field}" must be a string or a non-empty list of {role, content} messages.`);
  return v.map((m, i) => {
    if (!isObject(m) || typeof m.role !== 'string' || typeof m.content !== 'string') {
      throw new DataError(file, where, `"${field}"[${i}] must be {"role": string, "content": string}.`);
    }
    return { role: m.role, content: m.content };
  });
}

function response(v: unknown, file: string, where: string, field: string): string {
  if (typeof v === 'string') return v;
  const list = messages(v, file, where, field);
  const last = list[list.length - 1];
  if (last.role !== 'assistant') throw new DataError(file, where, `"${field}" must be a string or end with an assistant message.`);
  return last.content;
}

export async function readPreferenceData(text: string, file: string): Promise<PreferenceSet> {
  const seen = new Set<string>();
  const pairs = readRecords(text, file).map(({ value, where }, i): PreferencePair => {
    if (!isObject(value)) throw new DataError(file, where, 'must be a JSON object.');
    for (const f of ['prompt', 'chosen', 'rejected']) {
      if (!(f in value)) throw new DataError(file, where, `is missing "${f}" (preference data needs prompt, chosen and rejected).`);
    }
    const id = value.id === undefined ? `${i}` : String(value.id);
    if (seen.has(id)) throw new DataError(file, where, `repeats the example id "${id}".`);
    seen.add(id);
    return {
      id,
      prompt: messages(value.prompt, file, where, 'prompt'),
      chosen: response(value.chosen, file, where, 'chosen'),
      rejected: response(value.rejected, file, where, 'rejected'),
      where,
    };
  });
  return { file, sha256: await sha256Hex(new TextEncoder().encode(text)), pairs };
}

export interface PairTokenizeReport {
  pairs: TokenizedPair[];
  truncated: number;
  skipped: number;
}

/** Render both responses of every pair with the chat template, uncut (what fitPairs then cuts). */
export function renderPairs(set: PreferenceSet, tok: Tokenizer): TokenizedPair[] {
  return set.pairs.map((p) => {
    const chosen = renderPair(tok, p.prompt, p.chosen, set.file, p.where);
    const rejected = renderPair(tok, p.prompt, p.rejected, set.file, p.where);
    const promptIds = chosen.ids.slice(0, chosen.labels.findIndex((l) => l !== IGNORE));
    return { id: p.id, prompt: p.prompt, promptIds, chosen, rejected };
  });
}

/** Fit rendered pairs to maxLength: a pair whose longer side exceeds it is truncated or skipped. */
export function fitPairs(rendered: readonly TokenizedPair[], o: { maxLength: number; overLength: OverLength }): PairTokenizeReport {
  const report: PairTokenizeReport = { pairs: [], truncated: 0, skipped: 0 };
  for (const p of rendered) {
    if (Math.max(p.chosen.ids.length, p.rejected.ids.length) <= o.maxLength) {
      report.pairs.push(p);
      continue;
    }
    if (o.overLength === 'skip' || p.promptIds.length >= o.maxLength - 1) {
      report.skipped++;
      continue;
    }
    const cut = (e: TokenizedExample) => ({ ...e, ids: e.ids.slice(0, o.maxLength), labels: e.labels.slice(0, o.maxLength) });
    report.pairs.push({ ...p, chosen: cut(p.chosen), rejected: cut(p.rejected) });
    report.truncated++;
  }
  return report;
}

/** Render both responses; a pair whose longer side exceeds maxLength is truncated or skipped. */
export function tokenizePairs(set: PreferenceSet, tok: Tokenizer, o: { maxLength: number; overLength: OverLength }): PairTokenizeReport {
  return fitPairs(renderPairs(set, tok), o);
}

/** The response tokens of a sequence: the labels after the prompt (what a cache's `tokens` holds). */
export function responseTokens(e: TokenizedExample): number[] {
  const out: number[] = [];
  for (let t = 1; t < e.labels.length; t++) if (e.labels[t] !== IGNORE) out.push(e.labels[t]);
  return out;
}
