import { describe, expect, it } from 'vitest';
import { checkMessage, estimateDensity, localJudge } from '../../../src/proactive/rules.ts';
import { contentWords, countSentences, countWords, splitSentences } from '../../../src/proactive/text.ts';

describe('counting words and sentences', () => {
  it('counts words as tokens with a letter or digit', () => {
    expect(countWords("Don't worry — it's a well-known café 😊 at 5 pm!")).toBe(9);
    expect(countWords('   ')).toBe(0);
  });

  it('splits sentences at . ! ? … runs, line breaks, not at abbreviations, decimals or initials', () => {
    expect(splitSentences('Hi Anna! How was the run? Great.')).toEqual(['Hi Anna!', 'How was the run?', 'Great.']);
    expect(countSentences('Take 2.5 mg, e.g. after lunch. Dr. Smith agrees.')).toBe(2);
    expect(countSentences('J. R. R. Tolkien wrote it... Really?!')).toBe(2);
    expect(countSentences('First line\nsecond line without stop')).toBe(2);
    expect(countSentences('"Is it?" she asked. 😊')).toBe(2);
    expect(countSentences('🙂 👍')).toBe(0);
    expect(countSentences('No punctuation at all')).toBe(1);
  });

  it('reduces text to stemmed content words without stopwords and generic sub-target verbs', () => {
    expect([...contentWords('Suggest the user tries beginner yoga classes')].sort()).toEqual(['beginner', 'class', 'tri', 'yoga']);
  });
});

describe('checkMessage', () => {
  it('Engagement: passes with ≤ 2 sentences OR ≤ 50 words, fails only when both are exceeded', () => {
    expect(checkMessage('One. Two. Three.').engagement.pass).toBe(true); // 3 sentences but 3 words
    const long = `${'word '.repeat(30)}end. ${'more '.repeat(25)}end.`;
    expect(checkMessage(long).engagement.pass).toBe(true); // 2 sentences, 57 words
    const fail = `${'word '.repeat(20)}a. ${'word '.repeat(20)}b. ${'word '.repeat(20)}c.`;
    const c = checkMessage(fail);
    expect([c.sentences, c.words, c.engagement.pass]).toEqual([3, 63, false]);
  });

  it('Naturalness: leaked metadata words and placeholders', () => {
    expect(checkMessage('Our target today is your sleep.').naturalness.leaked).toEqual(['target']);
    expect(checkMessage('Let us tackle the first sub-target.').naturalness.leaked).toEqual(['sub-target']);
    expect(checkMessage('In turn 3 I will ask about money.').naturalness.leaked).toEqual(['turn N']);
    expect(checkMessage('Hi [User Name], how are you?').naturalness.leaked).toEqual(['placeholder']);
    const clean = checkMessage('How did the run go this morning?');
    expect(clean.naturalness).toEqual({ pass: true, leaked: [], severalTurns: false, roleLabels: [] });
  });

  it('Naturalness: several turns written in one message', () => {
    const c = checkMessage('Want to try yoga?\nUser: Sure!\nAssistant: Great, Tuesday then.');
    expect(c.naturalness.severalTurns).toBe(true);
    expect(c.naturalness.roleLabels).toEqual(['User', 'Assistant']);
    expect(c.naturalness.pass).toBe(false);
    expect(checkMessage('**Assistant:** Shall we start?').naturalness).toMatchObject({ pass: false, severalTurns: false });
  });

  it('Tone: passive openers, also after a greeting', () => {
    expect(checkMessage('It sounds like you had a rough week.').tone).toEqual({ pass: false, opener: 'It sounds like' });
    expect(checkMessage('Hi Tom, I understand that retirement is new.').tone.pass).toBe(false);
    expect(checkMessage("I'm sorry to hear that.").tone.pass).toBe(false);
    expect(checkMessage('Your heron photo is lovely — want to see more birds?').tone).toEqual({ pass: true, opener: null });
    expect(checkMessage('Later it sounds like rain.').tone.pass).toBe(true);
  });
});

describe('local target density and the local judge', () => {
  it('marks sub-targets whose content words the message shares', () => {
    const subs = ['Ask about her sleep schedule', 'Suggest a beginner yoga class', 'Book the Tuesday class'];
    expect(estimateDensity('How has your sleep schedule been lately?', subs)).toEqual({ touched: [1], method: 'local-word-overlap' });
    expect(estimateDensity('A beginner yoga class on Tuesday could help your sleep schedule.', subs).touched).toEqual([1, 2, 3]);
    expect(estimateDensity('Nice weather today!', subs).touched).toEqual([]);
  });

  it('gives Engagement, Naturalness and Tone tallies, labelled partial, and no overall score', () => {
    const j = localJudge(['Hi! Fancy a walk?', 'It sounds like you are busy.', 'Our target is fitness.']);
    expect(j.kind).toBe('local-partial');
    expect(j.overall).toBeNull();
    expect(j.label).toMatch(/partial/);
    expect(j.engagement).toEqual({ passed: 3, total: 3, pass: true });
    expect(j.tone).toEqual({ passed: 2, total: 3, pass: false });
    expect(j.naturalness).toEqual({ passed: 2, total: 3, pass: false });
  });
});
