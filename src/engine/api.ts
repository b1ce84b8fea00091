// The typed API of the engine worker (workers/engine.worker.ts), shared by both sides:
// the worker does `Comlink.expose(api satisfies EngineApi)`, the page does `Comlink.wrap<EngineApi>()`.
// Only types and plain helpers live here, so importing this file never pulls the engine into the page.
//
// Conventions for every method, now and later (load model, generate, train steps, teacher caches):
// - Payloads are plain structured-cloneable data: numbers, strings, plain objects, typed arrays.
//   Never a class instance, a Svelte `$state` proxy (snapshot it first) or a GPU object. Big typed
//   arrays the sender no longer needs go with `Comlink.transfer(value, [value.buffer])`.
// - Errors: the worker throws the engine's named errors (src/engine/errors.ts). Comlink keeps only
//   `name`, `message` and `stack`; the message carries the hint after "\nHint: ". `errorInfo()`
//   turns anything thrown back into `{ name, message, hint }` for the UI.
// - Progress and streams (download progress, generated tokens, training metrics): the method takes
//   a sink created on the page with `Comlink.proxy(fn)`; the type `Sink<E>` makes the proxy
//   mandatory. The sink receives small typed events; the method's promise resolves with the result.
// - Cancellation: a long method takes a `RequestId` chosen by the page; `cancel(id)` makes it stop
//   at its next check and reject with a `CancelledError`. Unknown or finished ids are ignored.
// - Engine-wide events (state changes, device loss, memory) arrive through the one `onEvent` sink.
// - Work is serialised in the worker: one GPU job at a time; the state is `busy` while one runs.
import type { ProxyMarked } from 'comlink';
import type { Architecture } from '../formats/config.ts';
import type { PickedFile, SourceKind } from '../formats/source.ts';
import type { ChatMessage } from '../formats/tokenizer.ts';
import type { ModelRecord } from '../store/cached-models.ts';
import type { AdapterReport } from './adapter.ts';
import type { AllocatorStats } from './allocator.ts';
import type { StopReason } from './models/generate.ts';
import type { SamplingOptions } from './models/sampling.ts';
import type { TrainApi } from './train-api.ts';
import type { DataApi } from './data-api.ts';

/** What the worker is doing. `lost`: the GPU device was lost; `reacquire()` gets a new one. */
export type WorkerState = 'starting' | 'ready' | 'busy' | 'lost' | 'error';

/** A callback living on the page, called from the worker (wrap it with `Comlink.proxy`). */
export type Sink<E> = ((event: E) => void) & ProxyMarked;

/** Chosen by the page for a cancellable request. */
export type RequestId = string;

/** An error as it crossed the boundary. `name` is stable (see errors.ts); `hint` says what to do. */
export interface ErrorInfo {
  name: string;
  message: string;
  hint?: string;
}

export interface DeviceLostInfo {
  /** WebGPU's reason: 'destroyed' or 'unknown'. */
  reason: string;
  message: string;
}

export interface EngineStatus {
  state: WorkerState;
  adapter: AdapterReport | null;
  /** The model loaded now, if any. */
  model: ModelCard | null;
  /** The label of the job running now, if any. */
  job: string | null;
  lost: DeviceLostInfo | null;
  error: ErrorInfo | null;
}

export type EngineEvent =
  | { type: 'state'; state: WorkerState; job: string | null }
  | { type: 'lost'; lost: DeviceLostInfo }
  | { type: 'memory'; memory: AllocatorStats }
  /** A model was loaded, unloaded, or lost with the device (null). */
  | { type: 'model'; model: ModelCard | null }
  /** The model of another slot than the student's changed (the student's arrives as 'model'). */
  | { type: 'slot'; slot: ModelSlot; model: ModelCard | null };

// ---- models -------------------------------------------------------------------------------------

/**
 * The worker holds several models at once, each in a named slot, loaded and unloaded on its own:
 * 'student' (what loadModel, generate and training use), 'teacher' and 'reference' (distillation:
 * workers/data-host.ts), and any other lower-case name a panel asks for (e.g. the Arena's 'compare').
 */
