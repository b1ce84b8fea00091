// What the one-click demo trains with and where it ends up. The distillation settings are the ones
// the demo kit measures its before/after margins with (DEMO_DISTILL of src/demo/models/configs.ts,
// `npm run demo:measure`), so the page runs exactly what was measured; change them there.
import type { TrainOptions } from '../../engine/train-api.ts';
import { DEMO_DISTILL } from '../../demo/models/configs.ts';
import { parseWeights } from '../../distill/losses/recipes.ts';
import type { DomainKey } from '../../proactive/domains.ts';
import { DEFAULT_LOSS, defaultOptions } from '../train/options.ts';

/** The held-out demo scenario the Arena opens on: the first one of this domain. */
export const DEMO_DOMAIN: DomainKey = 'recommendation';

/** Checkpoints per run: a reload mid-demo redoes at most a tenth of it. */
const CHECKPOINTS = 10;
const MAX_TEST_STEPS = 10_000;

/**
 * Test hook: `?demoSteps=N` in the page's address (a whole number, 1 to 10,000) shortens or
 * lengthens the demo's run, e.g. to fit the e2e test on a CPU-emulated GPU. Read only here;
 * anything else in the address is ignored and the measured step count is used.
 */
export function demoSteps(search = location.search): number {
  const raw = new URLSearchParams(search).get('demoSteps');
  const n = raw === null ? NaN : Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= MAX_TEST_STEPS ? n : DEMO_DISTILL.steps;
}

/** The Train panel's options for the demo run: DCKD, every weight, full fine-tuning, for `steps` steps on `context`-token pairs. */
export function demoTrainOptions(steps: number, context: number): TrainOptions {
  const s = DEMO_DISTILL;
  const w = parseWeights('dckd', s.weights);
  return {
    ...defaultOptions(),
    mode: 'full',
    optimizer: 'adamw',
    lr: s.lr,
    weightDecay: 0,
    length: { unit: 'steps', value: steps },
    batchSize: s.batchSize,
    gradAccum: 1,
    maxGradNorm: s.maxGradNorm,
    schedule: s.schedule,
    warmup: s.warmup,
    maxLength: context,
    overLength: 'truncate',
    checkpointEvery: Math.max(1, Math.ceil(steps / CHECKPOINTS)),
    seed: s.seed,
    loss: {
      ...structuredClone(DEFAULT_LOSS),
      objective: s.loss,
      weights: { ...structuredClone(DEFAULT_LOSS.weights), dckd: { sft: w.sft ?? 0, kd: w.kd ?? 0, c: w.c ?? 0, r: w.r ?? 0 } },
    },
  };
}
