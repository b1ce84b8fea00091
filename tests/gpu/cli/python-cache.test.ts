// Cross-check of tools/teacher_cache.py (the Python exporter for GPU servers) against the lab's own
// teacher-cache build. tests/fixtures/teacher-cache/ holds a small preference file and the cache the
// exporter made from it with the transformers back end on the qwen2 fixture (COMMAND.txt says how);
// here the lab builds the same cache with `student-lab teacher-cache`, and the two must agree: the
// same metadata (except the model name), examples, response tokens and top-K ids, probabilities within
// f16 rounding. The exported file must import through the lab's checks, and be refused for other data.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { loadCache, loadPairs, type LoadedPairs } from '../../../src/cli/preference-arg.ts';
import { float16ToFloat32 } from '../../../src/engine/f16.ts';
import { loadTokenizerFrom } from '../../../src/formats/model-files.ts';
import { NodeFolderSource } from '../../../src/formats/source.node.ts';
import { decodeTeacherCache, probsAsFloat32, validateTeacherCache, type TeacherCache } from '../../../src/formats/teacher-cache.ts';
import type { Tokenizer } from '../../../src/formats/tokenizer.ts';
import { fixture } from '../../helpers/fixtures.ts';

const HERE = join(import.meta.dirname, '../../fixtures/teacher-cache');
const DATA = join(HERE, 'pairs.jsonl');
const PY_FILE = join(HERE, 'qwen2-chosen.safetensors');
const K = 50; // as in COMMAND.txt

/**
 * Tolerance between the two caches' probabilities a and b (f16 values as stored): each side rounded
 * its f32 probability to f16 (half an f16 ulp each), and the f32 probabilities themselves differ by
 * the f32 compute noise of two implementations: logits agree to 1e-4 absolute (the fixtures' stated
 * acceptance; observed ~1e-5), so p = softmax(z) agrees to a relative 2·1e-4.
 */
const REL = 2e-4;
function halfUlpF16(x: number): number {
  return x < 2 ** -14 ? 2 ** -25 : 2 ** (Math.floor(Math.log2(x)) - 11);
}
const tol = (a: number, b: number) => halfUlpF16(a) + halfUlpF16(b) + REL * Math.max(a, b);

interface TopK {
  ids: ArrayLike<number>;
  /** Descending. */
  probs: ArrayLike<number>;
}

/**
 * How two top-K rows of the same position disagree beyond rounding: a shared id whose probabilities
 * differ by more than `tol`; an id in one row only whose probability is not a near-tie with the other
 * row's K-th (smallest) one; two shared ids in another order whose probabilities are not near-equal.
 */
function topKProblems(a: TopK, b: TopK): string[] {
  const problems: string[] = [];
  const K = a.ids.length;
  const at = (r: TopK) => new Map(Array.from(r.ids, (id, k) => [id, k]));
  const [ka, kb] = [at(a), at(b)];
  const only = (x: TopK, other: TopK, kOther: Map<number, number>, name: string) => {
    const last = other.probs[K - 1];
    for (let k = 0; k < K; k++) {
      const p = x.probs[k];
      if (!kOther.has(x.ids[k]) && p > last + tol(p, last)) problems.push(`id ${x.ids[k]} (p ${p}) only in ${name}'s top-K`);
    }
  };
  only(a, b, kb, 'the first');
  only(b, a, ka, 'the second');
  const shared = Array.from(a.ids).filter((id) => kb.has(id));
  for (const id of shared) {
    const [p, q] = [a.probs[ka.get(id)!], b.probs[kb.get(id)!]];
    if (Math.abs(p - q) > tol(p, q)) problems.push(`id ${id}: p ${p} vs ${q}`);
  }
  for (let i = 0; i < shared.length; i++) {
    for (let j = i + 1; j < shared.length; j++) {
      const [u, v] = [shared[i], shared[j]];
      const [pu, pv] = [a.probs[ka.get(u)!], a.probs[ka.get(v)!]];
      if (kb.get(u)! > kb.get(v)! && pu - pv > tol(pu, pv)) problems.push(`ids ${u} and ${v} in another order (p ${pu} vs ${pv})`);
    }
  }
  return problems;
}

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), write: (t) => out.push(t) });
  return { code, out, err };
}

let dir: string;
let py: TeacherCache;
let lab: TeacherCache;
let tok: Tokenizer;
let data: LoadedPairs;
const quiet = { out: () => {}, err: () => {} };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'python-cache-'));
  const labFile = join(dir, 'lab-chosen.safetensors');
  const r = await cli(['teacher-cache', '--teacher', fixture('qwen2').dir, '--data', DATA, '--response', 'chosen', '--k', String(K), '--dtype', 'f16', '--out', labFile]);
  expect(r.code, r.err.join('\n')).toBe(0);
  lab = decodeTeacherCache(new Uint8Array(await readFile(labFile)), labFile);
  py = decodeTeacherCache(new Uint8Array(await readFile(PY_FILE)), PY_FILE);
  tok = await loadTokenizerFrom(new NodeFolderSource(fixture('qwen2').dir));
  data = await loadPairs(DATA, tok, { maxLength: 512, overLength: 'truncate' }, quiet);
}, 120_000);

