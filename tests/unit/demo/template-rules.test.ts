import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/engine/rng.ts';
import { badMessage, type BadKind } from '../../../src/demo/bad-style.ts';
import { rulePassRates, ruleVerdict } from '../../../src/demo/rule-check.ts';
import { fill } from '../../../src/demo/template.ts';

describe('demo templates', () => {
  it('fills slots, capitalises {Key}, resolves slots inside slots', () => {
    const slots = { name: 'Maya', item: 'the lake trail', plan: 'a walk on {item}' };
    expect(fill('{Item} suits you, {name}: {plan}.', slots)).toBe('The lake trail suits you, Maya: a walk on the lake trail.');
  });

  it('refuses a placeholder without a slot, naming it', () => {
    expect(() => fill('Hi {nmae}!', { name: 'Maya' })).toThrow(/\{nmae\}/);
    expect(() => fill('{a}', { a: '{a}' })).toThrow(/still has placeholders/);
  });
});

describe('demo rule checks (over src/proactive/rules.ts)', () => {
  it('names the rules a message fails', () => {
    expect(ruleVerdict('Maya, the printer is offline. Want a quick fix?')).toEqual({ pass: true, failed: [] });
    expect(ruleVerdict('It sounds like you are busy. Maybe later.').failed).toEqual(['tone']);
    expect(ruleVerdict('Turn 2: pick the printer.').failed).toEqual(['naturalness']);
    expect(ruleVerdict('Sure.\nUser: ok\nAssistant: Great.').failed).toEqual(['naturalness']);
    const wall = 'This is one rather long sentence with many words in it. '.repeat(6);
    expect(ruleVerdict(wall).failed).toEqual(['engagement']);
  });

  it('gives pass rates per rule and overall', () => {
    const rates = rulePassRates(['Fine message.', 'It seems like you are tired.', 'Target: the sofa.', 'Good one.']);
    expect(rates).toEqual({ all: 0.5, engagement: 1, naturalness: 0.75, tone: 0.75 });
  });
});

describe('bad style', () => {
  const material = {
    slots: { name: 'Maya', item: 'Small Wins' },
    passive: ['It seems like you want something new.'],
    generic: ['Podcasts are fun.', 'Many people enjoy {item}.', 'You could ask friends.'],
    assistant: ['Maya, try Small Wins on your walk to work. Each episode is short.', 'Great, Maya! Start it on Monday.'],
    user: ['Sure, what is it about?', ''],
    goal: 'Get Maya to listen to Small Wins',
  };
  const kinds: BadKind[] = ['passiveGeneric', 'passivePersonal', 'long', 'dump', 'leak', 'turns'];

  it('every kind fails at least one rule at every step', () => {
    const rng = Rng.fromSeed(7);
    for (const kind of kinds) {
      for (let step = 0; step < 2; step++) {
        for (let i = 0; i < 20; i++) {
          const bad = badMessage(rng, material, step, { [kind]: 1 });
          expect(bad.kind).toBe(kind);
          expect(ruleVerdict(bad.text).pass, `${kind}: ${bad.text}`).toBe(false);
        }
      }
    }
  });
});
