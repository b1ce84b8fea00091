// Our own byte-level BPE trainer, writing Hugging Face `tokenizers` files (tokenizer.json with a BPE
// model and ByteLevel pre-tokenizer, post-processor and decoder), so transformers.js and Python load
// the result like any GPT-2-style tokenizer.
//
// Pre-tokenisation is that of the ByteLevel pre-tokenizer with use_regex and no prefix space: the
// GPT-2 regex splits the text into pieces, and each piece's UTF-8 bytes are mapped to printable
// characters by GPT-2's byte-to-unicode table. Special tokens are cut out of the text first and never
// take part in merges.
//
// Training follows the tokenizers library's BpeTrainer: the vocabulary starts with the special tokens,
// then all 256 byte symbols sorted by code point; each step merges the adjacent pair with the highest
// count over the corpus (every piece weighted by how often it occurs), ties going to the pair with the
// smallest (left id, right id); a merge is applied left to right without overlaps; training stops at
// the vocabulary size. With these rules the merges are deterministic.

/** GPT-2's table: every byte maps to a printable character (printable Latin-1 bytes map to themselves). */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const table: string[] = new Array(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : next++);
  return table;
})();

/** The regex of GPT-2-style ByteLevel pre-tokenizers (contractions, letters, digits, other, spaces). */
const PIECE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const utf8 = new TextEncoder();

/** The pieces of a text as byte-level symbol strings (special tokens must already be removed). */
export function byteLevelPieces(text: string): string[] {
  const pieces: string[] = [];
  for (const match of text.matchAll(PIECE)) {
    let mapped = '';
    for (const b of utf8.encode(match[0])) mapped += BYTE_TO_UNICODE[b];
    pieces.push(mapped);
  }
  return pieces;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Splits texts around the special tokens and counts the byte-level pieces of what remains. */
export function countPieces(texts: Iterable<string>, specialTokens: readonly string[]): Map<string, number> {
  const specials = specialTokens.length ? new RegExp(specialTokens.map(escapeRegex).join('|'), 'g') : null;
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const part of specials ? text.split(specials) : [text]) {
      for (const piece of byteLevelPieces(part)) counts.set(piece, (counts.get(piece) ?? 0) + 1);
    }
  }
  return counts;
}

export interface TrainedBpe {
  /** Token string -> id: the special tokens, the 256 byte symbols, then one token per merge. */
  vocab: Map<string, number>;
  /** Merges in the order learned, each as [left, right]. */
  merges: [string, string][];
  specialTokens: readonly string[];
}

export interface BpeTrainOptions {
  /** Vocabulary size including the special tokens and the 256 byte symbols. */
  vocabSize: number;
  /** Special tokens, given ids 0, 1, … in this order. */
  specialTokens: readonly string[];
}

const PAIR_BASE = 1 << 16;