describe('tools/teacher_cache.py against the lab', () => {
  it('writes the same metadata, examples and response tokens', () => {
    // Ids as the lab reads pairs.jsonl: "id" as JavaScript's String(), else the record's position (the blank line does not count).
    expect(py.meta.exampleIds).toEqual(['station', 'table', '7', '3', 'café']);
    expect({ ...py.meta, model: '' }).toEqual({ ...lab.meta, model: '' });
    expect(py.kind).toBe('probs');
    expect(py.kind === 'probs' && py.probs.dtype).toBe('F16');
    expect(py.exampleOffsets).toEqual(lab.exampleOffsets);
    expect(py.tokens).toEqual(lab.tokens);
  });

  it('has the same top-K ids and probabilities within f16 rounding, ids swapped only between near-equal probabilities', () => {
    if (py.kind !== 'probs' || lab.kind !== 'probs') throw new Error('probability caches expected');
    const pp = probsAsFloat32(py.probs);
    const lp = probsAsFloat32(lab.probs);
    const slice = (c: TeacherCache, p: Float32Array, t: number): TopK => ({ ids: c.indices.subarray(t * K, (t + 1) * K), probs: p.subarray(t * K, (t + 1) * K) });
    for (let t = 0; t < py.tokens.length; t++) {
      expect(topKProblems(slice(py, pp, t), slice(lab, lp, t)), `position ${t}`).toEqual([]);
      // rest = 1 − Σ top-K from the f32 values: the same relative noise on the top-K mass, plus f32 rounding of the sum.
      expect(Math.abs(py.rest[t] - lab.rest[t]), `position ${t} rest`).toBeLessThanOrEqual(REL * (1 - py.rest[t]) + K * 2 ** -24);
    }
  });

  it('imports through the lab checks as a chosen cache for these data (what train --teacher-chosen runs)', async () => {
    validateTeacherCache(py, PY_FILE);
    const cache = await loadCache(PY_FILE, { tok, vocabSize: 512, data, kind: 'probs', response: 'chosen' });
    expect(cache.meta.tokenizerSha256).toBe(tok.tokenizerSha256);
    expect(cache.meta.datasetSha256).toBe(data.set.sha256);
    const r = await cli(['train', '--model', fixture('llama').dir, '--data', DATA, '--loss', 'kd', '--teacher-chosen', PY_FILE, '--steps', '1', '--out', join(dir, 'kd')]);
    expect(r.code, r.err.join('\n')).toBe(0);
    expect(JSON.parse(r.out[0]).kd).toBeGreaterThan(0);
  }, 120_000);

  it('is refused for another data file, naming the dataset hash', async () => {
    const other = join(dir, 'other.jsonl');
    // The same pairs with one response changed: other bytes, so another dataset_sha256.
    await writeFile(other, (await readFile(DATA, 'utf8')).replace('then straight on.', 'then turn right.'));
    const otherData = await loadPairs(other, tok, { maxLength: 512, overLength: 'truncate' }, quiet);
    await expect(loadCache(PY_FILE, { tok, vocabSize: 512, data: otherData, kind: 'probs', response: 'chosen' })).rejects.toThrow(/dataset_sha256/);
    await expect(loadCache(PY_FILE, { tok, vocabSize: 512, data, kind: 'probs', response: 'rejected' })).rejects.toThrow(/covers the "chosen" responses/);
  });
});

// Keep the comparison honest: it must accept rounding and near-ties and reject anything more.
describe('the comparison of two top-K rows', () => {
  const row = (ids: number[], probs: number[]): TopK => ({ ids, probs });
  const base = row([5, 9, 2, 7], [0.5, 0.25, 0.125, 0.0625]);

  it('accepts equal rows, f16 rounding, and ids swapped or exchanged between near-equal probabilities', () => {
    expect(topKProblems(base, base)).toEqual([]);
    expect(topKProblems(base, row([5, 9, 2, 7], [0.5 + 2 ** -12, 0.25, 0.125, 0.0625]))).toEqual([]);
    expect(topKProblems(row([5, 9, 2, 7], [0.5, 0.25, 0.125, 0.125]), row([5, 9, 7, 2], [0.5, 0.25, 0.125, 0.125]))).toEqual([]);
    expect(topKProblems(row([5, 9, 2, 7], [0.5, 0.25, 0.125, 0.0625]), row([5, 9, 2, 8], [0.5, 0.25, 0.125, 0.0625]))).toEqual([]);
  });

  it('rejects other probabilities, swaps of distinct probabilities and other ids', () => {
    expect(topKProblems(base, row([5, 9, 2, 7], [0.5, 0.26, 0.125, 0.0625]))).toHaveLength(1);
    expect(topKProblems(base, row([9, 5, 2, 7], [0.5, 0.25, 0.125, 0.0625]))).toContain('ids 5 and 9 in another order (p 0.5 vs 0.25)');
    // id 8 below id 7 in the second row is consistent; id 7 far above the second row's K-th is not.
    expect(topKProblems(base, row([5, 9, 2, 8], [0.5, 0.25, 0.125, 0.03]))).toEqual(["id 7 (p 0.0625) only in the first's top-K"]);
  });

  it('bounds by half an f16 ulp', () => {
    expect(halfUlpF16(1)).toBe(2 ** -11);
    expect(halfUlpF16(0.75)).toBe(2 ** -12);
    expect(halfUlpF16(2 ** -14)).toBe(2 ** -25);
    expect(float16ToFloat32(0x3c01) - 1).toBe(2 * halfUlpF16(1));
  });
});
