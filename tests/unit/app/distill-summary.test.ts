import { describe, expect, it } from 'vitest';
import { cacheLines, objectiveLine, weightLines } from '../../../src/app/train/distill-summary.ts';
import type { DistillRunInfo, LossSettings, Objective, StageInfo } from '../../../src/engine/train-api.ts';

const SETTINGS: LossSettings = {
  objective: 'dckd',
  weights: { kd: { sft: 0, kd: 1 }, dckd: { sft: 1, kd: 1, c: 0.1, r: 0.25 }, adpa: { sft: 1, adpa: 1.6 } },
  skewLambda: 0.1,
  jsdBeta: 0.5,
  advantage: 'parity',
  advantageBeta: 2,
  maxNewTokens: 16,
  k: 16,
};

const NAMES = new Map([
  ['tc-chosen', 'qwen2 · chosen · pairs.jsonl'],
  ['tc-rejected', 'qwen2 · rejected · pairs.jsonl'],
  ['tc-adv', 'advantage on ŷ · llama · ADPA+ · pairs.jsonl · stage 2'],
]);
const nameOf = (id: string) => NAMES.get(id) ?? null;

function run(objective: Objective, stages: Partial<StageInfo>[], caches: Partial<DistillRunInfo['caches']> = {}): DistillRunInfo {
  return {
    objective,
    datasetId: 'ds',
    caches: { chosen: 'tc-chosen', rejected: 'tc-rejected', advantage: null, ...caches },
    stages: stages.map((s, i) => ({ loss: 'dckd', steps: 16, offset: 16 * i, advantageCacheId: null, ...s })),
    teacher: objective === 'dckd' ? null : { id: 'hf:qwen2@main', name: 'fixtures/qwen2', location: 'fixtures/qwen2' },
    reference: objective === 'dckd' ? null : { id: 'hf:qwen3@main', name: 'fixtures/qwen3', location: 'fixtures/qwen3' },
  };
}

/** ADPA+ builds its ADPA data (ŷ must come from its DCKD student): an advantage cache picked for plain ADPA is not read. */
const ADPA_PLUS = run('adpa+', [{ loss: 'dckd' }, { loss: 'adpa', advantageCacheId: 'tc-adv' }], { advantage: 'tc-picked' });

describe('a distillation run in words', () => {
  it('names the objective with its stages', () => {
    expect(objectiveLine(undefined)).toBe('SFT');
    expect(objectiveLine(run('dckd', [{ loss: 'dckd', steps: 60 }]))).toBe('DCKD');
    expect(objectiveLine(ADPA_PLUS)).toBe('ADPA+: DCKD (16 steps), then ADPA (16 steps)');
  });

  it('lists the weights of each stage, with the settings its loss reads', () => {
    expect(weightLines(run('dckd', [{ loss: 'dckd' }]), SETTINGS)).toEqual(['w_sft 1 · w_kd 1 · w_c 0.1 · w_r 0.25']);
    expect(weightLines(ADPA_PLUS, SETTINGS)).toEqual(['DCKD: w_sft 1 · w_kd 1 · w_c 0.1 · w_r 0.25', 'ADPA: w_sft 1 · w_adpa 1.6 · parity clamp c(Â)']);
    expect(weightLines(run('adpa', [{ loss: 'adpa' }]), { ...SETTINGS, advantage: 'signed' })).toEqual(['w_sft 1 · w_adpa 1.6 · signed advantage β 2']);
    expect(weightLines(run('skew-rkl', [{ loss: 'skew-rkl' }]), SETTINGS)).toEqual(['w_sft 0 · w_kd 1 · λ 0.1']);
    expect(weightLines(run('jsd', [{ loss: 'jsd' }]), SETTINGS)).toEqual(['w_sft 0 · w_kd 1 · β 0.5']);
    expect(weightLines(run('tvd', [{ loss: 'tvd' }]), SETTINGS)).toEqual(['w_sft 0 · w_kd 1']);
  });

  it('lists only the caches its stages read, by name', () => {
    expect(cacheLines(run('dckd', [{ loss: 'dckd' }], { advantage: 'tc-adv' }), nameOf)).toEqual(['chosen: qwen2 · chosen · pairs.jsonl', 'rejected: qwen2 · rejected · pairs.jsonl']);
    expect(cacheLines(run('kd', [{ loss: 'kd' }]), nameOf)).toEqual(['chosen: qwen2 · chosen · pairs.jsonl']);
    expect(cacheLines(run('kd', [{ loss: 'kd' }], { chosen: 'tc-gone' }), nameOf)).toEqual(['chosen: tc-gone (deleted since)']);
  });

  it('says whether an ADPA stage’s advantage cache was picked or built by the run, and who scored it', () => {
    expect(cacheLines(ADPA_PLUS, nameOf)).toEqual([
      'chosen: qwen2 · chosen · pairs.jsonl',
      'rejected: qwen2 · rejected · pairs.jsonl',
      'advantage: advantage on ŷ · llama · ADPA+ · pairs.jsonl · stage 2 (built by the run, scored by fixtures/qwen2 and fixtures/qwen3)',
    ]);
    expect(cacheLines(run('adpa+', [{ loss: 'dckd' }, { loss: 'adpa' }]), nameOf).at(-1)).toBe('advantage: to be built when the ADPA stage begins, scored by fixtures/qwen2 and fixtures/qwen3');
    expect(cacheLines(run('adpa', [{ loss: 'adpa' }], { advantage: 'tc-adv' }), nameOf)).toEqual(['advantage: advantage on ŷ · llama · ADPA+ · pairs.jsonl · stage 2']);
  });
});
