// The engine worker's model: loads one model (files from any source, weights onto the GPU, a KV
// cache sized once), describes it as a plain ModelCard, and generates text with it. A new model
// replaces the old one only after it loaded completely, so a failed or cancelled load leaves the
// previous model usable. ModelSlots (below) keeps one ModelHost per named slot (student, teacher…).
import type { GenerateEvent, GenerateRequest, GenerateResult, LoadModelOptions, LoadProgressEvent, ModelCard, ModelSlot, ModelSourceSpec } from '../src/engine/api.ts';
import { DEFAULT_CONTEXT, SLOT_NAME, STUDENT_SLOT } from '../src/engine/api.ts';
import { LabError, ShapeError } from '../src/engine/errors.ts';
import type { Gpu } from '../src/engine/gpu.ts';
import { GenerationSession } from '../src/engine/models/generate.ts';
import { KvCache } from '../src/engine/models/kv-cache.ts';
import { loadDecoder, type LoadedModel } from '../src/engine/models/load.ts';
import { generateText } from '../src/engine/models/text-generation.ts';
import { parameterCount } from '../src/formats/config.ts';
import { loadModelFiles, type ModelFiles } from '../src/formats/model-files.ts';
import { RateMeter } from '../src/formats/progress.ts';
import { sourceName } from '../src/formats/source-name.ts';
import { BrowserFilesSource, DirectoryHandleSource, sourceFromString, type ModelSource } from '../src/formats/source.ts';
import { modelRecordOf, type ModelRecord } from '../src/store/cached-models.ts';
import { openBrowserWeightCache, type WeightCache } from '../src/store/weight-cache.ts';

interface Loaded {
  model: LoadedModel;
  session: GenerationSession;
  card: ModelCard;
}

export function sourceOf(spec: ModelSourceSpec): ModelSource {
  switch (spec.kind) {
    case 'location':
      return sourceFromString(spec.text, { hubBase: spec.hubBase || undefined, token: spec.token || undefined });
    case 'files':
      if (spec.files.length === 0) throw new LabError('ModelLocationError', 'No files were given.', 'Pick the model folder (config.json, tokenizer.json and the .safetensors weights).');
      return new BrowserFilesSource(spec.files, spec.name);
    case 'directory':
      return new DirectoryHandleSource(spec.handle);
  }
}

function cardOf(files: ModelFiles, model: LoadedModel, session: GenerationSession, loadMs: number, name: string | undefined): ModelCard {
  const c = files.config;
  const g = files.generationConfig;
  return {
    id: `${files.source.id}@${files.source.revision}`,
    name: name || sourceName(files.source),
    source: { kind: files.source.kind, id: files.source.id, revision: files.source.revision, description: files.source.describe() },
    architecture: c.architectures[0] ?? c.architecture,
    family: c.architecture,
    parameters: parameterCount(c),
    dtype: c.dtype,
    computeDtype: 'f32',
    vocab: c.vocabSize,
    layers: c.numLayers,
    hidden: c.hiddenSize,
    intermediate: c.intermediateSize,
    heads: c.numHeads,
    kvHeads: c.numKvHeads,
    headDim: c.headDim,
    tiedEmbeddings: c.tieWordEmbeddings,
    context: c.maxPositionEmbeddings,
    sessionContext: session.capacity,
    weightBytes: model.weightBytes,
    kvCacheBytes: KvCache.bytes(c, 1, session.capacity),
    fileBytes: files.files.reduce((n, f) => n + f.size, 0),
    filesFrom: [...new Set(files.files.map((f) => f.from))],
    chatTemplate: files.tokenizer.hasChatTemplate,
    tokenizerSha256: files.tokenizer.tokenizerSha256,
    stopTokenIds: files.stopTokenIds,
    generationDefaults: g && { doSample: g.doSample, temperature: g.temperature, topK: g.topK, topP: g.topP, repetitionPenalty: g.repetitionPenalty },
    loadMs,
  };
}

/** Upload progress in f32 bytes, at most every `intervalMs` (and always at the end). */
function uploadProgress(files: ModelFiles, emit: (e: LoadProgressEvent) => void, intervalMs = 100) {
  const bytesOf = (name: string) => (files.weights.tensors.get(name)?.shape.reduce((a, b) => a * b, 1) ?? 0) * 4;
  let total = 0;
  for (const name of files.weights.tensors.keys()) total += bytesOf(name);
  const meter = new RateMeter();
  let loaded = 0;
  let last = -Infinity;
  return ({ tensors, totalTensors, name }: { tensors: number; totalTensors: number; name: string }) => {
    const bytes = bytesOf(name);
    loaded += bytes;
    meter.add(bytes);
    const now = performance.now();
    if (now - last < intervalMs && tensors < totalTensors) return;
    last = now;
    const rate = meter.rate();
    emit({ phase: 'upload', file: name, loadedBytes: loaded, totalBytes: total, bytesPerSecond: rate, etaSeconds: rate > 0 ? (total - loaded) / rate : null });
  };
}

export class ModelHost {
  private loaded: Loaded | null = null;
  private cache: Promise<WeightCache | null> | null = null;

  constructor(
    private readonly onChange: (card: ModelCard | null) => void,
    private readonly slot: ModelSlot = STUDENT_SLOT,
  ) {}

  get card(): ModelCard | null {
    return this.loaded?.card ?? null;
  }

  /** The loaded model and its card, for training (workers/train-host.ts), which changes its weights in place. */
  get current(): { model: LoadedModel; card: ModelCard } | null {
    return this.loaded && { model: this.loaded.model, card: this.loaded.card };
  }

