// Chat backend for any OpenAI-compatible endpoint (Ollama, LM Studio, vLLM, llama.cpp server,
// hosted APIs): POST {base}/v1/chat/completions, streamed (SSE) or not, with retries (429, 5xx,
// network errors, timeouts; Retry-After honoured), an idle timeout, and cancellation.
// The API key is sent only in the Authorization header of requests to this endpoint.
import { LabError } from '../engine/errors.ts';
import type { ChatBackend, ChatMessage, ChatOptions, ChatResult, ChatUsage } from './chat.ts';
import {
  ChatAbortedError,
  EndpointAuthError,
  EndpointDownError,
  EndpointHttpError,
  EndpointModelError,
  EndpointProtocolError,
  EndpointTimeoutError,
  throwIfAborted,
} from './errors.ts';
import { backoffDelay, DEFAULT_RETRY, parseRetryAfter, sleep, type RetryPolicy } from './retry.ts';
import { SseParser } from './sse.ts';

export interface OpenAiEndpointConfig {
  /** Server address with or without `/v1` (`http://localhost:11434`, `https://api.openai.com/v1`). */
  baseUrl: string;
  /** The `model` field of the request. */
  model: string;
  apiKey?: string;
  /** Stream the reply (default true). */
  stream?: boolean;
  /** Fail an attempt when no response, or no new bytes of a stream, arrive for this long (default 120 s). */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Ask for token usage in streamed replies (`stream_options.include_usage`, default true). */
  streamUsage?: boolean;
  /** Extra request headers (e.g. an organisation header of a hosted API). */
  headers?: Record<string, string>;
  /** The fetch to use (tests, proxies); default the global one. */
  fetch?: typeof fetch;
}

export const DEFAULT_TIMEOUT_MS = 120_000;

const inBrowser = typeof window !== 'undefined' && typeof document !== 'undefined';

/** The page's origin where the page's Content-Security-Policy applies; null in Node (the CLI), which has none. */
const PAGE_ORIGIN = inBrowser ? location.origin : null;

/** The hosts index.html's connect-src lets the page reach over plain http (besides its own origin). */
const PAGE_HTTP_HOSTS = new Set(['localhost', '127.0.0.1']);

/**
 * The chat-completions URL for a base URL. A path that already ends in `/chat/completions` is kept;
 * one ending in a version segment (`/v1`, `/v1beta`) or `/openai` gets `/chat/completions`; any
 * other gets `/v1/chat/completions`. In the page (`pageOrigin`), plain http to another machine is
 * refused here: the page's policy would block it, and the browser would report it as a network error.
 */
export function chatCompletionsUrl(baseUrl: string, pageOrigin: string | null = PAGE_ORIGIN): string {
  let url: URL;
  try {
    url = new URL(baseUrl.trim());
  } catch {
    throw new LabError('EndpointUrlError', `"${baseUrl}" is not a URL.`, 'Use e.g. http://localhost:11434 (Ollama) or https://api.openai.com/v1.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new LabError('EndpointUrlError', `"${baseUrl}" is not an http(s) URL.`, 'Use e.g. http://localhost:8080 (llama.cpp server).');
  }
  if (pageOrigin !== null && url.protocol === 'http:' && !PAGE_HTTP_HOSTS.has(url.hostname) && url.origin !== pageOrigin) {
    const port = url.port || '80';
    throw new LabError(
      'EndpointUrlError',
      `The page cannot reach ${url.host} over plain http: its Content-Security-Policy allows http only to this machine (localhost, 127.0.0.1).`,
      `Use https, or tunnel the server to this machine (e.g. ssh -L ${port}:localhost:${port} ${url.hostname}) and use http://localhost:${port}.`,
    );
  }
  const path = url.pathname.replace(/\/+$/, '');
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (!path.endsWith('/chat/completions')) {
    url.pathname = /^v\d+[a-z0-9]*$/i.test(last) || last === 'openai' ? `${path}/chat/completions` : `${path}/v1/chat/completions`;
  }
  return url.toString();
}

/** Marks failures worth another attempt, with the server's requested wait if any. */
interface Retryable {
  retryable: true;
  retryAfterMs?: number;
}

function retryInfo(err: unknown): Retryable | undefined {
  if (err instanceof EndpointDownError || err instanceof EndpointTimeoutError) return { retryable: true };
  if (err instanceof EndpointHttpError && (err.status === 408 || err.status === 429 || err.status >= 500)) {
    return { retryable: true, retryAfterMs: err.retryAfterMs };
  }
  return undefined;
}

/** A readable cause of a failed fetch (Node puts the socket error in `cause`). */
function networkDetail(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset';
    default:
      return cause?.message ?? (err as Error).message ?? String(err);
  }
}

