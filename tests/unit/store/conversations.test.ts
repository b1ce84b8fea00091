import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SAMPLING,
  deleteConversation,
  listConversations,
  newConversation,
  readConversation,
  samplingOptions,
  saveConversation,
  titleFor,
} from '../../../src/store/conversations.ts';
import { openLabDb } from '../../../src/store/db.ts';

describe('conversations store', () => {
  it('round-trips conversations, newest first, and deletes one', async () => {
    const db = await openLabDb(`t-${Math.random()}`);
    const a = newConversation(DEFAULT_SAMPLING, 1);
    a.systemPrompt = 'Be brief.';
    a.messages.push({ role: 'user', content: 'What time does the bakery open?' });
    a.messages.push({
      role: 'assistant',
      content: 'At nine.',
      meta: { modelId: 'hf:x/y@main', modelName: 'x/y', ids: [5, 6, 2], stop: 'eos', promptTokens: 20, tokensPerSecond: 12.5, decodeMs: 240, seed: null },
    });
    const b = newConversation({ ...DEFAULT_SAMPLING, mode: 'sample', seed: 3 }, 2);
    b.messages.push({ role: 'user', content: 'Hi' });
    await saveConversation(db, a, 100);
    await saveConversation(db, b, 200);
    const listed = await listConversations(db);
    expect(listed.map((c) => c.id)).toEqual([b.id, a.id]);
    expect(listed[1]).toEqual({ ...a, title: 'What time does the bakery open?', updatedAt: 100 });
    expect(listed[0].sampling).toEqual({ ...DEFAULT_SAMPLING, mode: 'sample', seed: 3 });
    await saveConversation(db, listed[1], 300);
    expect((await listConversations(db)).map((c) => c.id)).toEqual([a.id, b.id]);
    await deleteConversation(db, a.id);
    expect((await listConversations(db)).map((c) => c.id)).toEqual([b.id]);
  });

  it('skips records it cannot read and fills missing settings with defaults', async () => {
    const db = await openLabDb(`t-${Math.random()}`);
    await db.put('conversations', { id: 'broken', updatedAt: 5, messages: [{ role: 'wizard', content: 1 }] });
    await db.put('conversations', { id: 'old', updatedAt: 6, messages: [{ role: 'user', content: 'hello' }] });
    const listed = await listConversations(db);
    expect(listed.map((c) => c.id)).toEqual(['old']);
    expect(listed[0]).toMatchObject({ systemPrompt: '', createdAt: 6, sampling: DEFAULT_SAMPLING });
    expect(readConversation(null)).toBeNull();
    expect(readConversation({ id: 'x', updatedAt: 1 })).toBeNull();
  });

  it('titles a conversation by its first user message', () => {
    const c = newConversation();
    expect(titleFor(c)).toBe('New chat');
    c.messages.push({ role: 'user', content: '  A  question\nthat goes on and on for quite a long while, well past the limit' });
    expect(titleFor(c)).toBe('A question that goes on and on for quite a long…');
    expect(titleFor(c).length).toBe(48);
  });

  it('maps settings to the engine’s sampling options', () => {
    expect(samplingOptions(DEFAULT_SAMPLING)).toEqual({ greedy: true, repetitionPenalty: 1 });
    expect(samplingOptions({ ...DEFAULT_SAMPLING, mode: 'sample', seed: 4 })).toEqual({ temperature: 0.7, topK: 50, topP: 0.9, repetitionPenalty: 1, seed: 4 });
    expect(samplingOptions({ ...DEFAULT_SAMPLING, mode: 'sample' }).seed).toBeUndefined();
  });
});
