// The ONNX backend on the tiny llama fixture (transformers.js + onnxruntime-node, CPU).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ChatAbortedError } from '../../../src/llm/errors.ts';
import { loadTransformersChat, TransformersContextError, TransformersModelError } from '../../../src/llm/transformers.ts';
import { FIXTURES_DIR } from '../../helpers/fixtures.ts';

const FIXTURES = FIXTURES_DIR;
const reference = JSON.parse(readFileSync(`${FIXTURES}/llama/reference.json`, 'utf8')) as { generate: { new_token_ids: number[]; new_text: string } };
// Input (b) of the fixture: the chat the reference generation started from.
const CHAT = [
  { role: 'system' as const, content: 'You are a friendly assistant who answers briefly.' },
  { role: 'user' as const, content: 'What time does the bakery open on Sundays?' },
];

describe('TransformersChat (llama fixture, ONNX on CPU)', () => {
  it('greedy generation gives exactly the reference ids, and the streamed text is the reference text', async () => {
    const chat = await loadTransformersChat({ model: 'llama', localModelPath: FIXTURES });
    const pieces: string[] = [];
    const result = await chat.chat(CHAT, { maxTokens: 24, onToken: (d) => pieces.push(d) });
    expect(result.tokenIds).toEqual(reference.generate.new_token_ids);
    expect(result.text).toBe(reference.generate.new_text);
    expect(pieces.join('')).toBe(result.text);
    expect(result.usage).toEqual({ promptTokens: 68, completionTokens: 24, totalTokens: 92 });
    expect(result.finishReason).toBe('length');
  });

  it('a stop string cuts the text and ends generation early', async () => {
    const chat = await loadTransformersChat({ model: 'llama', localModelPath: FIXTURES });
    const stop = reference.generate.new_text.slice(10, 14);
    const result = await chat.chat(CHAT, { maxTokens: 24, stop: [stop] });
    expect(result.text).toBe(reference.generate.new_text.slice(0, reference.generate.new_text.indexOf(stop)));
    expect(result.tokenIds!.length).toBeLessThan(24);
    expect(result.tokenIds).toEqual(reference.generate.new_token_ids.slice(0, result.tokenIds!.length));
  });

  it('an aborted signal rejects with ChatAbortedError; a folder that is not a model is named', async () => {
    const chat = await loadTransformersChat({ model: 'llama', localModelPath: FIXTURES });
    const controller = new AbortController();
    controller.abort();
    await expect(chat.chat(CHAT, { signal: controller.signal })).rejects.toBeInstanceOf(ChatAbortedError);
    const err = await loadTransformersChat({ model: 'no-such-model', localModelPath: FIXTURES }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransformersModelError);
    expect((err as Error).message).toMatch(/no-such-model/);
  });

  it('fits the reply into the context (max_position_embeddings 256): lowered to what the prompt leaves, refused when none is left', async () => {
    const chat = await loadTransformersChat({ model: 'llama', localModelPath: FIXTURES });
    // 68 prompt tokens leave 188: asking for more gives at most that (the reference's first 24 ids start it).
    const long = await chat.chat(CHAT, { maxTokens: 1000 });
    expect(long.usage?.completionTokens).toBeLessThanOrEqual(256 - 68);
    expect(long.tokenIds!.slice(0, 24)).toEqual(reference.generate.new_token_ids);
    if (long.finishReason === 'length') expect(long.usage?.completionTokens).toBe(256 - 68);
    const tooLong = [{ role: 'user' as const, content: 'Tell me about the bakery. '.repeat(60) }];
    const err = await chat.chat(tooLong, { maxTokens: 8 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransformersContextError);
    expect((err as Error).message).toMatch(/^The prompt is \d+ tokens long, and the context of llama \(ONNX\) holds 256 tokens/);
  });
});
