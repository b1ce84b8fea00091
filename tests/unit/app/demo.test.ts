// The one-click demo's pure parts: the test-only step override, the Train panel options it runs
// with (the kit's measured DCKD settings), the prompts a demo model gets in the Arena, which loaded
// models count as demo models, and the stored step a reload picks up from.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { demoModelName, isDemoCard } from '../../../src/app/demo/kit.ts';
import { inProgress, loadDemo, saveDemo } from '../../../src/app/demo/flow-store.ts';
import { withDemoPrompts } from '../../../src/app/demo/prompts.ts';
import { demoSteps, demoTrainOptions } from '../../../src/app/demo/settings.ts';
import { DEMO_GUIDANCE_MODEL, DEMO_START_CUE } from '../../../src/demo/corpus.ts';
import { DEMO_DISTILL } from '../../../src/demo/models/configs.ts';
import type { ModelCard } from '../../../src/engine/api.ts';
import { openLabDb } from '../../../src/store/db.ts';
import { promptSet } from '../../../src/proactive/prompts.ts';

describe('demo settings', () => {
  it('takes ?demoSteps=N only as a whole number from 1 to 10,000, else the measured step count', () => {
    expect(demoSteps('?demoSteps=6')).toBe(6);
    expect(demoSteps('?x=1&demoSteps=10000')).toBe(10_000);
    for (const bad of ['', '?demoSteps=', '?demoSteps=0', '?demoSteps=-3', '?demoSteps=1.5', '?demoSteps=abc', '?demoSteps=10001', '?steps=6']) {
      expect(demoSteps(bad), bad).toBe(DEMO_DISTILL.steps);
    }
  });

  it('runs DCKD with the reference weights and the kit’s optimiser settings, full fine-tuning, a tenth of the run between checkpoints', () => {
    const o = demoTrainOptions(40, 256);
    expect(o.loss.objective).toBe('dckd');
    // DEMO_DISTILL keeps DCKD's reference weights (docs/distillation.md): w_sft 1, w_kd 1, w_c 0.1, w_r 0.1.
    expect(DEMO_DISTILL.weights).toBeUndefined();
    expect(o.loss.weights.dckd).toEqual({ sft: 1, kd: 1, c: 0.1, r: 0.1 });
    expect(o).toMatchObject({ mode: 'full', optimizer: 'adamw', lr: DEMO_DISTILL.lr, batchSize: DEMO_DISTILL.batchSize, schedule: DEMO_DISTILL.schedule, warmup: DEMO_DISTILL.warmup, maxGradNorm: DEMO_DISTILL.maxGradNorm, seed: DEMO_DISTILL.seed, gradAccum: 1, maxLength: 256 });
    expect(o.length).toEqual({ unit: 'steps', value: 40 });
    expect(o.checkpointEvery).toBe(4);
    expect(demoTrainOptions(12, 256).checkpointEvery).toBe(2);
    expect(demoTrainOptions(3, 128)).toMatchObject({ checkpointEvery: 1, maxLength: 128 });
  });
});

describe('demo models in the Arena', () => {
  const base = 'https://lab.example.org/some/base/index.html';
  const card = (kind: ModelCard['source']['kind'], id: string) => ({ source: { kind, id, revision: '', description: id } }) as ModelCard;

  it('knows a demo model by the kit’s models folder under the page’s own base path', () => {
    const student = card('url', 'url:https://lab.example.org/some/base/demo/models/student/');
    expect(isDemoCard(student, base)).toBe(true);
    expect(demoModelName(student, base)).toBe('demo student');
    expect(demoModelName(card('url', 'url:https://lab.example.org/some/base/demo/models/teacher-sft/'), base)).toBe('demo teacher-sft');
    for (const other of [
      card('url', 'url:https://lab.example.org/demo/models/student/'), // another base path
      card('url', 'url:https://elsewhere.example.org/some/base/demo/models/student/'),
      card('hub', 'hf:demo/models'),
      card('browser-folder', 'local:student'),
    ]) {
      expect(isDemoCard(other, base), other.source.id).toBe(false);
      expect(demoModelName(other, base)).toBeNull();
    }
    expect(isDemoCard(null, base)).toBe(false);
  });

  it('gives a demo model the demo’s guidance prompts and keeps the person’s other templates', () => {
    const judge = 'Judge this: {{dialogue}} against {{target}}. Reply as JSON.';
    const mine = promptSet({ 'guidance.judge': judge, 'guidance.model': 'My own system prompt for {{target}}.' });
    const demo = withDemoPrompts(mine);
    expect(demo['guidance.model'].text).toBe(DEMO_GUIDANCE_MODEL);
    expect(demo['guidance.start'].text).toBe(DEMO_START_CUE);
    expect(demo['guidance.judge']).toBe(mine['guidance.judge']);
    expect(demo['guidance.judge'].text).toBe(judge);
    expect(Object.keys(demo).sort()).toEqual(Object.keys(mine).sort());
  });
});

describe('the stored demo step', () => {
  it('round-trips, tells a demo under way from a finished one, and ignores a record it cannot read', async () => {
    await saveDemo({ step: 'training', runId: 'train-abc', startedAt: 5 });
    const stored = await loadDemo();
    expect(stored).toEqual({ step: 'training', runId: 'train-abc', startedAt: 5 });
    expect(inProgress(stored)).toBe(true);
    await saveDemo({ step: 'done', runId: 'train-abc', startedAt: 5 });
    expect(inProgress(await loadDemo())).toBe(false);
    await (await openLabDb()).put('settings', { step: 'dancing', runId: null, startedAt: 1 }, 'demo.flow');
    expect(await loadDemo()).toBeNull();
    await saveDemo(null);
    expect(await loadDemo()).toBeNull();
  });
});
