// The lab's own engine (the WebGPU student) behind the chat interface. `LocalEngineChat` talks to
// a small `LocalGenerator`, shaped to cross a Comlink boundary (plain data, a proxied token
// callback, cancellation by request id, because an AbortSignal cannot be sent to a worker). Two
// generators are provided: one over the engine worker's API (the page), one over the engine's
// generate function in the same process (the CLI, tests).
import type { EngineApi, GenerateEvent, GenerateRequest, GenerateResult, Sink } from '../engine/api.ts';
import type { ChatBackend, ChatMessage, ChatOptions, ChatResult } from './chat.ts';
import { throwIfAborted } from './errors.ts';
import { cutAtStop, StopScanner } from './stop.ts';

export interface LocalGenerateOptions {
  /** Identifies this generation for `cancel`. */
  requestId: string;
  maxNewTokens: number;
  /** 0 = greedy. */
  temperature: number;
  /** Generation may end before these strings (LocalEngineChat also cuts at them itself). */
  stop?: readonly string[];
}

export interface LocalToken {
  /** The token's id; absent for text released at the end (held back while a character or stop string was incomplete). */
  id?: number;
  /** The text this token adds (the engine's streaming detokenizer output; may be ''). */
  text: string;
}

export interface LocalGeneration {
  /** The new token ids (without the prompt). */
  ids: number[];
  /** The decoded new text (special tokens removed). */
  text: string;
  /** Prompt length in tokens after the chat template. */
  promptTokens?: number;
  /** 'stop' (end-of-sequence), 'length' (maxNewTokens) or 'cancelled'. */
  finishReason?: 'stop' | 'length' | 'cancelled';
}

/** What the engine worker provides: it applies the model's chat template and generates. */
export interface LocalGenerator {
  generate(messages: ChatMessage[], options: LocalGenerateOptions, onToken: (token: LocalToken) => void): Promise<LocalGeneration>;
  /** Ends generation `requestId` after the current token; its promise then resolves with what it has. */
  cancel(requestId: string): void | Promise<void>;
}

export const DEFAULT_LOCAL_MAX_TOKENS = 512;

let counter = 0;
function nextRequestId(): string {
  counter += 1;
  return `chat-${Date.now().toString(36)}-${counter}`;
}

export class LocalEngineChat implements ChatBackend {
  constructor(
    private readonly generator: LocalGenerator,
    readonly label: string,
  ) {}

  async chat(messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<ChatResult> {
    throwIfAborted(options.signal);
    const requestId = nextRequestId();
    const stops = options.stop ?? [];
    const scanner = new StopScanner(stops);
    let streamed = false;
    let cancelled = false;
    const cancel = (): void => {
      if (cancelled) return;
      cancelled = true;
      void Promise.resolve(this.generator.cancel(requestId)).catch(() => undefined);
    };
    options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      const generation = await this.generator.generate(
        messages.map((m) => ({ role: m.role, content: m.content })),
        { requestId, maxNewTokens: options.maxTokens ?? DEFAULT_LOCAL_MAX_TOKENS, temperature: options.temperature ?? 0, ...(stops.length ? { stop: stops } : {}) },
        (token) => {
          streamed = true;
          const piece = scanner.push(token.text);
          if (piece) options.onToken?.(piece);
          if (scanner.stopped) cancel();
        },
      );
      throwIfAborted(options.signal);
      let text: string;
      let stoppedByString: boolean;
      if (streamed) {
        const tail = scanner.finish();
        if (tail) options.onToken?.(tail);
        text = scanner.value;
        stoppedByString = scanner.stopped;
      } else {
        // A generator that does not stream: the whole text at once.
        text = cutAtStop(generation.text, stops);
        stoppedByString = text.length < generation.text.length;
        if (text) options.onToken?.(text);
      }
      return {
        text,
        tokenIds: generation.ids,
        finishReason: stoppedByString ? 'stop' : generation.finishReason,
        usage: { promptTokens: generation.promptTokens, completionTokens: generation.ids.length },
      };
    } finally {
      options.signal?.removeEventListener('abort', cancel);
    }
  }
}

// ---- generators over the engine ----------------------------------------------------------------

/** The engine's generate in this process (the signature of the worker's ModelHost.generate). */
export type EngineGenerate = (request: GenerateRequest, onEvent: (event: GenerateEvent) => void, signal: AbortSignal) => Promise<GenerateResult>;

function engineRequest(messages: ChatMessage[], options: LocalGenerateOptions): GenerateRequest {
  const greedy = options.temperature === 0;
  return {
    messages,
    maxNewTokens: options.maxNewTokens,
    sampling: greedy ? { greedy: true } : { temperature: options.temperature },
    ...(options.stop?.length ? { stop: [...options.stop] } : {}),
  };
}

function toGeneration(result: GenerateResult): LocalGeneration {
  const finishReason = result.stop === 'eos' ? 'stop' : result.stop;
  return { ids: result.ids, text: result.text, promptTokens: result.promptTokens, finishReason };
}

const forward = (onToken: (token: LocalToken) => void) => (e: GenerateEvent) => onToken(e.type === 'token' ? { id: e.id, text: e.text } : { text: e.text });

/** A generator over the engine's generate function in this process; cancel aborts its signal. */
export function inProcessGenerator(generate: EngineGenerate): LocalGenerator {
  const running = new Map<string, AbortController>();
  return {
    async generate(messages, options, onToken) {
      const controller = new AbortController();
      running.set(options.requestId, controller);
      try {
        return toGeneration(await generate(engineRequest(messages, options), forward(onToken), controller.signal));
      } finally {
        running.delete(options.requestId);
      }
    },
    cancel(requestId) {
      running.get(requestId)?.abort();
    },
  };
}

/** A generator over the engine worker (`Comlink.wrap<EngineApi>()`); `toSink` is `Comlink.proxy`. */
export function engineWorkerGenerator(api: Pick<EngineApi, 'generate' | 'cancel'>, toSink: (fn: (event: GenerateEvent) => void) => Sink<GenerateEvent>): LocalGenerator {
  return {
    async generate(messages, options, onToken) {
      return toGeneration(await api.generate(engineRequest(messages, options), toSink(forward(onToken)), options.requestId));
    },
    cancel: (requestId) => api.cancel(requestId),
  };
}
