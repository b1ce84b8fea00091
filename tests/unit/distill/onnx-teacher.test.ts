// The ONNX teacher (src/distill/cache/onnx-teacher.ts) on the llama fixture's ONNX export, through
// transformers.js and onnxruntime-node on the CPU. Its rows are checked against an f64 reference
// computed here from the logits Hugging Face transformers stored with the fixture (inputs a and the
// right-padded batch c), scored in one padded batch and one by one.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ScoredSequence, TeacherRows } from '../../../src/distill/cache/build.ts';
import { loadOnnxTeacher, rowsFromLogits, OnnxTeacherError, type OnnxTeacher } from '../../../src/distill/cache/onnx-teacher.ts';
import { IGNORE } from '../../../src/distill/data/sft.ts';
import { float16ToFloat32 } from '../../../src/engine/f16.ts';
import { MissingFileError } from '../../../src/formats/errors.ts';
import { NodeFolderSource } from '../../../src/formats/source.node.ts';
import { loadTokenizerFrom } from '../../../src/formats/model-files.ts';
import { fixture, FIXTURES_DIR } from '../../helpers/fixtures.ts';

const V = 512;
const llama = fixture('llama');

/** Softmax of one row in f64 (a reference written independently of the code under test). */
function softmax64(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let j = 0; j < row.length; j++) max = Math.max(max, row[j]);
  const p = Float64Array.from(row, (z) => Math.exp(z - max));
  const sum = p.reduce((s, x) => s + x, 0);
  return p.map((x) => x / sum);
}

function values(r: TeacherRows): Float32Array {
  return r.values instanceof Uint16Array ? Float32Array.from(r.values, float16ToFloat32) : r.values;
}

/**
 * Rows against reference logits [T, V] of the same sequence: every rank's probability within
 * `rtol` of the reference's value at that rank, every id a true top-K member (its reference
 * probability within `rtol` of its slot: a swap is allowed only between near-ties), the order
 * non-increasing with lower ids first on equal values, and the rest mass. Returns the positions
 * whose ids equal the reference's exactly.
 */
function expectRowsMatch(r: TeacherRows, ref: Float32Array, labels: readonly number[], K: number, rtol: number, context: string): number {
  const p = values(r);
  let exact = 0;
  let i = 0;
  for (let t = 0; t + 1 < labels.length; t++) {
    if (labels[t + 1] === IGNORE) continue;
    const where = `${context}, position ${i} (row ${t})`;
    expect(r.tokens[i], where).toBe(labels[t + 1]);
    const q = softmax64(ref.subarray(t * V, (t + 1) * V));
    const order = Array.from(q.keys()).sort((a, b) => q[b] - q[a] || a - b);
    const ids = Array.from(r.indices.subarray(i * K, (i + 1) * K));
    const got = Array.from(p.subarray(i * K, (i + 1) * K));
    expect(new Set(ids).size, where).toBe(K);
    for (let k = 0; k < K; k++) {
      const want = q[order[k]];
      expect(Math.abs(got[k] - want), `${where} rank ${k}`).toBeLessThanOrEqual(rtol * want);
      expect(Math.abs(q[ids[k]] - got[k]), `${where} rank ${k}: id ${ids[k]}`).toBeLessThanOrEqual(rtol * want);
      if (k > 0) expect(got[k - 1] > got[k] || (got[k - 1] === got[k] && ids[k - 1] < ids[k]), `${where} order at rank ${k}`).toBe(true);
    }
    const restWant = 1 - order.slice(0, K).reduce((s, j) => s + q[j], 0);
    expect(Math.abs(r.rest[i] - restWant), `${where} rest`).toBeLessThanOrEqual(rtol);
    if (ids.every((id, k) => id === order[k])) exact++;
    i++;
  }
  expect(r.tokens.length, context).toBe(i);
  return exact;
}

const aIds = Array.from(llama.i32('a.input_ids'));
const cIds = llama.i32('c.input_ids');
const cMask = llama.i32('c.attention_mask');
const cRow = (b: number) => Array.from(cIds.subarray(b * 15, (b + 1) * 15)).filter((_, t) => cMask[b * 15 + t] === 1);
/** Labels on the tokens after the first `prompt` ones. */
const labelled = (ids: number[], prompt: number) => ids.map((id, t) => (t < prompt ? IGNORE : id));
const SEQS: ScoredSequence[] = [
  { id: 'a', ids: aIds, labels: labelled(aIds, 6) },
  { id: 'c0', ids: cRow(0), labels: labelled(cRow(0), 3) },
  { id: 'c1', ids: cRow(1), labels: labelled(cRow(1), 2) },
];
const REFERENCE = [llama.f32('a.logits'), llama.f32('c.logits').subarray(0, 15 * V), llama.f32('c.logits').subarray(15 * V)];

let loaded: Promise<OnnxTeacher> | null = null;
const teacher = () => (loaded ??= loadOnnxTeacher({ source: new NodeFolderSource(join(FIXTURES_DIR, 'llama')), device: 'cpu' }));

async function scoreAll(t: OnnxTeacher, k: number, valueDType: 'F16' | 'F32', batchSize: number): Promise<TeacherRows[]> {
  const rows: TeacherRows[] = [];
  for await (const r of t.score(SEQS, { k, valueDType, batchSize })) rows.push(r);
  return rows;
}

