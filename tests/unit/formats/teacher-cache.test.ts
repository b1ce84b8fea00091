import { describe, expect, it } from 'vitest';
import { float16ToFloat32 } from '../../../src/engine/f16.ts';
import { writeSafetensors, type TensorToWrite } from '../../../src/formats/safetensors-writer.ts';
import {
  checkCacheMatches,
  decodeTeacherCache,
  encodeTeacherCache,
  type TeacherCache,
} from '../../../src/formats/teacher-cache.ts';
import { advantageCache } from '../../../src/distill/losses/advantage.ts';
import { gatherTeacher } from '../../../src/distill/losses/teacher.ts';
import { makeRng } from '../../helpers/random.ts';
import { SHA_A, SHA_B, randomCache } from './teacher-cache-data.ts';

/** A file with the cache's layout, with metadata or tensors replaced (to write invalid files). */
function craft(c: Extract<TeacherCache, { kind: 'probs' }>, o: { metadata?: Record<string, string | undefined>; tensors?: Record<string, TensorToWrite | null> } = {}): Uint8Array {
  const P = c.tokens.length;
  const K = c.meta.k;
  const base: Record<string, TensorToWrite> = {
    example_offsets: { name: 'example_offsets', dtype: 'I32', shape: [c.exampleOffsets.length], data: c.exampleOffsets },
    tokens: { name: 'tokens', dtype: 'I32', shape: [P], data: c.tokens },
    indices: { name: 'indices', dtype: 'I32', shape: [P, K], data: c.indices },
    probs: c.probs.dtype === 'F16' ? { name: 'probs', dtype: 'F16', shape: [P, K], data: c.probs.bits } : { name: 'probs', dtype: 'F32', shape: [P, K], data: c.probs.values },
    rest: { name: 'rest', dtype: 'F32', shape: [P], data: c.rest },
  };
  const tensors = { ...base, ...o.tensors };
  const metadata: Record<string, string | undefined> = {
    format: 'student-lab/teacher-cache',
    version: '1',
    kind: 'probs',
    response: c.meta.response,
    k: String(K),
    temperature: '1',
    model: c.meta.model,
    tokenizer_sha256: c.meta.tokenizerSha256,
    vocab_size: String(c.meta.vocabSize),
    dataset_sha256: c.meta.datasetSha256,
    example_ids: JSON.stringify(c.meta.exampleIds),
    ...o.metadata,
  };
  const clean = Object.fromEntries(Object.entries(metadata).filter(([, v]) => v !== undefined)) as Record<string, string>;
  return writeSafetensors(Object.values(tensors).filter((t): t is TensorToWrite => t !== null), clean);
}

function f32(name: string, values: number[] | Float32Array, shape: number[]): TensorToWrite {
  return { name, dtype: 'F32', shape, data: Float32Array.from(values) };
}

describe('teacher-cache format: round trip', () => {
  for (const dtype of ['F16', 'F32'] as const) {
    it(`export -> import gives identical tensors and metadata (${dtype} probs)`, () => {
      const rng = makeRng();
      const c = randomCache(rng, { dtype, lengths: [4, 1, 0, 7], k: 6, vocab: 97 });
      const bytes = encodeTeacherCache(c);
      const back = decodeTeacherCache(bytes, 'c.safetensors');
      expect(back).toEqual(c);
      expect(back.kind === 'probs' && back.probs.dtype).toBe(dtype);
      // Encoding the import again gives the same bytes.
      expect(Buffer.compare(encodeTeacherCache(back), bytes)).toBe(0);
    });
  }

  it('advantage caches round-trip too (no rest tensor)', () => {
    const rng = makeRng();
    const dpo = randomCache(rng, { k: 5, vocab: 40 });
    const ref = { ...randomCache(rng, { k: 5, vocab: 40 }), tokens: dpo.tokens, exampleOffsets: dpo.exampleOffsets };
    const adv = advantageCache(dpo, ref);
    const back = decodeTeacherCache(encodeTeacherCache(adv), 'adv.safetensors');
    expect(back).toEqual(adv);
  });
});

