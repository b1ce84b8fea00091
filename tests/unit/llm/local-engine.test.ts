import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../../src/llm/chat.ts';
import { ChatAbortedError } from '../../../src/llm/errors.ts';
import type { GenerateEvent, GenerateRequest, GenerateResult, Sink } from '../../../src/engine/api.ts';
import {
  engineWorkerGenerator,
  inProcessGenerator,
  LocalEngineChat,
  type EngineGenerate,
  type LocalGenerateOptions,
  type LocalGeneration,
  type LocalGenerator,
  type LocalToken,
} from '../../../src/llm/local-engine.ts';
import { cutAtStop, StopScanner } from '../../../src/llm/stop.ts';

/** A generator that "generates" fixed pieces, one per tick, and honours cancel(requestId). */
class FakeGenerator implements LocalGenerator {
  calls: { messages: ChatMessage[]; options: LocalGenerateOptions }[] = [];
  cancelled: string[] = [];
  constructor(
    private readonly pieces: string[],
    private readonly streams = true,
  ) {}

  async generate(messages: ChatMessage[], options: LocalGenerateOptions, onToken: (t: LocalToken) => void): Promise<LocalGeneration> {
    this.calls.push({ messages, options });
    const ids: number[] = [];
    for (let i = 0; i < Math.min(this.pieces.length, options.maxNewTokens); i++) {
      if (this.cancelled.includes(options.requestId)) return { ids, text: this.pieces.slice(0, i).join(''), promptTokens: 7, finishReason: 'cancelled' };
      await new Promise((r) => setTimeout(r, 1));
      ids.push(100 + i);
      if (this.streams) onToken({ id: 100 + i, text: this.pieces[i] });
    }
    return { ids, text: this.pieces.slice(0, ids.length).join(''), promptTokens: 7, finishReason: ids.length === this.pieces.length ? 'stop' : 'length' };
  }

  cancel(requestId: string): void {
    this.cancelled.push(requestId);
  }
}

describe('StopScanner', () => {
  it('holds back a possible stop prefix and cuts before the stop string, across pieces', () => {
    const s = new StopScanner(['\nUser:']);
    const shown = ['Sure, here', ' it is.\n', 'Us', 'er: hi'].map((p) => s.push(p));
    expect(shown).toEqual(['Sure, here', ' it is.', '', '']);
    expect(s.stopped).toBe(true);
    expect(s.value).toBe('Sure, here it is.');
  });

  it('releases what it held when generation ends without a stop', () => {
    const s = new StopScanner(['STOP']);
    expect(s.push('all ST')).toBe('all ');
    expect(s.finish()).toBe('ST');
    expect(s.value).toBe('all ST');
    expect(cutAtStop('one two three', ['two', 'one t'])).toBe('');
    expect(cutAtStop('abc', [])).toBe('abc');
  });
});

describe('LocalEngineChat', () => {
  it('passes messages and options through, streams tokens, reports ids and usage', async () => {
    const gen = new FakeGenerator(['Hel', 'lo', ' there', '!']);
    const chat = new LocalEngineChat(gen, 'student');
    const pieces: string[] = [];
    const result = await chat.chat([{ role: 'user', content: 'hi' }], { maxTokens: 10, onToken: (d) => pieces.push(d) });
    expect(result.text).toBe('Hello there!');
    expect(pieces.join('')).toBe('Hello there!');
    expect(result.tokenIds).toEqual([100, 101, 102, 103]);
    expect(result.usage).toEqual({ promptTokens: 7, completionTokens: 4 });
    expect(result.finishReason).toBe('stop');
    expect(gen.calls[0].messages).toEqual([{ role: 'user', content: 'hi' }]);
    expect(gen.calls[0].options).toMatchObject({ maxNewTokens: 10, temperature: 0 });
  });

  it('a stop string ends generation through cancel(requestId) and is not in the text', async () => {
    const gen = new FakeGenerator(['Yes.', '\nUs', 'er:', ' no', ' more', ' text']);
    const result = await new LocalEngineChat(gen, 's').chat([{ role: 'user', content: 'x' }], { stop: ['\nUser:'] });
    expect(result.text).toBe('Yes.');
    expect(result.finishReason).toBe('stop');
    expect(gen.cancelled).toEqual([gen.calls[0].options.requestId]);
    expect(result.tokenIds!.length).toBeLessThan(6);
  });

  it('an AbortSignal cancels the generation and rejects with ChatAbortedError', async () => {
    const gen = new FakeGenerator(Array.from({ length: 200 }, () => 'x'));
    const controller = new AbortController();
    const promise = new LocalEngineChat(gen, 's').chat([{ role: 'user', content: 'x' }], {
      signal: controller.signal,
      onToken: () => controller.abort(),
    });
    await expect(promise).rejects.toBeInstanceOf(ChatAbortedError);
    expect(gen.cancelled.length).toBe(1);
  });

  it('a generator that does not stream still yields the text once, stop strings applied', async () => {
    const gen = new FakeGenerator(['Plan: ', 'go', '###', 'junk'], false);
    const pieces: string[] = [];
    const result = await new LocalEngineChat(gen, 's').chat([{ role: 'user', content: 'x' }], { stop: ['###'], onToken: (d) => pieces.push(d) });
    expect(result.text).toBe('Plan: go');
    expect(pieces).toEqual(['Plan: go']);
    expect(result.finishReason).toBe('stop');
  });
});

