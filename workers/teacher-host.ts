// The teacher worker's work (workers/teacher.worker.ts wraps it in Comlink; tests use it in Node):
// one ONNX teacher loaded through transformers.js, on WebGPU with our device where it can be had,
// else on wasm; and teacher caches built with it into IndexedDB the way the engine's DataHost
// builds them (same ids, plans, chunks, batch-boundary progress: workers/data-host.ts), so they
// resume after a cancel or a reload and list, check and train like any other cache. A second slot
// holds an ONNX chat model, loaded the same way, that answers chats (TransformersChat).
import type { AdapterReport } from '../src/engine/adapter.ts';
import type { LoadProgressEvent, Sink } from '../src/engine/api.ts';
import { errorInfo } from '../src/engine/api.ts';
import type { CacheBuildEvent, CacheBuildRequest, ModelLocation } from '../src/engine/data-api.ts';
import { LabError } from '../src/engine/errors.ts';
import { ONNX_SCORER, type OnnxSlot, type OnnxTeacherCard, type StudentIdentity } from '../src/engine/teacher-api.ts';
import type { ChatMessage } from '../src/llm/chat.ts';
import type { LocalGenerateOptions, LocalGeneration, LocalToken } from '../src/llm/local-engine.ts';
import { sequencesFor } from '../src/distill/cache/assemble.ts';
import { loadOnnxTeacher, OnnxTeacherError, type OnnxDevice, type OnnxDType, type OnnxTeacher } from '../src/distill/cache/onnx-teacher.ts';
import { fitPairs, renderPairs } from '../src/distill/data/preference.ts';
import { DataError } from '../src/distill/data/records.ts';
import type { TeacherCacheMeta } from '../src/formats/teacher-cache.ts';
import type { LoadProgress } from '../src/formats/progress.ts';
import type { ModelSource } from '../src/formats/source.ts';
import { sourceName } from '../src/formats/source-name.ts';
import { getBuildPlan, saveBuildPlan } from '../src/store/cache-builds.ts';
import { loadPreferenceSet } from '../src/store/datasets.ts';
import type { LabDb } from '../src/store/db.ts';
import { TeacherCacheBuild, type TeacherCacheSummary } from '../src/store/teacher-caches.ts';
import { BuildProgress, CacheOptionsError, RESPONSE_LABEL, cacheIdOf, scoreRowsInto, validateBuild } from './data-host.ts';

export interface TeacherHostDeps {
  db(): Promise<LabDb>;
  /** The WebGPU device onnxruntime-web runs on, and its adapter; rejects where there is none. */
  gpu(): Promise<{ device: GPUDevice; report: AdapterReport }>;
}

export interface TeacherHostOptions {
  /** As DataHostOptions: progress written at least this often (s), events at most every progressMs. */
  flushSeconds?: number;
  progressMs?: number;
  /** Where a teacher runs when WebGPU cannot run it: 'wasm' in the browser (default), 'cpu' in Node. */
  fallback?: OnnxDevice;
}

export interface TeacherLoad {
  /** 'webgpu' falls back to the host's fallback device. */
  device: OnnxDevice;
  dtype?: OnnxDType;
  /** Default 'teacher'. */
  slot?: OnnxSlot;
}

interface Loaded {
  teacher: OnnxTeacher;
  card: OnnxTeacherCard;
}

function progressEvent(p: LoadProgress): LoadProgressEvent {
  return { phase: p.phase, file: p.file, loadedBytes: p.loadedBytes, totalBytes: p.totalBytes, bytesPerSecond: p.bytesPerSecond, etaSeconds: p.etaSeconds };
}

/** A cache indexes the student's vocabulary directly: same tokenizer, and the same logit count up to padding. */
function checkStudent(teacher: OnnxTeacher, student: StudentIdentity | null): void {
  if (!student) return;
  const ours = teacher.tokenizer.tokenizerSha256;
  if (student.tokenizerSha256 !== ours) {
    throw new LabError(
      'TokenizerMismatchError',
      `The ONNX teacher (${teacher.name}) and the student (${student.name}) have different tokenizers (tokenizer.json sha256 ${ours.slice(0, 12)}… vs ${student.tokenizerSha256.slice(0, 12)}…).`,
      'A teacher cache indexes the student vocabulary directly: pick a teacher that shares the student’s tokenizer.',
    );
  }
  const padded = Math.min(student.vocab, teacher.vocabSize) >= teacher.tokenizer.vocabSize;
  if (student.vocab !== teacher.vocabSize && !padded) {
    throw new LabError('VocabularyMismatchError', `The ONNX teacher (${teacher.name}) has vocab_size ${teacher.vocabSize}, the student (${student.name}) ${student.vocab}.`, 'Pick a teacher with the student’s vocabulary.');
  }
}

export class TeacherHost {
  private readonly slots: Record<OnnxSlot, Loaded | null> = { teacher: null, chat: null };
  private readonly flushMs: number;
  private readonly progressMs: number;
  private readonly fallback: OnnxDevice;

  constructor(
    private readonly deps: TeacherHostDeps,
    options: TeacherHostOptions = {},
  ) {
    this.flushMs = (options.flushSeconds ?? 5) * 1000;
    this.progressMs = options.progressMs ?? 100;
    this.fallback = options.fallback ?? 'wasm';
  }

  /** The loaded teacher's card. */
  get card(): OnnxTeacherCard | null {
    return this.cardOf('teacher');
  }

  cardOf(slot: OnnxSlot): OnnxTeacherCard | null {
    return this.slots[slot]?.card ?? null;
  }

