import { describe, expect, it } from 'vitest';
import { summarize } from '../../../src/proactive/aggregate.ts';
import { DOMAINS, DOMAIN_KEYS, type DomainKey } from '../../../src/proactive/domains.ts';
import type { Agreeableness } from '../../../src/proactive/guidance.ts';
import { leaderboard, PAPER_ROWS, weightedAverage, type Column } from '../../../src/proactive/paper-table.ts';
import type { EvalItemRecord, ItemStatus } from '../../../src/proactive/records.ts';

function record(task: 'planning' | 'guidance', domain: DomainKey, env: string, score: number | null, agreeableness: Agreeableness | null = null, status: ItemStatus = 'done', model = 'm'): EvalItemRecord {
  return {
    runId: 'r', itemKey: `${task}|${model}|${env}|${agreeableness}`, task, modelId: model, modelLabel: `label-${model}`, scenarioKey: env, fingerprint: 'f',
    domain, tier: 'fair', topic: '', agreeableness, status, score, prompts: [], startedAt: 0, finishedAt: 0,
  };
}

describe('aggregation (the paper\'s rules)', () => {
  it('planning: domain = mean of its items, Avg = mean over ALL items (not the mean of domain means)', () => {
    const [s] = summarize([
      record('planning', 'recommendation', 'rec/0', 10),
      record('planning', 'recommendation', 'rec/1', 6),
      record('planning', 'persuasion', 'per/0', 4),
      record('planning', 'persuasion', 'per/1', null, null, 'judge-failed'),
      record('planning', 'persuasion', 'per/2', null, null, 'error'),
    ]);
    expect(s.planning!.byDomain.recommendation).toBe(8);
    expect(s.planning!.byDomain.persuasion).toBe(4);
    expect(s.planning!.byDomain.system_operation).toBeNull();
    expect(s.planning!.avg).toBeCloseTo(20 / 3, 12); // the mean of the domain means would be 6
    expect(s.planning!.n).toBe(3);
    expect(s.counts.planning).toEqual({ items: 5, scored: 3, unjudged: 0, judgeFailed: 1, errors: 1 });
  });

  it('guidance: each environment is first averaged over its agreeableness runs, then the same rules apply', () => {
    const [s] = summarize([
      record('guidance', 'recommendation', 'rec/0', 6, 'low'),
      record('guidance', 'recommendation', 'rec/0', 8, 'medium'),
      record('guidance', 'recommendation', 'rec/0', 10, 'high'),
      record('guidance', 'recommendation', 'rec/1', 9, 'low'),
      record('guidance', 'recommendation', 'rec/1', 9, 'medium'),
      record('guidance', 'recommendation', 'rec/1', 9, 'high'),
      record('guidance', 'persuasion', 'per/0', 3, 'low'),
      record('guidance', 'persuasion', 'per/0', 5, 'medium'),
      record('guidance', 'persuasion', 'per/0', null, 'high', 'judge-failed'),
    ]);
    // environments: 8, 9, 4 → rec 8.5, per 4, Avg 7 (the mean over dialogues would be 7.375, of domain means 6.25)
    expect(s.guidance!.byDomain.recommendation).toBe(8.5);
    expect(s.guidance!.byDomain.persuasion).toBe(4);
    expect(s.guidance!.avg).toBe(7);
    expect(s.guidance!.n).toBe(3);
    expect(s.guidanceByAgreeableness).toEqual({ low: 6, medium: 22 / 3, high: 9.5 });
  });

  it('reproduces a paper row\'s Avg from its domain scores over the official domain sizes', () => {
    const row = PAPER_ROWS.find((r) => r.model === 'Claude-3.7-Sonnet' && r.group === 'non-thinking')!;
    const items = DOMAIN_KEYS.flatMap((d) => Array.from({ length: DOMAINS[d].paper.total }, (_, i) => record('planning', d, `${d}/${i}`, row.planning[DOMAINS[d].column])));
    const [s] = summarize(items);
    expect(s.planning!.n).toBe(328);
    expect(Math.abs(s.planning!.avg! - row.planning.avg)).toBeLessThanOrEqual(0.011);
  });
});

describe('the paper\'s table', () => {
  const sizes = DOMAIN_KEYS.map((d) => DOMAINS[d].paper.total);
  // Each domain score and the Avg are rounded to 2 decimals: the recomputed Avg may differ by ≤ 0.005 + 0.005.
  const TOLERANCE = 0.011;
  const meanOfMeans = (r: Record<Column, number>): number => DOMAIN_KEYS.reduce((a, d) => a + r[DOMAINS[d].column], 0) / 6;

  it('has 28 rows of 22 models and the official domain sizes 51/77/57/61/37/45 (328)', () => {
    expect(PAPER_ROWS.length).toBe(28);
    expect(new Set(PAPER_ROWS.map((r) => r.model)).size).toBe(22);
    expect(sizes).toEqual([51, 77, 57, 61, 37, 45]);
    expect(PAPER_ROWS[0]).toEqual({
      group: 'non-thinking',
      model: 'Qwen2.5-7B-Instruct',
      planning: { avg: 4.93, rec: 4.69, per: 4.06, ai: 5.67, lf: 5.34, sys: 4.89, gas: 5.24 },
      guidance: { avg: 8.06, rec: 8.05, per: 7.85, ai: 8.34, lf: 8.36, sys: 7.48, gas: 8.16 },
    });
  });

  it('every planning Avg is the size-weighted mean of its domain scores (and mostly not the plain mean)', () => {
    for (const r of PAPER_ROWS) expect(Math.abs(weightedAverage(r.planning) - r.planning.avg), `${r.group} ${r.model}`).toBeLessThanOrEqual(TOLERANCE);
    expect(PAPER_ROWS.filter((r) => Math.abs(meanOfMeans(r.planning) - r.planning.avg) > TOLERANCE).length).toBeGreaterThanOrEqual(20);
  });

  it('guidance Avgs follow the same rule except in five rows where the paper\'s own numbers disagree', () => {
    const off = PAPER_ROWS.filter((r) => Math.abs(weightedAverage(r.guidance) - r.guidance.avg) > TOLERANCE).map((r) => `${r.group} ${r.model}`);
    expect(off).toEqual([
      'non-thinking Llama-3.1-8B-Instruct', // 8.39 reported, 8.378 implied
      'non-thinking Qwen3-32B', // 8.61 vs 8.504
      'thinking R1-Distill-Qwen-32B', // 7.49 vs 7.470
      'thinking Qwen3-14B', // 8.43 vs 8.559
      'thinking Gemini-2.5-pro', // 8.77 vs 8.657
    ]);
  });

  it('the leaderboard lists the paper\'s 28 rows and then ours, leaving out domains we did not score', () => {
    const ours = summarize([record('planning', 'persuasion', 'p/0', 7, null, 'done', 'mine')]);
    const rows = leaderboard(ours);
    expect(rows.length).toBe(29);
    expect(rows.filter((r) => r.source === 'paper').length).toBe(28);
    expect(rows[28]).toEqual({ source: 'lab', model: 'label-mine', planning: { avg: 7, per: 7 }, guidance: null, n: { planning: 1, guidance: 0 } });
  });
});
