// Teacher caches computed in the lab with our own engine: the teacher reads each sequence once;
// only its response positions go through the LM head (gathered first), in row chunks that fit one
// storage binding; softmax at temperature 1, then the top-K ids and probabilities and the rest mass.
// One readback per chunk. Output rows follow distillation.md: position j of an example predicts
// response token j.
import { float32ToFloat16 } from '../../engine/f16.ts';
import { CancelledError } from '../../engine/errors.ts';
import { gatherRows } from '../../engine/kernels/gather/gather.ts';
import { softmax } from '../../engine/kernels/softmax/softmax.ts';
import { topk } from '../../engine/kernels/topk/topk.ts';
import type { Decoder } from '../../engine/models/decoder.ts';
import { IGNORE } from '../data/sft.ts';
import { padRows } from '../trainer/batches.ts';

export interface ScoredSequence {
  /** Example id (for messages). */
  id: string;
  ids: readonly number[];
  /** −100 on the prompt: the cache covers every other label. */
  labels: readonly number[];
}

/** One example's rows, as the teacher-cache store takes them (src/store/teacher-caches.ts). */
export interface TeacherRows {
  tokens: Int32Array;
  indices: Int32Array; // [n, K]
  values: Uint16Array | Float32Array; // [n, K] f16 bits or f32
  rest: Float32Array; // [n]
}

export interface TeacherScoreOptions {
  k: number;
  /** f16 halves the cache; values are rounded to nearest even. */
  valueDType: 'F16' | 'F32';
  /** Sequences per teacher forward. */
  batchSize?: number;
  signal?: AbortSignal;
}

/** Rows of the LM head per chunk so that [rows, vocab] f32 fits one binding. */
function rowsPerChunk(decoder: Decoder): number {
  const limit = decoder.gpu.limits.maxStorageBufferBindingSize;
  return Math.max(1, Math.floor(limit / (decoder.config.vocabSize * 4)));
}

/** Score `seqs` with the teacher, yielding each sequence's rows in order. */
export async function* scoreWithTeacher(teacher: Decoder, seqs: readonly ScoredSequence[], o: TeacherScoreOptions): AsyncGenerator<TeacherRows> {
  const { gpu } = teacher;
  const batchSize = o.batchSize ?? 4;
  const K = o.k;
  for (let start = 0; start < seqs.length; start += batchSize) {
    if (o.signal?.aborted) throw new CancelledError('Building the teacher cache was cancelled.');
    const batch = seqs.slice(start, start + batchSize);
    const rows = padRows(batch.map((s) => s.ids), 0);
    // Response rows in order: row b·T + t predicts labels[t + 1].
    const respRows: number[] = [];
    const perSeq = batch.map((s, b) => {
      const tokens: number[] = [];
      for (let t = 0; t + 1 < s.labels.length; t++) {
        if (s.labels[t + 1] === IGNORE) continue;
        respRows.push(b * rows.T + t);
        tokens.push(s.labels[t + 1]);
      }
      return tokens;
    });
    const ids = gpu.upload(rows.ids, [rows.B * rows.T], 'i32', 'cache.ids');
    const positions = gpu.upload(rows.positions, [rows.B * rows.T], 'i32', 'cache.positions');
    const mask = gpu.upload(rows.mask, [rows.B, rows.T], 'f32', 'cache.mask');
    const hidden = teacher.forward({ B: rows.B, T: rows.T, ids, positions, mask, maxPosition: rows.T - 1 });
    const indices = new Int32Array(respRows.length * K);
    const probs = new Float32Array(respRows.length * K);
    const chunk = rowsPerChunk(teacher);
    for (let r0 = 0; r0 < respRows.length; r0 += chunk) {
      const part = respRows.slice(r0, r0 + chunk);
      const sel = gpu.upload(Int32Array.from(part), [part.length], 'i32', 'cache.rows');
      const h = gatherRows(gpu, hidden, sel);
      const logits = teacher.logits(h);
      const p = softmax(gpu, logits);
      const top = topk(gpu, p, K);
      probs.set(await gpu.readF32(top.values), r0 * K);
      indices.set((await gpu.read(top.indices)) as Int32Array, r0 * K);
      for (const t of [sel, h, logits, p, top.values, top.indices]) t.release();
    }
    for (const t of [ids, positions, mask, hidden]) t.release();
    let offset = 0;
    for (const tokens of perSeq) {
      const n = tokens.length;
      const vals = probs.subarray(offset * K, (offset + n) * K);
      const rest = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (let j = 0; j < K; j++) sum += vals[i * K + j];
        rest[i] = Math.min(1, Math.max(0, 1 - sum));
      }
      yield {
        tokens: Int32Array.from(tokens),
        indices: indices.slice(offset * K, (offset + n) * K),
        values: o.valueDType === 'F16' ? Uint16Array.from(vals, float32ToFloat16) : vals.slice(),
        rest,
      };
      offset += n;
    }
  }
}
