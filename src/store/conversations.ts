// Chat conversations of the Models panel, kept across reloads in the `conversations` store: the
// system prompt, the messages (with what generated each reply), and the sampling settings they
// were made with. Records are read back defensively: a record this version cannot read is skipped,
// never a crash.
import type { StopReason } from '../engine/models/generate.ts';
import type { SamplingOptions } from '../engine/models/sampling.ts';
import type { LabDb } from './db.ts';

export interface SamplingSettings {
  mode: 'greedy' | 'sample';
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  maxNewTokens: number;
  /** null: a fresh random seed per reply. */
  seed: number | null;
}

/** How a reply came about (shown under it; the ids let a researcher check a parity by eye). */
export interface ReplyMeta {
  modelId: string;
  modelName: string;
  ids: number[];
  stop: StopReason;
  promptTokens: number;
  tokensPerSecond: number;
  decodeMs: number;
  seed: number | null;
}

export interface StoredMessage {
  role: 'user' | 'assistant';
  content: string;
  meta?: ReplyMeta;
}

export interface Conversation {
  id: string;
  title: string;
  systemPrompt: string;
  messages: StoredMessage[];
  sampling: SamplingSettings;
  createdAt: number;
  updatedAt: number;
}

export const DEFAULT_SAMPLING: SamplingSettings = {
  mode: 'greedy',
  temperature: 0.7,
  topK: 50,
  topP: 0.9,
  repetitionPenalty: 1,
  maxNewTokens: 256,
  seed: null,
};

/** The engine's sampling options for these settings. */
export function samplingOptions(s: SamplingSettings): SamplingOptions {
  if (s.mode === 'greedy') return { greedy: true, repetitionPenalty: s.repetitionPenalty };
  return { temperature: s.temperature, topK: s.topK, topP: s.topP, repetitionPenalty: s.repetitionPenalty, seed: s.seed ?? undefined };
}

function newId(): string {
  return `conv-${Date.now().toString(36)}-${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
}

export function newConversation(sampling: SamplingSettings = DEFAULT_SAMPLING, now = Date.now()): Conversation {
  return { id: newId(), title: '', systemPrompt: '', messages: [], sampling: { ...sampling }, createdAt: now, updatedAt: now };
}

/** A title from the first user message (a short, single-line prefix). */
export function titleFor(c: Conversation): string {
  const first = c.messages.find((m) => m.role === 'user')?.content.replace(/\s+/g, ' ').trim() ?? '';
  if (!first) return 'New chat';
  return first.length > 48 ? `${first.slice(0, 47)}…` : first;
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function readSampling(v: unknown): SamplingSettings {
  const s = (v ?? {}) as Partial<Record<keyof SamplingSettings, unknown>>;
  const num = (key: 'temperature' | 'topK' | 'topP' | 'repetitionPenalty' | 'maxNewTokens') => (isNumber(s[key]) ? (s[key] as number) : DEFAULT_SAMPLING[key]);
  return {
    mode: s.mode === 'sample' ? 'sample' : 'greedy',
    temperature: num('temperature'),
    topK: num('topK'),
    topP: num('topP'),
    repetitionPenalty: num('repetitionPenalty'),
    maxNewTokens: num('maxNewTokens'),
    seed: isNumber(s.seed) ? s.seed : null,
  };
}

/** A stored record as a Conversation, or null when it is not one. */
export function readConversation(v: unknown): Conversation | null {
  const r = v as Partial<Record<keyof Conversation, unknown>> | null;
  if (!r || typeof r.id !== 'string' || !Array.isArray(r.messages) || !isNumber(r.updatedAt)) return null;
  const messages: StoredMessage[] = [];
  for (const m of r.messages as unknown[]) {
    const x = m as Partial<StoredMessage> | null;
    if (!x || (x.role !== 'user' && x.role !== 'assistant') || typeof x.content !== 'string') return null;
    messages.push(x.meta && typeof x.meta === 'object' ? { role: x.role, content: x.content, meta: x.meta } : { role: x.role, content: x.content });
  }
  return {
    id: r.id,
    title: typeof r.title === 'string' ? r.title : '',
    systemPrompt: typeof r.systemPrompt === 'string' ? r.systemPrompt : '',
    messages,
    sampling: readSampling(r.sampling),
    createdAt: isNumber(r.createdAt) ? r.createdAt : r.updatedAt,
    updatedAt: r.updatedAt,
  };
}

/** Stores the conversation (a plain copy), with its title and updatedAt refreshed. */
export async function saveConversation(db: LabDb, c: Conversation, now = Date.now()): Promise<Conversation> {
  const saved: Conversation = structuredClone({ ...c, title: titleFor(c), updatedAt: now });
  await db.put('conversations', saved as unknown as Conversation & Record<string, unknown>);
  return saved;
}

/** Every readable conversation, most recently updated first. */
export async function listConversations(db: LabDb): Promise<Conversation[]> {
  const all = await db.getAllFromIndex('conversations', 'updatedAt');
  return all
    .map(readConversation)
    .filter((c): c is Conversation => c !== null)
    .reverse();
}

export async function deleteConversation(db: LabDb, id: string): Promise<void> {
  await db.delete('conversations', id);
}
