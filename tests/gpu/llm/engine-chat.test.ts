// The lab's engine behind the chat interface (LocalEngineChat over the engine's generate in this
// process, as the CLI uses it), and `student-lab eval` with a local model folder.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { loadModelArg } from '../../../src/cli/model-arg.ts';
import { GenerationSession } from '../../../src/engine/models/generate.ts';
import { generateText } from '../../../src/engine/models/text-generation.ts';
import { inProcessGenerator, LocalEngineChat } from '../../../src/llm/local-engine.ts';
import type { ResultsDocument } from '../../../src/proactive/export.ts';
import { FIXTURES_DIR, fixture } from '../../helpers/fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'engine-chat-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = { out: () => undefined, err: () => undefined };

describe('LocalEngineChat on the engine', () => {
  it('greedy chat on the llama fixture gives the reference ids, streamed text adding up', async () => {
    const { gpu, model } = await loadModelArg(join(FIXTURES_DIR, 'llama'), quiet);
    const session = new GenerationSession(model.decoder, 128);
    try {
      const chat = new LocalEngineChat(
        inProcessGenerator((request, onEvent, signal) =>
          generateText(session, model.files.tokenizer, { messages: request.messages }, { ...request.sampling, maxNewTokens: request.maxNewTokens, stop: request.stop, eosTokenIds: model.files.stopTokenIds, signal, onEvent }),
        ),
        'llama (engine)',
      );
      const pieces: string[] = [];
      const result = await chat.chat(
        [
          { role: 'system', content: 'You are a friendly assistant who answers briefly.' },
          { role: 'user', content: 'What time does the bakery open on Sundays?' },
        ],
        { maxTokens: 24, onToken: (d) => pieces.push(d) },
      );
      expect(result.tokenIds).toEqual(fixture('llama').info.generate.new_token_ids);
      expect(pieces.join('')).toBe(result.text);
      expect(result.usage).toEqual({ promptTokens: 68, completionTokens: 24 });
    } finally {
      session.release();
      await gpu.destroy();
    }
  });

  it('`eval --model <folder>` runs the engine; a prompt longer than the model\'s context is a clear item error', async () => {
    const out = join(dir, 'engine.json');
    const err: string[] = [];
    const code = await main(['eval', '--task', 'planning', '--model', join(FIXTURES_DIR, 'qwen2'), '--domains', 'rec', '--limit', '1', '--out', out], {
      out: () => undefined,
      err: (l) => err.push(l),
    });
    expect(code).toBe(1);
    const doc = JSON.parse(readFileSync(out, 'utf8')) as ResultsDocument;
    expect(doc.items[0]).toMatchObject({ modelLabel: 'qwen2 (engine)', status: 'error', error: { name: 'ShapeError' } });
    expect(doc.items[0].error!.message).toMatch(/exceed the session's context of 256/);
    expect(err.join('\n')).toMatch(/1 items failed; rerun the same command to retry them/);
  });
});
