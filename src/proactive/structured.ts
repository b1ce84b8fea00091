// Asking an LLM for a small JSON answer (a judge's score, the completion check, the density
// count) and reading it. An answer that cannot be read, or a score outside 1–10, is asked again
// with the problem stated (so a temperature-0 judge does not simply repeat itself); after the
// allowed retries the outcome is a failure that keeps every raw answer, never a made-up value.
import type { ChatBackend, ChatMessage } from '../llm/chat.ts';
import { extractJsonObjects, pick, stripThinking } from './json-extract.ts';
import { renderPrompt, type PromptSet } from './prompts.ts';

export interface Attempt {
  /** The raw answer. */
  text: string;
  /** Why it could not be used (absent on the accepted attempt). */
  problem?: string;
}

export type Structured<T> = { ok: true; value: T; attempts: Attempt[] } | { ok: false; error: string; attempts: Attempt[] };

export type Parsed<T> = { value: T } | { problem: string };

export interface AskOptions {
  /** Extra attempts after an unreadable answer (default 2). */
  retries?: number;
  temperature?: number;
  maxTokens?: number;
  signal?: AbortSignal;
}

export const DEFAULT_JUDGE_RETRIES = 2;

/** Endpoint failures propagate (the item is redone later); unreadable answers are retried, then reported. */
export async function askStructured<T>(
  backend: ChatBackend,
  messages: readonly ChatMessage[],
  parse: (text: string) => Parsed<T>,
  prompts: PromptSet,
  options: AskOptions = {},
): Promise<Structured<T>> {
  const retries = options.retries ?? DEFAULT_JUDGE_RETRIES;
  const conversation = [...messages];
  const attempts: Attempt[] = [];
  for (let attempt = 0; attempt <= retries; attempt++) {
    const { text } = await backend.chat(conversation, { temperature: options.temperature ?? 0, maxTokens: options.maxTokens, signal: options.signal });
    const parsed = parse(text);
    if ('value' in parsed) {
      attempts.push({ text });
      return { ok: true, value: parsed.value, attempts };
    }
    attempts.push({ text, problem: parsed.problem });
    conversation.push({ role: 'assistant', content: text }, { role: 'user', content: renderPrompt(prompts, 'judge.retry', { problem: parsed.problem }) });
  }
  return { ok: false, error: `no usable answer after ${attempts.length} attempts (last: ${attempts[attempts.length - 1].problem})`, attempts };
}

export interface ScoreAnswer {
  score: number;
  /** The judge's reason or thought ('' when it gave none). */
  reason: string;
}

const SCORE_KEY = /^(score|rating|grade)$/i;

function readScore(value: unknown): Parsed<number> {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim().replace(/\s*\/\s*10$/, '')) : NaN;
  if (typeof value !== 'number' && (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n))) {
    return { problem: `the "score" is not a number (${JSON.stringify(value)})` };
  }
  if (!Number.isInteger(n)) return { problem: `the score ${n} is not a whole number from 1 to 10` };
  if (n < 1 || n > 10) return { problem: `the score ${n} is outside 1 to 10` };
  return { value: n };
}

/** A judge's `{"<reason key>": "...", "score": n}`; n must be an integer 1–10. */
export function parseScore(text: string, reasonKey: RegExp): Parsed<ScoreAnswer> {
  const objects = extractJsonObjects(text).reverse();
  for (const obj of objects) {
    const raw = pick(obj, SCORE_KEY);
    if (raw === undefined) continue;
    const score = readScore(raw);
    if ('problem' in score) return score;
    const reason = pick(obj, reasonKey);
    return { value: { score: score.value, reason: typeof reason === 'string' ? reason.trim() : '' } };
  }
  // No object with a score: a plain "Score: 7" line after the reasoning is still an answer.
  const visible = stripThinking(text);
  const matches = [...visible.matchAll(/\bscore\b["'*\s]*[:=]\s*["']?(-?\d+(?:\.\d+)?)(?:\s*\/\s*10)?/gi)];
  const last = matches[matches.length - 1];
  if (!last) return { problem: objects.length > 0 ? 'the JSON object has no "score"' : 'there is no JSON object with a "score"' };
  const score = readScore(Number(last[1]));
  if ('problem' in score) return score;
  return { value: { score: score.value, reason: visible.slice(0, last.index).trim() } };
}

/** The completion check's `{"reached": true|false}` (also "yes"/"no", or a bare yes/no answer). */
export function parseReached(text: string): Parsed<boolean> {
  const asBool = (v: unknown): boolean | undefined => {
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && /^(true|yes)$/i.test(v.trim())) return true;
    if (typeof v === 'string' && /^(false|no)$/i.test(v.trim())) return false;
    return undefined;
  };
  for (const obj of extractJsonObjects(text).reverse()) {
    const v = asBool(pick(obj, /^(reached|completed|achieved|done|target_reached)$/i));
    if (v !== undefined) return { value: v };
  }
  const bare = /^\W*(yes|no|true|false)\b/i.exec(stripThinking(text));
  if (bare) return { value: /^(yes|true)$/i.test(bare[1]) };
  return { problem: 'there is no {"reached": true} or {"reached": false}' };
}

/** The density judge's `{"touched": [[1, 2], [], …]}`: one list of sub-target numbers per message. */
export function parseTouched(text: string, messageCount: number, subTargetCount: number): Parsed<number[][]> {
  for (const obj of extractJsonObjects(text).reverse()) {
    const lists = pick(obj, /^(touched|steps|counts)$/i);
    if (!Array.isArray(lists)) continue;
    if (lists.length !== messageCount) return { problem: `"touched" has ${lists.length} lists for ${messageCount} messages` };
    const out: number[][] = [];
    for (const list of lists) {
      const items = Array.isArray(list) ? list : [list];
      const numbers = items.map(Number);
      if (numbers.some((n) => !Number.isInteger(n) || n < 1 || n > subTargetCount)) {
        return { problem: `"touched" must hold step numbers from 1 to ${subTargetCount}, got ${JSON.stringify(list)}` };
      }
      out.push([...new Set(numbers)].sort((a, b) => a - b));
    }
    return { value: out };
  }
  return { problem: 'there is no JSON object with a "touched" list' };
}