/** The server's own error message from an error body (OpenAI, Ollama, vLLM and FastAPI shapes). */
function errorDetail(body: string): string {
  let detail = body.trim();
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown; detail?: unknown };
    const e = parsed.error;
    const message = typeof e === 'string' ? e : typeof (e as { message?: unknown })?.message === 'string' ? (e as { message: string }).message : undefined;
    detail = message ?? (typeof parsed.message === 'string' ? parsed.message : typeof parsed.detail === 'string' ? parsed.detail : detail);
  } catch {
    // not JSON: keep the text
  }
  return detail.length > 300 ? `${detail.slice(0, 300)}…` : detail;
}

function hintForStatus(status: number, detail: string): string | undefined {
  if (status === 429) return 'The endpoint is rate-limiting: lower the concurrency or wait.';
  if (status >= 500) return 'The server failed; it may be loading the model or out of memory. Retry later.';
  if (status === 400 && /context|too long|maximum.*tokens/i.test(detail)) return 'The prompt may exceed the model\'s context length.';
  return undefined;
}

interface StreamChunk {
  error?: unknown;
  choices?: { delta?: { content?: unknown }; text?: unknown; message?: { content?: unknown }; finish_reason?: unknown }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } | null;
}

function toUsage(u: StreamChunk['usage']): ChatUsage | undefined {
  if (!u) return undefined;
  return { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens, totalTokens: u.total_tokens };
}

export class OpenAiChat implements ChatBackend {
  readonly label: string;
  readonly url: string;
  private readonly policy: RetryPolicy;

  constructor(private readonly config: OpenAiEndpointConfig) {
    this.url = chatCompletionsUrl(config.baseUrl);
    this.policy = { ...DEFAULT_RETRY, ...config.retry };
    this.label = `${config.model} @ ${new URL(this.url).host}`;
  }

  async chat(messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<ChatResult> {
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(options.signal);
      const progress = { emitted: false };
      try {
        return await this.attempt(messages, options, progress);
      } catch (err) {
        const retry = retryInfo(err);
        // Text already streamed to the caller cannot be taken back: no retry after the first token.
        if (!retry || progress.emitted || attempt >= this.policy.retries) throw err;
        if (retry.retryAfterMs !== undefined && retry.retryAfterMs > this.policy.maxRetryAfterMs) throw err;
        await sleep(retry.retryAfterMs ?? backoffDelay(attempt, this.policy), options.signal);
      }
    }
  }

  private body(messages: readonly ChatMessage[], options: ChatOptions, stream: boolean): string {
    const body: Record<string, unknown> = {
      model: this.config.model,
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      stream,
      temperature: options.temperature ?? 0,
    };
    if (options.maxTokens !== undefined) body.max_tokens = options.maxTokens;
    if (options.stop && options.stop.length > 0) body.stop = [...options.stop];
    if (stream && this.config.streamUsage !== false) body.stream_options = { include_usage: true };
    return JSON.stringify(body);
  }

