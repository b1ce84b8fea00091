import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ChatAbortedError,
  EndpointAuthError,
  EndpointDownError,
  EndpointHttpError,
  EndpointModelError,
  EndpointProtocolError,
  EndpointTimeoutError,
} from '../../../src/llm/errors.ts';
import { chatCompletionsUrl, OpenAiChat, type OpenAiEndpointConfig } from '../../../src/llm/openai.ts';
import { backoffDelay, parseRetryAfter } from '../../../src/llm/retry.ts';
import { startOpenAiServer, type ScriptedServer, type ServerOptions } from '../../helpers/openai-server.ts';

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(options: ServerOptions): Promise<ScriptedServer> {
  server = await startOpenAiServer(options);
  return server;
}

function client(url: string, extra: Partial<OpenAiEndpointConfig> = {}): OpenAiChat {
  return new OpenAiChat({ baseUrl: url, model: 'm', retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 20 }, ...extra });
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A fetch that answers with a stream of the given byte pieces. */
function fetchStreaming(pieces: (string | Uint8Array)[], contentType = 'text/event-stream'): typeof fetch {
  return async () =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const p of pieces) controller.enqueue(typeof p === 'string' ? new TextEncoder().encode(p) : p);
          controller.close();
        },
      }),
      { status: 200, headers: { 'content-type': contentType } },
    );
}

describe('chatCompletionsUrl', () => {
  it('accepts base URLs with or without /v1, trailing slashes and full routes', () => {
    expect(chatCompletionsUrl('http://localhost:11434')).toBe('http://localhost:11434/v1/chat/completions');
    expect(chatCompletionsUrl('http://localhost:11434/')).toBe('http://localhost:11434/v1/chat/completions');
    expect(chatCompletionsUrl('https://api.openai.com/v1')).toBe('https://api.openai.com/v1/chat/completions');
    expect(chatCompletionsUrl('https://api.openai.com/v1/')).toBe('https://api.openai.com/v1/chat/completions');
    expect(chatCompletionsUrl('https://host/api/openai')).toBe('https://host/api/openai/chat/completions');
    expect(chatCompletionsUrl('https://host/v1beta/openai/')).toBe('https://host/v1beta/openai/chat/completions');
    expect(chatCompletionsUrl('http://h:8000/v1/chat/completions')).toBe('http://h:8000/v1/chat/completions');
    expect(chatCompletionsUrl('http://h:8000/proxy')).toBe('http://h:8000/proxy/v1/chat/completions');
  });

  it('names a bad URL', () => {
    expect(() => chatCompletionsUrl('localhost:11434')).toThrow(/not an http\(s\) URL|not a URL/);
    expect(() => chatCompletionsUrl('not a url')).toThrow(/"not a url" is not a URL/);
  });

  it('in the page, refuses plain http to another machine (its CSP would block it), naming the way out', () => {
    const page = 'https://lab.example.org';
    expect(() => chatCompletionsUrl('http://192.168.1.20:11434', page)).toThrow(
      expect.objectContaining({
        name: 'EndpointUrlError',
        message: expect.stringMatching(
          /^The page cannot reach 192\.168\.1\.20:11434 over plain http: its Content-Security-Policy allows http only to this machine .*\nHint: Use https, or tunnel .*\(e\.g\. ssh -L 11434:localhost:11434 192\.168\.1\.20\) and use http:\/\/localhost:11434\.$/,
        ),
      }),
    );
    expect(() => chatCompletionsUrl('http://[::1]:8080', page)).toThrow(/cannot reach \[::1\]:8080 over plain http/);
    // What the policy allows: https anywhere, http on this machine and to the page's own origin.
    expect(chatCompletionsUrl('https://192.168.1.20:11434', page)).toBe('https://192.168.1.20:11434/v1/chat/completions');
    expect(chatCompletionsUrl('http://localhost:11434', page)).toBe('http://localhost:11434/v1/chat/completions');
    expect(chatCompletionsUrl('http://127.0.0.1:8080/v1', page)).toBe('http://127.0.0.1:8080/v1/chat/completions');
    expect(chatCompletionsUrl('http://lab.local:8000/v1', 'http://lab.local:8000')).toBe('http://lab.local:8000/v1/chat/completions');
  });

  it('in Node (the CLI, no CSP), lets plain http go anywhere', () => {
    expect(chatCompletionsUrl('http://192.168.1.20:11434')).toBe('http://192.168.1.20:11434/v1/chat/completions');
  });
});

