// A teacher that is an ONNX causal LM run by transformers.js (onnxruntime-web on WebGPU or wasm in
// the page's teacher worker, onnxruntime-node on CPU in Node). It scores sequences into the same
// rows as our engine's scoreWithTeacher (./build.ts): position j of an example predicts response
// token j; softmax at temperature 1 over the whole vocabulary (an f64 log-sum-exp on the CPU from
// the model's f32 logits), the top-K ids by descending probability (lower id first on ties), their
// probabilities (f16 bits or f32) and the rest mass 1 − Σ.
//
//   const teacher = await loadOnnxTeacher({ source, device: 'webgpu', gpuDevice });
//   teacher.tokenizer (ours, from the folder's tokenizer files: the real tokenizer_sha256), .vocabSize
//   for await (const rows of teacher.score(sequences, { k, valueDType, batchSize, signal })) ...
//
// Files come from any ModelSource (hub, URL, picked folder): in the browser transformers.js asks
// for them through `env.fetch` at a host that never resolves, and the bridge below answers from
// the source (with progress). In Node transformers.js insists on file paths, so there the source
// must be a local folder (NodeFolderSource).
import type { PreTrainedModel, Tensor } from '@huggingface/transformers';
import { CancelledError, LabError } from '../../engine/errors.ts';
import { float16ToFloat32, float32ToFloat16 } from '../../engine/f16.ts';
import { MissingFileError } from '../../formats/errors.ts';
import { loadTokenizerFrom } from '../../formats/model-files.ts';
import { ProgressTracker, type ProgressListener } from '../../formats/progress.ts';
import type { ModelSource } from '../../formats/source.ts';
import type { Tokenizer } from '../../formats/tokenizer.ts';
import { padRows, responsePositions } from '../trainer/batches.ts';
import type { ScoredSequence, TeacherRows, TeacherScoreOptions } from './build.ts';
import { TransformersChat } from '../../llm/transformers.ts';

export type OnnxDevice = 'webgpu' | 'wasm' | 'cpu';
/** ONNX weight variants as transformers.js names them: onnx/model.onnx, onnx/model_fp16.onnx. */
export type OnnxDType = 'fp32' | 'fp16';

export interface OnnxTeacherConfig {
  source: ModelSource;
  /** For the cache records and messages (default: the source's description). */
  name?: string;
  /** 'webgpu' and 'wasm' in the browser, 'cpu' in Node. */
  device: OnnxDevice;
  /** WebGPU: the device onnxruntime-web runs on (ours, so the compatibility route works). */
  gpuDevice?: GPUDevice;
  dtype?: OnnxDType;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
  /** Also load transformers.js's tokenizer (with the chat template) for `chat`: a model to talk to. */
  chat?: boolean;
}

export interface OnnxTeacher {
  /** `onnx:<source id>@<revision>/<dtype>`: what a cache build records as its scorer. */
  readonly id: string;
  readonly name: string;
  readonly device: OnnxDevice;
  readonly dtype: OnnxDType;
  readonly tokenizer: Tokenizer;
  /** config.json's vocab_size: the logit count. */
  readonly vocabSize: number;
  /** max_position_embeddings (Infinity when config.json does not say). */
  readonly context: number;
  /** Bytes of the files read. */
  readonly fileBytes: number;
  score(seqs: readonly ScoredSequence[], o: TeacherScoreOptions): AsyncGenerator<TeacherRows>;
  /** The model behind the chat interface (loaded with `chat: true`; else null). */
  readonly chat: TransformersChat | null;
  dispose(): Promise<void>;
}

export class OnnxTeacherError extends LabError {
  constructor(model: string, detail: string, hint = 'The folder needs config.json, tokenizer.json and onnx/model.onnx (onnx/model_fp16.onnx for fp16), as transformers.js exports them.') {
    super('OnnxTeacherError', `ONNX teacher ${model}: ${detail}`, hint);
  }
}

