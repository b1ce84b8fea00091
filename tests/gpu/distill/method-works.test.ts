// The method works, on fixture-sized models: a teacher learns both answering styles (its SFT
// checkpoint, kept as ADPA's reference), then is aligned to the preferred one (SFT on the chosen
// responses: our stand-in for DPO). A student that knows both styles but prefers neither is then
// trained three ways for the same steps: SFT on the chosen responses alone, DCKD, ADPA. Its
// preference (the mean log-probability margin between chosen and rejected held-out responses) moves
// in the teacher's direction further with DCKD and with ADPA than with SFT alone; DCKD also lands
// closer to the teacher's margin (ADPA's advantage term amplifies the preference past it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTeacherCache } from '../../../src/distill/cache/assemble.ts';
import { readPreferenceData, tokenizePairs, type TokenizedPair } from '../../../src/distill/data/preference.ts';
import { preferenceMargin } from '../../../src/distill/margin.ts';
import { prepareAdpaData } from '../../../src/distill/pipeline.ts';
import { SftBatches, type BatchSource } from '../../../src/distill/trainer/batches.ts';
import { DistillBatches } from '../../../src/distill/trainer/preference-batches.ts';
import { Trainer, weightsByName, type TrainConfig } from '../../../src/distill/trainer/trainer.ts';
import { parseWeights } from '../../../src/distill/losses/recipes.ts';
import type { Decoder } from '../../../src/engine/models/decoder.ts';
import { Decoder as DecoderClass } from '../../../src/engine/models/decoder.ts';
import { WeightUploader } from '../../../src/engine/models/weights.ts';
import { loadTokenizer } from '../../../src/formats/tokenizer.ts';
import type { Gpu } from '../../../src/engine/gpu.ts';
import { FIXTURES_DIR } from '../../helpers/fixtures.ts';
import { testGpu } from '../setup.ts';
import { loadFixtureDecoder } from '../models/load-fixture.ts';

const PLACES = ['station', 'bakery', 'library', 'park', 'museum', 'office', 'market', 'hotel', 'bank', 'school', 'garden', 'shop'];
const ANSWERS = ['next to the bank', 'on the left', 'near the park', 'two streets away', 'across the road', 'by the river'];

function pairsJsonl(): string {
  const lines: string[] = [];
  PLACES.forEach((place, i) => {
    ANSWERS.forEach((answer, j) => {
      if ((i + j) % 2) return;
      lines.push(JSON.stringify({
        id: `${place}-${j}`,
        prompt: `Where is the ${place}?`,
        chosen: `The ${place} is ${answer}.`,
        rejected: `It sounds like you want the ${place}. There are many ways to think about it.`,
      }));
    });
  });
  return lines.join('\n');
}

async function train(gpu: Gpu, decoder: Decoder, source: BatchSource, steps: number, lr: number): Promise<void> {
  const config: TrainConfig = { mode: 'full', optimizer: { kind: 'adamw', weightDecay: 0 }, lr, schedule: 'constant', warmup: 0, steps, gradAccum: 1, maxGradNorm: 1, seed: 5 };
  const t = new Trainer(gpu, decoder, source, config);
  while (!t.done) await t.trainStep();
  t.release();
}

async function copyDecoder(gpu: Gpu, d: Decoder): Promise<Decoder> {
  const up = new WeightUploader(gpu, d.config);
  for (const [name, t] of weightsByName(d)) up.add(name, [...t.shape], await gpu.readF32(t));
  return new DecoderClass(gpu, d.config, up.finish());
}