describe('retry timing', () => {
  it('backs off exponentially with jitter inside [cap/2, cap]', () => {
    const policy = { retries: 5, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 5000 };
    expect(backoffDelay(0, policy, () => 0)).toBe(50);
    expect(backoffDelay(0, policy, () => 1)).toBe(100);
    expect(backoffDelay(2, policy, () => 0.5)).toBe(300);
    expect(backoffDelay(9, policy, () => 1)).toBe(1000);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('0.5')).toBe(500);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('OpenAiChat', () => {
  it('streams: the pieces given to onToken make up the text; usage and the request body are right', async () => {
    const text = 'Hello there! Ça va? 你好 — a longer reply that spans many stream chunks.';
    const s = await serve({ respond: () => ({ text, usage: { prompt_tokens: 11, completion_tokens: 17, total_tokens: 28 } }) });
    const pieces: string[] = [];
    const result = await client(s.url).chat([{ role: 'user', content: 'hi' }], { maxTokens: 64, stop: ['###'], onToken: (d) => pieces.push(d) });
    expect(result.text).toBe(text);
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.join('')).toBe(text);
    expect(result.usage).toEqual({ promptTokens: 11, completionTokens: 17, totalTokens: 28 });
    expect(result.finishReason).toBe('stop');
    const body = s.requests[0].body;
    expect(body).toMatchObject({ model: 'm', stream: true, temperature: 0, max_tokens: 64, stop: ['###'], messages: [{ role: 'user', content: 'hi' }] });
    expect(s.requests[0].headers.authorization).toBeUndefined();
  });

  it('non-stream mode, and a server that ignores `stream`, both return the whole text', async () => {
    const s = await serve({ respond: (_, i) => (i === 0 ? 'plain reply' : { text: 'json despite stream', ignoreStream: true }) });
    const whole = await client(s.url, { stream: false }).chat([{ role: 'user', content: 'a' }]);
    expect(whole.text).toBe('plain reply');
    expect(s.requests[0].stream).toBe(false);
    const pieces: string[] = [];
    const ignored = await client(s.url).chat([{ role: 'user', content: 'b' }], { onToken: (d) => pieces.push(d) });
    expect(ignored.text).toBe('json despite stream');
    expect(pieces).toEqual(['json despite stream']);
  });

  it('sends the API key as a bearer token, and works with a base URL ending in /v1', async () => {
    const s = await serve({ apiKey: 'sk-test', respond: () => 'ok' });
    const result = await client(`${s.url}/v1/`, { apiKey: 'sk-test' }).chat([{ role: 'user', content: 'x' }]);
    expect(result.text).toBe('ok');
    expect(s.requests[0].headers.authorization).toBe('Bearer sk-test');
  });

  it('a refused key is EndpointAuthError ("the endpoint refused the key"), not retried', async () => {
    const s = await serve({ apiKey: 'right', respond: () => 'never' });
    const err = await client(s.url, { apiKey: 'wrong' }).chat([{ role: 'user', content: 'x' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EndpointAuthError);
    expect((err as Error).name).toBe('EndpointAuthError');
    expect((err as Error).message).toMatch(/refused the key \(HTTP 401/);
    expect((err as Error).message).toMatch(/Incorrect API key/);
    expect(s.requests.length).toBe(0);
  });

  it('an unknown model is EndpointModelError with the server message', async () => {
    const s = await serve({ models: ['real-model'], respond: () => 'never' });
    const err = await client(s.url).chat([{ role: 'user', content: 'x' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EndpointModelError);
    expect((err as Error).message).toMatch(/no model "m".*does not exist/s);
  });

  it('retries 429 after the Retry-After the server asks for (not the long backoff)', async () => {
    const s = await serve({ respond: (_, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '0.2' } } : 'after the wait') });
    const started = Date.now();
    // A 60 s backoff would time the test out: only the 0.2 s Retry-After can be used.
    const result = await client(s.url, { retry: { retries: 2, baseDelayMs: 60_000, maxDelayMs: 60_000 } }).chat([{ role: 'user', content: 'x' }]);
    expect(result.text).toBe('after the wait');
    expect(s.requests.length).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('retries 5xx with backoff and gives up with the last status after the allowed retries', async () => {
    const s = await serve({ respond: (_, i) => (i < 2 ? { status: 503 } : 'recovered') });
    expect((await client(s.url).chat([{ role: 'user', content: 'x' }])).text).toBe('recovered');
    expect(s.requests.length).toBe(3);
    await s.close();
    const t = await serve({ respond: () => ({ status: 502, body: '{"error":"upstream gone"}' }) });
    const err = await client(t.url).chat([{ role: 'user', content: 'x' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EndpointHttpError);
    expect((err as EndpointHttpError).status).toBe(502);
    expect((err as Error).message).toMatch(/upstream gone/);
    expect(t.requests.length).toBe(3);
  });

  it('a Retry-After longer than the client accepts fails at once', async () => {
    const s = await serve({ respond: () => ({ status: 429, headers: { 'retry-after': '3600' } }) });
    const err = await client(s.url).chat([{ role: 'user', content: 'x' }]).catch((e: unknown) => e);
    expect((err as EndpointHttpError).status).toBe(429);
    expect(s.requests.length).toBe(1);
  });

  it('an endpoint that is not running is EndpointDownError ("the endpoint is down"), after retries', async () => {
    const port = await deadPort();
    const err = await client(`http://127.0.0.1:${port}`).chat([{ role: 'user', content: 'x' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EndpointDownError);
    expect((err as Error).message).toMatch(/endpoint is down or unreachable .*connection refused/);
  });

  it('the browser variant of the down error mentions CORS', () => {
    expect(new EndpointDownError('http://x', 'Failed to fetch', true).message).toMatch(/CORS/);
    expect(new EndpointDownError('http://x', 'connection refused', false).message).not.toMatch(/CORS/);
  });

  it('times out a silent endpoint (EndpointTimeoutError) and cancels on abort (ChatAbortedError)', async () => {
    const s = await serve({ respond: () => ({ hang: true }) });
    const err = await client(s.url, { timeoutMs: 100, retry: { retries: 0 } }).chat([{ role: 'user', content: 'x' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EndpointTimeoutError);
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 50);
    const aborted = await client(s.url).chat([{ role: 'user', content: 'x' }], { signal: controller.signal }).catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(ChatAbortedError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('parses streams with events lacking blank lines, "data:" without a space, split UTF-8, and stops at [DONE]', async () => {
    const chunk = (content: string): string => JSON.stringify({ choices: [{ delta: { content } }] });
    const euro = new TextEncoder().encode(`data: ${chunk('5 €')}\n\n`);
    const cut = euro.length - 6; // inside the 3-byte "€"
    const fetchImpl = fetchStreaming([
      `data:${chunk('a')}\ndata: ${chunk('b')}\n\n`,
      euro.slice(0, cut),
      euro.slice(cut),
      'data: [DONE]\n\n',
      `data: ${chunk('after done')}\n\n`,
    ]);
    const result = await new OpenAiChat({ baseUrl: 'http://x', model: 'm', fetch: fetchImpl }).chat([{ role: 'user', content: 'x' }]);
    expect(result.text).toBe('ab5 €');
  });

  it('an error event inside the stream, or a reply that is not a completion, is EndpointProtocolError', async () => {
    const inStream = fetchStreaming([`data: ${JSON.stringify({ error: { message: 'CUDA out of memory' } })}\n\n`]);
    const err = await new OpenAiChat({ baseUrl: 'http://x', model: 'm', fetch: inStream }).chat([{ role: 'user', content: 'x' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EndpointProtocolError);
    expect((err as Error).message).toMatch(/CUDA out of memory/);
    const html = fetchStreaming(['<html>login page</html>'], 'text/html');
    const err2 = await new OpenAiChat({ baseUrl: 'http://x', model: 'm', fetch: html }).chat([{ role: 'user', content: 'x' }]).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(EndpointProtocolError);
    expect((err2 as Error).message).toMatch(/not JSON: <html>/);
  });
});
