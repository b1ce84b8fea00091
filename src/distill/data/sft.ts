// Supervised fine-tuning data: each record becomes token ids and labels (−100 where no loss).
// Accepted shapes (the conventions Hugging Face trainers accept):
//   {"prompt": "...", "response": "..."}        rendered with the chat template (user → assistant)
//   {"prompt": [messages], "response": "..."}    a prompt given as chat messages (system, user, …)
//   {"messages": [{role, content}, …]}           loss on the final assistant message
//   {"input_ids": [...], "labels": [...]}        pre-tokenised, used verbatim (labels −100 = ignored)
// With a chat template, the loss covers everything after the generation prompt: the response text,
// the end-of-turn token and what the template appends after it (as transformers' fixtures do).
// Without a chat template, prompt and response are plain text joined as they are.
import type { ChatMessage, Tokenizer } from '../../formats/tokenizer.ts';
import { DataError, isObject, readRecords, type SourcedRecord } from './records.ts';

export const IGNORE = -100;

export interface TokenizedExample {
  ids: number[];
  labels: number[];
  /** Record position in its file, for messages. */
  where: string;
}

export type OverLength = 'truncate' | 'skip';

export interface TokenizeOptions {
  maxLength: number;
  overLength: OverLength;
}

export interface TokenizeReport {
  examples: TokenizedExample[];
  truncated: number;
  skipped: number;
  /** Examples whose every label is ignored (nothing to learn from), dropped. */
  empty: number;
}

function messagesOf(v: unknown, file: string, where: string, field: string): ChatMessage[] {
  if (typeof v === 'string') return [{ role: 'user', content: v }];
  if (!Array.isArray(v) || v.length === 0) throw new DataError(file, where, `"${field}" must be a string or a non-empty list of {role, content} messages.`);
  return v.map((m, i) => {
    if (!isObject(m) || typeof m.role !== 'string' || typeof m.content !== 'string') {
      throw new DataError(file, where, `"${field}"[${i}] must be {"role": string, "content": string}.`);
    }
    return { role: m.role, content: m.content };
  });
}

function idList(v: unknown, file: string, where: string, field: string, vocab: number, allowIgnore: boolean): number[] {
  if (!Array.isArray(v) || v.length === 0) throw new DataError(file, where, `"${field}" must be a non-empty list of token ids.`);
  return v.map((x, i) => {
    const ok = Number.isInteger(x) && ((x as number) >= 0 || (allowIgnore && x === IGNORE)) && (x as number) < vocab;
    if (!ok) throw new DataError(file, where, `"${field}"[${i}] = ${JSON.stringify(x)} is not a token id in 0 … ${vocab - 1}${allowIgnore ? ' or −100' : ''}.`);
    return x as number;
  });
}

/** Prompt ids and full ids for a prompt/response pair, checking that one extends the other. */
export function renderPair(tok: Tokenizer, prompt: ChatMessage[], response: string, file: string, where: string): TokenizedExample {
  if (!tok.hasChatTemplate) {
    const p = tok.encode(prompt.map((m) => m.content).join('\n'));
    const r = tok.encode(response, { addSpecialTokens: false });
    const eos = tok.eosTokenIds.length ? [tok.eosTokenIds[0]] : [];
    return { ids: [...p, ...r, ...eos], labels: [...p.map(() => IGNORE), ...r, ...eos], where };
  }
  const head = tok.applyChatTemplate(prompt, { addGenerationPrompt: true }).ids;
  const full = tok.applyChatTemplate([...prompt, { role: 'assistant', content: response }], { addGenerationPrompt: false }).ids;
  const extends_ = head.length < full.length && head.every((id, i) => full[i] === id);
  if (!extends_) {
    throw new DataError(file, where, 'the chat template renders the prompt differently with and without the response, so the response tokens cannot be located.', 'Give pre-tokenised {"input_ids", "labels"} rows for this model.');
  }
  return { ids: full, labels: full.map((id, i) => (i < head.length ? IGNORE : id)), where };
}

function exampleOf(r: SourcedRecord, tok: Tokenizer, vocab: number, file: string): TokenizedExample {
  const { value, where } = r;
  if (!isObject(value)) throw new DataError(file, where, 'must be a JSON object.');
  if ('input_ids' in value) {
    const ids = idList(value.input_ids, file, where, 'input_ids', vocab, false);
    const labels = 'labels' in value ? idList(value.labels, file, where, 'labels', vocab, true) : ids.slice();
    if (labels.length !== ids.length) throw new DataError(file, where, `"labels" has ${labels.length} entries but "input_ids" has ${ids.length}.`);
    return { ids, labels, where };
  }
  if ('messages' in value) {
    const messages = messagesOf(value.messages, file, where, 'messages');
    const last = messages[messages.length - 1];
    if (last.role !== 'assistant') throw new DataError(file, where, '"messages" must end with an assistant message (the response to learn).');
    return renderPair(tok, messages.slice(0, -1), last.content, file, where);
  }
  if ('prompt' in value && 'response' in value) {
    if (typeof value.response !== 'string') throw new DataError(file, where, '"response" must be a string.');
    return renderPair(tok, messagesOf(value.prompt, file, where, 'prompt'), value.response, file, where);
  }
  throw new DataError(file, where, 'needs "prompt" and "response", or "messages", or "input_ids" (and "labels").', `Fields found: ${Object.keys(value).join(', ') || 'none'}.`);
}

/** Parse and tokenise an SFT file. Over-long examples are truncated or skipped, and counted. */
export function tokenizeSft(text: string, file: string, tok: Tokenizer, vocab: number, o: TokenizeOptions): TokenizeReport {
  const report: TokenizeReport = { examples: [], truncated: 0, skipped: 0, empty: 0 };
  for (const r of readRecords(text, file)) {
    let ex = exampleOf(r, tok, vocab, file);
    if (ex.ids.length > o.maxLength) {
      if (o.overLength === 'skip') {
        report.skipped++;
        continue;
      }
      ex = { ...ex, ids: ex.ids.slice(0, o.maxLength), labels: ex.labels.slice(0, o.maxLength) };
      report.truncated++;
    }
    // Position t predicts label t+1: an example needs a real label after its first token.
    if (!ex.labels.slice(1).some((l) => l !== IGNORE)) {
      report.empty++;
      continue;
    }
    report.examples.push(ex);
  }
  return report;
}
