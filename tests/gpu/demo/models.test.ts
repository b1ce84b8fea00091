// The committed demo models (public/demo/models): each loads through the product's loader
// (loadModelFiles + NodeFolderSource + loadDecoder), has the config and parameter count the build
// reports (build.json) and the demo tokenizer, and generates; the teacher prefers the good style.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { preferenceMargin } from '../../../src/distill/margin.ts';
import { GenerationSession } from '../../../src/engine/models/generate.ts';
import { parameterCount, parseModelConfig } from '../../../src/formats/config.ts';
import { configJsonOf, loadTrainingData, releaseDecoder, type BuildReport } from '../../../src/demo/models/build.ts';
import { DEMO_MODEL_NAMES, DEMO_TOKEN_IDS } from '../../../src/demo/models/configs.ts';
import { BUILD_REPORT, loadDemoModel, modelDir, TOKENIZER_DIR, TOKENIZER_FILES } from '../../../src/demo/models/files.node.ts';
import { testGpu } from '../setup.ts';

const report = JSON.parse(readFileSync(BUILD_REPORT, 'utf8')) as BuildReport;

describe('demo models (public/demo/models)', () => {
  for (const name of DEMO_MODEL_NAMES) {
    it(`${name}: loads through the product loader with its reported config, and generates`, async () => {
      const gpu = await testGpu();
      const dir = modelDir(name);
      const m = await loadDemoModel(gpu, dir);
      try {
        const want = report.models[name];
        const c = m.files.config;
        expect({ architecture: c.architecture, hidden: c.hiddenSize, intermediate: c.intermediateSize, layers: c.numLayers, heads: c.numHeads, kvHeads: c.numKvHeads }).toEqual({
          architecture: 'llama',
          hidden: want.shape.hiddenSize,
          intermediate: want.shape.intermediateSize,
          layers: want.shape.layers,
          heads: want.shape.heads,
          kvHeads: want.shape.heads,
        });
        expect({ vocab: c.vocabSize, context: c.maxPositionEmbeddings, tied: c.tieWordEmbeddings, dtype: c.dtype, eos: c.eosTokenIds }).toEqual({ vocab: 2048, context: 256, tied: true, dtype: 'bfloat16', eos: [DEMO_TOKEN_IDS.eos] });
        expect(c.raw).toEqual(configJsonOf(name));
        expect(m.parameters).toBe(want.parameters);
        expect(parameterCount(parseModelConfig(configJsonOf(name)))).toBe(want.parameters);
        expect(statSync(join(dir, 'model.safetensors')).size).toBe(want.weightBytes);
        for (const t of m.files.weights.tensors.values()) expect(t.dtype, t.name).toBe('BF16');
        for (const f of TOKENIZER_FILES) expect(readFileSync(join(dir, f)).equals(readFileSync(join(TOKENIZER_DIR, f))), f).toBe(true);
        expect(m.files.stopTokenIds).toContain(DEMO_TOKEN_IDS.eos);

        // Greedy generation from a chat prompt: valid ids, and the same tokens twice (the KV cache
        // is reset between the runs).
        const prompt = m.files.tokenizer.applyChatTemplate([{ role: 'user', content: 'Hello, can you help me plan my week?' }], { addGenerationPrompt: true }).ids;
        const session = new GenerationSession(m.decoder, 256);
        try {
          const a = await session.generate(prompt, { maxNewTokens: 12, greedy: true, eosTokenIds: m.files.stopTokenIds });
          session.reset();
          const b = await session.generate(prompt, { maxNewTokens: 12, greedy: true, eosTokenIds: m.files.stopTokenIds });
          expect(a.ids.length).toBeGreaterThan(0);
          for (const id of a.ids) expect(id >= 0 && id < 2048, `token ${id}`).toBe(true);
          expect(b.ids).toEqual(a.ids);
        } finally {
          session.release();
        }
      } finally {
        releaseDecoder(m.decoder);
      }
    });
  }

  it('the teacher prefers the good style, and more than its SFT checkpoint does (held-out pairs)', async () => {
    const gpu = await testGpu();
    const pairs = (await loadTrainingData()).heldoutPairs.filter((_, i) => i % 9 === 0);
    const margins: Record<string, number> = {};
    for (const name of ['teacher', 'teacher-sft'] as const) {
      const m = await loadDemoModel(gpu, modelDir(name));
      try {
        margins[name] = (await preferenceMargin(m.decoder, pairs)).margin;
      } finally {
        releaseDecoder(m.decoder);
      }
    }
    expect(margins.teacher, JSON.stringify(margins)).toBeGreaterThan(0.5);
    expect(margins.teacher - margins['teacher-sft'], JSON.stringify(margins)).toBeGreaterThan(0.5);
  });
});
