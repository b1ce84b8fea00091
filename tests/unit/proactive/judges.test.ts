import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DOMAINS } from '../../../src/proactive/domains.ts';
import { referenceSetup, scoreDialogue } from '../../../src/proactive/guidance.ts';
import { JsonFileStore } from '../../../src/proactive/json-file-store.ts';
import { runPlanning } from '../../../src/proactive/planning.ts';
import { PROMPT_TEMPLATES, promptSet } from '../../../src/proactive/prompts.ts';
import { defaultRunSettings, runBatch } from '../../../src/proactive/runner.ts';
import type { ScriptedServer } from '../../helpers/openai-server.ts';
import { backend, ITEM, scenario, scriptedEndpoint } from './script.ts';

const prompts = promptSet();
let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const PLAN = 'Here is my plan:\n```json\n{"target": "Invite Tom to the Saturday bird walk", "sub_targets": ["Praise the heron photo", "Mention the migration",]}\n```';

describe('target planning', () => {
  it('reads the plan, shows the judge the reference, the plan and the domain description, and keeps the reason', async () => {
    const s = (server = await scriptedEndpoint({
      'planning.model': () => PLAN,
      'planning.judge': () => 'Sure.\n{"reason": "Same need as the reference. It is specific. The steps lead there.", "score": 9}',
    }));
    const result = await runPlanning(scenario(), { model: backend(s.url, 'm'), judge: backend(s.url, 'j'), prompts });
    expect(result.plan).toEqual({ target: 'Invite Tom to the Saturday bird walk', subTargets: ['Praise the heron photo', 'Mention the migration'], format: 'json' });
    expect(result.judge).toEqual({
      ok: true,
      score: 9,
      reason: 'Same need as the reference. It is specific. The steps lead there.',
      attempts: [{ text: expect.stringContaining('"score": 9') }],
    });
    const judgePrompt = s.requests.find((r) => r.model === 'j')!.messages[0].content;
    expect(judgePrompt).toContain(`Target: ${ITEM.target}`);
    expect(judgePrompt).toContain('Target: Invite Tom to the Saturday bird walk');
    expect(judgePrompt).toContain('1. Praise the heron photo\n2. Mention the migration');
    expect(judgePrompt).toContain(DOMAINS.recommendation.description);
    expect(s.requests.every((r) => r.body.temperature === 0)).toBe(true);
  });

  it('malformed judge output is asked again with the problem stated, then accepted', async () => {
    const s = (server = await scriptedEndpoint({
      'planning.model': () => PLAN,
      'planning.judge': (_, n) => (n === 0 ? 'I would say it is quite good overall.' : '{"reason": "Good.", "score": 7}'),
    }));
    const result = await runPlanning(scenario(), { model: backend(s.url, 'm'), judge: backend(s.url, 'j'), prompts });
    expect(result.judge).toMatchObject({ ok: true, score: 7 });
    expect(result.judge!.attempts).toEqual([
      { text: 'I would say it is quite good overall.', problem: 'there is no JSON object with a "score"' },
      { text: '{"reason": "Good.", "score": 7}' },
    ]);
    const retry = s.requests.filter((r) => r.model === 'j')[1].messages;
    expect(retry.slice(1)).toEqual([
      { role: 'assistant', content: 'I would say it is quite good overall.' },
      { role: 'user', content: PROMPT_TEMPLATES['judge.retry'].text.replace('{{problem}}', 'there is no JSON object with a "score"') },
    ]);
  });

  it('scores outside 1–10 are never recorded: after the retries the judge counts as failed, with every answer kept', async () => {
    const s = (server = await scriptedEndpoint({
      'planning.model': () => PLAN,
      'planning.judge': (_, n) => `{"reason": "Excellent.", "score": ${[11, 0, 15][n]}}`,
    }));
    const result = await runPlanning(scenario(), { model: backend(s.url, 'm'), judge: backend(s.url, 'j'), prompts, judgeRetries: 2 });
    expect(result.judge!.ok).toBe(false);
    expect(result.judge!.score).toBeNull();
    expect(result.judge!.attempts.map((a) => a.problem)).toEqual(['the score 11 is outside 1 to 10', 'the score 0 is outside 1 to 10', 'the score 15 is outside 1 to 10']);
    expect(result.judge!.error).toMatch(/no usable answer after 3 attempts/);
    expect(s.count('planning.judge')).toBe(3);
  });

  it('without a judge the plan is recorded unscored', async () => {
    const s = (server = await scriptedEndpoint({ 'planning.model': () => 'Target: Suggest the walk' }));
    const result = await runPlanning(scenario(), { model: backend(s.url, 'm'), prompts });
    expect(result).toEqual({ output: 'Target: Suggest the walk', plan: { target: 'Suggest the walk', subTargets: [], format: 'lines' }, judge: null });
  });
});