describe('teacher-cache format: malformed files are refused, naming the problem', () => {
  const rng = makeRng();
  const c = randomCache(rng, { lengths: [3, 2], k: 4, vocab: 50, dtype: 'F32' });
  const P = 5;
  const K = 4;
  const probs = Array.from(c.kind === 'probs' && c.probs.dtype === 'F32' ? c.probs.values : []);
  const cases: [string, Uint8Array, RegExp][] = [
    ['NaN probability', craft(c, { tensors: { probs: f32('probs', probs.map((x, i) => (i === 6 ? NaN : x)), [P, K]) } }), /probs: position 1 \(example "ex-0", token 1\) slot 2 is NaN/],
    ['negative probability', craft(c, { tensors: { probs: f32('probs', probs.map((x, i) => (i === 0 ? -0.1 : x)), [P, K]) } }), /slot 0 is negative/],
    ['probability above 1', craft(c, { tensors: { probs: f32('probs', probs.map((x, i) => (i === 4 ? 1.5 : x)), [P, K]) } }), /slot 0 is 1.5, above 1/],
    ['rest below 0', craft(c, { tensors: { rest: f32('rest', Array.from(c.rest, (r, t) => (t === 2 ? -0.2 : r)), [P]) } }), /rest: position 2 \(example "ex-0", token 2\) is -0.2\d*, outside \[0, 1\]/],
    ['rest above 1', craft(c, { tensors: { rest: f32('rest', Array.from(c.rest, (r, t) => (t === 3 ? 1.3 : r)), [P]) } }), /rest: position 3 \(example "ex-1", token 0\) is 1\.[23]\d*, outside \[0, 1\]/],
    ['sum off', craft(c, { tensors: { rest: f32('rest', Array.from(c.rest, (r, t) => (t === 4 ? r + 0.01 : r)), [P]) } }), /position 4 .*differs from 1 by more than 0.0001/],
    ['offsets not monotone', craft(c, { tensors: { example_offsets: { name: 'example_offsets', dtype: 'I32', shape: [3], data: Int32Array.from([0, 4, 3]) } } }), /not monotone/],
    ['offsets not ending at P', craft(c, { tensors: { example_offsets: { name: 'example_offsets', dtype: 'I32', shape: [3], data: Int32Array.from([0, 3, 4]) } } }), /ends at 4, but there are 5 positions/],
    ['id outside the vocabulary', craft(c, { tensors: { indices: { name: 'indices', dtype: 'I32', shape: [P, K], data: Int32Array.from(c.indices, (x, i) => (i === 9 ? 50 : x)) } } }), /indices: position 2 .* slot 1 holds id 50, outside/],
    ['duplicate id', craft(c, { tensors: { indices: { name: 'indices', dtype: 'I32', shape: [P, K], data: Int32Array.from(c.indices, (x, i) => (i === 1 ? c.indices[0] : x)) } } }), /lists id \d+ twice/],
    ['wrong dtype', craft(c, { tensors: { rest: { name: 'rest', dtype: 'F16', shape: [P], data: new Uint16Array(P) } } }), /tensor "rest" is F16, expected F32/],
    ['wrong shape', craft(c, { tensors: { indices: { name: 'indices', dtype: 'I32', shape: [P * K], data: c.indices } } }), /tensor "indices" has shape \[20\], expected \[5, 4\]/],
    ['missing tensor', craft(c, { tensors: { rest: null } }), /has no tensor "rest"/],
    ['not a teacher cache', craft(c, { metadata: { format: 'something-else' } }), /"format" is "something-else"/],
    ['future version', craft(c, { metadata: { version: '2' } }), /"version" is "2"; this lab reads version 1/],
    ['missing field', craft(c, { metadata: { tokenizer_sha256: undefined } }), /"tokenizer_sha256" is missing/],
    ['bad k', craft(c, { metadata: { k: 'four' } }), /"k" is "four"/],
    ['bad example ids', craft(c, { metadata: { example_ids: '{"a":1}' } }), /"example_ids" is not a JSON array of strings/],
    ['rest in an advantage cache', craft(c, { metadata: { kind: 'advantage' }, tensors: { probs: null, advantage: f32('advantage', probs, [P, K]) } }), /tensors a advantage cache does not hold: rest/],
  ];
  for (const [what, bytes, message] of cases) {
    it(what, () => {
      expect(() => decodeTeacherCache(bytes, 'bad.safetensors')).toThrowError(message);
      expect(() => decodeTeacherCache(bytes, 'bad.safetensors')).toThrowError(/^bad\.safetensors: /);
    });
  }

  it('a truncated file', () => {
    const bytes = encodeTeacherCache(c);
    expect(() => decodeTeacherCache(bytes.subarray(0, bytes.length - 7), 'cut.safetensors')).toThrowError(/cut\.safetensors: .*truncated/);
    expect(() => decodeTeacherCache(bytes.subarray(0, 5), 'cut.safetensors')).toThrowError(/truncated/);
  });

  it('f16 rounding is tolerated (2e-3), f32 is held to 1e-4', () => {
    // rest computed from the unrounded probabilities, probs stored in f16: accepted.
    expect(() => decodeTeacherCache(encodeTeacherCache(randomCache(makeRng(), { dtype: 'F16', k: 50, vocab: 300, lengths: [9] })), 'ok')).not.toThrow();
    const off = (dtype: 'F16' | 'F32', by: number) => {
      const x = randomCache(makeRng(), { dtype, lengths: [2] });
      return craft({ ...x, rest: x.rest.map((r) => r + by) });
    };
    expect(() => decodeTeacherCache(off('F16', 1e-3), 'ok')).not.toThrow();
    expect(() => decodeTeacherCache(off('F16', 5e-3), 'f16')).toThrowError(/more than 0.002 \(F16\)/);
    expect(() => decodeTeacherCache(off('F32', 5e-5), 'ok')).not.toThrow();
    expect(() => decodeTeacherCache(off('F32', 5e-4), 'f32')).toThrowError(/more than 0.0001 \(F32\)/);
  });

  it('encode refuses to write an invalid cache', () => {
    const x = randomCache(makeRng());
    expect(() => encodeTeacherCache({ ...x, rest: x.rest.map(() => 2) }, 'out.safetensors')).toThrowError(/out\.safetensors: rest: .* is 2/);
  });
});

