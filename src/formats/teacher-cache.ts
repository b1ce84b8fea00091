// The teacher-cache exchange format (docs/distillation.md): one safetensors file per (teacher
// model, dataset, response kind).
//   example_offsets I32 [E+1]   example e owns positions offsets[e] … offsets[e+1]−1
//   tokens          I32 [P]     the response token at each position (its label)
//   indices         I32 [P, K]  top-K ids, descending probability (advantage caches: descending Â)
//   probs           F16|F32 [P, K] and rest F32 [P]   (kind "probs")
//   advantage       F32 [P, K], no rest               (kind "advantage")
//   __metadata__    format, version, kind, response, k, temperature, model, tokenizer_sha256,
//                   vocab_size, dataset_sha256, example_ids (a JSON array of strings)
//
//   decodeTeacherCache(bytes, file)   parse + validate the file on its own (structure and values)
//   checkCacheMatches(cache, expect)  refuse a cache that does not fit the student and the data
//   encodeTeacherCache(cache)         the file's bytes (decode(encode(c)) gives identical tensors)
import { LabError } from '../engine/errors.ts';
import { tensorToFloat32, tensorToInt32, type TensorData } from './dtypes.ts';
import { parseSafetensors } from './safetensors.ts';
import { writeSafetensors, type TensorToWrite } from './safetensors-writer.ts';

export const TEACHER_CACHE_FORMAT = 'student-lab/teacher-cache';
export const TEACHER_CACHE_VERSION = '1';
export const CACHE_RESPONSES = ['chosen', 'rejected', 'student'] as const;
export type CacheResponse = (typeof CACHE_RESPONSES)[number];
export type CacheKind = 'probs' | 'advantage';

/**
 * Tolerance on probs + rest = 1 and on rest ∈ [0, 1]. F16 probabilities carry a relative rounding
 * of 2^-11 each (≤ 4.9e-4 on their sum) and a rest computed in half precision as much again:
 * 2e-3 is twice that. F32: sums of K ≤ 256 values in f32 err by ≤ 1.5e-5; 1e-4 leaves a margin.
 */
export const SUM_TOLERANCE = { F16: 2e-3, F32: 1e-4 } as const;

export interface TeacherCacheMeta {
  response: CacheResponse;
  k: number;
  temperature: number;
  /** Teacher model id or name (for an advantage cache: both models). */
  model: string;
  /** SHA-256 (hex) of the tokenizer.json bytes. */
  tokenizerSha256: string;
  vocabSize: number;
  datasetSha256: string;
  exampleIds: string[];
}

/** Probabilities as stored: f16 bit patterns (kept bit-exact) or f32 values. */
export type StoredProbs = { dtype: 'F16'; bits: Uint16Array } | { dtype: 'F32'; values: Float32Array };

interface CacheTensors {
  meta: TeacherCacheMeta;
  /** [E+1] */
  exampleOffsets: Int32Array;
  /** [P] */
  tokens: Int32Array;
  /** [P, K] */
  indices: Int32Array;
}

export type TeacherCache =
  | (CacheTensors & { kind: 'probs'; probs: StoredProbs; rest: Float32Array })
  | (CacheTensors & { kind: 'advantage'; advantage: Float32Array });

/** A teacher-cache file is malformed: names the file, the field or tensor, and the value. */
export class TeacherCacheError extends LabError {
  constructor(
    readonly file: string,
    message: string,
    hint = 'Export the cache again (student-lab teacher-cache or tools/teacher_cache.py); the file is damaged or was written by another tool.',
  ) {
    super('TeacherCacheError', `${file}: ${message}`, hint);
  }
}

/** A valid cache that does not fit this student or these data (tokenizer, vocabulary, examples, tokens, kind). */
export class TeacherCacheMismatchError extends LabError {
  constructor(
    readonly file: string,
    message: string,
    hint = 'Build the cache with the same tokenizer and the same data set as the student run (or pick the matching cache).',
  ) {
    super('TeacherCacheMismatchError', `${file}: ${message}`, hint);
  }
}