describe('the guidance judge', () => {
  it('retries unreadable answers; an unusable density count falls back to the local estimate and says so', async () => {
    const s = (server = await scriptedEndpoint({
      'guidance.judge': (_, n) => (n === 0 ? '```json\n{"thought": "fine", "score": "ten"}\n```' : '{"thought": "Good pace.", "score": 8}'),
      'guidance.density': () => '{"touched": [[9]]}',
    }));
    const setup = referenceSetup(scenario());
    const dialogue = { turns: [{ assistant: 'Want to join the Saturday walk?', user: 'Yes!' }], endedBy: 'target-reached' as const };
    const scores = await scoreDialogue(setup, dialogue, { judge: backend(s.url, 'j'), prompts, judgeRetries: 1 });
    expect(scores.judge).toMatchObject({ ok: true, score: 8, reason: 'Good pace.' });
    expect(scores.judge!.attempts[0].problem).toBe('the "score" is not a number ("ten")');
    expect(scores.density.method).toBe('local-word-overlap');
    expect(scores.density.judgeError).toMatch(/step numbers from 1 to 3/);
    expect(scores.density.touched).toEqual([[3]]);
    const judgePrompt = s.requests[0].messages[0].content;
    expect(judgePrompt).toContain('Assistant: Want to join the Saturday walk?\nUser: Yes!');
    for (const criterion of ['Effectiveness', 'Personalization', 'Tone', 'Engagement', 'Naturalness']) expect(judgePrompt).toContain(criterion);
  });
});

describe('a judge that never answers in JSON', () => {
  it('records each item as a judge failure: no score, every raw answer kept, saved to the results file', async () => {
    const answer = (kind: string, n: number): string => `Honestly, ${kind} went well (answer ${n}).`;
    const prose = (kind: string) => (_: unknown, n: number) => answer(kind, n + 1);
    const s = (server = await scriptedEndpoint({
      'planning.model': () => PLAN,
      'guidance.model': () => 'Want to join the Saturday walk?',
      'user.simulator': () => 'Maybe.',
      'planning.judge': prose('the plan'),
      'guidance.judge': prose('the dialogue'),
      'guidance.check': prose('the goal'),
      'guidance.density': prose('the steps'),
    }));
    const dir = await mkdtemp(join(tmpdir(), 'judge-'));
    try {
      const out = join(dir, 'results.json');
      const model = { id: 'student', label: 'student' };
      const { items } = await runBatch({
        runId: 'run-prose',
        settings: defaultRunSettings({ models: [model], domains: ['recommendation'], agreeableness: ['low'], maxTurns: 2, judgeRetries: 2, scenarioSource: 'test' }),
        scenarios: [scenario()],
        backends: { models: { student: backend(s.url, 'm') }, judge: backend(s.url, 'j'), user: backend(s.url, 'u') },
        store: await JsonFileStore.open(out),
        prompts,
      });
      const answers = (kind: string): string[] => [1, 2, 3].map((n) => answer(kind, n));
      const stored = await (await JsonFileStore.open(out)).getItems('run-prose');
      for (const list of [items, stored]) {
        const planning = list.find((i) => i.task === 'planning')!;
        const guidance = list.find((i) => i.task === 'guidance')!;
        expect(planning).toMatchObject({ status: 'judge-failed', score: null });
        expect(planning.planning!.judge).toMatchObject({ ok: false, score: null, error: expect.stringMatching(/no usable answer after 3 attempts/) });
        expect(planning.planning!.judge!.attempts.map((a) => a.text)).toEqual(answers('the plan'));
        expect(guidance).toMatchObject({ status: 'judge-failed', score: null });
        expect(guidance.guidance!.scores.judge).toMatchObject({ ok: false, score: null });
        expect(guidance.guidance!.scores.judge!.attempts.map((a) => a.text)).toEqual(answers('the dialogue'));
        expect(guidance.guidance!.scores.judge!.attempts.every((a) => a.problem === 'there is no JSON object with a "score"')).toBe(true);
        // The goal check could not be read either: no early end, both turns played.
        expect(guidance.guidance!.dialogue).toMatchObject({ endedBy: 'turn-limit' });
        expect(guidance.guidance!.dialogue.turns.map((t) => t.check?.reached)).toEqual([null, null]);
        expect(guidance.guidance!.scores.density.method).toBe('local-word-overlap');
      }
      expect(s.count('planning.judge')).toBe(3);
      expect(s.count('guidance.judge')).toBe(3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
