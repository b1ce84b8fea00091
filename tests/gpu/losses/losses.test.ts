import { describe, expect, it } from 'vitest';
import { planLoss } from '../../../src/distill/losses/batch.ts';
import { computeLossOnHost, releaseTeacher, uploadTeacher } from '../../../src/distill/losses/compute.ts';
import type { BinMode, LossOptions } from '../../../src/distill/losses/definitions.ts';
import { makeRng } from '../../helpers/random.ts';
import { makeProblem, type ProblemSpec } from '../../unit/distill/loss-data.ts';
import { testGpu, withFoldLimit } from '../setup.ts';
import { expectLossClose, reference, runOnGpu } from './run.ts';

const DIVERGENCES: BinMode[] = ['fkl', 'rkl', 'skew-fkl', 'skew-rkl', 'jsd', 'tvd'];

async function check(spec: ProblemSpec, divergence: BinMode | undefined, options: LossOptions | undefined, what: string, separateGrad = false) {
  const gpu = await testGpu();
  const rng = makeRng();
  const pr = makeProblem(rng, spec);
  const got = await runOnGpu(gpu, pr, divergence, options, separateGrad);
  const want = reference(pr, divergence, options);
  expectLossClose(got, want, pr, `${what} seed=${rng.seed}`);
  return { got, want, pr };
}

describe('fused loss kernels vs f64 reference', () => {
  for (const divergence of DIVERGENCES) {
    it(`${divergence}: ragged batch, odd V, ids >= vocab, positions without a cache entry, unused rows`, async () => {
      await check(
        { vocab: 389, k: 23, lengths: [5, 1, 9, 3], spareRows: 4, outOfVocab: 0.1, missingTeacher: 0.2, logitStd: 3 },
        divergence,
        { jsdBeta: 0.3, skewLambda: 0.1 },
        divergence,
      );
    });
    it(`${divergence}: clamp-active rows (tiny / near-one q, teacher rest 0 and 1)`, async () => {
      // Odd sequences carry only the teacher term: a clamp changes their whole gradient row.
      await check(
        { vocab: 257, k: 17, lengths: [7, 9, 4, 8], outOfVocab: 0.05, extremes: true, termsOf: (s) => (s % 2 ? ['teacher'] : ['ce', 'teacher']) },
        divergence,
        { jsdBeta: 0.7 },
        `${divergence} extremes`,
      );
    });
  }

  it('adpa parity: advantages negative and above 1 (clamped), extremes, ids >= vocab', async () => {
    await check(
      { vocab: 301, k: 19, lengths: [6, 9, 8], teacher: 'advantage', outOfVocab: 0.1, missingTeacher: 0.15, extremes: true, termsOf: (s) => (s === 1 ? ['teacher'] : ['ce', 'teacher']) },
      'adpa',
      undefined,
      'adpa',
    );
  });

  it('adpa signed advantage (departs from parity) with β', async () => {
    await check({ vocab: 211, k: 13, lengths: [4, 9], teacher: 'advantage' }, 'adpa', { advantage: { mode: 'signed', beta: 0.7 } }, 'adpa signed');
  });

  it('CE only (no teacher) and full-vocabulary KL with CE', async () => {
    await check({ vocab: 523, k: 1, lengths: [3, 11, 2], spareRows: 3, teacher: 'none' }, undefined, undefined, 'sft');
    await check({ vocab: 331, k: 1, lengths: [4, 7], spareRows: 2, teacher: 'logits', missingTeacher: 0.2 }, 'fkl', undefined, 'full kl');
  });

  it('K = 256 (the largest) with V > 1000 and a separate gradient tensor', async () => {
    await check({ vocab: 1031, k: 256, lengths: [3, 2], outOfVocab: 0.02, logitStd: 4 }, 'fkl', undefined, 'K=256', true);
  });

  it('a real vocabulary: V = 151,936 (Qwen2), K = 50, fkl and adpa', async () => {
    await check({ vocab: 151936, k: 50, lengths: [2, 1], spareRows: 1, logitStd: 3 }, 'fkl', undefined, 'V=151936 fkl');
    await check({ vocab: 151936, k: 50, lengths: [2], teacher: 'advantage', logitStd: 3 }, 'adpa', undefined, 'V=151936 adpa');
  });

  it('DCKD shape: chosen (CE + KL) and rejected (KL only) sequences, each normalised by its own counts', async () => {
    const terms = [
      { name: 'sft', kind: 'ce' as const, coefficient: 1 },
      { name: 'kl_chosen', kind: 'teacher' as const, coefficient: 0.1 },
      { name: 'kl_rejected', kind: 'teacher' as const, coefficient: 0.1 },
    ];
    // Sequences 0..2 chosen, 3..5 rejected, ragged.
    const { got } = await check(
      {
        vocab: 199,
        k: 11,
        lengths: [3, 8, 1, 5, 2, 9],
        terms,
        termsOf: (s) => (s < 3 ? ['ce', 'teacher'] : ['teacher']),
        termIndex: (s, kind) => (kind === 'ce' ? 0 : s < 3 ? 1 : 2),
      },
      'fkl',
      undefined,
      'dckd',
    );
    expect(got.terms.length).toBe(3);
  });

  it('host logits in row chunks (3 rows per dispatch): per-term sums accumulate on the GPU', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const pr = makeProblem(rng, { vocab: 113, k: 9, lengths: [4, 1, 6, 3], spareRows: 2, missingTeacher: 0.2, outOfVocab: 0.1 });
    const teacher = pr.teacher ? uploadTeacher(gpu, pr.teacher) : undefined;
    const r = await computeLossOnHost(gpu, { logits: pr.logits, plan: planLoss(pr.batch), teacher, divergence: 'skew-rkl', maxRows: 3 });
    if (teacher) releaseTeacher(teacher);
    expectLossClose({ terms: Float32Array.from(r.values), loss: r.loss, grad: r.grad }, reference(pr, 'skew-rkl'), pr, `chunked seed=${rng.seed}`);
  });

  it('folds the row grid into 2D past maxComputeWorkgroupsPerDimension', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const pr = makeProblem(rng, { vocab: 67, k: 5, lengths: [4, 3, 2], spareRows: 1 });
    const got = await withFoldLimit(gpu, 4, () => runOnGpu(gpu, pr, 'fkl'));
    expectLossClose(got, reference(pr, 'fkl'), pr, `folded seed=${rng.seed}`);
  });
});