/** Logits of one forward pass at most this large: a batch is scored in smaller groups beyond it. */
const LOGITS_BYTES = 256 * 1024 * 1024;

// ---- scoring -----------------------------------------------------------------------------------

/**
 * Top-K of one logit row z (V values from `offset`), written at `at`: ids by descending
 * probability, lower id first on ties, probabilities rounded to f32. Returns their sum.
 */
function topKRow(z: Float32Array, offset: number, V: number, K: number, ids: Int32Array, probs: Float32Array, at: number): number {
  let max = -Infinity;
  for (let j = 0; j < V; j++) max = Math.max(max, z[offset + j]);
  let sum = 0;
  for (let j = 0; j < V; j++) sum += Math.exp(z[offset + j] - max);
  const lse = max + Math.log(sum);
  // Candidates by logit, kept sorted; ids arrive in increasing order, so an equal logit goes after.
  const top = new Int32Array(K);
  let n = 0;
  for (let j = 0; j < V; j++) {
    const v = z[offset + j];
    if (n === K && !(v > z[offset + top[K - 1]])) continue;
    let i = n === K ? K - 1 : n++;
    while (i > 0 && v > z[offset + top[i - 1]]) {
      top[i] = top[i - 1];
      i--;
    }
    top[i] = j;
  }
  const p = Array.from(top.subarray(0, n), (j) => ({ id: j, p: Math.fround(Math.exp(z[offset + j] - lse)) }));
  // Distinct logits can round to the same f32 probability: order by what is stored.
  p.sort((a, b) => b.p - a.p || a.id - b.id);
  let total = 0;
  p.forEach((x, i) => {
    ids[at + i] = x.id;
    probs[at + i] = x.p;
    total += x.p;
  });
  return total;
}

/**
 * The rows of sequence b of a batch from its logits [B, T, V] (row b·T + t predicts labels[t + 1]).
 * Exported for tests.
 */
export function rowsFromLogits(logits: Float32Array, b: number, T: number, V: number, labels: readonly number[], K: number, valueDType: 'F16' | 'F32'): TeacherRows {
  if (K > V) throw new RangeError(`K = ${K} exceeds the vocabulary of ${V} ids.`);
  const { rows, labels: tokens } = responsePositions(labels, b, T);
  const indices = new Int32Array(rows.length * K);
  const probs = new Float32Array(rows.length * K);
  const rest = new Float32Array(rows.length);
  rows.forEach((row, i) => {
    const sum = topKRow(logits, row * V, V, K, indices, probs, i * K);
    rest[i] = Math.min(1, Math.max(0, 1 - sum));
  });
  return { tokens: Int32Array.from(tokens), indices, values: valueDType === 'F16' ? Uint16Array.from(probs, float32ToFloat16) : probs, rest };
}

function asFloat32(t: Tensor): Float32Array {
  const data = t.data as ArrayLike<number>;
  if (data instanceof Float32Array) return data;
  if (t.type === 'float16' && data instanceof Uint16Array) return Float32Array.from(data, float16ToFloat32);
  return Float32Array.from(data);
}

// ---- files through transformers.js ------------------------------------------------------------

/** Never contacted: transformers.js's `env.fetch` is the bridge, which answers from the model's source. */
const BRIDGE_HOST = 'https://onnx-teacher.invalid/';
interface Bridged {
  source: ModelSource;
  signal?: AbortSignal;
  progress: ProgressTracker;
  bytes: number;
}
const bridged = new Map<string, Bridged>();
let loads = 0;