/** The probabilities as f32 (f16 widened exactly). */
export function probsAsFloat32(p: StoredProbs): Float32Array {
  if (p.dtype === 'F32') return p.values;
  return tensorToFloat32({ name: 'probs', dtype: 'F16', shape: [p.bits.length], data: new Uint8Array(p.bits.buffer, p.bits.byteOffset, p.bits.byteLength) });
}

// ---- encode ----------------------------------------------------------------------------------

function metadataOf(c: TeacherCache): Record<string, string> {
  const m = c.meta;
  return {
    format: TEACHER_CACHE_FORMAT,
    version: TEACHER_CACHE_VERSION,
    kind: c.kind,
    response: m.response,
    k: String(m.k),
    temperature: String(m.temperature),
    model: m.model,
    tokenizer_sha256: m.tokenizerSha256,
    vocab_size: String(m.vocabSize),
    dataset_sha256: m.datasetSha256,
    example_ids: JSON.stringify(m.exampleIds),
  };
}

/** The safetensors bytes of a cache (validated first: an invalid cache is never written). */
export function encodeTeacherCache(c: TeacherCache, file = 'teacher cache'): Uint8Array {
  validateTeacherCache(c, file);
  const P = c.tokens.length;
  const K = c.meta.k;
  const tensors: TensorToWrite[] = [
    { name: 'example_offsets', dtype: 'I32', shape: [c.exampleOffsets.length], data: c.exampleOffsets },
    { name: 'tokens', dtype: 'I32', shape: [P], data: c.tokens },
    { name: 'indices', dtype: 'I32', shape: [P, K], data: c.indices },
  ];
  if (c.kind === 'probs') {
    tensors.push(c.probs.dtype === 'F16' ? { name: 'probs', dtype: 'F16', shape: [P, K], data: c.probs.bits } : { name: 'probs', dtype: 'F32', shape: [P, K], data: c.probs.values });
    tensors.push({ name: 'rest', dtype: 'F32', shape: [P], data: c.rest });
  } else {
    tensors.push({ name: 'advantage', dtype: 'F32', shape: [P, K], data: c.advantage });
  }
  return writeSafetensors(tensors, metadataOf(c));
}

// ---- decode ----------------------------------------------------------------------------------

function parseMeta(raw: Record<string, string> | null, file: string): { kind: CacheKind; meta: TeacherCacheMeta } {
  const bad = (field: string, message: string) => new TeacherCacheError(file, `__metadata__ "${field}" ${message}`);
  if (!raw) throw new TeacherCacheError(file, 'has no __metadata__: it is not a Student Lab teacher cache.');
  const get = (field: string) => {
    const v = raw[field];
    if (v === undefined) throw bad(field, 'is missing.');
    return v;
  };
  if (get('format') !== TEACHER_CACHE_FORMAT) throw bad('format', `is "${raw.format}", expected "${TEACHER_CACHE_FORMAT}": not a Student Lab teacher cache.`);
  if (get('version') !== TEACHER_CACHE_VERSION) {
    throw new TeacherCacheError(file, `__metadata__ "version" is "${raw.version}"; this lab reads version ${TEACHER_CACHE_VERSION}.`, 'Export the cache with a matching version of the lab or of tools/teacher_cache.py.');
  }
  const kind = get('kind');
  if (kind !== 'probs' && kind !== 'advantage') throw bad('kind', `is "${kind}", expected "probs" or "advantage".`);
  const response = get('response');
  if (!(CACHE_RESPONSES as readonly string[]).includes(response)) throw bad('response', `is "${response}", expected chosen, rejected or student.`);
  const int = (field: string) => {
    const s = get(field);
    const n = Number(s);
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < 1) throw bad(field, `is "${s}", expected a positive integer.`);
    return n;
  };
  const k = int('k');
  const vocabSize = int('vocab_size');
  const temperature = Number(get('temperature'));
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw bad('temperature', `is "${raw.temperature}", expected a positive number.`);
  const hex = (field: string) => {
    const s = get(field).toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(s)) throw bad(field, `is "${raw[field]}", expected 64 hex digits (SHA-256).`);
    return s;
  };
  const tokenizerSha256 = hex('tokenizer_sha256');
  const datasetSha256 = hex('dataset_sha256');
  const model = get('model');
  if (!model.trim()) throw bad('model', 'is empty.');
  let exampleIds: unknown;
  try {
    exampleIds = JSON.parse(get('example_ids'));
  } catch {
    throw bad('example_ids', 'is not JSON.');
  }
  if (!Array.isArray(exampleIds) || !exampleIds.every((x) => typeof x === 'string')) throw bad('example_ids', 'is not a JSON array of strings.');
  return { kind, meta: { response: response as CacheResponse, k, temperature, model, tokenizerSha256, vocabSize, datasetSha256, exampleIds } };
}

