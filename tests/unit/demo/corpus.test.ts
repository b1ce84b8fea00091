import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildDemoCorpus, DEMO_PROMPTS, DEMO_START_CUE, type PreferenceRecord } from '../../../src/demo/corpus.ts';
import { demoDataFiles } from '../../../src/demo/data-files.ts';
import { ruleVerdict } from '../../../src/demo/rule-check.ts';
import { readPreferenceData, tokenizePairs } from '../../../src/distill/data/preference.ts';
import { tokenizeSft } from '../../../src/distill/data/sft.ts';
import { loadTokenizer, type ChatMessage } from '../../../src/formats/tokenizer.ts';
import { DOMAINS, DOMAIN_KEYS } from '../../../src/proactive/domains.ts';
import { modelMessages, referenceSetup } from '../../../src/proactive/guidance.ts';
import { loadScenarioFile } from '../../../src/proactive/loader.ts';
import { checkMessage } from '../../../src/proactive/rules.ts';
import { countSentences, countWords } from '../../../src/proactive/text.ts';
import { DEMO_ROOT, demoBytes, demoJsonl, demoText, demoTokenizerFiles, heldoutPairs, sftRecords, trainPairs } from './files.ts';

/** The user's name: the first word of the "User:" line of the system prompt. */
function userName(prompt: readonly ChatMessage[]): string {
  const line = prompt[0].content.split('\n').find((l) => l.startsWith('User: '));
  const name = line?.slice('User: '.length).match(/^[^\s,]+/)?.[0];
  if (!name) throw new Error(`no user line in ${JSON.stringify(prompt[0].content)}`);
  return name;
}

describe('demo corpus: size and coverage', () => {
  it('has ≥ 1500 training and ≥ 200 held-out pairs, in all six domains', () => {
    const train = trainPairs();
    const heldout = heldoutPairs();
    expect(train.length).toBeGreaterThanOrEqual(1500);
    expect(heldout.length).toBeGreaterThanOrEqual(200);
    for (const pairs of [train, heldout]) {
      expect(new Set(pairs.map((p) => p.meta.domain))).toEqual(new Set(DOMAIN_KEYS));
      expect(new Set(pairs.map((p) => p.id)).size).toBe(pairs.length);
    }
  });

  it('SFT data holds both styles in similar amounts, scenario messages and general chat', () => {
    const sft = sftRecords();
    const good = sft.filter((s) => s.meta.style === 'good').length;
    expect(good / sft.length).toBeGreaterThan(0.4);
    expect(good / sft.length).toBeLessThan(0.6);
    expect(sft.filter((s) => s.meta.domain === 'general').length).toBeGreaterThan(100);
    expect(new Set(sft.map((s) => s.meta.domain))).toEqual(new Set([...DOMAIN_KEYS, 'general']));
  });
});

describe('demo corpus: styles checked by the ProactiveEval rules', () => {
  const pairs = () => [...trainPairs(), ...heldoutPairs()];

  it('every chosen message passes every rule, with ≤ 2 sentences and ≤ 50 words', () => {
    for (const p of pairs()) {
      const why = `${p.id}: ${p.chosen}`;
      expect(ruleVerdict(p.chosen).failed, why).toEqual([]);
      expect(countSentences(p.chosen), why).toBeLessThanOrEqual(2);
      expect(countWords(p.chosen), why).toBeLessThanOrEqual(50);
    }
  });

  it('every rejected message fails at least one rule, and the one its flaws name', () => {
    for (const p of pairs()) {
      const why = `${p.id} (${p.meta.flaws.join(', ')}): ${p.rejected}`;
      const check = checkMessage(p.rejected);
      expect(ruleVerdict(p.rejected).pass, why).toBe(false);
      if (p.meta.flaws.includes('passive')) expect(check.tone.pass, why).toBe(false);
      if (p.meta.flaws.includes('long')) expect(check.engagement.pass, why).toBe(false);
      if (p.meta.flaws.includes('leak')) expect(check.naturalness.leaked.length, why).toBeGreaterThan(0);
      if (p.meta.flaws.includes('turns')) expect(check.naturalness.severalTurns, why).toBe(true);
    }
  });

  it('has every kind of flaw in the training pairs', () => {
    const flaws = new Set(trainPairs().flatMap((p) => p.meta.flaws));
    expect(flaws).toEqual(new Set(['passive', 'generic', 'long', 'dump', 'leak', 'turns']));
  });

  it('SFT responses pass the rules exactly when they are in the good style', () => {
    for (const s of sftRecords()) expect(ruleVerdict(s.response).pass, `${s.id}: ${s.response}`).toBe(s.meta.style === 'good');
  });

  it("every good message uses the user's details (name, job, workplace, habit or task); every opener the name", { timeout: 60_000 }, () => {
    const { scenarios } = buildDemoCorpus();
    for (const s of [...scenarios.heldout, ...scenarios.train, ...scenarios.sft]) {
      const details = [s.slots.name, s.slots.job, s.slots.work, s.slots.habit, s.slots.task];
      for (const t of s.turns) expect(details.some((d) => t.assistant.includes(d)), `${s.id}: ${t.assistant}`).toBe(true);
      expect(s.turns[0].assistant.includes(s.slots.name), `${s.id}: ${s.turns[0].assistant}`).toBe(true);
    }
  });

  it("rejected messages built from generic advice never name the user", () => {
    for (const p of pairs()) {
      if (p.meta.flaws.includes('generic')) expect(p.rejected.includes(userName(p.prompt)), `${p.id}: ${p.rejected}`).toBe(false);
    }
  });
});

