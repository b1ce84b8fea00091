// A small local HTTP server that speaks the OpenAI chat-completions protocol (streamed SSE and
// whole JSON replies) and answers from a script, for tests of the endpoint backend, the tasks and
// the runner. Streams are written in awkward pieces (lines split mid-way, keep-alive comments,
// CRLF line ends) so that the client's parser is exercised.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatMessage } from '../../src/llm/chat.ts';
import { PROMPT_TEMPLATES, type PromptId } from '../../src/proactive/prompts.ts';

export interface ScriptedRequest {
  model: string;
  messages: ChatMessage[];
  stream: boolean;
  body: Record<string, unknown>;
  headers: IncomingMessage['headers'];
}

export interface ScriptedReply {
  text?: string;
  /** An HTTP error status (with `body` or a default OpenAI error body). */
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  /** Wait before answering. */
  delayMs?: number;
  /** Never answer (the client's timeout or cancel must end it). */
  hang?: boolean;
  /** Answer as JSON even if a stream was asked for. */
  ignoreStream?: boolean;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export type Responder = (request: ScriptedRequest, index: number) => string | ScriptedReply | Promise<string | ScriptedReply>;

export interface ServerOptions {
  respond: Responder;
  /** When set, requests must carry `Authorization: Bearer <apiKey>` (else 401). */
  apiKey?: string;
  /** When set, other model names get 404 "model not found". */
  models?: readonly string[];
  /** Base path the routes live under (default '/v1'). */
  basePath?: string;
  /** Answer CORS preflights and allow any origin, as local servers configured for browsers do (default false). */
  cors?: boolean;
}

export interface ScriptedServer {
  /** e.g. http://127.0.0.1:PORT (no /v1). */
  url: string;
  requests: ScriptedRequest[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { message, type: 'test_error' } }));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Streams `text` as SSE events written in uneven pieces. */
async function stream(res: ServerResponse, model: string, text: string, usage: ScriptedReply['usage']): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  const events: string[] = [': keep-alive\n\n'];
  const id = 'chatcmpl-test';
  events.push(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', model, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`);
  const pieces = text.match(/[\s\S]{1,7}/g) ?? [];
  pieces.forEach((piece, i) => {
    const eol = i % 3 === 1 ? '\r\n' : '\n';
    events.push(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', model, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] })}${eol}${eol}`);
    if (i % 4 === 2) events.push(':ping\n\n');
  });
  events.push(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
  if (usage) events.push(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', model, choices: [], usage })}\n\n`);
  events.push('data: [DONE]\n\n');
  // Write in pieces that cut lines (and \r\n pairs) at arbitrary places.
  const all = events.join('');
  for (let i = 0; i < all.length; i += 23) {
    res.write(all.slice(i, i + 23));
    if (i % 230 === 0) await sleep(1);
  }
  res.end();
}

export async function startOpenAiServer(options: ServerOptions): Promise<ScriptedServer> {
  const requests: ScriptedRequest[] = [];
  const basePath = options.basePath ?? '/v1';
  const server = createServer((req, res) => {
    void (async () => {
      if (options.cors) {
        res.setHeader('access-control-allow-origin', '*');
        if (req.method === 'OPTIONS') {
          res.writeHead(204, { 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'content-type, authorization', 'access-control-max-age': '600' });
          return res.end();
        }
      }
      if (req.method !== 'POST' || req.url !== `${basePath}/chat/completions`) return sendError(res, 404, `no route ${req.method} ${req.url}`);
      if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) return sendError(res, 401, 'Incorrect API key provided.');
      const body = JSON.parse(await readBody(req)) as Record<string, unknown>;
      const request: ScriptedRequest = {
        model: String(body.model),
        messages: body.messages as ChatMessage[],
        stream: body.stream === true,
        body,
        headers: req.headers,
      };
      if (options.models && !options.models.includes(request.model)) return sendError(res, 404, `The model '${request.model}' does not exist.`);
      const index = requests.length;
      requests.push(request);
      let reply: string | ScriptedReply;
      try {
        reply = await options.respond(request, index);
      } catch (err) {
        return sendError(res, 500, `script failed: ${(err as Error).message}`);
      }
      const r: ScriptedReply = typeof reply === 'string' ? { text: reply } : reply;
      if (r.delayMs) await sleep(r.delayMs);
      if (r.hang) return; // leave the socket open
      if (r.status && r.status >= 400) {
        res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
        res.end(r.body ?? JSON.stringify({ error: { message: `scripted ${r.status}` } }));
        return;
      }
      const text = r.text ?? '';
      if (request.stream && !r.ignoreStream) return stream(res, request.model, text, r.usage);
      res.writeHead(200, { 'content-type': 'application/json', ...r.headers });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-test',
          object: 'chat.completion',
          model: request.model,
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
          usage: r.usage,
        }),
      );
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Which of our prompts a request carries (by the first line of each template), for scripts that answer by prompt. */
export function promptKind(request: ScriptedRequest): PromptId | 'other' {
  const firstUser = request.messages.find((m) => m.role === 'user')?.content ?? '';
  const system = request.messages.find((m) => m.role === 'system')?.content ?? '';
  const starts = (id: PromptId, text: string): boolean => text.startsWith(PROMPT_TEMPLATES[id].text.split('\n')[0]);
  for (const id of ['planning.model', 'planning.judge', 'guidance.check', 'guidance.judge', 'guidance.density'] as const) if (starts(id, firstUser)) return id;
  if (starts('guidance.model', system)) return 'guidance.model';
  if (starts('user.simulator', system)) return 'user.simulator';
  return 'other';
}
