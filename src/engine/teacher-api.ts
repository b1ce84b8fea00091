// The teacher worker's API (workers/teacher.worker.ts, built on workers/teacher-host.ts): an ONNX
// causal LM loaded through transformers.js (onnxruntime-web on WebGPU, or wasm when WebGPU is not
// to be had) that builds teacher caches into IndexedDB, like the engine's data API does with the
// teacher slot (src/engine/data-api.ts); and, in a slot of its own, an ONNX chat model that plays
// in the Arena and in batch runs (`generate`, shaped as the LocalGenerator of src/llm/local-engine.ts).
// Same conventions as src/engine/api.ts: plain data only, sinks wrapped with Comlink.proxy,
// cancellation through cancel(requestId).
//
// A build's request is the engine's CacheBuildRequest with `scorer: ONNX_SCORER`, so its plan is
// stored with the engine's (src/store/cache-builds.ts) and an interrupted build resumes from the
// same list; the cache it makes is an ordinary probability cache (checked, listed, trained on).
import type { AdapterReport } from './adapter.ts';
import type { CacheBuildEvent, CacheBuildRequest, ModelLocation } from './data-api.ts';
import type { LoadProgressEvent, ModelSourceSpec, RequestId, Sink } from './api.ts';
import type { TeacherCacheSummary } from '../store/teacher-caches.ts';
import type { OnnxDevice, OnnxDType } from '../distill/cache/onnx-teacher.ts';
import type { ChatMessage } from '../llm/chat.ts';
import type { LocalGenerateOptions, LocalGeneration, LocalToken } from '../llm/local-engine.ts';

/** CacheBuildRequest.scorer of the builds this worker makes. */
export const ONNX_SCORER = 'onnx-teacher';

/** The worker's two models: the teacher that scores caches, and a chat model to talk to. */
export type OnnxSlot = 'teacher' | 'chat';

export interface OnnxLoadOptions {
  /** Default 'teacher'. A 'chat' model also loads its chat template (and fails without one). */
  slot?: OnnxSlot;
  /** 'webgpu' (default) falls back to 'wasm' when no device or session can be had. */
  device?: 'webgpu' | 'wasm';
  dtype?: OnnxDType;
}

/** What the Data panel shows about the loaded ONNX teacher (plain data). */
export interface OnnxTeacherCard {
  /** `onnx:<source id>@<revision>/<dtype>`: the scorer a build records. */
  id: string;
  name: string;
  /** Where it can be loaded from again (null: a local folder). */
  location: ModelLocation | null;
  /** 'cpu' only in Node (tests). */
  device: OnnxDevice;
  /** The adapter onnxruntime-web runs on (WebGPU only). */
  adapter: AdapterReport | null;
  /** Why it runs on wasm when WebGPU was asked for. */
  fallback: string | null;
  dtype: OnnxDType;
  vocab: number;
  /** max_position_embeddings; null when config.json does not say. */
  context: number | null;
  tokenizerSha256: string;
  fileBytes: number;
  loadMs: number;
}

/** The student a cache must fit (the engine's model card), checked before scoring. */
export interface StudentIdentity {
  name: string;
  tokenizerSha256: string;
  /** config.json's vocab_size. */
  vocab: number;
}

export interface TeacherApi {
  /** Load an ONNX model into options.slot (default: the teacher), replacing the slot's model only once the new one is loaded. */
  load(source: ModelSourceSpec, options: OnnxLoadOptions, sink: Sink<LoadProgressEvent>, requestId: RequestId): Promise<OnnxTeacherCard>;
  /** Free the slot's model (default: the teacher). */
  unload(slot?: OnnxSlot): Promise<void>;
  /**
   * A reply of the chat slot's model to `messages` (its chat template applied), streamed to `sink`
   * piece by piece; cancel(options.requestId) ends it (rejecting with ChatAbortedError).
   */
  generate(messages: ChatMessage[], options: LocalGenerateOptions, sink: Sink<LocalToken>): Promise<LocalGeneration>;
  /**
   * Build a teacher cache of the chosen or rejected responses into IndexedDB with the loaded
   * teacher, or resume the interrupted build of the same settings. `request.scorer` is ONNX_SCORER.
   * cancel(requestId) stops after the current batch (what was computed is kept).
   */
  buildCache(request: CacheBuildRequest, student: StudentIdentity | null, sink: Sink<CacheBuildEvent>, requestId: RequestId): Promise<TeacherCacheSummary>;
  /** Ask a request to stop (unknown or finished ids are ignored). */
  cancel(requestId: RequestId): void;
}