describe('ONNX teacher (llama fixture, transformers.js on CPU)', () => {
  it('loads with our tokenizer of the folder (its real sha256), the vocabulary and the context', async () => {
    const t = await teacher();
    const tok = await loadTokenizerFrom(new NodeFolderSource(join(FIXTURES_DIR, 'llama')));
    expect(t.tokenizer.tokenizerSha256).toBe(tok.tokenizerSha256);
    expect(t.tokenizer.tokenizerSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(t.vocabSize).toBe(V);
    expect(t.context).toBe(llama.config.max_position_embeddings);
    expect(t.device).toBe('cpu');
    expect(t.id).toBe(`onnx:local:${join(FIXTURES_DIR, 'llama')}@/fp32`);
  });

  // ONNX and HF logits agree to 1.1e-5 absolute (fixtures README); softmax turns an absolute logit
  // error ε into a relative probability error of at most 2ε, so 5e-5 relative leaves f32 headroom.
  const RTOL = 5e-5;

  it('scores a padded batch like the f64 reference on Hugging Face’s logits (K = 50, f32)', async () => {
    const t = await teacher();
    const rows = await scoreAll(t, 50, 'F32', 3);
    let exact = 0;
    let positions = 0;
    rows.forEach((r, e) => {
      exact += expectRowsMatch(r, REFERENCE[e], SEQS[e].labels, 50, RTOL, SEQS[e].id);
      positions += r.tokens.length;
    });
    expect(positions).toBe(15 + 12 + 4);
    // Near-ties may swap between implementations; almost every position lists the same ids.
    expect(exact).toBeGreaterThanOrEqual(positions - 2);
  });

  it('gives the same rows one sequence at a time (padding changes nothing), and f16 rounds the f32 values', async () => {
    const t = await teacher();
    const batched = await scoreAll(t, 7, 'F32', 3);
    const single = await scoreAll(t, 7, 'F32', 1);
    const half = await scoreAll(t, 7, 'F16', 2);
    for (let e = 0; e < SEQS.length; e++) {
      expectRowsMatch(single[e], REFERENCE[e], SEQS[e].labels, 7, RTOL, `${SEQS[e].id} alone`);
      // f16 keeps 11 significant bits: 2^-11 relative, plus the f32 noise.
      expectRowsMatch(half[e], REFERENCE[e], SEQS[e].labels, 7, 2 ** -11 + RTOL, `${SEQS[e].id} f16`);
      expect(half[e].values).toBeInstanceOf(Uint16Array);
      expect(Array.from(single[e].tokens)).toEqual(Array.from(batched[e].tokens));
      const a = values(batched[e]);
      const b = values(single[e]);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i]), `${SEQS[e].id} value ${i}`).toBeLessThanOrEqual(RTOL * Math.max(a[i], 1e-6));
    }
  });

  it('stops before the next batch when the signal is aborted', async () => {
    const t = await teacher();
    const controller = new AbortController();
    const got: TeacherRows[] = [];
    const run = (async () => {
      for await (const r of t.score(SEQS, { k: 4, valueDType: 'F32', batchSize: 1, signal: controller.signal })) {
        got.push(r);
        controller.abort();
      }
    })();
    await expect(run).rejects.toMatchObject({ name: 'CancelledError' });
    expect(got).toHaveLength(1);
  });

  it('names what is wrong with a folder that is not an ONNX model', async () => {
    // qwen2 has config.json and the tokenizer but no onnx/model.onnx.
    const err = await loadOnnxTeacher({ source: new NodeFolderSource(join(FIXTURES_DIR, 'qwen2')), device: 'cpu' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxTeacherError);
    expect((err as Error).message).toMatch(/^ONNX teacher .*qwen2: .*model\.onnx/);
    const missing = await loadOnnxTeacher({ source: new NodeFolderSource(join(FIXTURES_DIR, 'no-such-model')), device: 'cpu' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(MissingFileError);
    expect((missing as Error).message).toMatch(/^config\.json is not in folder .*no-such-model\./);
  });
});

describe('rowsFromLogits', () => {
  it('orders by the stored probability, lower id first on ties, and rejects K above the vocabulary', () => {
    // ids 1 and 3 differ by 2^-30 in logit: the same f32 probability, so id 1 comes first; 0 and 2 tie exactly.
    const logits = Float32Array.from([-1, 0, -1, 2 ** -30, -7]);
    const r = rowsFromLogits(logits, 0, 2, 5, [IGNORE, 9], 4, 'F32');
    expect(Array.from(r.indices)).toEqual([1, 3, 0, 2]);
    const p = softmax64(logits);
    expect(Array.from(r.values)).toEqual([p[1], p[3], p[0], p[2]].map(Math.fround));
    expect(r.rest[0]).toBeCloseTo(p[4], 7);
    expect(Array.from(r.tokens)).toEqual([9]);
    expect(() => rowsFromLogits(logits, 0, 2, 5, [IGNORE, 9], 6, 'F32')).toThrow(/K = 6 exceeds the vocabulary of 5 ids/);
  });
});