export function trainBpe(texts: Iterable<string>, options: BpeTrainOptions): TrainedBpe {
  const { vocabSize, specialTokens } = options;
  const initial = specialTokens.length + 256;
  if (!Number.isInteger(vocabSize) || vocabSize < initial || vocabSize > PAIR_BASE) {
    throw new RangeError(`vocabSize must be an integer from ${initial} (special tokens + 256 bytes) to ${PAIR_BASE}, got ${vocabSize}.`);
  }
  const tokens: string[] = [...specialTokens, ...[...BYTE_TO_UNICODE].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!)];
  const vocab = new Map<string, number>(tokens.map((t, i) => [t, i]));
  if (vocab.size !== tokens.length) throw new Error('The special tokens must be distinct and differ from the 256 byte symbols.');

  // Distinct pieces as id sequences, with their corpus counts.
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [piece, count] of countPieces(texts, specialTokens)) {
    words.push(Array.from(piece, (ch) => vocab.get(ch)!));
    freq.push(count);
  }

  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (w: number, sign: 1 | -1): void => {
    const word = words[w];
    for (let i = 0; i + 1 < word.length; i++) {
      const key = word[i] * PAIR_BASE + word[i + 1];
      const count = (pairCounts.get(key) ?? 0) + sign * freq[w];
      if (count === 0) pairCounts.delete(key);
      else pairCounts.set(key, count);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  for (let w = 0; w < words.length; w++) addPairs(w, 1);

  const merges: [string, string][] = [];
  while (vocab.size < vocabSize) {
    let best = -1;
    let bestCount = 0;
    for (const [key, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    if (best < 0) break; // every piece is a single token already
    const left = Math.floor(best / PAIR_BASE);
    const right = best % PAIR_BASE;
    const merged = tokens[left] + tokens[right];
    let id = vocab.get(merged);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(merged);
      vocab.set(merged, id);
    }
    merges.push([tokens[left], tokens[right]]);
    for (const w of pairWords.get(best) ?? []) {
      addPairs(w, -1);
      const word = words[w];
      const out: number[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === left && word[i + 1] === right) {
          out.push(id);
          i++;
        } else out.push(word[i]);
      }
      words[w] = out;
      addPairs(w, 1);
    }
    pairWords.delete(best);
  }
  return { vocab, merges, specialTokens };
}

// ---------------------------------------------------------------------------------------------
// Hugging Face files. Laid out key for key like the files the tokenizers library and transformers
// write (2-space indentation, vocabulary in id order), so the output is stable and diff-friendly.

/** JSON with 2-space indentation; a Map keeps its insertion order (JSON.stringify would move "0".."9" keys first). */
export function prettyJson(value: unknown, indent = ''): string {
  const inner = `${indent}  `;
  if (value instanceof Map) {
    if (value.size === 0) return '{}';
    const entries = [...value].map(([k, v]) => `${inner}${JSON.stringify(String(k))}: ${prettyJson(v, inner)}`);
    return `{\n${entries.join(',\n')}\n${indent}}`;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => inner + prettyJson(v, inner)).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') return prettyJson(new Map(Object.entries(value)), indent);
  return JSON.stringify(value);
}

function addedToken(content: string, id: number) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** A special token as transformers writes it in tokenizer_config.json and special_tokens_map.json. */
function specialEntry(content: string) {
  return { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
}

/** tokenizer.json text (no trailing newline, as the tokenizers library writes it). */
export function tokenizerJson(bpe: TrainedBpe): string {
  return prettyJson({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: bpe.specialTokens.map((t) => addedToken(t, bpe.vocab.get(t)!)),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: bpe.vocab,
      merges: bpe.merges,
    },
  });
}

export interface ChatSpecials {
  /** End of text; also the padding and unknown token. */
  endOfText: string;
  imStart: string;
  imEnd: string;
}

/** ChatML: every message as <|im_start|>role\ncontent<|im_end|>\n; the generation prompt opens an assistant turn. */
export function chatmlTemplate(s: ChatSpecials): string {
  return (
    `{% for message in messages %}{{ '${s.imStart}' + message['role'] + '\\n' + message['content'] + '${s.imEnd}' + '\\n' }}{% endfor %}` +
    `{% if add_generation_prompt %}{{ '${s.imStart}assistant\\n' }}{% endif %}`
  );
}

/** tokenizer_config.json text: transformers' layout, ChatML template, eos = <|im_end|> (ends an assistant turn). */
export function tokenizerConfigJson(bpe: TrainedBpe, s: ChatSpecials, modelMaxLength: number): string {
  const decoder = new Map(bpe.specialTokens.map((t) => [String(bpe.vocab.get(t)), specialEntry(t)]));
  return `${prettyJson({
    tokenizer_class: 'PreTrainedTokenizerFast',
    added_tokens_decoder: decoder,
    additional_special_tokens: [s.imStart, s.imEnd],
    bos_token: s.imStart,
    eos_token: s.imEnd,
    pad_token: s.endOfText,
    unk_token: s.endOfText,
    chat_template: chatmlTemplate(s),
    clean_up_tokenization_spaces: false,
    model_max_length: modelMaxLength,
    padding_side: 'right',
    add_prefix_space: false,
  })}\n`;
}

/** special_tokens_map.json text. */
export function specialTokensMapJson(s: ChatSpecials): string {
  return `${prettyJson({
    bos_token: specialEntry(s.imStart),
    eos_token: specialEntry(s.imEnd),
    pad_token: specialEntry(s.endOfText),
    unk_token: specialEntry(s.endOfText),
    additional_special_tokens: [specialEntry(s.imStart), specialEntry(s.imEnd)],
  })}\n`;
}
