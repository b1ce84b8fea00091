// Loads everything a model needs from any ModelSource, validated, with progress and cancel:
//
//   const m = await loadModelFiles(source, { cache, onProgress, signal });
//   m.config (ModelConfig), m.generationConfig, m.tokenizer, m.stopTokenIds,
//   m.weights.tensors (every header, checked against config.json), then
//   for await (const t of m.weights.stream()) upload(t)   // or m.weights.pieces(bytes) / read(name)
//
// Order: config.json first (an unsupported model fails before any large download), then
// generation_config.json (optional), the tokenizer files, then the weights (model.safetensors, or the
// shards named by model.safetensors.index.json). Remote files go through the weight cache when one is
// given (cache first: a model loaded once loads offline, including which optional files it has),
// and are downloaded into it completely and verified before use; without a cache, weights are read
// over HTTP ranges while the caller streams them. Errors: ConfigError, TokenizerError,
// MissingFileError, DownloadError (file + byte position), IntegrityError, SafetensorsError,
// TensorMismatchError, StorageQuotaError, or the signal's AbortError. Nothing partial is cached.
import { LISTING_FILE, type WeightCache } from '../store/weight-cache.ts';
import { blobBytes, collectBytes, streamChunks, type RandomAccessBytes } from './bytes.ts';
import { checkTensors, parseModelConfig, type ModelConfig } from './config.ts';
import { ConfigError, MissingFileError } from './errors.ts';
import { parseGenerationConfig, type GenerationConfig } from './generation-config.ts';
import { ProgressTracker, type LoadProgress, type ProgressListener } from './progress.ts';
import { openSafetensors } from './safetensors.ts';
import { parseShardIndex, SHARD_INDEX_FILE, SINGLE_WEIGHTS_FILE } from './shard-index.ts';
import type { ModelSource, SourceFileInfo } from './source.ts';
import { checkTokenizerFits, loadTokenizer, type Tokenizer, type TokenizerFiles } from './tokenizer.ts';
import { weightSet, type WeightSet } from './weights.ts';

export interface LoadModelOptions {
  /** Offline cache for remote sources; null or omitted: no caching. */
  cache?: WeightCache | null;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
  /** Clock for rates (tests). */
  now?: () => number;
}

export interface LoadedFile {
  path: string;
  size: number;
  sha256: string | null;
  from: LoadProgress['phase'];
}

export interface ModelFiles {
  source: ModelSource;
  config: ModelConfig;
  generationConfig: GenerationConfig | null;
  tokenizer: Tokenizer;
  weights: WeightSet;
  /** Files used, with sizes and where they came from. */
  files: LoadedFile[];
  /** Union of generation_config, config and tokenizer eos ids: generation stops on any of them. */
  stopTokenIds: number[];
  /** The small files as loaded (config.json, generation_config.json, tokenizer files), for export. */
  rawFiles: ReadonlyMap<string, Uint8Array>;
}


const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja'] as const;

function parseJson(path: string, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new ConfigError(path, '(root)', `is not valid JSON (${(err as Error).message}).`, 'The file is damaged: download it again.');
  }
}

/** One load: where each file comes from, progress, and what was used. */
class Fetcher {
  listing: Map<string, SourceFileInfo> | null = null;
  listingFromCache = false;
  readonly used: LoadedFile[] = [];
  readonly progress: ProgressTracker;

  constructor(
    readonly source: ModelSource,
    readonly cache: WeightCache | null,
    readonly signal: AbortSignal | undefined,
    onProgress: ProgressListener | undefined,
    now: (() => number) | undefined,
  ) {
    this.progress = new ProgressTracker(onProgress, now);
  }

  private key(file: string) {
    return { sourceId: this.source.id, revision: this.source.revision, file };
  }

  async init(): Promise<void> {
    if (this.cache) {
      const cached = await this.cache.get(this.key(LISTING_FILE));
      if (cached) {
        const files = JSON.parse(await cached.blob.text()) as SourceFileInfo[];
        this.listing = new Map(files.map((f) => [f.path, f]));
        this.listingFromCache = true;
        return;
      }
    }
    const files = await this.source.listFiles(this.signal);
    if (files) this.listing = new Map(files.map((f) => [f.path, f]));
  }

  /** Whether the source has the file: true/false from a listing, null when unknown. */
  has(path: string): boolean | null {
    return this.listing ? this.listing.has(path) : null;
  }

