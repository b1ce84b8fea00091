// The data part of the engine worker's API (EngineApi.data, implemented by workers/data-host.ts):
// preference data rendered with a loaded model's tokenizer, and teacher caches built, resumed,
// combined, imported, exported and checked. Same conventions as src/engine/api.ts: plain data only,
// sinks wrapped with Comlink.proxy, cancellation through EngineApi.cancel(requestId).
//
// Data sets live in IndexedDB (src/store/datasets.ts) and are named here by id; caches too
// (src/store/teacher-caches.ts). The worker reads and writes them itself, so nothing large crosses
// the boundary except an imported or exported cache file.
import type { CacheResponse } from '../formats/teacher-cache.ts';
import type { TeacherCacheSummary, ValueDType } from '../store/teacher-caches.ts';
import type { ModelSlot, RequestId, Sink } from './api.ts';

/** Where a model can be loaded from again after a reload (what the Models panel types). Null for a local folder. */
export interface ModelLocation {
  text: string;
  hubBase?: string;
}

export interface PreviewRequest {
  datasetId: string;
  /** The loaded model whose tokenizer and chat template render the data. */
  slot: ModelSlot;
  maxLength: number;
  /** Rendered examples to return (from the start of the data). */
  examples: number;
}

/** Token count statistics over the pairs. */
export interface TokenStats {
  mean: number;
  max: number;
}

/** One pair as the model sees it: the rendered text (special tokens shown) and token counts. */
export interface RenderedPair {
  id: string;
  /** "line 3" / "item 2" in the file. */
  where: string;
  prompt: string;
  chosen: string;
  rejected: string;
  promptTokens: number;
  /** Response tokens (what a cache covers), before any cut at the max length. */
  chosenTokens: number;
  rejectedTokens: number;
  /** prompt + the longer response exceeds the max length. */
  overLength: boolean;
}

export interface DataPreview {
  datasetId: string;
  /** The model that rendered it (its name) and its tokenizer. */
  model: string;
  tokenizerSha256: string;
  chatTemplate: boolean;
  pairs: number;
  maxLength: number;
  /** Pairs longer than maxLength: cut to it when a cache is built (or skipped when the prompt alone is too long). */
  overLength: number;
  skipped: number;
  prompt: TokenStats;
  chosen: TokenStats;
  rejected: TokenStats;
  /** Response positions a cache of these data covers, per response kind (after cuts). */
  positions: { chosen: number; rejected: number };
  examples: RenderedPair[];
}

export interface CacheBuildRequest {
  datasetId: string;
  response: CacheResponse;
  /** The slot whose model scores the responses: 'teacher' (the preference-aligned teacher) or 'reference' (ADPA). */
  scorer: ModelSlot;
  /** Top-K per position, 1 … 64 (default 50). */
  k: number;
  valueDType: ValueDType;
  maxLength: number;
  /** Length of the student's responses ŷ (response 'student'). */
  maxNewTokens: number;
  /** Sequences per teacher forward. */
  batchSize: number;
  /** Where the scorer and the student can be loaded again to resume after a reload. */
  scorerLocation: ModelLocation | null;
  studentLocation: ModelLocation | null;
}

export type CacheBuildPhase = 'responses' | 'scoring';

export type CacheBuildEvent =
  /** The build's cache record exists (new, or resumed at `resumedAt` examples). */
  | { type: 'started'; cache: TeacherCacheSummary; resumedAt: number }
  | {
      type: 'progress';
      phase: CacheBuildPhase;
      /** Examples done in this phase (scoring: including those of earlier sessions of this build). */
      done: number;
      total: number;
      /** Positions scored so far. */
      positions: number;
      positionsPerSecond: number;
      /** Of the whole remaining build; null until measured. */
      etaSeconds: number | null;
    };

export interface AdvantageRequest {
  /** A probability cache of the preference-aligned (DPO) teacher on the student's responses ŷ. */
  dpoId: string;
  /** The reference model's probability cache on the same ŷ. */
  referenceId: string;
}

export interface ImportCacheRequest {
  /** The file's bytes (transferred). */
  bytes: Uint8Array;
  fileName: string;
  /** The data set the cache must cover. */
  datasetId: string;
  maxLength: number;
  /** The loaded model whose tokenizer the cache must share (the student, else the teacher); null: checked against the data only. */
  slot: ModelSlot | null;
}

export type CacheIntegrity = 'ok' | 'incomplete' | 'mismatch' | 'damaged';

export interface CacheCheck {
  id: string;
  integrity: CacheIntegrity;
  /** What is wrong (null when ok). */
  message: string | null;
  /** What it was checked against, e.g. "fixtures/llama and pairs.jsonl". */
  against: string;
}

export interface CheckCachesRequest {
  ids: string[];
  datasetId: string;
  maxLength: number;
  slot: ModelSlot | null;
}

export interface DataApi {
  /** Render a stored data set with a loaded model's chat template: token counts, cuts, the first examples. No GPU work. */
  preview(request: PreviewRequest): Promise<DataPreview>;
  /**
   * Build a teacher cache with the scorer slot's model into IndexedDB, or resume the interrupted
   * build of the same settings where it stopped. Response 'student' first generates the student's
   * greedy responses ŷ with the student slot. Progress goes to the sink; cancel(requestId) stops
   * after the current batch (what was computed is kept) and rejects with a CancelledError.
   */
  buildCache(request: CacheBuildRequest, sink: Sink<CacheBuildEvent>, requestId: RequestId): Promise<TeacherCacheSummary>;
  /** Resume an interrupted build with its own settings (its scorer, and student for ŷ, must be loaded). */
  resumeCache(cacheId: string, sink: Sink<CacheBuildEvent>, requestId: RequestId): Promise<TeacherCacheSummary>;
  /** ADPA's advantage cache from two stored probability caches on the same ŷ, stored. */
  buildAdvantage(request: AdvantageRequest): Promise<TeacherCacheSummary>;
  /** Import a cache file: validated on its own and against the data set and tokenizer, then stored whole (or not at all). */
  importCache(request: ImportCacheRequest): Promise<TeacherCacheSummary>;
  /** A stored cache as a teacher-cache safetensors file. */
  exportCache(cacheId: string): Promise<Uint8Array>;
  /** Check stored caches: complete, undamaged, and matching the data set and the tokenizer. */
  checkCaches(request: CheckCachesRequest): Promise<CacheCheck[]>;
}
