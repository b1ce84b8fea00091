import { describe, expect, it } from 'vitest';
import { extractJsonObjects, parseLenient, stripThinking } from '../../../src/proactive/json-extract.ts';
import { parsePlan } from '../../../src/proactive/planning.ts';
import { parseReached, parseScore, parseTouched } from '../../../src/proactive/structured.ts';

const REASON = /^(reason|thought)$/i;

describe('extractJsonObjects', () => {
  it.each([
    ['a fenced block with prose around and a trailing comma', 'Sure:\n```json\n{"target": "Book yoga", "sub_targets": ["Ask", "Suggest",],}\n```\nDone.', { target: 'Book yoga', sub_targets: ['Ask', 'Suggest'] }],
    ['single quotes with apostrophes inside', "{'target': 'Fix the user's bike', 'n': 2}", { target: "Fix the user's bike", n: 2 }],
    ['unescaped inner quotes and braces inside a string', '{"reason": "He said "wow" and {left}.", "score": 8}', { reason: 'He said "wow" and {left}.', score: 8 }],
    ['unquoted keys and values', '{target: Visit the dentist, steps: [Check pain, Book slot]}', { target: 'Visit the dentist', steps: ['Check pain', 'Book slot'] }],
    ['a missing comma, comments and a Python literal', '{"reached": True // yes\n "why": "done" "score": 7/10}', { reached: true, why: 'done', score: 7 }],
    ['typographic quotes', '{“score”: 6, “reason”: “fine”}', { score: 6, reason: 'fine' }],
  ])('%s', (_, text, expected) => {
    expect(extractJsonObjects(text)).toEqual([expected]);
  });

  it('ignores objects inside <think> blocks and takes fenced objects before loose ones', () => {
    expect(extractJsonObjects('<think>maybe {"score": 2}</think> {"score": 9}')).toEqual([{ score: 9 }]);
    expect(extractJsonObjects('draft {"a": 1}\n```\n{"b": 2}\n```')).toEqual([{ b: 2 }]);
    expect(stripThinking('reasoning…</think>answer')).toBe('answer');
    expect(stripThinking('answer <think>never closed')).toBe('answer');
  });

  it('finds nothing in prose and does not crash on broken or deep input', () => {
    expect(extractJsonObjects('I would give it a solid eight.')).toEqual([]);
    expect(extractJsonObjects('{"score": ')).toEqual([]);
    expect(parseLenient('['.repeat(100) + ']'.repeat(100))).toBeNull();
  });
});

describe('parsePlan', () => {
  it('reads JSON with any sub-target key spelling', () => {
    expect(parsePlan('{"target": "Book a yoga class", "sub_target": ["Ask about stress", "Suggest yoga"]}')).toEqual({
      target: 'Book a yoga class',
      subTargets: ['Ask about stress', 'Suggest yoga'],
      format: 'json',
    });
    expect(parsePlan('{"Goal": "Save money", "subTargets": "Track spending; Open account"}').subTargets).toEqual(['Track spending', 'Open account']);
  });

  it('reads labelled lines and lists', () => {
    const text = '**Target:** Convince him to wear a helmet\n**Sub-targets:**\n1. Recall the near miss\n2. Address looks\n\nThanks!';
    expect(parsePlan(text)).toEqual({ target: 'Convince him to wear a helmet', subTargets: ['Recall the near miss', 'Address looks'], format: 'lines' });
  });

  it('takes a bare one-line target, and keeps unreadable output as raw text for the judge', () => {
    expect(parsePlan('"Recommend the ZZ plant"')).toEqual({ target: 'Recommend the ZZ plant', subTargets: [], format: 'bare' });
    const raw = parsePlan('Well, there are many things one could do here.\nIt depends on a lot.\nHard to say.');
    expect(raw.format).toBe('raw');
    expect(raw.target).toMatch(/^Well, there are many/);
  });
});

describe('judge answer parsers', () => {
  it('parseScore accepts integer scores 1–10 with the reason, from JSON or a "Score: n" line', () => {
    expect(parseScore('```json\n{"reason": "Close to the reference.", "score": 8}\n```', REASON)).toEqual({ value: { score: 8, reason: 'Close to the reference.' } });
    expect(parseScore('{"thought": "ok", "score": "7"}', REASON)).toEqual({ value: { score: 7, reason: 'ok' } });
    expect(parseScore('The plan is vague.\nScore: 4/10', REASON)).toEqual({ value: { score: 4, reason: 'The plan is vague.' } });
  });

  it('parseScore reports out-of-range, fractional, non-numeric and missing scores as problems', () => {
    expect(parseScore('{"reason": "great", "score": 11}', REASON)).toEqual({ problem: 'the score 11 is outside 1 to 10' });
    expect(parseScore('{"score": 0}', REASON)).toEqual({ problem: 'the score 0 is outside 1 to 10' });
    expect(parseScore('{"score": 7.5}', REASON)).toEqual({ problem: 'the score 7.5 is not a whole number from 1 to 10' });
    expect(parseScore('{"score": "high"}', REASON)).toEqual({ problem: 'the "score" is not a number ("high")' });
    expect(parseScore('{"reason": "no number"}', REASON)).toEqual({ problem: 'the JSON object has no "score"' });
    expect(parseScore('I liked it.', REASON)).toEqual({ problem: 'there is no JSON object with a "score"' });
  });

  it('parseReached and parseTouched', () => {
    expect(parseReached('{"reached": true}')).toEqual({ value: true });
    expect(parseReached('```\n{"reached": "no"}\n```')).toEqual({ value: false });
    expect(parseReached('Yes, the user agreed.')).toEqual({ value: true });
    expect('problem' in parseReached('Perhaps.')).toBe(true);
    expect(parseTouched('{"touched": [[2, 1, 1], [], 3]}', 3, 3)).toEqual({ value: [[1, 2], [], [3]] });
    expect(parseTouched('{"touched": [[1]]}', 2, 3)).toEqual({ problem: '"touched" has 1 lists for 2 messages' });
    expect(parseTouched('{"touched": [[4], []]}', 2, 3)).toEqual({ problem: '"touched" must hold step numbers from 1 to 3, got [4]' });
  });
});