export type ModelSlot = string;
export const STUDENT_SLOT: ModelSlot = 'student';
/** Slot names: a lower-case letter, then letters, digits or '-' (at most 32). */
export const SLOT_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * Where to load a model from. `location`: what a person types (org/name, org/name@revision, a hub
 * page URL, or any http(s) base URL of a model folder); `hubBase` points repo ids at a hub mirror.
 * `files`: picked or dropped files with their paths inside the folder. `directory`: a handle from
 * showDirectoryPicker(). Files and handles are structured-cloneable, so they cross to the worker.
 */
export type ModelSourceSpec =
  | { kind: 'location'; text: string; hubBase?: string; token?: string }
  | { kind: 'files'; files: PickedFile[]; name?: string }
  | { kind: 'directory'; handle: FileSystemDirectoryHandle };

export interface LoadModelOptions {
  /** Keep remote files in the offline weight cache and read them from it (default true). */
  cache?: boolean;
  /** Tokens the KV cache holds (default: the model's context, at most DEFAULT_CONTEXT). */
  context?: number;
  /** What to call the model (card, status bar, run names); default: a short name made from its source. */
  name?: string;
}

/** KV cache capacity when the caller does not choose one (the model's own context if shorter). */
export const DEFAULT_CONTEXT = 2048;

/**
 * Load progress. `download` / `cache` / `local`: reading files (bytes over all files of the load);
 * `upload`: converting tensors and putting them on the GPU (bytes = f32 bytes of the weights).
 */
