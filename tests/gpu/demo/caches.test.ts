// The committed demo caches (public/demo/caches): they decode and validate, belong to the
// committed subset file (the first DEMO_SUBSET_PAIRS training pairs, byte for byte) and the demo
// tokenizer, are refused for other data, and hold what the committed teacher computes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildTeacherCache } from '../../../src/distill/cache/assemble.ts';
import { readPreferenceData, responseTokens, tokenizePairs } from '../../../src/distill/data/preference.ts';
import { checkCacheMatches, probsAsFloat32, TeacherCacheMismatchError, type TeacherCache } from '../../../src/formats/teacher-cache.ts';
import { sha256Hex } from '../../../src/formats/tokenizer.ts';
import { CACHE_MODEL_NAME, releaseDecoder, subsetText, type BuildReport } from '../../../src/demo/models/build.ts';
import { DEMO_CACHE_K, DEMO_SUBSET_PAIRS } from '../../../src/demo/models/configs.ts';
import { BUILD_REPORT, demoText, loadDemoDistillData, loadDemoModel, loadDemoTokenizer, modelDir, SUBSET_FILE } from '../../../src/demo/models/files.node.ts';
import { testGpu } from '../setup.ts';

const report = JSON.parse(readFileSync(BUILD_REPORT, 'utf8')) as BuildReport;

function probsOf(c: TeacherCache): Float32Array {
  if (c.kind !== 'probs') throw new Error(`expected a probability cache, got "${c.kind}"`);
  return probsAsFloat32(c.probs);
}

describe('demo teacher caches (public/demo/caches)', () => {
  it('the subset file is the first training pairs, byte for byte', () => {
    const subset = readFileSync(SUBSET_FILE, 'utf8');
    expect(subset).toBe(subsetText());
    expect(subset.trim().split('\n')).toHaveLength(DEMO_SUBSET_PAIRS);
    const train = demoText('data/pairs.train.jsonl').split('\n');
    expect(subset.trim().split('\n')).toEqual(train.slice(0, DEMO_SUBSET_PAIRS));
  });

  it('decode, validate and match the demo tokenizer, the subset and its tokenisation', async () => {
    const tok = await loadDemoTokenizer();
    // loadDemoDistillData decodes both files (structure, values, sums) and checks them against the data.
    const data = await loadDemoDistillData(tok, tok.vocabSize);
    expect(data.set.sha256).toBe(await sha256Hex(new Uint8Array(readFileSync(SUBSET_FILE))));
    for (const response of ['chosen', 'rejected'] as const) {
      const c = data[response];
      expect(c.kind).toBe('probs');
      expect(c.meta).toMatchObject({ response, k: DEMO_CACHE_K, temperature: 1, model: CACHE_MODEL_NAME, tokenizerSha256: tok.tokenizerSha256, vocabSize: 2048, datasetSha256: data.set.sha256 });
      if (c.kind === 'probs') expect(c.probs.dtype).toBe('F16');
      expect(c.meta.exampleIds).toEqual(data.pairs.map((p) => p.id));
      expect(c.tokens.length).toBe(report.caches.positions[response]);
      // Every response token of every pair has an entry (the end-of-turn token included).
      expect(c.tokens.length).toBe(data.pairs.reduce((n, p) => n + responseTokens(p[response]).length, 0));
    }
    expect(data.pairs).toHaveLength(DEMO_SUBSET_PAIRS);
    expect(report.caches).toMatchObject({ pairs: DEMO_SUBSET_PAIRS, k: DEMO_CACHE_K, datasetSha256: data.set.sha256 });
  });

  it('are refused for other data: the held-out pairs, or the subset with one response changed', async () => {
    const tok = await loadDemoTokenizer();
    const { chosen } = await loadDemoDistillData(tok, tok.vocabSize);
    const expectFor = async (text: string, file: string) => {
      const set = await readPreferenceData(text, file);
      const pairs = tokenizePairs(set, tok, { maxLength: 256, overLength: 'skip' }).pairs;
      return { tokenizerSha256: tok.tokenizerSha256, vocabSize: tok.vocabSize, datasetSha256: set.sha256, exampleIds: pairs.map((p) => p.id), tokens: (e: number) => responseTokens(pairs[e].chosen) };
    };
    const heldout = await expectFor(demoText('data/pairs.heldout.jsonl'), 'pairs.heldout.jsonl');
    expect(() => checkCacheMatches(chosen, heldout, 'chosen.safetensors')).toThrow(TeacherCacheMismatchError);
    const lines = subsetText().split('\n');
    const first = JSON.parse(lines[0]) as { chosen: string };
    lines[0] = JSON.stringify({ ...first, chosen: `${first.chosen} Really.` });
    const edited = await expectFor(lines.join('\n'), 'pairs.demo.jsonl');
    expect(() => checkCacheMatches(chosen, edited, 'chosen.safetensors')).toThrow(/other data/);
    // Without the hash, the tokens of the edited response are what gives it away.
    expect(() => checkCacheMatches(chosen, { ...edited, datasetSha256: undefined }, 'chosen.safetensors')).toThrow(/positions|token/);
  });

  it('hold what the committed teacher computes (rebuilt here for a few pairs)', async () => {
    const gpu = await testGpu();
    const tok = await loadDemoTokenizer();
    const data = await loadDemoDistillData(tok, tok.vocabSize);
    const teacher = await loadDemoModel(gpu, modelDir('teacher'));
    try {
      const pairs = data.pairs.slice(0, 3);
      for (const response of ['chosen', 'rejected'] as const) {
        const rebuilt = await buildTeacherCache({ teacher: teacher.decoder, model: CACHE_MODEL_NAME, tokenizerSha256: tok.tokenizerSha256, datasetSha256: data.set.sha256, pairs, response, k: DEMO_CACHE_K, valueDType: 'F32' });
        const committed = data[response];
        const n = rebuilt.tokens.length;
        expect(Array.from(committed.tokens.subarray(0, n))).toEqual(Array.from(rebuilt.tokens));
        const p = probsOf(committed);
        const q = probsOf(rebuilt);
        for (let t = 0; t < n; t++) {
          // The most likely token is the same, and every stored probability is the f32 value rounded
          // to f16 (relative error ≤ 2^-11, plus f16's subnormal spacing 6e-8 near zero).
          expect(committed.indices[t * DEMO_CACHE_K], `${response} position ${t}`).toBe(rebuilt.indices[t * DEMO_CACHE_K]);
          for (let k = 0; k < DEMO_CACHE_K; k++) {
            const i = t * DEMO_CACHE_K + k;
            if (committed.indices[i] !== rebuilt.indices[i]) continue; // near-ties may swap places
            expect(Math.abs(p[i] - q[i]), `${response} position ${t} slot ${k}`).toBeLessThanOrEqual(q[i] * 2 ** -11 + 6e-8);
          }
        }
      }
    } finally {
      releaseDecoder(teacher.decoder);
    }
  });
});
