// Tokenizer and chat template of a Hugging Face model, through transformers.js, behind a small
// interface of our own. Built from the files' bytes (no path, no fetch), so it works offline and the
// same in the page, the worker and Node; transformers.js never touches the network on this path
// (it fetches only inside from_pretrained, which is not used), so its `env` is left alone.
//
//   const tok = await loadTokenizer({ tokenizerJson, tokenizerConfig, specialTokensMap, chatTemplate })
//   tok.encode(text, { addSpecialTokens })           -> ids
//   tok.decode(ids, { skipSpecialTokens })            -> text
//   tok.applyChatTemplate(messages, { addGenerationPrompt }) -> { text, ids }  (no extra special tokens)
//   tok.eosTokenIds, tok.vocabSize, tok.tokenizerSha256 (hex SHA-256 of the tokenizer.json bytes)
//
// loadTokenizerFrom(source) (./model-files.ts) gathers these files from any ModelSource.
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { ModelConfig } from './config.ts';
import { TokenizerError } from './errors.ts';

export interface TokenizerFiles {
  /** tokenizer.json (bytes or text). */
  tokenizerJson: Uint8Array | string;
  /** tokenizer_config.json: special tokens, chat_template, padding side. */
  tokenizerConfig?: Uint8Array | string | null;
  /** special_tokens_map.json: fills special tokens that tokenizer_config.json lacks. */
  specialTokensMap?: Uint8Array | string | null;
  /** chat_template.jinja (newer repositories keep the template in its own file). */
  chatTemplate?: Uint8Array | string | null;
}

export interface ChatMessage {
  role: string;
  content: string;
}

export interface Tokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  applyChatTemplate(messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean }): { text: string; ids: number[] };
  readonly hasChatTemplate: boolean;
  readonly bosTokenId: number | null;
  /** The tokenizer's eos token (merge with generation_config's eos ids to stop generation). */
  readonly eosTokenIds: number[];
  readonly padTokenId: number | null;
  readonly specialTokenIds: number[];
  /** 1 + the largest token id (vocabulary and added tokens). config.json's vocab_size may be larger. */
  readonly vocabSize: number;
  /** Hex SHA-256 of the tokenizer.json bytes (identifies the tokenizer in teacher caches and runs). */
  readonly tokenizerSha256: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function bytesOf(v: Uint8Array | string): Uint8Array {
  return typeof v === 'string' ? encoder.encode(v) : v;
}

function textOf(v: Uint8Array | string): string {
  return typeof v === 'string' ? v : decoder.decode(v);
}

function parseJsonFile(file: string, v: Uint8Array | string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(textOf(v));
  } catch (err) {
    throw new TokenizerError(file, `is not valid JSON (${(err as Error).message}).`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TokenizerError(file, 'is not a JSON object.');
  return parsed as Record<string, unknown>;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** 1 + the largest id in the model vocabulary and the added tokens. */
function vocabSizeOf(json: Record<string, unknown>): number {
  let max = -1;
  const model = json.model as { vocab?: unknown } | undefined;
  const vocab = model?.vocab;
  if (Array.isArray(vocab)) max = vocab.length - 1; // Unigram: [[piece, score], ...]
  else if (vocab && typeof vocab === 'object') for (const id of Object.values(vocab)) if (typeof id === 'number' && id > max) max = id;
  for (const t of Array.isArray(json.added_tokens) ? json.added_tokens : []) {
    const id = (t as { id?: unknown }).id;
    if (typeof id === 'number' && id > max) max = id;
  }
  return max + 1;
}

const SPECIAL_KEYS = ['bos_token', 'eos_token', 'pad_token', 'unk_token', 'additional_special_tokens'];

/** Special tokens may be written as {"content": "<s>", ...} (AddedToken) instead of "<s>". */
function tokenText(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(tokenText);
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return v;
}

async function transformersTokenizer(): Promise<typeof PreTrainedTokenizer> {
  // Loaded on first use: modules that only pass tokenizers around do not pull in transformers.js.
  return (await import('@huggingface/transformers')).PreTrainedTokenizer;
}

export async function loadTokenizer(files: TokenizerFiles): Promise<Tokenizer> {
  const json = parseJsonFile('tokenizer.json', files.tokenizerJson);
  const config = files.tokenizerConfig ? parseJsonFile('tokenizer_config.json', files.tokenizerConfig) : {};
  if (files.specialTokensMap) {
    const map = parseJsonFile('special_tokens_map.json', files.specialTokensMap);
    for (const key of SPECIAL_KEYS) if (config[key] === undefined && map[key] !== undefined) config[key] = map[key];
  }
  for (const key of SPECIAL_KEYS) if (config[key] !== undefined) config[key] = tokenText(config[key]);
  if (files.chatTemplate && config.chat_template === undefined) config.chat_template = textOf(files.chatTemplate);
  if (!json.model || typeof json.model !== 'object') throw new TokenizerError('tokenizer.json', 'has no "model" section: it is not a Hugging Face tokenizers file.');

  const Cls = await transformersTokenizer();
  let tok: PreTrainedTokenizer;
  try {
    tok = new Cls(json, config);
  } catch (err) {
    throw new TokenizerError('tokenizer.json', `transformers.js could not build the tokenizer (${(err as Error).message}).`);
  }
  const idOf = (id: unknown): number | null => (typeof id === 'number' && id >= 0 ? id : null);
  const template = tok.chat_template as unknown;
  const sha = await sha256Hex(bytesOf(files.tokenizerJson));
  const eos = idOf(tok.eos_token_id);

  return {
    encode: (text, options = {}) => tok.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }),
    decode: (ids, options = {}) => (ids.length === 0 ? '' : tok.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false })),
    applyChatTemplate(messages, options = {}) {
      if (!template) throw new TokenizerError('tokenizer_config.json', 'has no chat_template, so chat messages cannot be rendered.', 'Use an instruct/chat checkpoint, or give prompts as plain text.');
      let text: string;
      try {
        text = tok.apply_chat_template(messages.map((m) => ({ role: m.role, content: m.content })), {
          add_generation_prompt: options.addGenerationPrompt ?? false,
          tokenize: false,
        }) as string;
      } catch (err) {
        throw new TokenizerError('tokenizer_config.json', `the chat_template failed to render these messages (${(err as Error).message}).`, 'Check the roles and order of the messages the template expects.');
      }
      return { text, ids: tok.encode(text, { add_special_tokens: false }) };
    },
    hasChatTemplate: Boolean(template),
    bosTokenId: idOf(tok.bos_token_id),
    eosTokenIds: eos === null ? [] : [eos],
    padTokenId: idOf(tok.pad_token_id),
    specialTokenIds: [...(tok.all_special_ids as number[])],
    vocabSize: vocabSizeOf(json),
    tokenizerSha256: sha,
  };
}

/** The tokenizer must fit the model's embedding (config.json's vocab_size may be larger: padded rows). */
export function checkTokenizerFits(config: ModelConfig, tokenizer: Tokenizer): void {
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new TokenizerError('tokenizer.json', `has ${tokenizer.vocabSize} tokens but config.json vocab_size is ${config.vocabSize}.`, 'The tokenizer belongs to another model: use the files published together.');
  }
}
