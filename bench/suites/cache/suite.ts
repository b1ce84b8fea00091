// Teacher-cache build throughput: response positions per second when the lab scores preference
// pairs with a teacher (forward, gathered LM head, softmax, top-K, one readback per chunk).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describeAdapter } from '../../../src/engine/adapter.ts';
import { createNodeGpu } from '../../../src/engine/node-gpu.ts';
import { loadDecoder } from '../../../src/engine/models/load.ts';
import { loadModelFiles } from '../../../src/formats/model-files.ts';
import { NodeFolderSource } from '../../../src/formats/source.node.ts';
import { buildTeacherCache } from '../../../src/distill/cache/assemble.ts';
import { readPreferenceData, tokenizePairs } from '../../../src/distill/data/preference.ts';
import { median } from '../../lib/stats.ts';
import { fmt } from '../../lib/table.ts';
import type { Measurement, Suite, SuiteContext, SuiteReport } from '../../lib/types.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const FIXTURES = resolve(process.env.STUDENT_LAB_FIXTURES ?? join(ROOT, 'tests/fixtures/models'));

export const suite: Suite = {
  name: 'cache',
  summary: 'teacher-cache build throughput (positions/s) with the fixture teachers',
  async run(ctx: SuiteContext): Promise<SuiteReport> {
    const gpu = await createNodeGpu();
    const device = describeAdapter(gpu.report);
    const measurements: Measurement[] = [];
    const table = [['teacher', 'pairs', 'positions', 'K', 'positions/s']];
    const text = readFileSync(join(ROOT, 'tests/fixtures/teacher-cache/pairs.jsonl'), 'utf8');
    const set = await readPreferenceData(text, 'pairs.jsonl');
    try {
      for (const name of ctx.quick ? ['llama'] : ['llama', 'qwen2', 'qwen3']) {
        ctx.log(`cache: ${name}`);
        const files = await loadModelFiles(new NodeFolderSource(join(FIXTURES, name)));
        const { decoder } = await loadDecoder(gpu, files);
        const pairs = tokenizePairs(set, files.tokenizer, { maxLength: 256, overLength: 'truncate' }).pairs;
        const run = () =>
          buildTeacherCache({ teacher: decoder, model: name, tokenizerSha256: files.tokenizer.tokenizerSha256, datasetSha256: set.sha256, pairs, response: 'chosen', k: 50, valueDType: 'F16' });
        await run(); // warm-up
        const samples: number[] = [];
        let positions = 0;
        for (let i = 0; i < (ctx.quick ? 2 : 5); i++) {
          const t0 = performance.now();
          positions = (await run()).tokens.length;
          samples.push(performance.now() - t0);
        }
        const rate = (positions * 1000) / median(samples);
        measurements.push({ case: `${pairs.length} pairs`, host: 'node (Dawn)', impl: `cache:${name}`, value: rate, unit: 'positions/s', samplesMs: samples, opsPerSubmit: 1, check: 'ok', device });
        table.push([name, String(pairs.length), String(positions), '50', fmt(rate)]);
        decoder.release();
      }
    } finally {
      await gpu.destroy();
    }
    return { title: 'teacher-cache build (f16, K=50, chosen responses)', table, notes: [`${device}; median of repeated builds, warm-up excluded.`], measurements };
  },
};
