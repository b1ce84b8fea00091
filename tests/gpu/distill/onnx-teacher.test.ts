// The ONNX teacher's cache (transformers.js on the CPU, the llama fixture's ONNX export) against our
// engine's cache of the same fixture (buildTeacherCache on Dawn, the safetensors weights): the same
// positions and tokens, the same top-K ids up to near-ties, probabilities and rest within f32 noise.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assembleProbsCache, buildTeacherCache, sequencesFor } from '../../../src/distill/cache/assemble.ts';
import type { TeacherRows } from '../../../src/distill/cache/build.ts';
import { loadOnnxTeacher } from '../../../src/distill/cache/onnx-teacher.ts';
import { readPreferenceData, tokenizePairs } from '../../../src/distill/data/preference.ts';
import { loadDecoder } from '../../../src/engine/models/load.ts';
import { loadModelFiles } from '../../../src/formats/model-files.ts';
import { NodeFolderSource } from '../../../src/formats/source.node.ts';
import { probsAsFloat32, type TeacherCache } from '../../../src/formats/teacher-cache.ts';
import { FIXTURES_DIR } from '../../helpers/fixtures.ts';
import { testGpu } from '../setup.ts';

const PAIRS = [
  ['Where is the station?', 'It is two streets down, on the left.', 'No idea.'],
  ['Do you want some tea?', 'Yes please, with a little milk.', 'No.'],
  ['How was your day?', 'Good, thank you. I walked in the park and then met my sister by the river.', 'Fine.'],
  ['Can you help me with my bag?', 'Of course, let me take it.', 'Carry it yourself.'],
  ['Where did you put the keys?', 'On the table by the door.', 'Somewhere.'],
];
const TEXT = PAIRS.map(([prompt, chosen, rejected], i) => JSON.stringify({ id: `q${i}`, prompt, chosen, rejected })).join('\n');
const K = 50;
// Both implementations reproduce Hugging Face's logits within 5e-5 absolute (ours: fixtures README
// "observed 1e-5 .. 5e-5"; ONNX: 1.1e-5), so they differ by at most ~6e-5; softmax turns an absolute
// logit difference ε into a relative probability difference of at most 2ε: 2e-4 relative is f32 noise.
const RTOL = 2e-4;

interface Comparison {
  positions: number;
  exact: number;
  maxRel: number;
}

/** ONNX cache `a` against engine cache `b`, position by position (see RTOL). */
function compare(a: TeacherCache, b: TeacherCache): Comparison {
  if (a.kind !== 'probs' || b.kind !== 'probs') throw new Error('probability caches expected');
  expect(Array.from(a.exampleOffsets)).toEqual(Array.from(b.exampleOffsets));
  expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
  const pa = probsAsFloat32(a.probs);
  const pb = probsAsFloat32(b.probs);
  let exact = 0;
  let maxRel = 0;
  for (let i = 0; i < a.tokens.length; i++) {
    const where = `position ${i}`;
    const engine = new Map<number, number>();
    for (let k = 0; k < K; k++) engine.set(b.indices[i * K + k], pb[i * K + k]);
    let same = true;
    for (let k = 0; k < K; k++) {
      const id = a.indices[i * K + k];
      const got = pa[i * K + k];
      const want = pb[i * K + k];
      // The value at each rank, whichever id holds it.
      const rel = Math.abs(got - want) / want;
      maxRel = Math.max(maxRel, rel);
      expect(rel, `${where} rank ${k}`).toBeLessThanOrEqual(RTOL);
      if (id === b.indices[i * K + k]) continue;
      same = false;
      // Another id only at a near-tie: its engine probability (or, past the engine's top-K, the engine's last) matches.
      const other = engine.get(id) ?? pb[i * K + K - 1];
      expect(Math.abs(other - got) / got, `${where} rank ${k}: id ${id} vs ${b.indices[i * K + k]}`).toBeLessThanOrEqual(RTOL);
    }
    expect(Math.abs(a.rest[i] - b.rest[i]), `${where} rest`).toBeLessThanOrEqual(RTOL);
    if (same) exact++;
  }
  return { positions: a.tokens.length, exact, maxRel };
}

describe('ONNX teacher vs the engine (llama fixture)', () => {
  it('builds the same cache as buildTeacherCache, chosen and rejected, within f32 noise', async () => {
    const gpu = await testGpu();
    const folder = join(FIXTURES_DIR, 'llama');
    const files = await loadModelFiles(new NodeFolderSource(folder));
    const { decoder } = await loadDecoder(gpu, files);
    const onnx = await loadOnnxTeacher({ source: new NodeFolderSource(folder), device: 'cpu' });
    expect(onnx.tokenizer.tokenizerSha256).toBe(files.tokenizer.tokenizerSha256);
    expect(onnx.vocabSize).toBe(decoder.config.vocabSize);
    const set = await readPreferenceData(TEXT, 'pairs.jsonl');
    const pairs = tokenizePairs(set, files.tokenizer, { maxLength: 48, overLength: 'truncate' }).pairs;
    const common = { model: 'llama', tokenizerSha256: files.tokenizer.tokenizerSha256, datasetSha256: set.sha256, pairs, k: K, valueDType: 'F32' as const, batchSize: 3 };

    for (const response of ['chosen', 'rejected'] as const) {
      const engine = await buildTeacherCache({ ...common, teacher: decoder, response });
      const rows: TeacherRows[] = [];
      for await (const r of onnx.score(sequencesFor(pairs, response), { k: K, valueDType: 'F32', batchSize: 3 })) rows.push(r);
      const ours = assembleProbsCache({ ...engine.meta, vocabSize: onnx.vocabSize, tokenizerSha256: onnx.tokenizer.tokenizerSha256 }, rows, 'F32');
      expect(ours.meta).toEqual(engine.meta);
      const c = compare(ours, engine);
      console.log(`${response}: ${c.positions} positions, ${c.exact} with identical top-${K} ids, largest relative probability difference ${c.maxRel.toExponential(2)}`);
      expect(c.positions).toBeGreaterThan(30);
      expect(c.exact).toBeGreaterThanOrEqual(c.positions - 3);
    }
    await onnx.dispose();
  });
});
