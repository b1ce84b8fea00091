// The person's edits of the ProactiveEval prompt templates, in the `prompts` store: one record
// per saved version (`<templateId>@<version>`), so earlier versions stay readable; the newest
// record of a template is the one in use, and resetting saves the built-in text again.
import { checkTemplate, editedVersion, PROMPT_IDS, PROMPT_TEMPLATES, promptSet, PromptTemplateError, type PromptId, type PromptSet } from '../proactive/prompts.ts';
import type { LabDb, LabSchema } from './db.ts';

export interface PromptRecord {
  id: string;
  templateId: PromptId;
  version: string;
  /** The built-in version the edit was made on. */
  baseVersion: string;
  text: string;
  savedAt: number;
}

type Row = LabSchema['prompts']['value'];

async function records(db: LabDb): Promise<PromptRecord[]> {
  return ((await db.getAll('prompts')) as unknown as PromptRecord[]).filter((r) => (PROMPT_IDS as readonly string[]).includes(r.templateId));
}

/** Saves an edit (throws naming the unknown placeholders it uses); returns its version. */
export async function savePromptEdit(db: LabDb, id: PromptId, text: string, now = Date.now()): Promise<string> {
  const { unknown } = checkTemplate(id, text);
  if (unknown.length > 0) {
    throw new PromptTemplateError(
      `The prompt "${id}" cannot use ${unknown.map((v) => `{{${v}}}`).join(', ')}.`,
      `Its placeholders: ${PROMPT_TEMPLATES[id].variables.map((v) => `{{${v}}}`).join(', ') || '(none)'}.`,
    );
  }
  const base = PROMPT_TEMPLATES[id];
  const version = text === base.text ? base.version : editedVersion(id, text);
  const record: PromptRecord = { id: `${id}@${version}`, templateId: id, version, baseVersion: base.version, text, savedAt: now };
  await db.put('prompts', record as unknown as Row);
  return version;
}

/** Back to the built-in text (the edits stay in the history). */
export async function resetPrompt(db: LabDb, id: PromptId, now = Date.now()): Promise<void> {
  await savePromptEdit(db, id, PROMPT_TEMPLATES[id].text, now);
}

/** Saved versions of a template, newest first. */
export async function promptHistory(db: LabDb, id: PromptId): Promise<PromptRecord[]> {
  return (await records(db)).filter((r) => r.templateId === id).sort((a, b) => b.savedAt - a.savedAt);
}

/**
 * The prompts in use: built-ins with the newest edit of each template applied. `outdated` lists
 * templates whose edit was made on an older built-in version (still applied; the page can say so).
 */
export async function loadPromptSet(db: LabDb): Promise<{ prompts: PromptSet; outdated: PromptId[] }> {
  const latest = new Map<PromptId, PromptRecord>();
  for (const r of await records(db)) {
    const seen = latest.get(r.templateId);
    if (!seen || r.savedAt > seen.savedAt) latest.set(r.templateId, r);
  }
  const edits: Partial<Record<PromptId, string>> = {};
  const outdated: PromptId[] = [];
  for (const [id, r] of latest) {
    edits[id] = r.text;
    if (r.text !== PROMPT_TEMPLATES[id].text && r.baseVersion !== PROMPT_TEMPLATES[id].version) outdated.push(id);
  }
  return { prompts: promptSet(edits), outdated };
}