function tensorOf(st: ReturnType<typeof parseSafetensors>, name: string, dtypes: string[], shape: number[], file: string): TensorData {
  if (!st.has(name)) throw new TeacherCacheError(file, `has no tensor "${name}".`);
  const t = st.get(name);
  if (!dtypes.includes(t.dtype)) throw new TeacherCacheError(file, `tensor "${name}" is ${t.dtype}, expected ${dtypes.join(' or ')}.`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new TeacherCacheError(file, `tensor "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}].`);
  }
  return t;
}

/** Parse and validate a teacher-cache file (a truncated or malformed file throws, naming the problem). */
export function decodeTeacherCache(bytes: Uint8Array, file: string): TeacherCache {
  const st = parseSafetensors(bytes, file);
  const { kind, meta } = parseMeta(st.header.metadata, file);
  const E = meta.exampleIds.length;
  if (!st.has('tokens')) throw new TeacherCacheError(file, 'has no tensor "tokens".');
  const P = st.get('tokens').shape[0] ?? -1;
  const K = meta.k;
  const i32 = (name: string, shape: number[]) => tensorToInt32(tensorOf(st, name, ['I32'], shape, file)).slice();
  const base = {
    meta,
    exampleOffsets: i32('example_offsets', [E + 1]),
    tokens: i32('tokens', [P]),
    indices: i32('indices', [P, K]),
  };
  const names = st.header.entries.map((e) => e.name);
  const expected = kind === 'probs' ? ['example_offsets', 'tokens', 'indices', 'probs', 'rest'] : ['example_offsets', 'tokens', 'indices', 'advantage'];
  const extra = names.filter((n) => !expected.includes(n));
  if (extra.length) throw new TeacherCacheError(file, `has tensors a ${kind} cache does not hold: ${extra.join(', ')}.`);
  let cache: TeacherCache;
  if (kind === 'probs') {
    const t = tensorOf(st, 'probs', ['F16', 'F32'], [P, K], file);
    const copy = t.data.slice();
    const probs: StoredProbs =
      t.dtype === 'F16' ? { dtype: 'F16', bits: new Uint16Array(copy.buffer, 0, P * K) } : { dtype: 'F32', values: new Float32Array(copy.buffer, 0, P * K) };
    cache = { ...base, kind, probs, rest: tensorToFloat32(tensorOf(st, 'rest', ['F32'], [P], file)).slice() };
  } else {
    cache = { ...base, kind, advantage: tensorToFloat32(tensorOf(st, 'advantage', ['F32'], [P, K], file)).slice() };
  }
  validateTeacherCache(cache, file);
  return cache;
}

// ---- validation ------------------------------------------------------------------------------

