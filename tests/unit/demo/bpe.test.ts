import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../../src/formats/tokenizer.ts';
import { FIXTURES_DIR } from '../../helpers/fixtures.ts';
import { BYTE_TO_UNICODE, byteLevelPieces, specialTokensMapJson, tokenizerConfigJson, tokenizerJson, trainBpe } from '../../../src/demo/bpe.ts';

const FIXTURE = pathToFileURL(`${FIXTURES_DIR}/tokenizer/`);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURE), 'utf8');
const SPECIALS = { endOfText: '<|endoftext|>', imStart: '<|im_start|>', imEnd: '<|im_end|>' };
const SPECIAL_LIST = [SPECIALS.endOfText, SPECIALS.imStart, SPECIALS.imEnd];

describe('byte-level pre-tokenisation', () => {
  it("maps the 256 bytes to distinct printable characters, printable Latin-1 to themselves (GPT-2's table)", () => {
    expect(new Set(BYTE_TO_UNICODE).size).toBe(256);
    expect(BYTE_TO_UNICODE[0x41]).toBe('A');
    expect(BYTE_TO_UNICODE[0xe9]).toBe('é');
    expect(BYTE_TO_UNICODE[0x20]).toBe('Ġ');
    expect(BYTE_TO_UNICODE[0x0a]).toBe('Ċ');
    expect(BYTE_TO_UNICODE[0x00]).toBe('Ā');
    expect(BYTE_TO_UNICODE[0xad]).toBe('\u0143'); // the soft hyphen is the 68th unprintable byte: 256 + 67
  });

  it('splits like the GPT-2 regex: contractions, letters, digits, other, whitespace runs', () => {
    expect(byteLevelPieces("Hello world!  It's 42")).toEqual(['Hello', 'Ġworld', '!', 'Ġ', 'ĠIt', "'s", 'Ġ42']);
    expect(byteLevelPieces('a\n\nb')).toEqual(['a', 'Ċ', 'Ċ', 'b']); // a whitespace run keeps its last char for the next word
    expect(byteLevelPieces('café')).toEqual(['cafÃ©']); // é = C3 A9
  });
});

describe('BPE trainer', () => {
  it('merges the most frequent pair, ties to the smallest ids, and stops when nothing is left to merge', () => {
    // "abab ab": (a,b) occurs 3 times; then (ab,ab) and (Ġ,ab) tie at 1 and Ġ (a byte) has the smaller id.
    const bpe = trainBpe(['abab ab'], { vocabSize: 400, specialTokens: SPECIAL_LIST });
    expect(bpe.merges).toEqual([['a', 'b'], ['Ġ', 'ab'], ['ab', 'ab']]);
    expect(bpe.vocab.size).toBe(3 + 256 + 3);
    expect(bpe.vocab.get('abab')).toBe(261);
  });

  it('applies a merge left to right without overlaps', () => {
    // "aaa": (a,a) counts 2 but merges once, giving [aa, a].
    expect(trainBpe(['aaa'], { vocabSize: 400, specialTokens: [] }).merges).toEqual([['a', 'a'], ['aa', 'a']]);
  });

  it('keeps special tokens out of the merges and gives them the first ids', () => {
    const bpe = trainBpe(['<|im_start|>ab<|im_end|>'], { vocabSize: 400, specialTokens: SPECIAL_LIST });
    expect(bpe.merges).toEqual([['a', 'b']]);
    expect([0, 1, 2].map((i) => [...bpe.vocab.keys()][i])).toEqual(SPECIAL_LIST);
  });

  it('refuses a vocabulary smaller than the specials plus 256 bytes', () => {
    expect(() => trainBpe(['x'], { vocabSize: 258, specialTokens: SPECIAL_LIST })).toThrow(/vocabSize must be an integer from 259/);
  });

  it("reproduces the fixture tokenizer (trained by HF tokenizers' BpeTrainer, 512 tokens) byte for byte", () => {
    const bpe = trainBpe([fixture('corpus.txt')], { vocabSize: 512, specialTokens: SPECIAL_LIST });
    expect(tokenizerJson(bpe)).toBe(fixture('tokenizer.json'));
    expect(tokenizerConfigJson(bpe, SPECIALS, 256)).toBe(fixture('tokenizer_config.json'));
    expect(specialTokensMapJson(SPECIALS)).toBe(fixture('special_tokens_map.json'));
  });

  it('a 512-token version gives the fixture tokenizer’s token count on the fixture corpus within 5 %', async () => {
    const corpus = fixture('corpus.txt');
    const bpe = trainBpe(corpus.split('\n'), { vocabSize: 512, specialTokens: SPECIAL_LIST });
    const ours = await loadTokenizer({ tokenizerJson: tokenizerJson(bpe), tokenizerConfig: tokenizerConfigJson(bpe, SPECIALS, 256) });
    const theirs = await loadTokenizer({ tokenizerJson: fixture('tokenizer.json'), tokenizerConfig: fixture('tokenizer_config.json') });
    const n = ours.encode(corpus).length;
    const m = theirs.encode(corpus).length;
    expect(Math.abs(n - m) / m).toBeLessThanOrEqual(0.05);
    expect(ours.decode(ours.encode(corpus))).toBe(corpus);
  });
});
