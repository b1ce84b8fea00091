// A short DCKD run on the committed demo student with the committed caches (the one-click demo's
// settings, fewer steps) raises its preference for the good style on held-out pairs.
import { describe, expect, it } from 'vitest';
import { preferenceMargin } from '../../../src/distill/margin.ts';
import { loadTrainingData, releaseDecoder } from '../../../src/demo/models/build.ts';
import { DEMO_DISTILL } from '../../../src/demo/models/configs.ts';
import { distillDemoStudent } from '../../../src/demo/models/distill.ts';
import { loadDemoDistillData, loadDemoModel, modelDir } from '../../../src/demo/models/files.node.ts';
import { testGpu } from '../setup.ts';

/** Steps of the CI run (the one-click demo runs DEMO_DISTILL.steps). */
const STEPS = 12;

describe('one-click demo distillation (DCKD on the demo student)', () => {
  it(`raises the held-out preference margin within ${STEPS} steps`, async () => {
    const gpu = await testGpu();
    const data = await loadTrainingData();
    const held = data.heldoutPairs.filter((_, i) => i % 8 === 0);
    const student = await loadDemoModel(gpu, modelDir('student'));
    try {
      const before = await preferenceMargin(student.decoder, held);
      const distill = await loadDemoDistillData(data.tok, student.decoder.config.vocabSize);
      const outcome = await distillDemoStudent(student.decoder, distill, { ...DEMO_DISTILL, steps: STEPS });
      const after = await preferenceMargin(student.decoder, held);
      const report = JSON.stringify({ before: before.margin, after: after.margin, seconds: outcome.seconds, terms: outcome.terms });
      console.log('demo DCKD:', report);
      expect(Number.isFinite(outcome.loss), report).toBe(true);
      expect(after.margin - before.margin, report).toBeGreaterThan(0.2);
      expect(after.accuracy, report).toBeGreaterThanOrEqual(before.accuracy);
    } finally {
      releaseDecoder(student.decoder);
    }
  });
});
