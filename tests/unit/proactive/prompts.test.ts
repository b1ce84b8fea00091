import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { checkTemplate, PROMPT_IDS, PROMPT_TEMPLATES, promptSet, PromptTemplateError, renderPrompt } from '../../../src/proactive/prompts.ts';
import { openLabDb } from '../../../src/store/db.ts';
import { loadPromptSet, promptHistory, resetPrompt, savePromptEdit } from '../../../src/store/eval-prompts.ts';

describe('prompt templates', () => {
  it('every built-in template uses exactly its declared placeholders', () => {
    for (const id of PROMPT_IDS) expect(checkTemplate(id, PROMPT_TEMPLATES[id].text), id).toEqual({ unknown: [], unused: [] });
  });

  it('renders placeholders and refuses a missing value, naming template and version', () => {
    const set = promptSet();
    expect(renderPrompt(set, 'judge.retry', { problem: 'no JSON' })).toBe('Your answer could not be used: no JSON. Answer again with only the JSON object described above.');
    expect(() => renderPrompt(set, 'judge.retry', {})).toThrow(/"judge.retry" \(version 1\) uses \{\{problem\}\}/);
  });

  it('an edit gets its own version from its text; an unknown placeholder is refused', () => {
    const edited = promptSet({ 'judge.retry': 'Try again: {{problem}}.' });
    expect(edited['judge.retry']).toMatchObject({ edited: true, text: 'Try again: {{problem}}.' });
    expect(edited['judge.retry'].version).toMatch(/^1\+edit\.[0-9a-f]{8}$/);
    expect(promptSet({ 'judge.retry': 'Try again: {{problem}}.' })['judge.retry'].version).toBe(edited['judge.retry'].version);
    expect(promptSet({ 'judge.retry': PROMPT_TEMPLATES['judge.retry'].text })['judge.retry']).toMatchObject({ edited: false, version: '1' });
    expect(() => promptSet({ 'guidance.check': '{{target}} {{secret}}' })).toThrow(PromptTemplateError);
  });
});

describe('prompt edits in IndexedDB', () => {
  it('saves edits as versions, uses the newest, keeps history, and resets to the built-in text', async () => {
    const db = await openLabDb(`p-${Math.random()}`);
    const v1 = await savePromptEdit(db, 'guidance.start', '(Say hello first.)', 1000);
    await savePromptEdit(db, 'guidance.start', '(Open the chat.)', 2000);
    let { prompts } = await loadPromptSet(db);
    expect(prompts['guidance.start']).toMatchObject({ text: '(Open the chat.)', edited: true });
    expect((await promptHistory(db, 'guidance.start')).map((r) => r.text)).toEqual(['(Open the chat.)', '(Say hello first.)']);
    expect(v1).toMatch(/^1\+edit\./);
    await resetPrompt(db, 'guidance.start', 3000);
    ({ prompts } = await loadPromptSet(db));
    expect(prompts['guidance.start']).toEqual({ id: 'guidance.start', version: '1', text: PROMPT_TEMPLATES['guidance.start'].text, edited: false });
    await expect(savePromptEdit(db, 'guidance.start', '{{target}}')).rejects.toThrow(/cannot use \{\{target\}\}/);
  });
});
