import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../src/formats/config.ts';
import { loadTokenizerFrom } from '../../../src/formats/model-files.ts';
import { NodeFolderSource } from '../../../src/formats/source.node.ts';
import { checkTokenizerFits, loadTokenizer, type ChatMessage, type Tokenizer } from '../../../src/formats/tokenizer.ts';
import { fixtureBytes, fixtureJson, fixturePath, MODELS } from './fixtures.ts';

interface EncodeCase {
  text: string;
  input_ids: number[];
  input_ids_no_special: number[];
  decode: string;
  decode_skip_special: string;
}
interface ChatCase {
  messages: ChatMessage[];
  add_generation_prompt: boolean;
  text: string;
  input_ids: number[];
}
interface Reference {
  inputs: {
    a: { text: string; input_ids: number[] };
    b: { messages: ChatMessage[]; text: string; input_ids: number[] };
    c: { texts: string[]; input_ids: number[][]; attention_mask: number[][]; pad_token_id: number };
  };
  loss: { input_ids: number[]; labels: number[]; response: string };
}

const files = (dir: string) => ({
  tokenizerJson: fixtureBytes(dir, 'tokenizer.json'),
  tokenizerConfig: fixtureBytes(dir, 'tokenizer_config.json'),
  specialTokensMap: fixtureBytes(dir, 'special_tokens_map.json'),
});

describe('tokenizer (transformers.js)', () => {
  const ref = fixtureJson<{ encode_cases: EncodeCase[]; chat_template_cases: ChatCase[]; special_token_ids: Record<string, number> }>('tokenizer', 'tokenizer_reference.json');

  it('reproduces every encode/decode case of tokenizer_reference.json', async () => {
    const tok = await loadTokenizer(files('tokenizer'));
    for (const c of ref.encode_cases) {
      expect(tok.encode(c.text), c.text).toEqual(c.input_ids);
      expect(tok.encode(c.text, { addSpecialTokens: false }), c.text).toEqual(c.input_ids_no_special);
      expect(tok.decode(c.input_ids), c.text).toBe(c.decode);
      expect(tok.decode(c.input_ids, { skipSpecialTokens: true }), c.text).toBe(c.decode_skip_special);
    }
    expect(tok.decode([])).toBe('');
  });

  it('reproduces every chat-template case (text and ids)', async () => {
    const tok = await loadTokenizer(files('tokenizer'));
    for (const c of ref.chat_template_cases) {
      const out = tok.applyChatTemplate(c.messages, { addGenerationPrompt: c.add_generation_prompt });
      expect(out.text).toBe(c.text);
      expect(out.ids).toEqual(c.input_ids);
    }
  });

  it('knows its special tokens, vocabulary size and the SHA-256 of tokenizer.json', async () => {
    const tok = await loadTokenizer(files('tokenizer'));
    expect([tok.bosTokenId, tok.eosTokenIds, tok.padTokenId, tok.vocabSize, tok.hasChatTemplate]).toEqual([1, [2], 0, 512, true]);
    expect([...tok.specialTokenIds].sort()).toEqual(Object.values(ref.special_token_ids).sort());
    expect(tok.tokenizerSha256).toBe(createHash('sha256').update(fixtureBytes('tokenizer', 'tokenizer.json')).digest('hex'));
  });

  it("reproduces each fixture model's input ids (a, b, padded batch c, loss sequence) from its own folder", async () => {
    for (const m of MODELS) {
      const tok: Tokenizer = await loadTokenizerFrom(new NodeFolderSource(fixturePath(m)));
      const r = fixtureJson<Reference>(m, 'reference.json');
      expect(tok.encode(r.inputs.a.text), m).toEqual(r.inputs.a.input_ids);
      const b = tok.applyChatTemplate(r.inputs.b.messages, { addGenerationPrompt: true });
      expect(b.text).toBe(r.inputs.b.text);
      expect(b.ids, m).toEqual(r.inputs.b.input_ids);
      // Right padding with the pad id, as tokenizer(texts, padding=True) did.
      const rows = r.inputs.c.texts.map((t) => tok.encode(t));
      const width = Math.max(...rows.map((x) => x.length));
      expect(rows.map((x) => [...x, ...Array(width - x.length).fill(tok.padTokenId)]), m).toEqual(r.inputs.c.input_ids);
      expect(rows.map((x) => [...x.map(() => 1), ...Array(width - x.length).fill(0)])).toEqual(r.inputs.c.attention_mask);
      const full = tok.applyChatTemplate([...r.inputs.b.messages, { role: 'assistant', content: r.loss.response }], { addGenerationPrompt: false });
      expect(full.ids, m).toEqual(r.loss.input_ids);
      expect(r.loss.labels.slice(0, b.ids.length).every((l) => l === -100)).toBe(true);
      expect(r.loss.labels.slice(b.ids.length)).toEqual(full.ids.slice(b.ids.length));
    }
  });

  it('takes the chat template from chat_template.jinja and special tokens from special_tokens_map.json when tokenizer_config.json lacks them', async () => {
    const config = fixtureJson('tokenizer', 'tokenizer_config.json') as Record<string, unknown>;
    const { chat_template, eos_token: _e, ...rest } = config;
    const tok = await loadTokenizer({ ...files('tokenizer'), tokenizerConfig: JSON.stringify(rest), chatTemplate: chat_template as string });
    expect(tok.eosTokenIds).toEqual([2]);
    const c = ref.chat_template_cases[1];
    expect(tok.applyChatTemplate(c.messages, { addGenerationPrompt: true }).ids).toEqual(c.input_ids);
  });

  it('the vocabulary may be smaller than config.json vocab_size (padded embeddings) but not larger', async () => {
    const tok = await loadTokenizer(files('tokenizer'));
    const config = fixtureJson('llama', 'config.json');
    expect(() => checkTokenizerFits(parseModelConfig({ ...config, vocab_size: 640 }), tok)).not.toThrow();
    expect(() => checkTokenizerFits(parseModelConfig({ ...config, vocab_size: 400, pad_token_id: 0 }), tok)).toThrow(/tokenizer\.json: has 512 tokens but config\.json vocab_size is 400/);
  });
});

describe('tokenizer bad input', () => {
  const base = files('tokenizer');
  const fails = async (f: Parameters<typeof loadTokenizer>[0], pattern: RegExp) => {
    const err = await loadTokenizer(f).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.name).toBe('TokenizerError');
    expect(err?.message).toMatch(pattern);
  };

  it('names the file that does not load', async () => {
    await fails({ ...base, tokenizerJson: '{"model": ' }, /^tokenizer\.json: is not valid JSON/);
    await fails({ ...base, tokenizerJson: '{"version": "1.0"}' }, /^tokenizer\.json: has no "model" section/);
    await fails({ ...base, tokenizerJson: JSON.stringify({ model: { type: 'NoSuchModel', vocab: {} } }) }, /^tokenizer\.json: transformers\.js could not build the tokenizer/);
    await fails({ ...base, tokenizerConfig: '{,}' }, /^tokenizer_config\.json: is not valid JSON/);
  });

  it('a model without a chat template says so when asked to render messages', async () => {
    const config = fixtureJson('tokenizer', 'tokenizer_config.json') as Record<string, unknown>;
    const tok = await loadTokenizer({ ...base, tokenizerConfig: JSON.stringify({ ...config, chat_template: undefined }) });
    expect(tok.hasChatTemplate).toBe(false);
    expect(() => tok.applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(/tokenizer_config\.json: has no chat_template/);
  });
});
