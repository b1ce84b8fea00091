// The lab's bundled environments under public/scenarios.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DOMAIN_KEYS } from '../../../src/proactive/domains.ts';
import { nodeDirSource } from '../../../src/proactive/loader-node.ts';
import { loadOfficialLayout, readScenarioIndex } from '../../../src/proactive/loader.ts';
import { ITEM_LIMITS } from '../../../src/proactive/schema.ts';

const ROOT = 'public/scenarios';
const read = (path: string): unknown[] => JSON.parse(readFileSync(`${ROOT}/${path}`, 'utf8')) as unknown[];

describe('bundled scenarios', () => {
  it('at least 60 environments, at least 10 per domain, fair and hard in each, without a single warning', async () => {
    const loaded = await loadOfficialLayout(nodeDirSource(ROOT));
    expect(loaded.issues).toEqual([]);
    expect(loaded.scenarios.length).toBeGreaterThanOrEqual(60);
    for (const d of DOMAIN_KEYS) {
      const mine = loaded.scenarios.filter((s) => s.domain === d);
      expect(mine.length, d).toBeGreaterThanOrEqual(10);
      expect(mine.some((s) => s.tier === 'fair') && mine.some((s) => s.tier === 'hard'), d).toBe(true);
    }
    const texts = loaded.scenarios.map((s) => s.item.environment.user_information);
    expect(new Set(texts).size).toBe(texts.length);
    for (const s of loaded.scenarios) {
      expect(s.item.sub_target.length).toBeGreaterThanOrEqual(ITEM_LIMITS.minSubTargets);
      expect(s.item.sub_target.length).toBeLessThanOrEqual(ITEM_LIMITS.maxSubTargets);
    }
  });

  it('hard environments carry a long time-stamped behaviour log and extra unrelated notes', async () => {
    const { scenarios } = await loadOfficialLayout(nodeDirSource(ROOT), { tiers: ['hard'] });
    for (const s of scenarios) {
      const logLines = s.item.environment.user_information.split('\n').filter((l) => /^\[[^\]]+\] /.test(l));
      expect(logLines.length, s.key).toBeGreaterThanOrEqual(6);
      const notes = /Other notes: (.*)$/m.exec(s.item.environment.user_information)?.[1] ?? '';
      expect(notes.split(/(?<=\.)\s+/).length, s.key).toBeGreaterThanOrEqual(3);
    }
  });

  it('eval.json is exactly fair.json followed by hard.json, and index.json counts match', async () => {
    const index = await readScenarioIndex(nodeDirSource(ROOT));
    let total = 0;
    for (const d of DOMAIN_KEYS) {
      const fair = read(`dataset/${d}/fair.json`);
      const hard = read(`dataset/${d}/hard.json`);
      expect(read(`dataset/${d}/eval.json`)).toEqual([...fair, ...hard]);
      expect(index.domains[d]).toEqual({ fair: fair.length, hard: hard.length });
      total += fair.length + hard.length;
    }
    expect(index.total).toBe(total);
  });
});