/** Structure and values: offsets, ids (range, duplicates), tokens, probabilities, rest, sums. */
export function validateTeacherCache(c: TeacherCache, file: string): void {
  const fail = (message: string): never => {
    throw new TeacherCacheError(file, message);
  };
  const { meta } = c;
  const E = meta.exampleIds.length;
  const P = c.tokens.length;
  const K = meta.k;
  const V = meta.vocabSize;
  if (c.exampleOffsets.length !== E + 1) fail(`example_offsets has ${c.exampleOffsets.length} entries for ${E} example ids (expected ${E + 1}).`);
  if (c.indices.length !== P * K) fail(`indices has ${c.indices.length} values, expected ${P} × ${K}.`);
  const seenIds = new Set<string>();
  meta.exampleIds.forEach((id, e) => {
    if (seenIds.has(id)) fail(`example id "${id}" appears twice (at ${e}).`);
    seenIds.add(id);
  });
  if (c.exampleOffsets[0] !== 0) fail(`example_offsets[0] is ${c.exampleOffsets[0]}, expected 0.`);
  for (let e = 0; e < E; e++) {
    if (c.exampleOffsets[e + 1] < c.exampleOffsets[e]) {
      fail(`example_offsets is not monotone: [${e}] = ${c.exampleOffsets[e]} > [${e + 1}] = ${c.exampleOffsets[e + 1]} (example "${meta.exampleIds[e]}").`);
    }
  }
  if (c.exampleOffsets[E] !== P) fail(`example_offsets ends at ${c.exampleOffsets[E]}, but there are ${P} positions.`);
  const where = (t: number) => {
    let e = 0;
    while (e < E && c.exampleOffsets[e + 1] <= t) e++;
    return `position ${t} (example "${meta.exampleIds[e]}", token ${t - c.exampleOffsets[e]})`;
  };
  for (let t = 0; t < P; t++) {
    if (c.tokens[t] < 0 || c.tokens[t] >= V) fail(`tokens: ${where(t)} holds ${c.tokens[t]}, outside the vocabulary [0, ${V}).`);
  }
  const row = new Set<number>();
  for (let t = 0; t < P; t++) {
    row.clear();
    for (let k = 0; k < K; k++) {
      const id = c.indices[t * K + k];
      if (id < 0 || id >= V) fail(`indices: ${where(t)} slot ${k} holds id ${id}, outside the vocabulary [0, ${V}).`);
      if (row.has(id)) fail(`indices: ${where(t)} lists id ${id} twice.`);
      row.add(id);
    }
  }
  if (c.kind === 'advantage') {
    for (let i = 0; i < P * K; i++) if (!Number.isFinite(c.advantage[i])) fail(`advantage: ${where(Math.floor(i / K))} slot ${i % K} is ${c.advantage[i]}.`);
    return;
  }
  const tol = SUM_TOLERANCE[c.probs.dtype];
  const p = probsAsFloat32(c.probs);
  if (p.length !== P * K) fail(`probs has ${p.length} values, expected ${P} × ${K}.`);
  if (c.rest.length !== P) fail(`rest has ${c.rest.length} values, expected ${P}.`);
  for (let t = 0; t < P; t++) {
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const v = p[t * K + k];
      if (Number.isNaN(v)) fail(`probs: ${where(t)} slot ${k} is NaN.`);
      if (v < 0) fail(`probs: ${where(t)} slot ${k} is negative (${v}).`);
      if (v > 1) fail(`probs: ${where(t)} slot ${k} is ${v}, above 1 (log-probabilities or logits instead of probabilities?).`);
      sum += v;
    }
    const r = c.rest[t];
    if (!(r >= -tol && r <= 1 + tol)) fail(`rest: ${where(t)} is ${r}, outside [0, 1] (tolerance ${tol} for ${c.probs.dtype} rounding).`);
    if (!(Math.abs(sum + r - 1) <= tol)) {
      fail(`${where(t)}: probs sum to ${sum} and rest is ${r}; their total ${sum + r} differs from 1 by more than ${tol} (${c.probs.dtype}).`);
    }
  }
}

// ---- matching the student and the data -------------------------------------------------------

export interface CacheExpectation {
  tokenizerSha256?: string;
  /** The student's vocabulary (logit count). */
  vocabSize?: number;
  /**
   * Size of the shared tokenizer's vocabulary. When given, a cache whose vocab_size differs from
   * the student's only by padding (both >= this) is accepted: ids >= the student's count fall in the rest bin.
   */
  tokenizerVocabSize?: number;
  datasetSha256?: string;
  /** The data's example ids, in order. */
  exampleIds?: readonly string[];
  /** The student's response tokens of example e (e in the data's order). */
  tokens?: (exampleIndex: number) => ArrayLike<number>;
  kind?: CacheKind;
  response?: CacheResponse;
}

