// Text in, text out on top of a GenerationSession: renders the prompt (chat template or plain text),
// streams decoded text deltas as tokens arrive, stops on EOS, stop strings, a callback or a signal,
// and reports timings. Shared by the engine worker (the page's chat) and the CLI (`generate`).
//
// Streaming decode: a byte-level tokenizer may split one character over several tokens, so the text
// of a single token can be an incomplete UTF-8 sequence (decoded as U+FFFD). IncrementalDecoder
// decodes a short window of recent tokens and releases text only when it does not end in U+FFFD;
// the window keeps the preceding tokens as context, so leading-space rules of the decoder apply as
// they do in a whole decode. The final text is always the whole decode of the ids (cut at a stop
// string), so it never depends on how the stream was split.
import { StopScanner } from '../../llm/stop.ts';
import type { ChatMessage, Tokenizer } from '../../formats/tokenizer.ts';
import { CancelledError, ShapeError } from '../errors.ts';
import type { GenerationSession, StopReason } from './generate.ts';
import type { SamplingOptions } from './sampling.ts';

const REPLACEMENT = '\uFFFD';

/** Turns token ids, one at a time, into text deltas that never split a character. */
export class IncrementalDecoder {
  private readonly ids: number[] = [];
  /** Start of the window decoded for context. */
  private prefix = 0;
  /** Tokens before this index have been released as text. */
  private read = 0;

  constructor(private readonly decode: (ids: readonly number[]) => string) {}

  /** Adds a token; returns the text it completes ('' while a character is still incomplete). */
  push(id: number): string {
    this.ids.push(id);
    const before = this.decode(this.ids.slice(this.prefix, this.read));
    const after = this.decode(this.ids.slice(this.prefix));
    if (after.length <= before.length || after.endsWith(REPLACEMENT)) return '';
    this.prefix = this.read;
    this.read = this.ids.length;
    return after.slice(before.length);
  }

  /** Generation ended: whatever is held back (incomplete characters included, as U+FFFD). */
  flush(): string {
    if (this.read === this.ids.length) return '';
    const before = this.decode(this.ids.slice(this.prefix, this.read));
    const after = this.decode(this.ids.slice(this.prefix));
    this.prefix = this.read = this.ids.length;
    return after.slice(before.length);
  }
}

/** A new token and the text it completes ('' while a character or a possible stop string is held back), and the held-back rest at the end. */
export type TextEvent = { type: 'token'; id: number; index: number; text: string } | { type: 'tail'; text: string };

export interface TextRequest {
  /** Chat messages, rendered with the model's chat template and the generation prompt. */
  messages?: readonly ChatMessage[];
  /** Plain text, tokenized with the tokenizer's special tokens (BOS where the model adds one). */
  prompt?: string;
}

export interface TextGenerationOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Generation ends before the first of these strings (not part of the text). */
  stop?: readonly string[];
  /** Token ids that end generation (the model's stop ids). */
  eosTokenIds: readonly number[];
  /** Each new token with the text it completes, then a last `tail` (held-back text); return true on a token to stop after it. */
  onEvent?: (event: TextEvent) => boolean | void;
  signal?: AbortSignal;
  onStepLogits?: (row: Float32Array) => void;
  /**
   * Treat maxNewTokens as an upper bound: lower it to what the session's context leaves after the
   * prompt (a chat near the end of its context still gets a shorter reply). The prompt must fit.
   */
  fitContext?: boolean;
}

export interface TextGenerationResult {
  /** Decoded new text, special tokens skipped, cut before a stop string. */
  text: string;
  /** New token ids (an ending EOS id included). */
  ids: number[];
  /** `stop`: a stop string or the onEvent callback ended it. */
  stop: StopReason;
  promptTokens: number;
  /** Prompt tokens run now (the rest were reused from the session's cache). */
  prefilledTokens: number;
  prefillMs: number;
  decodeMs: number;
  /** New tokens per second of decoding (0 when nothing was generated). */
  tokensPerSecond: number;
  /** The sampling seed used (drawn when none was given), to reproduce a sampled reply. */
  seed: number;
}

/** The prompt's token ids: chat messages through the chat template, or plain text. */
export function promptIds(tokenizer: Tokenizer, request: TextRequest): number[] {
  if (request.messages && request.prompt !== undefined) throw new ShapeError('generate: give either chat messages or a prompt, not both.');
  if (request.messages) {
    if (request.messages.length === 0) throw new ShapeError('generate: the conversation has no messages.');
    return tokenizer.applyChatTemplate(request.messages, { addGenerationPrompt: true }).ids;
  }
  if (request.prompt === undefined || request.prompt === '') throw new ShapeError('generate: the prompt is empty.', 'Type a prompt (or give chat messages).');
  return tokenizer.encode(request.prompt, { addSpecialTokens: true });
}

function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

export async function generateText(
  session: GenerationSession,
  tokenizer: Tokenizer,
  request: TextRequest,
  options: TextGenerationOptions,
): Promise<TextGenerationResult> {
  const prompt = promptIds(tokenizer, request);
  let maxNewTokens = options.maxNewTokens;
  if (options.fitContext) {
    const room = session.capacity - prompt.length;
    if (room < 1) {
      throw new ShapeError(
        `The prompt is ${prompt.length} tokens long, and this session's context holds ${session.capacity} tokens (prompt and reply together).`,
        'Start a new chat, or shorten the conversation or the system prompt.',
      );
    }
    maxNewTokens = Math.min(maxNewTokens, room);
  }
  const seed = options.seed ?? randomSeed();
  const decode = (ids: readonly number[]) => tokenizer.decode(ids, { skipSpecialTokens: true });
  const stream = new IncrementalDecoder(decode);
  const scanner = new StopScanner(options.stop ?? []);
  let result;
  try {
    const { greedy, temperature, topK, topP, repetitionPenalty, eosTokenIds, signal, onStepLogits } = options;
    result = await session.generate(prompt, {
      greedy,
      temperature,
      topK,
      topP,
      repetitionPenalty,
      seed,
      maxNewTokens,
      eosTokenIds,
      signal,
      onStepLogits,
      onToken(id, index) {
        const text = scanner.push(stream.push(id));
        const stopByCaller = options.onEvent?.({ type: 'token', id, index, text }) === true;
        return scanner.stopped || stopByCaller;
      },
    });
  } catch (err) {
    // Cancelled before the first token (while queued or during prefill): an empty reply.
    if (!(err instanceof CancelledError)) throw err;
    return { text: '', ids: [], stop: 'cancelled', promptTokens: prompt.length, prefilledTokens: 0, prefillMs: 0, decodeMs: 0, tokensPerSecond: 0, seed };
  }
  const tail = scanner.push(stream.flush()) + scanner.finish();
  if (tail) options.onEvent?.({ type: 'tail', text: tail });
  const text = scanner.stopped ? scanner.value : decode(result.ids);
  return {
    text,
    ids: result.ids,
    stop: result.stop,
    promptTokens: result.promptTokens,
    prefilledTokens: result.prefilledTokens,
    prefillMs: result.prefillMs,
    decodeMs: result.decodeMs,
    tokensPerSecond: result.decodeMs > 0 ? (result.ids.length * 1000) / result.decodeMs : 0,
    seed,
  };
}