describe('demo corpus: prompts and splits', () => {
  it('prompts are what the guidance runner sends with the demo prompt set, for the held-out scenarios', () => {
    const loaded = loadScenarioFile(demoText('data/scenarios.heldout.json'), 'scenarios.heldout.json');
    expect(loaded.issues).toEqual([]);
    expect(loaded.scenarios).toHaveLength(84);
    const dialogues = demoJsonl<{ id: string; turns: { assistant: string; user: string | null }[] }>('data/dialogues.heldout.jsonl');
    const byId = new Map(heldoutPairs().map((p) => [p.id, p]));
    loaded.scenarios.forEach((scenario, i) => {
      const dialogue = dialogues[i];
      dialogue.turns.forEach((turn, step) => {
        const pair = byId.get(`${dialogue.id}-${step + 1}`)!;
        expect(pair.prompt).toEqual(modelMessages(referenceSetup(scenario), DEMO_PROMPTS, dialogue.turns.slice(0, step)));
        expect(pair.chosen).toBe(turn.assistant);
        expect(pair.prompt[0].content.startsWith(`You are a proactive assistant. Domain: ${DOMAINS[scenario.domain].name}.\nUser: `)).toBe(true);
        expect(pair.prompt[1]).toEqual({ role: 'user', content: DEMO_START_CUE });
      });
    });
  });

  it('held-out, training and SFT scenarios have disjoint slot combinations', { timeout: 60_000 }, () => {
    const { scenarios } = buildDemoCorpus();
    const combos = (list: { combination: string }[]) => new Set(list.map((s) => s.combination));
    const [heldout, train, sft] = [combos(scenarios.heldout), combos(scenarios.train), combos(scenarios.sft)];
    expect(heldout.size).toBe(scenarios.heldout.length);
    for (const c of heldout) expect(train.has(c) || sft.has(c), c).toBe(false);
    for (const c of train) expect(sft.has(c), c).toBe(false);
  });

  it('no held-out environment (system prompt) occurs in the training or SFT files', () => {
    const heldout = new Set(heldoutPairs().map((p) => p.prompt[0].content));
    const seen = [...trainPairs(), ...sftRecords()].map((p: { prompt: ChatMessage[] }) => p.prompt[0].content);
    expect(seen.filter((s) => heldout.has(s))).toEqual([]);
  });
});

describe('demo data files', () => {
  it('load with the lab’s own data readers and fit the 256-token context', { timeout: 60_000 }, async () => {
    const tok = await loadTokenizer(demoTokenizerFiles());
    for (const file of ['data/pairs.train.jsonl', 'data/pairs.heldout.jsonl']) {
      const set = await readPreferenceData(demoText(file), file);
      const report = tokenizePairs(set, tok, { maxLength: 256, overLength: 'skip' });
      expect([report.pairs.length, report.skipped, report.truncated]).toEqual([set.pairs.length, 0, 0]);
    }
    const sft = tokenizeSft(demoText('data/sft.train.jsonl'), 'sft.train.jsonl', tok, tok.vocabSize, { maxLength: 256, overLength: 'skip' });
    expect([sft.skipped, sft.truncated, sft.empty]).toEqual([0, 0, 0]);
    expect(sft.examples).toHaveLength(sftRecords().length);
  });

  it('regenerate byte-identical (npm run demo:data), with no stale files', { timeout: 180_000 }, async () => {
    const files = await demoDataFiles();
    const committed = ['data', 'tokenizer'].flatMap((dir) => readdirSync(new URL(`${dir}/`, DEMO_ROOT)).map((f) => `${dir}/${f}`));
    expect([...files.keys()].sort()).toEqual(committed.sort());
    for (const [path, text] of files) expect(Buffer.from(text).equals(demoBytes(path)), path).toBe(true);
  });

  it('the manifest counts what the files hold', () => {
    const manifest = JSON.parse(demoText('data/manifest.json')) as { files: Record<string, { records?: number; bytes: number }> };
    const count = (records: readonly PreferenceRecord[] | readonly unknown[]) => records.length;
    expect(manifest.files['data/pairs.train.jsonl'].records).toBe(count(trainPairs()));
    expect(manifest.files['data/pairs.heldout.jsonl'].records).toBe(count(heldoutPairs()));
    expect(manifest.files['data/sft.train.jsonl'].records).toBe(count(sftRecords()));
    for (const [path, f] of Object.entries(manifest.files)) expect(f.bytes, path).toBe(demoBytes(path).length);
  });
});
