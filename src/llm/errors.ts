// Named errors of the chat backends. Names are stable (they cross the worker boundary and the UI
// keys messages on them); the message says what happened, the hint what to do.
import { LabError } from '../engine/errors.ts';

/** The endpoint answered 401/403: it does not accept the API key. Not retried. */
export class EndpointAuthError extends LabError {
  constructor(url: string, status: number, detail: string) {
    super(
      'EndpointAuthError',
      `The endpoint refused the key (HTTP ${status} from ${url})${detail ? `: ${detail}` : ''}.`,
      'Check the API key of this endpoint (in the CLI: the variable named by --api-key-env). Local servers usually need no key.',
    );
  }
}

/** The endpoint answered 404: the model (or the chat-completions route) does not exist there. */
export class EndpointModelError extends LabError {
  constructor(url: string, model: string, detail: string) {
    super(
      'EndpointModelError',
      `The endpoint has no model "${model}" or no chat-completions route (HTTP 404 from ${url})${detail ? `: ${detail}` : ''}.`,
      'Check the model name (GET <base>/v1/models lists them; Ollama: `ollama pull <name>`) and the base URL.',
    );
  }
}

/** The endpoint could not be reached at all (refused connection, unknown host, reset). */
export class EndpointDownError extends LabError {
  constructor(url: string, detail: string, inBrowser: boolean) {
    super(
      'EndpointDownError',
      `The endpoint is down or unreachable (${url}): ${detail}.`,
      inBrowser
        ? 'Start the server and check the URL. If it is running, the browser may be blocking it (CORS): allow this page\'s origin ' +
            '(Ollama: OLLAMA_ORIGINS=*, LM Studio: enable CORS, vLLM: --allowed-origins \'["*"]\', llama.cpp server allows it by default).'
        : 'Start the server and check the URL and port.',
    );
  }
}

/** Any other HTTP failure (after retries for 429/5xx), with the server's own message. */
export class EndpointHttpError extends LabError {
  readonly status: number;
  /** The wait the server asked for (Retry-After), in milliseconds. */
  readonly retryAfterMs: number | undefined;
  constructor(url: string, status: number, detail: string, hint?: string, retryAfterMs?: number) {
    super('EndpointHttpError', `The endpoint answered HTTP ${status} (${url})${detail ? `: ${detail}` : ''}.`, hint);
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/** No response (or no new bytes of a streamed response) within the timeout, after retries. */
export class EndpointTimeoutError extends LabError {
  constructor(url: string, timeoutMs: number) {
    super(
      'EndpointTimeoutError',
      `The endpoint sent nothing for ${Math.round(timeoutMs / 1000)} s (${url}).`,
      'The model may be loading or overloaded: raise the timeout or lower the concurrency.',
    );
  }
}

/** The response was not a chat completion (not JSON, no choices, an error inside the stream). */
export class EndpointProtocolError extends LabError {
  constructor(url: string, detail: string) {
    super(
      'EndpointProtocolError',
      `The endpoint's reply is not an OpenAI chat completion (${url}): ${detail}.`,
      'Point the base URL at an OpenAI-compatible server (its /v1/chat/completions route).',
    );
  }
}

/** The caller cancelled the request through its AbortSignal. */
export class ChatAbortedError extends LabError {
  constructor() {
    super('ChatAbortedError', 'The request was cancelled.');
  }
}

export function isAbortError(err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'ChatAbortedError';
}

/** Throws ChatAbortedError when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ChatAbortedError();
}
