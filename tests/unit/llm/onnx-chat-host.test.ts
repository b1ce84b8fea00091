// The teacher worker's ONNX chat model (workers/teacher-host.ts, slot 'chat') in Node: transformers.js
// on the CPU with the llama fixture, behind LocalEngineChat as the page puts it (src/app/
// proactive-client.svelte.ts). Greedy replies are the fixture's reference generation, streamed piece
// by piece; stop strings, cancel, the chat slot beside the teacher's, unload, and a model without a
// chat template are checked.
import 'fake-indexeddb/auto';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NodeFolderSource } from '../../../src/formats/source.node.ts';
import type { ChatMessage } from '../../../src/llm/chat.ts';
import { LocalEngineChat, type LocalGenerator, type LocalToken } from '../../../src/llm/local-engine.ts';
import { openLabDb } from '../../../src/store/db.ts';
import { TeacherHost } from '../../../workers/teacher-host.ts';
import { FIXTURES_DIR } from '../../helpers/fixtures.ts';

const LLAMA = join(FIXTURES_DIR, 'llama');
const reference = JSON.parse(await readFile(join(LLAMA, 'reference.json'), 'utf8')) as { generate: { new_token_ids: number[]; new_text: string } };
// Input (b) of the fixture: the chat its reference generation started from.
const CHAT: ChatMessage[] = [
  { role: 'system', content: 'You are a friendly assistant who answers briefly.' },
  { role: 'user', content: 'What time does the bakery open on Sundays?' },
];
const never = new AbortController().signal;

/** A host as the worker makes it (no WebGPU in Node: the CPU), with `folder` loaded into the chat slot. */
async function chatHost(folder = LLAMA): Promise<TeacherHost> {
  const host = new TeacherHost({ db: () => openLabDb('onnx-chat'), gpu: () => Promise.reject(new Error('no WebGPU in Node')) }, { fallback: 'cpu' });
  await host.load(new NodeFolderSource(folder), null, { device: 'webgpu', slot: 'chat' }, () => undefined, never);
  return host;
}

/** What the page's TeacherClient.generator() does, minus the worker: cancel aborts the request's signal. */
function generatorOver(host: TeacherHost): LocalGenerator {
  const controllers = new Map<string, AbortController>();
  return {
    generate(messages, options, onToken) {
      const controller = new AbortController();
      controllers.set(options.requestId, controller);
      return host.generate(messages, options, onToken, controller.signal);
    },
    cancel: (requestId) => controllers.get(requestId)?.abort(),
  };
}

describe('the ONNX chat model of the teacher worker (TeacherHost, CPU)', () => {
  it('greedy: the reference ids and text, streamed in pieces, in its own slot beside the teacher’s', async () => {
    const host = await chatHost();
    expect(host.cardOf('chat')).toMatchObject({ name: LLAMA, device: 'cpu', fallback: 'no WebGPU in Node', vocab: 512, context: 256 });
    expect(host.card).toBeNull();
    const tokens: LocalToken[] = [];
    const result = await host.generate(CHAT, { requestId: 'r1', maxNewTokens: 24, temperature: 0 }, (t) => tokens.push(t), never);
    expect(result).toEqual({ ids: reference.generate.new_token_ids, text: reference.generate.new_text, promptTokens: 68, finishReason: 'length' });
    expect(tokens.length).toBeGreaterThan(1);
    expect(tokens.map((t) => t.text).join('')).toBe(reference.generate.new_text);

    // A teacher loaded next to it leaves the chat model in place.
    await host.load(new NodeFolderSource(LLAMA), null, { device: 'cpu' }, () => undefined, never);
    expect(host.card?.name).toBe(LLAMA);
    const again = await host.generate(CHAT, { requestId: 'r2', maxNewTokens: 24, temperature: 0 }, () => undefined, never);
    expect(again.ids).toEqual(reference.generate.new_token_ids);
    await host.unload('chat');
    expect(host.card?.name).toBe(LLAMA);
    const gone = host.generate(CHAT, { requestId: 'r3', maxNewTokens: 4, temperature: 0 }, () => undefined, never);
    await expect(gone).rejects.toMatchObject({ name: 'NoModelError' });
    await expect(gone).rejects.toThrow('No ONNX chat model is loaded.');
  });

  it('behind LocalEngineChat (as the Arena uses it): stop strings cut the reply, cancel rejects with ChatAbortedError', async () => {
    const host = await chatHost();
    const chat = new LocalEngineChat(generatorOver(host), 'llama (ONNX, transformers.js)');
    const stop = reference.generate.new_text.slice(10, 14);
    const streamed: string[] = [];
    const cut = await chat.chat(CHAT, { maxTokens: 24, stop: [stop], onToken: (d) => streamed.push(d) });
    expect(cut.text).toBe(reference.generate.new_text.slice(0, reference.generate.new_text.indexOf(stop)));
    expect(streamed.join('')).toBe(cut.text);
    expect(cut.finishReason).toBe('stop');
    expect(cut.tokenIds).toEqual(reference.generate.new_token_ids.slice(0, cut.tokenIds!.length));
    expect(cut.tokenIds!.length).toBeLessThan(24);

    const controller = new AbortController();
    let pieces = 0;
    const cancelled = chat.chat(CHAT, {
      maxTokens: 24,
      signal: controller.signal,
      onToken: () => {
        if (++pieces === 2) controller.abort();
      },
    });
    await expect(cancelled).rejects.toMatchObject({ name: 'ChatAbortedError' });
    expect(pieces).toBeLessThan(24);
  });

  it('refuses a model whose tokenizer has no chat template, naming it', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'onnx-chat-no-template-'));
    await cp(LLAMA, folder, { recursive: true });
    const config = JSON.parse(await readFile(join(folder, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    delete config.chat_template;
    await writeFile(join(folder, 'tokenizer_config.json'), JSON.stringify(config));
    const refused = chatHost(folder);
    await expect(refused).rejects.toMatchObject({ name: 'OnnxTeacherError' });
    await expect(refused).rejects.toThrow(/has no chat_template, so it cannot be talked to/);
  });
});