async function bridgeFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const url = input instanceof Request ? input.url : String(input);
  const m = url.startsWith(BRIDGE_HOST) ? /^([^/]+\/[^/]+)\/resolve\/[^/]+\/(.+)$/.exec(url.slice(BRIDGE_HOST.length)) : null;
  const b = m ? bridged.get(m[1]) : undefined;
  if (!m || !b) return fetch(input, init);
  const path = m[2].split('/').map(decodeURIComponent).join('/');
  // transformers.js probes a file's size with "Range: bytes=0-0".
  const range = /^bytes=(\d+)-(\d+)$/.exec(new Headers(init?.headers).get('range') ?? '');
  try {
    if (range) {
      const start = Number(range[1]);
      const part = await b.source.open(path, { signal: b.signal, range: { start, end: Number(range[2]) + 1 } });
      const headers: Record<string, string> = part.totalSize === null ? {} : { 'content-range': `bytes ${start}-${Number(range[2])}/${part.totalSize}` };
      return new Response(part.stream, { status: 206, headers });
    }
    const opened = await b.source.open(path, { signal: b.signal });
    const phase = b.source.remote ? 'download' : 'local';
    b.progress.expect(path, opened.size);
    const counted = opened.stream.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, out) {
          b.bytes += chunk.byteLength;
          b.progress.advance(path, chunk.byteLength, phase);
          out.enqueue(chunk);
        },
        flush: () => b.progress.finish(path, phase),
      }),
    );
    return new Response(counted, { status: 200, headers: opened.size === null ? {} : { 'content-length': String(opened.size) } });
  } catch (err) {
    if (err instanceof MissingFileError) return new Response(null, { status: 404 });
    throw err;
  }
}

async function readJson(source: ModelSource, path: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
  const opened = await source.open(path, { signal });
  try {
    return (await new Response(opened.stream).json()) as Record<string, unknown>;
  } catch (err) {
    throw new OnnxTeacherError(source.describe(), `${path} is not valid JSON (${(err as Error).message}).`);
  }
}

