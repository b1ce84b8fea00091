// The one-click demo's distillation, as the page runs it: DCKD on the demo student against the
// committed teacher caches of the demo subset, with the settings of configs.ts (DEMO_DISTILL); and
// the second stage of ADPA+ (ADPA from the DCKD student: its greedy replies ŷ, the teacher's and
// the reference's caches on ŷ built here, the advantage, then training; DEMO_ADPA). Shared by the
// measurements (npm run demo:measure) and the tests.
import type { Decoder } from '../../engine/models/decoder.ts';
import { parseWeights } from '../../distill/losses/recipes.ts';
import { DistillBatches } from '../../distill/trainer/preference-batches.ts';
import { Trainer, type StepMetrics } from '../../distill/trainer/trainer.ts';
import type { TokenizedPair } from '../../distill/data/preference.ts';
import type { TeacherCache } from '../../formats/teacher-cache.ts';
import type { Tokenizer } from '../../formats/tokenizer.ts';
import { prepareAdpaData } from '../../distill/pipeline.ts';
import type { BatchSource } from '../../distill/trainer/batches.ts';
import { DEMO_CACHE_K, DEMO_TOKEN_IDS, MEASURE_MAX_NEW_TOKENS, type DistillSettings } from './configs.ts';

export interface DistillOutcome {
  seconds: number;
  steps: number;
  /** Mean loss and terms of the last 5 steps. */
  loss: number;
  terms: Record<string, number>;
}

/** Train the student on `source` with the settings' optimiser and schedule. */
async function train(student: Decoder, source: BatchSource, s: Omit<DistillSettings, 'loss' | 'weights'>, onStep?: (m: StepMetrics) => void): Promise<DistillOutcome> {
  const trainer = new Trainer(student.gpu, student, source, {
    mode: 'full',
    optimizer: { kind: 'adamw', weightDecay: 0 },
    lr: s.lr,
    schedule: s.schedule,
    warmup: s.warmup,
    steps: s.steps,
    gradAccum: 1,
    maxGradNorm: s.maxGradNorm,
    seed: s.seed,
  });
  const t0 = performance.now();
  const last: StepMetrics[] = [];
  try {
    while (!trainer.done) {
      const m = await trainer.trainStep();
      last.push(m);
      if (last.length > 5) last.shift();
      onStep?.(m);
    }
  } finally {
    trainer.release();
  }
  const mean = (f: (m: StepMetrics) => number) => last.reduce((n, m) => n + f(m), 0) / last.length;
  const terms = Object.fromEntries(Object.keys(last[0]?.terms ?? {}).map((k) => [k, mean((m) => m.terms[k])]));
  return { seconds: (performance.now() - t0) / 1000, steps: s.steps, loss: mean((m) => m.loss), terms };
}

/** DCKD on the demo student (the one-click demo). */
export function distillDemoStudent(
  student: Decoder,
  data: { pairs: readonly TokenizedPair[]; chosen: TeacherCache; rejected: TeacherCache },
  s: DistillSettings,
  onStep?: (m: StepMetrics) => void,
): Promise<DistillOutcome> {
  const source = new DistillBatches(data.pairs, s.loss, parseWeights(s.loss, s.weights), { chosen: data.chosen, rejected: data.rejected }, s.batchSize, student.config.vocabSize, DEMO_TOKEN_IDS.pad, s.seed);
  return train(student, source, s, onStep);
}

export interface AdpaOutcome extends DistillOutcome {
  /** Seconds spent on ŷ and the caches on ŷ (before training). */
  prepareSeconds: number;
  pairs: number;
}

/**
 * ADPA's stage of ADPA+, from the (DCKD) student: ŷ for the pairs the run will visit (steps ×
 * batch, from the start of the subset), the teacher's and the reference's top-K on ŷ, the
 * advantage, then ADPA with its reference weights.
 */
export async function adpaDemoStudent(
  student: Decoder,
  models: { teacher: Decoder; reference: Decoder },
  data: { tok: Tokenizer; datasetSha256: string; pairs: readonly TokenizedPair[] },
  s: Omit<DistillSettings, 'loss'>,
  onStep?: (m: StepMetrics) => void,
): Promise<AdpaOutcome> {
  const t0 = performance.now();
  const pairs = data.pairs.slice(0, Math.min(data.pairs.length, s.steps * s.batchSize));
  const borrowed = (decoder: Decoder, name: string) => async () => ({ decoder, name, release: async () => undefined });
  const prepared = await prepareAdpaData({
    student,
    eosTokenIds: [DEMO_TOKEN_IDS.eos],
    loadTeacher: borrowed(models.teacher, 'teacher'),
    loadReference: borrowed(models.reference, 'teacher-sft'),
    pairs,
    tokenizerSha256: data.tok.tokenizerSha256,
    datasetSha256: data.datasetSha256,
    k: DEMO_CACHE_K,
    valueDType: 'F16',
    maxNewTokens: MEASURE_MAX_NEW_TOKENS,
  });
  const prepareSeconds = (performance.now() - t0) / 1000;
  const source = new DistillBatches(pairs, 'adpa', parseWeights('adpa', s.weights), { advantage: prepared.advantage, student: prepared.student }, s.batchSize, student.config.vocabSize, DEMO_TOKEN_IDS.pad, s.seed);
  return { ...(await train(student, source, s, onStep)), prepareSeconds, pairs: pairs.length };
}