export interface LoadProgressEvent {
  phase: 'download' | 'cache' | 'local' | 'upload';
  /** The file being read, or the tensor being uploaded. */
  file: string;
  loadedBytes: number;
  /** null while some file sizes are unknown. */
  totalBytes: number | null;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

/** What the Models panel shows about the loaded model (plain data). */
export interface ModelCard {
  /** `${source id}@${revision}`: the same id as the model's record in the `models` store. */
  id: string;
  /** Short display name: the repo id, folder name or URL. */
  name: string;
  source: { kind: SourceKind; id: string; revision: string; description: string };
  /** config.json's class, e.g. LlamaForCausalLM. */
  architecture: string;
  family: Architecture;
  parameters: number;
  /** Dtype the checkpoint was saved in; the engine computes in f32. */
  dtype: string;
  computeDtype: 'f32';
  vocab: number;
  layers: number;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  tiedEmbeddings: boolean;
  /** The model's context (max_position_embeddings). */
  context: number;
  /** Tokens the session's KV cache holds (prompt + reply). */
  sessionContext: number;
  /** GPU bytes of the weights (f32) and of the KV cache. */
  weightBytes: number;
  kvCacheBytes: number;
  /** Bytes of the files read. */
  fileBytes: number;
  /** Where the files came from (e.g. all 'cache' on an offline load). */
  filesFrom: ('download' | 'cache' | 'local')[];
  chatTemplate: boolean;
  /** Hex SHA-256 of tokenizer.json. */
  tokenizerSha256: string;
  /** Generation stops on these ids (generation_config, config and tokenizer EOS). */
  stopTokenIds: number[];
  /** generation_config.json's sampling defaults, when it has them. */
  generationDefaults: { doSample: boolean | null; temperature: number | null; topK: number | null; topP: number | null; repetitionPenalty: number | null } | null;
  loadMs: number;
}

export interface LoadModelResult {
  card: ModelCard;
  /** The record for the `models` store (remote sources, whose files are now cached); the page saves it. */
  record: ModelRecord | null;
}

// ---- generation ---------------------------------------------------------------------------------

/** One generation: chat messages (rendered with the chat template) or a plain-text prompt. */
export interface GenerateRequest {
  messages?: ChatMessage[];
  prompt?: string;
  /** Upper bound on new tokens (lowered to what the KV cache has room for after the prompt). */
  maxNewTokens: number;
  sampling: SamplingOptions;
  /** Generation ends before the first of these strings. */
  stop?: string[];
  /** The model slot that generates (default 'student'; e.g. the Arena's 'compare'). */
  slot?: ModelSlot;
}

/** Streamed while generating: each token with the text it completes, then any held-back text. */
export type GenerateEvent = { type: 'token'; id: number; index: number; text: string } | { type: 'tail'; text: string };

export interface GenerateResult {
  /** The whole reply (special tokens skipped, cut before a stop string). */
  text: string;
  ids: number[];
  /** eos, stop (a stop string), length (maxNewTokens), cancelled (`cancel(requestId)`). */
  stop: StopReason;
  promptTokens: number;
  /** Prompt tokens run now; the rest were reused from the previous turn's KV cache. */
  prefilledTokens: number;
  prefillMs: number;
  decodeMs: number;
  tokensPerSecond: number;
  seed: number;
}

export interface SelfTestOptions {
  M: number;
  N: number;
  K: number;
  requestId?: RequestId;
}

export interface SelfTestResult {
  M: number;
  N: number;
  K: number;
  /** max |GPU − reference| over the output. */
  maxAbsError: number;
  tolerance: number;
  passed: boolean;
  /** Upload, dispatch and readback, wall clock in the worker (includes pipeline creation the first time). */
  ms: number;
}

export interface EngineApi {
  /** Acquire the GPU device (core adapter first, compatibility next). */
  init(): Promise<AdapterReport>;
  status(): Promise<EngineStatus>;
  /** GPU memory held by the engine's allocator; null before a device exists. */
  memory(): Promise<AllocatorStats | null>;
  /** Drop the current device (lost or not) and acquire a new one. */
  reacquire(): Promise<AdapterReport>;
  /** Subscribe to engine-wide events for the worker's lifetime. */
  onEvent(sink: Sink<EngineEvent>): Promise<void>;
  /** Run a real kernel (matmul) on random inputs and compare with the TypeScript reference. */
  selfTest(options: SelfTestOptions): Promise<SelfTestResult>;
  /** Ask a running request to stop (see the conventions above). */
  cancel(requestId: RequestId): Promise<void>;
  /**
   * Load a model (files, then weights onto the GPU, then a KV cache). Replaces the loaded model only
   * on success: a failed or cancelled load leaves the previous model loaded and usable.
   */
  loadModel(source: ModelSourceSpec, options: LoadModelOptions, sink: Sink<LoadProgressEvent>, requestId: RequestId): Promise<LoadModelResult>;
  /** Free the loaded model's GPU memory (weights and KV cache). */
  unloadModel(): Promise<void>;
  /**
   * Generate with the loaded model (or the model of `request.slot`), streaming text. A chat turn
   * that extends the previous one reuses its KV cache. Cancellation is not an error here:
   * `cancel(requestId)` ends generation after the current token and the promise resolves with what
   * was generated and `stop: 'cancelled'`.
   */
  generate(request: GenerateRequest, sink: Sink<GenerateEvent>, requestId: RequestId): Promise<GenerateResult>;
  /**
   * Load a model into a slot (see ModelSlot); 'student' is loadModel. Like loadModel, the slot's
   * previous model stays loaded and usable when the load fails or is cancelled.
   */
  loadSlot(slot: ModelSlot, source: ModelSourceSpec, options: LoadModelOptions, sink: Sink<LoadProgressEvent>, requestId: RequestId): Promise<LoadModelResult>;
  /** Free a slot's model; 'student' is unloadModel. */
  unloadSlot(slot: ModelSlot): Promise<void>;
  /** Data sets and teacher caches (src/engine/data-api.ts; workers/data-host.ts). Proxy-marked like `training`. */
  data: DataApi & ProxyMarked;
  /** Training runs on the loaded model (src/engine/train-api.ts; workers/train-host.ts). Proxy-marked so the page calls `remote.training.start(...)` directly. */
  training: TrainApi & ProxyMarked;
  /** Diagnostics: destroy the device as a real loss would, to check that recovery works. */
  simulateDeviceLoss(): Promise<void>;
}

const HINT = '\nHint: ';

/** Turn anything thrown (locally or across Comlink) into plain `ErrorInfo`. */
export function errorInfo(err: unknown): ErrorInfo {
  const e = typeof err === 'object' && err !== null ? (err as { name?: unknown; message?: unknown }) : {};
  const name = typeof e.name === 'string' && e.name ? e.name : 'Error';
  const text = typeof e.message === 'string' ? e.message : String(err);
  const at = text.indexOf(HINT);
  return at < 0 ? { name, message: text } : { name, message: text.slice(0, at), hint: text.slice(at + HINT.length) };
}