  /** The weights changed in place (training): the next reply must not reuse the KV cache. */
  weightsChanged(): void {
    this.loaded?.session.reset();
  }

  /** The browser's offline weight cache (OPFS); null where the browser has none. */
  private weightCache(): Promise<WeightCache | null> {
    this.cache ??= openBrowserWeightCache().catch(() => null);
    return this.cache;
  }

  async load(
    gpu: Gpu,
    spec: ModelSourceSpec,
    options: LoadModelOptions,
    onProgress: (e: LoadProgressEvent) => void,
    signal: AbortSignal,
  ): Promise<{ card: ModelCard; record: ModelRecord | null }> {
    const t0 = performance.now();
    const source = sourceOf(spec);
    const cache = source.remote && options.cache !== false ? await this.weightCache() : null;
    const files = await loadModelFiles(source, {
      cache,
      signal,
      onProgress: (p) => onProgress({ phase: p.phase, file: p.file, loadedBytes: p.loadedBytes, totalBytes: p.totalBytes, bytesPerSecond: p.bytesPerSecond, etaSeconds: p.etaSeconds }),
    });
    const context = Math.min(files.config.maxPositionEmbeddings, options.context ?? DEFAULT_CONTEXT);
    if (!Number.isInteger(context) || context < 2) throw new ShapeError(`The context length must be a whole number ≥ 2, got ${options.context}.`);
    const model = await loadDecoder(gpu, files, { onProgress: uploadProgress(files, onProgress), signal });
    let session: GenerationSession;
    try {
      signal.throwIfAborted();
      session = new GenerationSession(model.decoder, context);
      await gpu.sync();
    } catch (err) {
      releaseModel(model);
      throw err;
    }
    const card = cardOf(files, model, session, performance.now() - t0, options.name);
    const old = this.loaded;
    this.loaded = { model, session, card };
    if (old) releaseLoaded(old);
    this.onChange(card);
    return { card, record: cache ? modelRecordOf(files) : null };
  }

  unload(): void {
    const old = this.loaded;
    if (!old) return;
    this.loaded = null;
    releaseLoaded(old);
    this.onChange(null);
  }

  /** The device is gone, and the model's buffers with it: forget the model without touching them. */
  forgetLost(): void {
    if (!this.loaded) return;
    this.loaded = null;
    this.onChange(null);
  }

  async generate(request: GenerateRequest, onEvent: (e: GenerateEvent) => void, signal: AbortSignal): Promise<GenerateResult> {
    const loaded = this.loaded;
    if (!loaded) {
      if (this.slot !== STUDENT_SLOT) throw new LabError('NoModelError', `No model is loaded in the ${this.slot} slot.`, `Load one into the ${this.slot} slot first.`);
      throw new LabError('NoModelError', 'No model is loaded.', 'Load a model in the Models panel first.');
    }
    const { maxNewTokens } = request;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new ShapeError(`Max new tokens must be a whole number ≥ 1, got ${maxNewTokens}.`);
    const { files } = loaded.model;
    // Events cross to the page on the sink's own port, the result on the worker's: without waiting for
    // the last events to be delivered, the result can overtake them (a reply missing its last tokens).
    const delivered: Promise<unknown>[] = [];
    const result = await generateText(
      loaded.session,
      files.tokenizer,
      { messages: request.messages, prompt: request.prompt },
      {
        ...request.sampling,
        maxNewTokens,
        stop: request.stop,
        eosTokenIds: files.stopTokenIds,
        fitContext: true,
        signal,
        onEvent: (e) => void delivered.push(Promise.resolve(onEvent(e)).catch(() => undefined)),
      },
    );
    await Promise.all(delivered);
    return result;
  }
}

function releaseLoaded({ model, session }: Loaded): void {
  session.release();
  releaseModel(model);
}

function releaseModel(model: LoadedModel): void {
  model.decoder.release();
}

/**
 * Named model slots (see ModelSlot in src/engine/api.ts): one ModelHost per slot, each loaded,
 * replaced and unloaded on its own. The student's host is the worker's existing one, so every
 * method that means "the loaded model" keeps meaning the student; other slots are made on first use.
 */
export class ModelSlots {
  private readonly hosts = new Map<ModelSlot, ModelHost>();

  /** `onChange` hears about every slot but the student's (whose host has its own callback). */
  constructor(
    student: ModelHost,
    private readonly onChange: (slot: ModelSlot, card: ModelCard | null) => void,
  ) {
    this.hosts.set(STUDENT_SLOT, student);
  }

  /** The slot's host, made empty on first use. */
  host(slot: ModelSlot): ModelHost {
    let host = this.hosts.get(slot);
    if (!host) {
      if (!SLOT_NAME.test(slot)) throw new LabError('ModelSlotError', `"${slot}" is not a model slot name.`, 'Use a lower-case name such as "teacher", "reference" or "compare".');
      host = new ModelHost((card) => this.onChange(slot, card), slot);
      this.hosts.set(slot, host);
    }
    return host;
  }

  /** The slot's loaded model, or null when the slot is empty (or was never used). */
  current(slot: ModelSlot): { model: LoadedModel; card: ModelCard } | null {
    return this.hosts.get(slot)?.current ?? null;
  }

  /** The device is gone: every slot forgets its model. */
  forgetLost(): void {
    for (const host of this.hosts.values()) host.forgetLost();
  }
}