describe('teacher-cache format: matching the student and the data', () => {
  const c = randomCache(makeRng(), { lengths: [3, 2, 4], vocab: 60 });
  const ids = c.meta.exampleIds;
  const student = (e: number) => c.tokens.subarray(c.exampleOffsets[e], c.exampleOffsets[e + 1]);
  const ok = { tokenizerSha256: SHA_A, vocabSize: 60, exampleIds: ids, tokens: student, kind: 'probs' as const };

  it('accepts the matching student and data', () => {
    expect(() => checkCacheMatches(c, ok, 'c')).not.toThrow();
  });
  it('names each mismatch', () => {
    const expectMismatch = (x: object, message: RegExp) => {
      expect(() => checkCacheMatches(c, { ...ok, ...x }, 'c.safetensors')).toThrowError(message);
      expect(() => checkCacheMatches(c, { ...ok, ...x }, 'c.safetensors')).toThrowError(expect.objectContaining({ name: 'TeacherCacheMismatchError' }));
    };
    expectMismatch({ tokenizerSha256: 'c'.repeat(64) }, /another tokenizer: tokenizer_sha256 aaaaaaaaaaaa… vs the student's cccccccccccc…/);
    expectMismatch({ vocabSize: 64 }, /vocab_size 60, the student's vocabulary has 64 ids/);
    expectMismatch({ exampleIds: [...ids, 'ex-9'] }, /lacks 1 of the data's 4 examples: "ex-9"/);
    expectMismatch({ exampleIds: ids.slice(1) }, /holds 1 examples the data does not have: "ex-0"/);
    expectMismatch({ exampleIds: [ids[1], ids[0], ids[2]] }, /another order: position 0 is "ex-0" in the cache, "ex-1" in the data/);
    expectMismatch({ tokens: (e: number) => (e === 2 ? Int32Array.from(student(2), (t, j) => (j === 1 ? t + 1 : t)) : student(e)) }, /example "ex-2" token 1 is \d+ in the cache, \d+ in the student's tokenisation/);
    expectMismatch({ tokens: (e: number) => (e === 1 ? new Int32Array(5) : student(e)) }, /example "ex-1" has 2 positions in the cache, the student's tokenisation of its response has 5 tokens/);
    expectMismatch({ kind: 'advantage' }, /is a "probs" cache, the loss needs a "advantage" cache/);
    expectMismatch({ response: 'rejected' }, /covers the "chosen" responses/);
    expect(() => checkCacheMatches({ ...c, meta: { ...c.meta, temperature: 2 } }, ok, 'c')).toThrowError(/temperature 2/);
  });
  it('accepts a missing end-of-turn entry and a padded vocabulary of the same tokenizer', () => {
    const withEot = (e: number) => Int32Array.from([...student(e), 7]);
    expect(() => checkCacheMatches(c, { ...ok, tokens: withEot }, 'c')).not.toThrow();
    expect(() => checkCacheMatches(c, { ...ok, vocabSize: 64, tokenizerVocabSize: 58 }, 'c')).not.toThrow();
  });
});

describe('advantage cache (distillation.md)', () => {
  function probsCache(indices: number[][], probs: number[][], model: string): Extract<TeacherCache, { kind: 'probs' }> {
    const K = indices[0].length;
    const P = indices.length;
    const flat = probs.flat();
    return {
      kind: 'probs',
      meta: { response: 'student', k: K, temperature: 1, model, tokenizerSha256: SHA_A, vocabSize: 20, datasetSha256: SHA_B, exampleIds: ['e0'] },
      exampleOffsets: Int32Array.from([0, P]),
      tokens: Int32Array.from({ length: P }, (_, t) => t),
      indices: Int32Array.from(indices.flat()),
      probs: { dtype: 'F32', values: Float32Array.from(flat) },
      rest: Float32Array.from(probs.map((row) => 1 - row.reduce((a, b) => Math.fround(a + b), 0))),
    };
  }

  it('Â = ln max(p_dpo, 1e-7) − ln p̃_ref, imputed from min p_dpo off the reference top-K, sorted by Â', () => {
    // Position 0: ids 3, 5, 9 (DPO), reference top-K holds 5 and 3 but not 9.
    // Position 1: the smallest DPO prob is 0 (floored at 1e-7); reference prob of 2 is 0 (floored).
    const dpo = probsCache([[3, 5, 9], [1, 2, 4]], [[0.6, 0.3, 0.05], [0.7, 0.2, 0]], 'dpo');
    const ref = probsCache([[5, 3, 11], [2, 1, 6]], [[0.5, 0.2, 0.1], [0, 0.4, 0.3]], 'sft');
    const adv = advantageCache(dpo, ref);
    expect(adv.kind).toBe('advantage');
    const f = Math.fround;
    const A0 = [
      { id: 3, a: Math.log(f(0.6)) - Math.log(f(0.2)) },
      { id: 5, a: Math.log(f(0.3)) - Math.log(f(0.5)) },
      { id: 9, a: Math.log(f(0.05)) - Math.log(f(0.05)) }, // imputed with min p_dpo = 0.05: Â = 0
    ].sort((x, y) => y.a - x.a);
    const A1 = [
      { id: 1, a: Math.log(f(0.7)) - Math.log(f(0.4)) },
      { id: 2, a: Math.log(f(0.2)) - Math.log(1e-7) }, // reference prob 0 -> 1e-7
      { id: 4, a: Math.log(1e-7) - Math.log(1e-7) }, // p_dpo 0 -> 1e-7, imputed max(min p_dpo, 1e-7) = 1e-7
    ].sort((x, y) => y.a - x.a);
    const want = [...A0, ...A1];
    expect(Array.from(adv.indices)).toEqual(want.map((x) => x.id));
    const got = adv.kind === 'advantage' ? Array.from(adv.advantage) : [];
    got.forEach((a, i) => expect(a).toBeCloseTo(want[i].a, 6));
    expect(adv.meta.model).toBe('advantage(dpo | sft)');
  });

  it('refuses caches on different responses or tokenizers', () => {
    const dpo = probsCache([[3, 5]], [[0.6, 0.3]], 'dpo');
    const other = probsCache([[3, 5]], [[0.6, 0.3]], 'sft');
    expect(() => advantageCache(dpo, { ...other, tokens: Int32Array.from([9]) })).toThrowError(/other response tokens .*\(position 0: 9 vs 0\)/);
    expect(() => advantageCache(dpo, { ...other, meta: { ...other.meta, tokenizerSha256: SHA_B } })).toThrowError(/another tokenizer/);
    expect(() => advantageCache(dpo, { ...other, meta: { ...other.meta, exampleIds: ['zz'] } })).toThrowError(/other examples .* "zz" vs "e0"/);
  });
});

describe('gatherTeacher', () => {
  it('gathers rows by position and widens f16 exactly', () => {
    const c = randomCache(makeRng(), { dtype: 'F16', lengths: [3, 4], k: 3 });
    const g = gatherTeacher(c, [5, 0, 5]);
    expect(g.kind).toBe('probs');
    if (g.kind !== 'probs' || c.probs.dtype !== 'F16') return;
    expect(Array.from(g.ids)).toEqual([...c.indices.subarray(15, 18), ...c.indices.subarray(0, 3), ...c.indices.subarray(15, 18)]);
    expect(Array.from(g.probs.subarray(0, 3))).toEqual(Array.from(c.probs.bits.subarray(15, 18), float16ToFloat32));
    expect(Array.from(g.rest)).toEqual([c.rest[5], c.rest[0], c.rest[5]]);
    expect(() => gatherTeacher(c, [7])).toThrowError(/position 7 is outside the cache's 7 positions/);
  });
});
