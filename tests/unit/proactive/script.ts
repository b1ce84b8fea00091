// Shared pieces of the ProactiveEval tests: a scripted endpoint that answers by which of our
// prompts a request carries, backends pointed at it, and a small scenario.
import { OpenAiChat } from '../../../src/llm/openai.ts';
import type { PromptId } from '../../../src/proactive/prompts.ts';
import { makeScenario, type Scenario } from '../../../src/proactive/schema.ts';
import { promptKind, startOpenAiServer, type ScriptedReply, type ScriptedRequest, type ScriptedServer } from '../../helpers/openai-server.ts';

export type Handler = (request: ScriptedRequest, n: number) => string | ScriptedReply | Promise<string | ScriptedReply>;

/** An endpoint whose answers depend on the prompt kind; `n` counts requests of that kind from 0. */
export async function scriptedEndpoint(handlers: Partial<Record<PromptId | 'other', Handler>>): Promise<ScriptedServer & { count: (kind: PromptId) => number }> {
  const counts = new Map<string, number>();
  const server = await startOpenAiServer({
    respond: (request) => {
      const kind = promptKind(request);
      const n = counts.get(kind) ?? 0;
      counts.set(kind, n + 1);
      const handler = handlers[kind];
      if (!handler) throw new Error(`no script for ${kind}`);
      return handler(request, n);
    },
  });
  return Object.assign(server, { count: (kind: PromptId) => counts.get(kind) ?? 0 });
}

export function backend(url: string, model: string): OpenAiChat {
  return new OpenAiChat({ baseUrl: url, model, retry: { retries: 0 }, timeoutMs: 10_000 });
}

export { promptKind as kindOf };

export const ITEM = {
  environment: {
    user_information: 'Tom, 63, retired postman who walks his dog by the river every morning and photographs landscapes.',
    trigger_factor: 'Autumn migration is passing over the wetland; the reserve runs a guided bird walk on Saturday.',
  },
  target: 'Recommend the Saturday guided bird walk',
  sub_target: ['Compliment his heron photo', 'Share excitement about migration', 'Suggest the Saturday walk'],
  topic: 'Birdwatching',
};

export function scenario(domain: Scenario['domain'] = 'recommendation', index = 0, item = ITEM): Scenario {
  return makeScenario(item, domain, 'fair', index, `dataset/${domain}/fair.json`);
}
