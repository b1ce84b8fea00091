// Streaming decode: text deltas never split a character, and together they are the whole decode.
import { describe, expect, it } from 'vitest';
import { IncrementalDecoder, promptIds } from '../../../src/engine/models/text-generation.ts';
import { loadTokenizer, type Tokenizer } from '../../../src/formats/tokenizer.ts';
import { fixtureBytes } from '../formats/fixtures.ts';

async function fixtureTokenizer(): Promise<Tokenizer> {
  return loadTokenizer({
    tokenizerJson: fixtureBytes('llama', 'tokenizer.json'),
    tokenizerConfig: fixtureBytes('llama', 'tokenizer_config.json'),
    specialTokensMap: fixtureBytes('llama', 'special_tokens_map.json'),
  });
}

function stream(tok: Tokenizer, ids: readonly number[]): { deltas: string[]; tail: string } {
  const d = new IncrementalDecoder((x) => tok.decode(x, { skipSpecialTokens: true }));
  const deltas = ids.map((id) => d.push(id));
  return { deltas, tail: d.flush() };
}

describe('IncrementalDecoder (byte-level BPE of the fixtures)', () => {
  it('releases multi-byte characters whole, and the deltas add up to the whole decode', async () => {
    const tok = await fixtureTokenizer();
    const text = 'Café au lait? 世界 🎉 naïve <|im_end|> done';
    const ids = tok.encode(text, { addSpecialTokens: false });
    // The 512-token vocabulary has no merges for these characters: they arrive byte by byte.
    expect(ids.length).toBeGreaterThan(text.length / 2);
    const { deltas, tail } = stream(tok, ids);
    expect(deltas.join('') + tail).toBe(tok.decode(ids, { skipSpecialTokens: true }));
    for (const d of deltas) expect(d).not.toContain('\uFFFD');
    expect(tail).toBe('');
  });

  it('holds back a character until its last byte arrives', async () => {
    const tok = await fixtureTokenizer();
    const ids = tok.encode('a🎉', { addSpecialTokens: false });
    const { deltas } = stream(tok, ids);
    expect(deltas[0]).toBe('a');
    expect(deltas.slice(1, -1).every((d) => d === '')).toBe(true);
    expect(deltas.at(-1)).toBe('🎉');
  });

  it('flushes an unfinished character as U+FFFD at the end', async () => {
    const tok = await fixtureTokenizer();
    const ids = tok.encode('ok🎉', { addSpecialTokens: false }).slice(0, -1);
    const { deltas, tail } = stream(tok, ids);
    expect(deltas.join('')).toBe('ok');
    expect(tail).toContain('\uFFFD');
    expect(deltas.join('') + tail).toBe(tok.decode(ids, { skipSpecialTokens: true }));
  });

  it('gives nothing for special tokens when they are skipped', async () => {
    const tok = await fixtureTokenizer();
    const { deltas } = stream(tok, [2, ...tok.encode('hi', { addSpecialTokens: false }), 2]);
    expect(deltas.join('')).toBe('hi');
    expect(deltas[0]).toBe('');
    expect(deltas.at(-1)).toBe('');
  });
});

describe('promptIds', () => {
  it('renders chat messages with the generation prompt, or encodes plain text', async () => {
    const tok = await fixtureTokenizer();
    const messages = [{ role: 'user', content: 'Hello there' }];
    expect(promptIds(tok, { messages })).toEqual(tok.applyChatTemplate(messages, { addGenerationPrompt: true }).ids);
    expect(promptIds(tok, { prompt: 'Hello' })).toEqual(tok.encode('Hello'));
    expect(() => promptIds(tok, { prompt: '' })).toThrow(/the prompt is empty/);
    expect(() => promptIds(tok, { messages: [] })).toThrow(/no messages/);
    expect(() => promptIds(tok, { messages, prompt: 'x' })).toThrow(/either chat messages or a prompt/);
  });
});