/** A positive whole number from config.json (or its text_config, as multimodal configs nest it). */
function configSize(config: Record<string, unknown>, ...keys: string[]): number | null {
  const nested = (config.text_config ?? {}) as Record<string, unknown>;
  for (const key of keys) {
    for (const v of [config[key], nested[key]]) if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
  }
  return null;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined' && typeof self === 'undefined';

export async function loadOnnxTeacher(config: OnnxTeacherConfig): Promise<OnnxTeacher> {
  const { source, device, signal } = config;
  const dtype = config.dtype ?? 'fp32';
  const name = config.name ?? source.describe();
  const json = await readJson(source, 'config.json', signal);
  const vocabSize = configSize(json, 'vocab_size');
  if (vocabSize === null) throw new OnnxTeacherError(name, 'config.json has no vocab_size.');
  const context = configSize(json, 'max_position_embeddings', 'n_positions') ?? Infinity;
  const tokenizer = await loadTokenizerFrom(source, signal);

  const tf = await import('@huggingface/transformers');
  let modelId: string;
  const bridge: Bridged = { source, signal, progress: new ProgressTracker(config.onProgress), bytes: 0 };
  if (isNode) {
    // onnxruntime-node opens the model by path: a local folder, whose path is the model id.
    const folder = (source as ModelSource & { folder?: string }).folder;
    if (source.kind !== 'node-folder' || !folder) throw new OnnxTeacherError(name, 'in Node an ONNX teacher loads from a local folder.');
    tf.env.allowLocalModels = true;
    tf.env.allowRemoteModels = false;
    modelId = folder;
  } else {
    modelId = `lab/onnx-teacher-${++loads}`;
    bridged.set(modelId, bridge);
    tf.env.allowLocalModels = false;
    tf.env.allowRemoteModels = true;
    tf.env.remoteHost = BRIDGE_HOST;
    tf.env.remotePathTemplate = '{model}/resolve/{revision}/';
    tf.env.useBrowserCache = false;
    tf.env.fetch = bridgeFetch;
  }
  let model: PreTrainedModel;
  let chat: TransformersChat | null = null;
  try {
    // transformers.js's own tokenizer renders the chat template (Jinja) and streams the reply.
    const chatTokenizer = config.chat ? await tf.AutoTokenizer.from_pretrained(modelId) : null;
    if (chatTokenizer && !chatTokenizer.chat_template) {
      throw new OnnxTeacherError(name, 'its tokenizer_config.json has no chat_template, so it cannot be talked to.', 'Load a chat (instruct) model: its tokenizer_config.json carries the chat template.');
    }
    model = await tf.AutoModelForCausalLM.from_pretrained(modelId, {
      dtype,
      device,
      // onnxruntime-web ignores env.webgpu.adapter, but runs on a device given here.
      ...(device === 'webgpu' && config.gpuDevice ? { session_options: { executionProviders: [{ name: 'webgpu', device: config.gpuDevice }] } } : {}),
    });
    if (chatTokenizer) chat = new TransformersChat(tf, chatTokenizer, model, `${name} (ONNX, transformers.js)`);
  } catch (err) {
    if (signal?.aborted) throw new CancelledError(`Loading ${name} was cancelled.`);
    if (err instanceof LabError) throw err;
    throw new OnnxTeacherError(name, (err as Error).message.replace(modelId, name));
  } finally {
    bridged.delete(modelId);
  }
  const fileBytes = bridge.bytes;
  return {
    id: `onnx:${source.id}@${source.revision}/${dtype}`,
    name,
    device,
    dtype,
    tokenizer,
    vocabSize,
    context,
    fileBytes,
    score: (seqs, o) => score(tf, model, name, vocabSize, seqs, o),
    chat,
    dispose: async () => {
      await model.dispose();
    },
  };
}

type Transformers = typeof import('@huggingface/transformers');

/** One forward pass of right-padded sequences; returns the logits [B, T, V] as f32. */
async function forward(tf: Transformers, model: PreTrainedModel, name: string, V: number, group: readonly ScoredSequence[]): Promise<{ logits: Float32Array; T: number }> {
  const { B, T, ids, mask } = padRows(group.map((s) => s.ids), 0);
  const inputIds = new tf.Tensor('int64', BigInt64Array.from(ids, (x) => BigInt(x)), [B, T]);
  const attentionMask = new tf.Tensor('int64', BigInt64Array.from(mask, (x) => BigInt(x)), [B, T]);
  // transformers.js derives position_ids from the mask and feeds an empty KV cache.
  const out = (await model({ input_ids: inputIds, attention_mask: attentionMask })) as Record<string, Tensor>;
  try {
    const logits = out.logits;
    if (!logits) throw new OnnxTeacherError(name, `the model has no "logits" output (it has ${Object.keys(out).join(', ')}).`);
    const dims = logits.dims.join('×');
    if (logits.dims.length !== 3 || logits.dims[0] !== B || logits.dims[1] !== T || logits.dims[2] !== V) {
      throw new OnnxTeacherError(name, `the logits are ${dims}, expected ${B}×${T}×${V} (batch × tokens × config.json's vocab_size).`);
    }
    return { logits: asFloat32(logits), T };
  } finally {
    // KV outputs stay on the GPU (WebGPU) until disposed.
    for (const t of Object.values(out)) t.dispose?.();
  }
}

async function* score(tf: Transformers, model: PreTrainedModel, name: string, V: number, seqs: readonly ScoredSequence[], o: TeacherScoreOptions): AsyncGenerator<TeacherRows> {
  const batchSize = o.batchSize ?? 4;
  for (let start = 0; start < seqs.length; start += batchSize) {
    if (o.signal?.aborted) throw new CancelledError('Building the teacher cache was cancelled.');
    const batch = seqs.slice(start, start + batchSize);
    // The whole batch's logits cross to the CPU: split it when they would be too large.
    const longest = Math.max(1, ...batch.map((s) => s.ids.length));
    const group = Math.max(1, Math.floor(LOGITS_BYTES / (longest * V * 4)));
    for (let g = 0; g < batch.length; g += group) {
      const part = batch.slice(g, g + group);
      const { logits, T } = await forward(tf, model, name, V, part);
      for (let b = 0; b < part.length; b++) yield rowsFromLogits(logits, b, T, V, part[b].labels, o.k, o.valueDType);
    }
  }
}