  /** Load a model into a slot (default: the teacher's); the loaded one stays until the new one is ready. */
  async load(source: ModelSource, location: ModelLocation | null, o: TeacherLoad, onProgress: (e: LoadProgressEvent) => void, signal: AbortSignal): Promise<OnnxTeacherCard> {
    const t0 = performance.now();
    const slot = o.slot ?? 'teacher';
    const common = { source, name: sourceName(source), dtype: o.dtype, chat: slot === 'chat', signal, onProgress: (p: LoadProgress) => onProgress(progressEvent(p)) };
    let teacher: OnnxTeacher | null = null;
    let adapter: AdapterReport | null = null;
    let fallback: string | null = null;
    if (o.device === 'webgpu') {
      try {
        const gpu = await this.deps.gpu();
        teacher = await loadOnnxTeacher({ ...common, device: 'webgpu', gpuDevice: gpu.device });
        adapter = gpu.report;
      } catch (err) {
        // The files' own faults (missing, unreadable) would fail on wasm too.
        if (signal.aborted || (err instanceof LabError && !(err instanceof OnnxTeacherError))) throw err;
        fallback = errorInfo(err).message;
      }
    }
    teacher ??= await loadOnnxTeacher({ ...common, device: o.device === 'webgpu' ? this.fallback : o.device });
    const card: OnnxTeacherCard = {
      id: teacher.id,
      name: teacher.name,
      location,
      device: teacher.device,
      adapter,
      fallback,
      dtype: teacher.dtype,
      vocab: teacher.vocabSize,
      context: Number.isFinite(teacher.context) ? teacher.context : null,
      tokenizerSha256: teacher.tokenizer.tokenizerSha256,
      fileBytes: teacher.fileBytes,
      loadMs: performance.now() - t0,
    };
    await this.unload(slot);
    this.slots[slot] = { teacher, card };
    return card;
  }

  async unload(slot: OnnxSlot = 'teacher'): Promise<void> {
    const old = this.slots[slot];
    this.slots[slot] = null;
    await old?.teacher.dispose();
  }

  /** The chat model's reply, streamed to `onToken`; the signal ends it (ChatAbortedError). */
  async generate(messages: ChatMessage[], o: LocalGenerateOptions, onToken: (token: LocalToken) => void, signal: AbortSignal): Promise<LocalGeneration> {
    const chat = this.slots.chat?.teacher.chat;
    if (!chat) throw new LabError('NoModelError', 'No ONNX chat model is loaded.', 'Load one in the Arena (ONNX model), then try again.');
    const result = await chat.chat(messages, {
      maxTokens: o.maxNewTokens,
      temperature: o.temperature,
      ...(o.stop?.length ? { stop: o.stop } : {}),
      signal,
      onToken: (text) => onToken({ text }),
    });
    return {
      ids: result.tokenIds ?? [],
      text: result.text,
      promptTokens: result.usage?.promptTokens,
      finishReason: result.finishReason === 'length' ? 'length' : 'stop',
    };
  }

  /** Build (or resume) a cache of the chosen or rejected responses of a stored data set. */
  async build(r: CacheBuildRequest, student: StudentIdentity | null, sink: Sink<CacheBuildEvent>, signal: AbortSignal): Promise<TeacherCacheSummary> {
    validateBuild(r);
    if (r.scorer !== ONNX_SCORER) throw new CacheOptionsError('Scored by', `this worker builds with the ONNX teacher ("${ONNX_SCORER}"), got "${r.scorer}".`);
    if (r.response === 'student') {
      throw new CacheOptionsError('Responses', 'an ONNX teacher scores the chosen or rejected responses; the student’s own responses ŷ are written and scored in the engine (Scored by: Teacher or Reference).');
    }
    const loaded = this.slots.teacher;
    if (!loaded) throw new LabError('NoModelError', 'No ONNX teacher is loaded, which would score the responses.', 'Load one in “Build a teacher cache” (Scored by: ONNX).');
    const { teacher, card } = loaded;
    checkStudent(teacher, student);
    const db = await this.deps.db();
    const { record, set } = await loadPreferenceSet(db, r.datasetId);
    const maxLength = Math.min(r.maxLength, teacher.context);
    const fit = fitPairs(renderPairs(set, teacher.tokenizer), { maxLength, overLength: 'truncate' });
    if (fit.pairs.length === 0) throw new DataError(set.file, '', `has no pair whose prompt fits in ${maxLength} tokens.`, 'Raise the max length.');
    const meta: TeacherCacheMeta = {
      response: r.response,
      k: r.k,
      temperature: 1,
      model: teacher.name,
      tokenizerSha256: teacher.tokenizer.tokenizerSha256,
      vocabSize: teacher.vocabSize,
      datasetSha256: set.sha256,
      exampleIds: fit.pairs.map((p) => p.id),
    };
    const cacheId = await cacheIdOf(r, card, null);
    const build = await TeacherCacheBuild.begin(db, {
      id: cacheId,
      name: `${teacher.name} (ONNX) · ${RESPONSE_LABEL[r.response]} · ${record.name}`,
      kind: 'probs',
      valueDType: r.valueDType,
      meta,
      chunkBytes: Infinity, // chunks are written by scoreRowsInto, at batch boundaries
    });
    if (!(await getBuildPlan(db, cacheId))) await saveBuildPlan(db, { cacheId, request: r, scorer: { id: card.id, name: card.name }, student: null, createdAt: Date.now() });
    void sink({ type: 'started', cache: build.info, resumedAt: build.nextExample });
    const progress = new BuildProgress(sink, build.examplesTotal, build.info.positions, this.progressMs);
    const seqs = sequencesFor(fit.pairs.slice(build.nextExample), r.response);
    const rows = teacher.score(seqs, { k: r.k, valueDType: r.valueDType, batchSize: r.batchSize, signal });
    await scoreRowsInto(build, rows, { batchSize: r.batchSize, k: r.k, flushMs: this.flushMs }, progress);
    return build.finish();
  }
}