describe('distillation moves the student toward the teacher', () => {
  it('DCKD and ADPA beat SFT alone on the held-out preference margin', async () => {
    const gpu = await testGpu();
    const tdir = join(FIXTURES_DIR, 'tokenizer');
    const tok = await loadTokenizer({ tokenizerJson: readFileSync(join(tdir, 'tokenizer.json')), tokenizerConfig: readFileSync(join(tdir, 'tokenizer_config.json')) });
    const set = await readPreferenceData(pairsJsonl(), 'pairs.jsonl');
    const all = tokenizePairs(set, tok, { maxLength: 128, overLength: 'skip' }).pairs;
    const held = all.filter((_, i) => i % 4 === 3);
    const pairs = all.filter((_, i) => i % 4 !== 3);
    const vocab = 512;
    const sftOn = (examples: TokenizedPair[], which: ('chosen' | 'rejected')[]) => new SftBatches(examples.flatMap((p) => which.map((w) => p[w])), 4, vocab, 0, 3);

    // Teacher: SFT on both styles (kept as the reference), then on the preferred style.
    const teacher = loadFixtureDecoder(gpu, 'qwen2');
    await train(gpu, teacher, sftOn(pairs, ['chosen', 'rejected']), 40, 3e-3);
    const reference = await copyDecoder(gpu, teacher);
    await train(gpu, teacher, sftOn(pairs, ['chosen']), 120, 3e-3);
    const teacherMargin = await preferenceMargin(teacher, held);

    const common = { tokenizerSha256: tok.tokenizerSha256, datasetSha256: set.sha256, pairs, k: 16, valueDType: 'F32' as const, model: 'teacher' };
    const chosen = await buildTeacherCache({ ...common, teacher, response: 'chosen' });
    const rejected = await buildTeacherCache({ ...common, teacher, response: 'rejected' });

    // The student knows both styles (SFT on both), with no preference yet: the starting point of
    // every variant below.
    const base = loadFixtureDecoder(gpu, 'llama');
    await train(gpu, base, sftOn(pairs, ['chosen', 'rejected']), 40, 3e-3);
    const s0 = await preferenceMargin(base, held);
    const STEPS = 30;
    const LR = 2e-3;
    const student = () => copyDecoder(gpu, base);

    const sft = await student();
    await train(gpu, sft, sftOn(pairs, ['chosen']), STEPS, LR);
    const mSft = await preferenceMargin(sft, held);

    const dckd = await student();
    await train(gpu, dckd, new DistillBatches(pairs, 'dckd', parseWeights('dckd', 'c=1,r=1'), { chosen, rejected }, 4, vocab, 0, 3), STEPS, LR);
    const mDckd = await preferenceMargin(dckd, held);

    const adpa = await student();
    const data = await prepareAdpaData({
      student: adpa,
      eosTokenIds: [2],
      loadTeacher: async () => ({ decoder: teacher, name: 'teacher', release: async () => undefined }),
      loadReference: async () => ({ decoder: reference, name: 'reference', release: async () => undefined }),
      pairs,
      tokenizerSha256: tok.tokenizerSha256,
      datasetSha256: set.sha256,
      k: 16,
      valueDType: 'F32',
      maxNewTokens: 12,
    });
    await train(gpu, adpa, new DistillBatches(pairs, 'adpa', parseWeights('adpa', undefined), { advantage: data.advantage, student: data.student }, 4, vocab, 0, 3), STEPS, LR);
    const mAdpa = await preferenceMargin(adpa, held);

    const report = { teacher: teacherMargin.margin, before: s0.margin, sft: mSft.margin, dckd: mDckd.margin, adpa: mAdpa.margin };
    console.log('preference margins (mean token log-prob, chosen − rejected, held-out):', JSON.stringify(report));
    const gap = (m: number) => Math.abs(teacherMargin.margin - m);
    // The teacher prefers the chosen style more than the student did before training.
    expect(teacherMargin.margin, JSON.stringify(report)).toBeGreaterThan(s0.margin);
    // Both methods move the student's preference further in the teacher's direction than SFT alone.
    expect(mDckd.margin - mSft.margin, JSON.stringify(report)).toBeGreaterThan(0.3);
    expect(mAdpa.margin - mSft.margin, JSON.stringify(report)).toBeGreaterThan(0.3);
    expect(gap(mDckd.margin), JSON.stringify(report)).toBeLessThan(gap(mSft.margin));
  });
});
