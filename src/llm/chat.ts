// The one chat interface every model backend implements (OpenAI-compatible endpoint,
// transformers.js ONNX model, the lab's own engine): messages in, streamed text out.
// Everything here is plain data so a Svelte store or a worker can hold and pass it.

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface ChatOptions {
  /** Sampling temperature; 0 (greedy) is the lab's default everywhere. */
  temperature?: number;
  /** Upper bound on new tokens. */
  maxTokens?: number;
  /** Generation ends before any of these strings; they are not part of the returned text. */
  stop?: readonly string[];
  /** Cancels the request; the promise then rejects with `ChatAbortedError`. */
  signal?: AbortSignal;
  /** Called with each new piece of text as it arrives (concatenated, the pieces are the text). */
  onToken?: (delta: string) => void;
}

export interface ChatUsage {
  promptTokens?: number;
  completionTokens?: number;
  totalTokens?: number;
}

export interface ChatResult {
  /** The full reply text. */
  text: string;
  /** Token counts when the backend reports them. */
  usage?: ChatUsage;
  /** Why generation ended ('stop', 'length', …) when the backend says so. */
  finishReason?: string;
  /** The generated token ids, for local backends that have them. */
  tokenIds?: number[];
}

export interface ChatBackend {
  /** A short human label ("gpt-4o @ api.openai.com", "llama (ONNX)") shown in results. */
  readonly label: string;
  chat(messages: readonly ChatMessage[], options?: ChatOptions): Promise<ChatResult>;
}