function listSome(items: string[]): string {
  const shown = items.slice(0, 3).map((s) => `"${s}"`).join(', ');
  return items.length > 3 ? `${shown} and ${items.length - 3} more` : shown;
}

/** Refuse a cache that does not fit the student and the data, naming the first mismatch. */
export function checkCacheMatches(c: TeacherCache, x: CacheExpectation, file: string): void {
  const fail = (message: string, hint?: string): never => {
    throw new TeacherCacheMismatchError(file, message, hint);
  };
  const m = c.meta;
  if (x.kind && c.kind !== x.kind) {
    fail(
      `is a "${c.kind}" cache, the loss needs a "${x.kind}" cache.`,
      x.kind === 'advantage' ? 'ADPA trains on an advantage cache: run `student-lab advantage --dpo <cache> --reference <cache>` first.' : 'Use a probability cache built from the teacher.',
    );
  }
  if (x.response && m.response !== x.response) fail(`covers the "${m.response}" responses, this use needs "${x.response}".`);
  if (m.temperature !== 1) fail(`was computed at temperature ${m.temperature}; the losses use teacher probabilities at temperature 1.`);
  if (x.tokenizerSha256 && m.tokenizerSha256 !== x.tokenizerSha256.toLowerCase()) {
    fail(`was made with another tokenizer: tokenizer_sha256 ${m.tokenizerSha256.slice(0, 12)}… vs the student's ${x.tokenizerSha256.slice(0, 12)}….`, 'Teacher and student must share the tokenizer: cached ids index the student vocabulary directly.');
  }
  if (x.vocabSize !== undefined && m.vocabSize !== x.vocabSize) {
    const padded = x.tokenizerVocabSize !== undefined && m.vocabSize >= x.tokenizerVocabSize && x.vocabSize >= x.tokenizerVocabSize;
    if (!padded) fail(`has vocab_size ${m.vocabSize}, the student's vocabulary has ${x.vocabSize} ids.`);
  }
  if (x.datasetSha256 && m.datasetSha256 !== x.datasetSha256.toLowerCase()) {
    fail(`was made from other data: dataset_sha256 ${m.datasetSha256.slice(0, 12)}… vs ${x.datasetSha256.slice(0, 12)}….`);
  }
  if (x.exampleIds) {
    const want = x.exampleIds;
    const have = m.exampleIds;
    const haveSet = new Set(have);
    const wantSet = new Set(want);
    const missing = want.filter((id) => !haveSet.has(id));
    const extra = have.filter((id) => !wantSet.has(id));
    if (missing.length) fail(`lacks ${missing.length} of the data's ${want.length} examples: ${listSome(missing)}.`);
    if (extra.length) fail(`holds ${extra.length} examples the data does not have: ${listSome(extra)}.`);
    const at = want.findIndex((id, i) => have[i] !== id);
    if (at >= 0) fail(`lists the examples in another order: position ${at} is "${have[at]}" in the cache, "${want[at]}" in the data.`);
  }
  if (x.tokens) {
    for (let e = 0; e < m.exampleIds.length; e++) {
      const student = x.tokens(e);
      const start = c.exampleOffsets[e];
      const n = c.exampleOffsets[e + 1] - start;
      // The end-of-turn token has an entry only when the teacher produced one: one fewer is allowed.
      if (n !== student.length && n !== student.length - 1) {
        fail(`example "${m.exampleIds[e]}" has ${n} positions in the cache, the student's tokenisation of its response has ${student.length} tokens.`);
      }
      for (let j = 0; j < n; j++) {
        if (c.tokens[start + j] !== student[j]) {
          fail(`example "${m.exampleIds[e]}" token ${j} is ${c.tokens[start + j]} in the cache, ${student[j]} in the student's tokenisation of the data.`);
        }
      }
    }
  }
}