  expect(paths: readonly string[]): void {
    for (const p of paths) this.progress.expect(p, this.listing?.get(p)?.size ?? null);
  }

  /** Counts bytes of a download toward progress as they pass (and reports the file complete at the end when asked). */
  private async *metered(path: string, chunks: AsyncIterable<Uint8Array>, finishAtEnd = false): AsyncGenerator<Uint8Array> {
    for await (const c of chunks) {
      this.progress.advance(path, c.byteLength, 'download');
      yield c;
    }
    if (finishAtEnd) this.progress.finish(path, 'download');
  }

  /** Announces the files a load will read, where the listing says so, so totals hold from the start. */
  plan(): void {
    if (!this.listing) return;
    const small = ['config.json', 'generation_config.json', ...TOKENIZER_FILES, SHARD_INDEX_FILE];
    const weights = this.listing.has(SHARD_INDEX_FILE) ? [] : [SINGLE_WEIGHTS_FILE];
    this.expect([...small, ...weights].filter((p) => this.listing!.has(p)));
  }

  /** The file from the cache, or downloaded into it (complete and verified) first. */
  private async cached(cache: WeightCache, path: string): Promise<Blob> {
    const hit = await cache.get(this.key(path));
    if (hit) {
      this.progress.expect(path, hit.entry.size);
      this.progress.advance(path, hit.entry.size, 'cache');
      this.progress.finish(path, 'cache');
      this.used.push({ path, size: hit.entry.size, sha256: hit.entry.sha256, from: 'cache' });
      return hit.blob;
    }
    const opened = await this.source.open(path, { signal: this.signal });
    const info = this.listing?.get(path);
    const size = info?.size ?? opened.size;
    this.progress.expect(path, size);
    const stored = await cache.put(this.key(path), this.metered(path, streamChunks(opened.stream, this.signal)), {
      size,
      sha256: info?.sha256 ?? opened.sha256,
      signal: this.signal,
    });
    this.progress.finish(path, 'download');
    this.used.push({ path, size: stored.entry.size, sha256: stored.entry.sha256, from: 'download' });
    return stored.blob;
  }

  /** A whole (small) file; null when optional and absent. */
  async bytes(path: string, optional = false): Promise<Uint8Array | null> {
    if (optional && this.has(path) === false) return null;
    try {
      if (this.source.remote && this.cache) return new Uint8Array(await (await this.cached(this.cache, path)).arrayBuffer());
      const opened = await this.source.open(path, { signal: this.signal });
      const phase = this.source.remote ? 'download' : 'local';
      this.progress.expect(path, opened.size);
      const bytes = await collectBytes(this.source.remote ? this.metered(path, streamChunks(opened.stream, this.signal)) : streamChunks(opened.stream, this.signal));
      if (!this.source.remote) this.progress.advance(path, bytes.byteLength, phase);
      this.progress.finish(path, phase);
      this.used.push({ path, size: bytes.byteLength, sha256: opened.sha256, from: phase });
      return bytes;
    } catch (err) {
      if (optional && err instanceof MissingFileError) return null;
      throw err;
    }
  }

  /** Random access to a (large) file: cached Blob, local Blob, or HTTP ranges metered as a download. */
  async randomAccess(path: string): Promise<RandomAccessBytes> {
    if (this.source.remote && this.cache) return blobBytes(await this.cached(this.cache, path));
    const ra = await this.source.randomAccess(path, this.signal);
    this.progress.expect(path, ra.size);
    if (!this.source.remote) {
      this.progress.advance(path, ra.size, 'local');
      this.progress.finish(path, 'local');
      this.used.push({ path, size: ra.size, sha256: null, from: 'local' });
      return ra;
    }
    this.used.push({ path, size: ra.size, sha256: this.listing?.get(path)?.sha256 ?? null, from: 'download' });
    // The first streamed pass is the download: it counts as progress (with the header bytes read
    // before it) and completes the file.
    let metered = false;
    const chunks = (start: number, signal?: AbortSignal): AsyncIterable<Uint8Array> => {
      if (metered) return ra.chunks(start, signal);
      metered = true;
      this.progress.advance(path, start, 'download');
      return this.metered(path, ra.chunks(start, signal), true);
    };
    return { size: ra.size, slice: (a, b) => ra.slice(a, b), chunks };
  }