/** An engine generate function that streams "a", "b", "c" (then a tail) unless its signal aborts. */
function fakeEngine(requests: GenerateRequest[]): EngineGenerate {
  return async (request, onEvent, signal) => {
    requests.push(request);
    const ids: number[] = [];
    for (const [i, text] of ['a', 'b', 'c'].entries()) {
      await new Promise((r) => setTimeout(r, 2));
      if (signal.aborted) return { text: ids.map((id) => 'abc'[id - 10]).join(''), ids, stop: 'cancelled', promptTokens: 5, prefilledTokens: 5, prefillMs: 1, decodeMs: 1, tokensPerSecond: 1, seed: 0 };
      ids.push(10 + i);
      onEvent({ type: 'token', id: 10 + i, index: i, text });
    }
    onEvent({ type: 'tail', text: '!' });
    return { text: 'abc!', ids, stop: 'eos', promptTokens: 5, prefilledTokens: 5, prefillMs: 1, decodeMs: 1, tokensPerSecond: 1, seed: 0 };
  };
}

describe('generators over the engine', () => {
  it('in process: maps options to the engine request (greedy at 0, stop strings) and events to text', async () => {
    const requests: GenerateRequest[] = [];
    const chat = new LocalEngineChat(inProcessGenerator(fakeEngine(requests)), 'student (engine)');
    const pieces: string[] = [];
    const result = await chat.chat([{ role: 'user', content: 'hi' }], { maxTokens: 9, stop: ['zz'], onToken: (d) => pieces.push(d) });
    expect(requests[0]).toEqual({ messages: [{ role: 'user', content: 'hi' }], maxNewTokens: 9, sampling: { greedy: true }, stop: ['zz'] });
    expect(result).toEqual({ text: 'abc!', tokenIds: [10, 11, 12], finishReason: 'stop', usage: { promptTokens: 5, completionTokens: 3 } });
    expect(pieces.join('')).toBe('abc!');
    await chat.chat([{ role: 'user', content: 'hi' }], { temperature: 0.7 });
    expect(requests[1].sampling).toEqual({ temperature: 0.7 });
  });

  it('in process: an AbortSignal aborts the engine\'s signal', async () => {
    const chat = new LocalEngineChat(inProcessGenerator(fakeEngine([])), 's');
    const controller = new AbortController();
    const pending = chat.chat([{ role: 'user', content: 'x' }], { signal: controller.signal, onToken: () => controller.abort() });
    await expect(pending).rejects.toBeInstanceOf(ChatAbortedError);
  });

  it('over the worker API: the sink goes through toSink, cancel(requestId) reaches the worker', async () => {
    const cancelled: string[] = [];
    const requests: GenerateRequest[] = [];
    const engine = fakeEngine(requests);
    const running = new Map<string, AbortController>();
    const api = {
      async generate(request: GenerateRequest, sink: Sink<GenerateEvent>, requestId: string): Promise<GenerateResult> {
        const c = new AbortController();
        running.set(requestId, c);
        return engine(request, sink, c.signal);
      },
      async cancel(requestId: string) {
        cancelled.push(requestId);
        running.get(requestId)?.abort();
      },
    };
    let proxied = 0;
    const toSink = (fn: (e: GenerateEvent) => void) => {
      proxied++;
      return fn as Sink<GenerateEvent>;
    };
    const chat = new LocalEngineChat(engineWorkerGenerator(api, toSink), 'student (worker)');
    expect((await chat.chat([{ role: 'user', content: 'x' }])).text).toBe('abc!');
    expect(proxied).toBe(1);
    const result = await chat.chat([{ role: 'user', content: 'x' }], { stop: ['b'] });
    expect(result.text).toBe('a');
    expect(cancelled.length).toBe(1);
  });
});
