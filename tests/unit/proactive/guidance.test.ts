import { afterEach, describe, expect, it } from 'vitest';
import { humanUser, modelMessages, referenceSetup, runDialogue, scoreDialogue, simulatedUser, type DialogueEvent } from '../../../src/proactive/guidance.ts';
import { PROMPT_TEMPLATES, promptSet } from '../../../src/proactive/prompts.ts';
import type { ScriptedServer } from '../../helpers/openai-server.ts';
import { backend, ITEM, scenario, scriptedEndpoint } from './script.ts';

const prompts = promptSet();
let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('dialogue guidance', () => {
  it('runs a full dialogue that ends early when the check says the target is reached, then scores it', async () => {
    const s = (server = await scriptedEndpoint({
      'guidance.model': (_, n) => [`Lovely heron shot from the river, Tom!`, 'The reserve has a guided bird walk this Saturday, want to join?'][n],
      'user.simulator': (_, n) => ['Thanks, it was a lucky morning.', 'Sure, sign me up!'][n],
      'guidance.check': (_, n) => (n === 0 ? '{"reached": false}' : '```json\n{"reached": true}\n```'),
      'guidance.judge': () => '{"thought": "Short, personal, reaches the goal in two turns.", "score": 9}',
      'guidance.density': () => '{"touched": [[1], [3]]}',
    }));
    const setup = referenceSetup(scenario());
    const events: DialogueEvent[] = [];
    const model = backend(s.url, 'student');
    const judge = backend(s.url, 'judge');
    const dialogue = await runDialogue(setup, {
      model,
      user: simulatedUser(backend(s.url, 'user'), prompts, setup.scenario, 'medium'),
      checker: judge,
      prompts,
      onEvent: (e) => events.push(e),
    });
    expect(dialogue.endedBy).toBe('target-reached');
    expect(dialogue.turns.map((t) => [t.assistant, t.user, t.check?.reached])).toEqual([
      ['Lovely heron shot from the river, Tom!', 'Thanks, it was a lucky morning.', false],
      ['The reserve has a guided bird walk this Saturday, want to join?', 'Sure, sign me up!', true],
    ]);
    // Streamed deltas add up to each message; events come in order.
    const turn1 = events.filter((e): e is Extract<DialogueEvent, { type: 'assistant-delta' }> => e.type === 'assistant-delta' && e.turn === 1);
    expect(turn1.map((e) => e.delta).join('')).toBe(dialogue.turns[0].assistant);
    expect(events.filter((e) => e.type !== 'assistant-delta' && e.type !== 'user-delta').map((e) => `${e.type}${e.turn}`)).toEqual([
      'assistant1', 'user1', 'check1', 'assistant2', 'user2', 'check2',
    ]);
    const scores = await scoreDialogue(setup, dialogue, { judge, prompts });
    expect(scores.judge).toMatchObject({ ok: true, score: 9, reason: 'Short, personal, reaches the goal in two turns.' });
    expect(scores.density).toMatchObject({ touched: [[1], [3]], method: 'judge' });
    expect(scores.local.engagement.pass).toBe(true);
    expect([s.count('guidance.model'), s.count('user.simulator'), s.count('guidance.check'), s.count('guidance.judge'), s.count('guidance.density')]).toEqual([2, 2, 2, 1, 1]);
    // The check and the judge see the conversation as "Assistant:/User:" lines with the target.
    const checkPrompt = s.requests.filter((r) => r.messages[0].content.startsWith('Read a conversation'))[1].messages[0].content;
    expect(checkPrompt).toContain(`Goal: ${ITEM.target}`);
    expect(checkPrompt).toContain('Assistant: Lovely heron shot from the river, Tom!\nUser: Thanks, it was a lucky morning.\nAssistant: The reserve');
  });

  it('stops at the 6-turn cap when the target is never reached', async () => {
    const s = (server = await scriptedEndpoint({
      'guidance.model': (_, n) => `Assistant message ${n + 1}.`,
      'user.simulator': (_, n) => `Not convinced (${n + 1}).`,
      'guidance.check': () => '{"reached": false}',
    }));
    const setup = referenceSetup(scenario());
    const dialogue = await runDialogue(setup, {
      model: backend(s.url, 'm'),
      user: simulatedUser(backend(s.url, 'u'), prompts, setup.scenario, 'low'),
      checker: backend(s.url, 'j'),
      prompts,
    });
    expect(dialogue.endedBy).toBe('turn-limit');
    expect(dialogue.turns.length).toBe(6);
    expect(s.count('guidance.model')).toBe(6);
    expect(s.count('guidance.check')).toBe(6);
  });

  it('the model sees exactly: its system prompt, the opening cue and the last 3 complete turns', async () => {
    const s = (server = await scriptedEndpoint({
      'guidance.model': (_, n) => `a${n + 1}`,
      'user.simulator': (_, n) => `u${n + 1}`,
      'guidance.check': () => '{"reached": false}',
    }));
    const setup = referenceSetup(scenario());
    await runDialogue(setup, { model: backend(s.url, 'm'), user: simulatedUser(backend(s.url, 'u'), prompts, setup.scenario, 'high'), checker: backend(s.url, 'j'), prompts });
    const sent = s.requests.filter((r) => r.model === 'm').map((r) => r.messages);
    const system = sent[0][0];
    expect(system.role).toBe('system');
    expect(system.content).toContain(`Your goal for this conversation: ${ITEM.target}`);
    expect(system.content).toContain('1. Compliment his heron photo\n2. Share excitement about migration\n3. Suggest the Saturday walk');
    expect(system.content).toContain(ITEM.environment.user_information);
    const start = { role: 'user', content: PROMPT_TEMPLATES['guidance.start'].text };
    const turns = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => [{ role: 'assistant', content: `a${from + i}` }, { role: 'user', content: `u${from + i}` }]).flat();
    expect(sent[0]).toEqual([system, start]);
    expect(sent[1]).toEqual([system, start, ...turns(1, 1)]);
    expect(sent[3]).toEqual([system, start, ...turns(1, 3)]);
    expect(sent[4]).toEqual([system, start, ...turns(2, 4)]);
    expect(sent[5]).toEqual([system, start, ...turns(3, 5)]);
    // The same messages come out of the builder with a window of 3.
    expect(modelMessages(setup, prompts, Array.from({ length: 5 }, (_, i) => ({ assistant: `a${i + 1}`, user: `u${i + 1}` })))).toEqual(sent[5]);
  });

  it('the simulated user sees the conversation from its side, its profile and attitude, never the target', async () => {
    const s = (server = await scriptedEndpoint({
      'guidance.model': (_, n) => `a${n + 1}`,
      'user.simulator': (_, n) => `u${n + 1}`,
      'guidance.check': (_, n) => `{"reached": ${n === 1}}`,
    }));
    const setup = referenceSetup(scenario());
    await runDialogue(setup, { model: backend(s.url, 'm'), user: simulatedUser(backend(s.url, 'u'), prompts, setup.scenario, 'low'), checker: backend(s.url, 'j'), prompts });
    const second = s.requests.filter((r) => r.model === 'u')[1].messages;
    expect(second.map((m) => [m.role, m.role === 'system' ? '' : m.content])).toEqual([
      ['system', ''],
      ['user', 'a1'],
      ['assistant', 'u1'],
      ['user', 'a2'],
    ]);
    expect(second[0].content).toContain(ITEM.environment.user_information);
    expect(second[0].content).toContain(PROMPT_TEMPLATES['user.agreeableness.low'].text);
    expect(second[0].content).not.toContain(ITEM.target);
    expect(s.requests.filter((r) => r.model === 'u').every((r) => r.body.temperature === 0)).toBe(true);
  });

  it('a person can play the user through a callback, and end the conversation', async () => {
    const s = (server = await scriptedEndpoint({ 'guidance.model': (_, n) => `Question ${n + 1}?` }));
    const asked: string[] = [];
    const person = humanUser(async ({ assistant }) => {
      asked.push(assistant);
      return asked.length === 1 ? 'Tell me more.' : null;
    });
    const dialogue = await runDialogue(referenceSetup(scenario()), { model: backend(s.url, 'm'), user: person, prompts });
    expect(asked).toEqual(['Question 1?', 'Question 2?']);
    expect(dialogue).toEqual({ turns: [{ assistant: 'Question 1?', user: 'Tell me more.' }, { assistant: 'Question 2?', user: null }], endedBy: 'user-ended' });
  });

  it('a reply with HTML or script is kept as the plain text it is (no parsing, no escaping)', async () => {
    const html = '<script>alert("x")</script><img src=x onerror=alert(1)> <b>Join</b> the walk?';
    const s = (server = await scriptedEndpoint({ 'guidance.model': () => html, 'user.simulator': () => '<i>ok</i>' }));
    const setup = referenceSetup(scenario());
    const dialogue = await runDialogue(setup, { model: backend(s.url, 'm'), user: simulatedUser(backend(s.url, 'u'), prompts, setup.scenario, 'high'), prompts, maxTurns: 1 });
    expect(dialogue.turns[0]).toEqual({ assistant: html, user: '<i>ok</i>' });
    const stored = JSON.parse(JSON.stringify(dialogue)) as typeof dialogue;
    expect(stored.turns[0].assistant).toBe(html);
  });

  it('without a judge the dialogue gets the local partial result and the local density estimate', async () => {
    const s = (server = await scriptedEndpoint({ 'guidance.model': () => 'It sounds like you love photos. Our target is the Saturday walk.', 'user.simulator': () => 'Hm.' }));
    const setup = referenceSetup(scenario());
    const dialogue = await runDialogue(setup, { model: backend(s.url, 'm'), user: simulatedUser(backend(s.url, 'u'), prompts, setup.scenario, 'high'), prompts, maxTurns: 2 });
    const scores = await scoreDialogue(setup, dialogue, { prompts });
    expect(scores.judge).toBeNull();
    expect(scores.local).toMatchObject({ kind: 'local-partial', overall: null, tone: { pass: false }, naturalness: { pass: false } });
    expect(scores.density).toEqual({ touched: [[3], [3]], method: 'local-word-overlap' });
  });
});