  /** Remember the listing in the cache so that an offline load knows which files exist. */
  async rememberListing(): Promise<void> {
    if (!this.cache || !this.source.remote || this.listingFromCache) return;
    const files = this.listing ? [...this.listing.values()] : this.used.map((u) => ({ path: u.path, size: u.size, sha256: u.sha256 }));
    const json = new TextEncoder().encode(JSON.stringify(files));
    await this.cache.put(this.key(LISTING_FILE), (async function* () {
      yield json;
    })());
  }
}

/** The tokenizer files the source has (tokenizer.json is required), added to `into`. */
async function readTokenizerFiles(fetcher: Fetcher, into: Map<string, Uint8Array>): Promise<TokenizerFiles> {
  for (const [i, file] of TOKENIZER_FILES.entries()) {
    const bytes = await fetcher.bytes(file, i > 0);
    if (bytes) into.set(file, bytes);
  }
  return {
    tokenizerJson: into.get('tokenizer.json')!,
    tokenizerConfig: into.get('tokenizer_config.json'),
    specialTokensMap: into.get('special_tokens_map.json'),
    chatTemplate: into.get('chat_template.jinja'),
  };
}

async function readWeights(fetcher: Fetcher): Promise<WeightSet> {
  const listed = fetcher.has(SHARD_INDEX_FILE);
  const indexBytes = listed === false ? null : await fetcher.bytes(SHARD_INDEX_FILE, true);
  if (!indexBytes) {
    if (fetcher.has(SINGLE_WEIGHTS_FILE) === false) throw new MissingFileError(SINGLE_WEIGHTS_FILE, fetcher.source.describe(), 'Student Lab reads safetensors weights (model.safetensors or a sharded index); convert .bin/.pt checkpoints first.');
    fetcher.expect([SINGLE_WEIGHTS_FILE]);
    return weightSet([await openSafetensors(await fetcher.randomAccess(SINGLE_WEIGHTS_FILE), SINGLE_WEIGHTS_FILE)], null);
  }
  const index = parseShardIndex(parseJson(SHARD_INDEX_FILE, indexBytes));
  fetcher.expect(index.shards);
  const files = [];
  for (const shard of index.shards) {
    if (fetcher.has(shard) === false) throw new MissingFileError(shard, `${fetcher.source.describe()} (named by ${SHARD_INDEX_FILE})`);
    try {
      files.push(await openSafetensors(await fetcher.randomAccess(shard), shard));
    } catch (err) {
      if (err instanceof MissingFileError) throw new MissingFileError(shard, `${fetcher.source.describe()} (named by ${SHARD_INDEX_FILE})`);
      throw err;
    }
  }
  return weightSet(files, index);
}

export async function loadModelFiles(source: ModelSource, options: LoadModelOptions = {}): Promise<ModelFiles> {
  const fetcher = new Fetcher(source, options.cache ?? null, options.signal, options.onProgress, options.now);
  await fetcher.init();
  fetcher.plan();
  const rawFiles = new Map<string, Uint8Array>();
  const configBytes = (await fetcher.bytes('config.json'))!;
  rawFiles.set('config.json', configBytes);
  const config = parseModelConfig(parseJson('config.json', configBytes));
  const generationBytes = await fetcher.bytes('generation_config.json', true);
  if (generationBytes) rawFiles.set('generation_config.json', generationBytes);
  const generationConfig = generationBytes ? parseGenerationConfig(parseJson('generation_config.json', generationBytes)) : null;
  const tokenizer = await loadTokenizer(await readTokenizerFiles(fetcher, rawFiles));
  checkTokenizerFits(config, tokenizer);
  const weights = await readWeights(fetcher);
  checkTensors(config, weights.tensors, source.describe());
  await fetcher.rememberListing();
  const stopTokenIds = [...new Set([...(generationConfig?.eosTokenIds ?? []), ...config.eosTokenIds, ...tokenizer.eosTokenIds])];
  return { source, config, generationConfig, tokenizer, weights, files: fetcher.used, stopTokenIds, rawFiles };
}

/** Just the tokenizer of a source (no cache): for tools that do not need the weights. */
export async function loadTokenizerFrom(source: ModelSource, signal?: AbortSignal): Promise<Tokenizer> {
  const fetcher = new Fetcher(source, null, signal, undefined, undefined);
  await fetcher.init();
  return loadTokenizer(await readTokenizerFiles(fetcher, new Map()));
}
