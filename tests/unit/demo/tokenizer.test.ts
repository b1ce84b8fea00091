import { describe, expect, it } from 'vitest';
import { renderChatml } from '../../../src/demo/data-files.ts';
import { loadTokenizer, type ChatMessage } from '../../../src/formats/tokenizer.ts';
import { demoText, demoTokenizerFiles, heldoutPairs, sftRecords, trainPairs } from './files.ts';

const SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

describe('demo tokenizer (public/demo/tokenizer, loaded by transformers.js)', () => {
  it('has 2048 tokens, the three specials as ids 0–2, ChatML eos and padding', async () => {
    const tok = await loadTokenizer(demoTokenizerFiles());
    expect(tok.vocabSize).toBe(2048);
    SPECIALS.forEach((s, id) => expect(tok.encode(s, { addSpecialTokens: false }), s).toEqual([id]));
    expect(tok.eosTokenIds).toEqual([2]);
    expect(tok.padTokenId).toBe(0);
    expect(tok.encode('Hi there', { addSpecialTokens: true })).toEqual(tok.encode('Hi there', { addSpecialTokens: false }));
    const json = JSON.parse(demoText('tokenizer/tokenizer.json'));
    expect(json.model.type).toBe('BPE');
    expect(json.pre_tokenizer).toEqual({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true });
    expect(json.decoder.type).toBe('ByteLevel');
    expect(Object.keys(json.model.vocab)).toHaveLength(2048);
    expect(json.model.merges).toHaveLength(2048 - 3 - 256);
  });

  it('renders chat messages as ChatML and tokenizes the specials as single tokens', async () => {
    const tok = await loadTokenizer(demoTokenizerFiles());
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You are a proactive assistant.' },
      { role: 'user', content: '(Start the chat.)' },
      { role: 'assistant', content: 'Maya, the printer says it is offline.' },
    ];
    const { text, ids } = tok.applyChatTemplate(messages, { addGenerationPrompt: false });
    expect(text).toBe(
      '<|im_start|>system\nYou are a proactive assistant.<|im_end|>\n<|im_start|>user\n(Start the chat.)<|im_end|>\n<|im_start|>assistant\nMaya, the printer says it is offline.<|im_end|>\n',
    );
    expect(text).toBe(renderChatml(messages));
    expect(ids.filter((id) => id === 1)).toHaveLength(3);
    expect(ids.filter((id) => id === 2)).toHaveLength(3);
    const open = tok.applyChatTemplate(messages.slice(0, 2), { addGenerationPrompt: true });
    expect(open.text.endsWith('<|im_end|>\n<|im_start|>assistant\n')).toBe(true);
  });

  it('round-trips every text of the demo corpus and odd unicode and whitespace exactly', { timeout: 120_000 }, async () => {
    const tok = await loadTokenizer(demoTokenizerFiles());
    const texts: string[] = [
      'Zoë, José, Chloé and Søren met at the café — 🙂 naïve ΑΒΓ ありがとう 中文 ﬁ',
      '  two leading spaces, trailing tab\t\n\n\nthree newlines\r\nand CRLF   ',
      "it's we'll they'd I'M 3.14 1,000,000 $5 #tag @name <b>bold</b>",
      '<|im_start|>user\nspecial tokens inline<|im_end|>\n<|endoftext|>',
      '\u0000\u0007 control bytes \u00ad soft hyphen',
    ];
    for (const p of [...trainPairs(), ...heldoutPairs()]) {
      texts.push(renderChatml([...p.prompt, { role: 'assistant', content: p.chosen }]), p.rejected);
    }
    for (const s of sftRecords()) texts.push(renderChatml([...s.prompt, { role: 'assistant', content: s.response }]));
    for (const line of demoText('data/scenarios.heldout.json').split('\n')) texts.push(line);
    let failures = 0;
    for (const text of texts) {
      const back = tok.decode(tok.encode(text, { addSpecialTokens: false }));
      if (back !== text && failures++ < 3) expect(back).toBe(text);
    }
    expect(failures).toBe(0);
  });
});