  private async attempt(messages: readonly ChatMessage[], options: ChatOptions, progress: { emitted: boolean }): Promise<ChatResult> {
    const stream = this.config.stream !== false;
    const timeoutMs = this.config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const controller = new AbortController();
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeoutMs);
    };
    const onAbort = (): void => controller.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // Any failure while talking to the server: the caller's cancel, our timeout, or the network.
    const failure = (err: unknown): Error => {
      if (options.signal?.aborted) return new ChatAbortedError();
      if (timedOut) return new EndpointTimeoutError(this.url, timeoutMs);
      if (err instanceof LabError) return err;
      return new EndpointDownError(this.url, networkDetail(err), inBrowser);
    };
    arm();
    try {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        accept: stream ? 'text/event-stream' : 'application/json',
        ...this.config.headers,
      };
      if (this.config.apiKey) headers.authorization = `Bearer ${this.config.apiKey}`;
      const fetchImpl = this.config.fetch ?? fetch;
      let response: Response;
      try {
        response = await fetchImpl(this.url, { method: 'POST', headers, body: this.body(messages, options, stream), signal: controller.signal });
      } catch (err) {
        throw failure(err);
      }
      try {
        if (!response.ok) throw await this.httpError(response);
        const type = response.headers.get('content-type') ?? '';
        if (stream && type.includes('text/event-stream') && response.body) return await this.readStream(response.body, options, progress, arm);
        // Not streamed (asked so, or a server that ignores `stream`): one JSON completion.
        const result = this.readCompletion(await response.text());
        if (result.text) options.onToken?.(result.text);
        return result;
      } catch (err) {
        throw failure(err);
      }
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  private async httpError(response: Response): Promise<Error> {
    const detail = errorDetail(await response.text().catch(() => ''));
    const status = response.status;
    if (status === 401 || status === 403) return new EndpointAuthError(this.url, status, detail);
    if (status === 404) return new EndpointModelError(this.url, this.config.model, detail);
    return new EndpointHttpError(this.url, status, detail, hintForStatus(status, detail), parseRetryAfter(response.headers.get('retry-after')));
  }

  private readCompletion(body: string): ChatResult {
    let parsed: StreamChunk;
    try {
      parsed = JSON.parse(body) as StreamChunk;
    } catch {
      throw new EndpointProtocolError(this.url, `not JSON: ${body.slice(0, 120)}`);
    }
    if (parsed.error) throw new EndpointProtocolError(this.url, `error in the reply: ${errorDetail(JSON.stringify(parsed))}`);
    const choice = parsed.choices?.[0];
    if (!choice) throw new EndpointProtocolError(this.url, 'no "choices" in the reply');
    const content = choice.message?.content ?? choice.text;
    return {
      text: typeof content === 'string' ? content : '',
      usage: toUsage(parsed.usage),
      finishReason: typeof choice.finish_reason === 'string' ? choice.finish_reason : undefined,
    };
  }

  private async readStream(
    body: ReadableStream<Uint8Array>,
    options: ChatOptions,
    progress: { emitted: boolean },
    onBytes: () => void,
  ): Promise<ChatResult> {
    let text = '';
    let usage: ChatUsage | undefined;
    let finishReason: string | undefined;
    let done = false;
    const onChunk = (chunk: StreamChunk): void => {
      if (chunk.error) throw new EndpointProtocolError(this.url, `error inside the stream: ${errorDetail(JSON.stringify(chunk))}`);
      usage = toUsage(chunk.usage) ?? usage;
      const choice = chunk.choices?.[0];
      if (!choice) return;
      const delta = choice.delta?.content ?? choice.text;
      if (typeof delta === 'string' && delta.length > 0) {
        text += delta;
        progress.emitted = true;
        options.onToken?.(delta);
      }
      if (typeof choice.finish_reason === 'string') finishReason = choice.finish_reason;
    };
    const parser = new SseParser(({ data }) => {
      if (done) return;
      const trimmed = data.trim();
      if (trimmed === '[DONE]') {
        done = true;
        return;
      }
      if (trimmed === '') return;
      try {
        onChunk(JSON.parse(trimmed) as StreamChunk);
      } catch (err) {
        if (err instanceof LabError) throw err;
        // Servers that omit the blank line between events: one JSON object per data line.
        for (const line of trimmed.split('\n')) {
          if (line.trim() === '[DONE]') done = true;
          else if (!done && line.trim()) {
            try {
              onChunk(JSON.parse(line) as StreamChunk);
            } catch (inner) {
              if (inner instanceof LabError) throw inner;
              throw new EndpointProtocolError(this.url, `unreadable stream event: ${line.slice(0, 120)}`);
            }
          }
        }
      }
    });
    const reader = body.getReader();
    const decoder = new TextDecoder();
    try {
      while (!done) {
        const { value, done: eof } = await reader.read();
        onBytes();
        if (eof) break;
        parser.push(decoder.decode(value, { stream: true }));
      }
      if (!done) {
        parser.push(decoder.decode());
        parser.end();
      }
    } finally {
      // Releases the connection when we stop early ([DONE] before the end, or an error).
      void reader.cancel().catch(() => undefined);
    }
    return { text, usage, finishReason };
  }
}
