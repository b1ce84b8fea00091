// Teacher caches in memory (the CLI, tests, the demo build): score sequences with the teacher and
// assemble the cache tensors of docs/distillation.md. The page builds into IndexedDB instead,
// chunk by chunk (src/store/teacher-caches.ts), from the same scoreWithTeacher rows.
import type { Decoder } from '../../engine/models/decoder.ts';
import type { CacheResponse, TeacherCache, TeacherCacheMeta } from '../../formats/teacher-cache.ts';
import type { TokenizedPair } from '../data/preference.ts';
import type { TokenizedExample } from '../data/sft.ts';
import { scoreWithTeacher, type ScoredSequence, type TeacherRows } from './build.ts';

/** The sequences a cache of `response` covers, in data order. */
export function sequencesFor(pairs: readonly TokenizedPair[], response: CacheResponse, student?: ReadonlyMap<string, TokenizedExample>): ScoredSequence[] {
  return pairs.map((p) => {
    const e = response === 'chosen' ? p.chosen : response === 'rejected' ? p.rejected : student?.get(p.id);
    if (!e) throw new RangeError(`No student response ŷ for example "${p.id}": generate them first.`);
    return { id: p.id, ids: e.ids, labels: e.labels };
  });
}

/** Concatenate per-example rows into a probability cache. */
export function assembleProbsCache(meta: TeacherCacheMeta, rows: readonly TeacherRows[], valueDType: 'F16' | 'F32'): TeacherCache {
  const K = meta.k;
  const P = rows.reduce((n, r) => n + r.tokens.length, 0);
  const exampleOffsets = new Int32Array(rows.length + 1);
  const tokens = new Int32Array(P);
  const indices = new Int32Array(P * K);
  const rest = new Float32Array(P);
  const bits = valueDType === 'F16' ? new Uint16Array(P * K) : null;
  const values = valueDType === 'F32' ? new Float32Array(P * K) : null;
  let p = 0;
  rows.forEach((r, e) => {
    exampleOffsets[e] = p;
    tokens.set(r.tokens, p);
    indices.set(r.indices, p * K);
    rest.set(r.rest, p);
    if (bits) bits.set(r.values as Uint16Array, p * K);
    else values!.set(r.values as Float32Array, p * K);
    p += r.tokens.length;
  });
  exampleOffsets[rows.length] = p;
  return {
    kind: 'probs',
    meta,
    exampleOffsets,
    tokens,
    indices,
    rest,
    probs: bits ? { dtype: 'F16', bits } : { dtype: 'F32', values: values! },
  };
}

export interface BuildCacheArgs {
  teacher: Decoder;
  /** Teacher id or name recorded in the cache. */
  model: string;
  tokenizerSha256: string;
  datasetSha256: string;
  pairs: readonly TokenizedPair[];
  response: CacheResponse;
  student?: ReadonlyMap<string, TokenizedExample>;
  k: number;
  valueDType: 'F16' | 'F32';
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export async function buildTeacherCache(a: BuildCacheArgs): Promise<TeacherCache> {
  const seqs = sequencesFor(a.pairs, a.response, a.student);
  const rows: TeacherRows[] = [];
  for await (const r of scoreWithTeacher(a.teacher, seqs, { k: a.k, valueDType: a.valueDType, batchSize: a.batchSize, signal: a.signal })) {
    rows.push(r);
    a.onProgress?.(rows.length, seqs.length);
  }
  const meta: TeacherCacheMeta = {
    response: a.response,
    k: a.k,
    temperature: 1,
    model: a.model,
    tokenizerSha256: a.tokenizerSha256,
    vocabSize: a.teacher.config.vocabSize,
    datasetSha256: a.datasetSha256,
    exampleIds: seqs.map((s) => s.id),
  };
  return assembleProbsCache(meta, rows, a.valueDType);
}
