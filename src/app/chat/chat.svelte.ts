// The chat with the loaded model, kept for the page's lifetime and across reloads (IndexedDB
// `conversations`): the current conversation, the reply being streamed, stop, regenerate, and the
// conversation list. Replies stream from the engine worker; the final text replaces the streamed one.
import { errorInfo, type ErrorInfo, type GenerateRequest, type GenerateResult } from '../../engine/api.ts';
import type { ChatMessage } from '../../formats/tokenizer.ts';
import {
  deleteConversation,
  listConversations,
  newConversation,
  samplingOptions,
  saveConversation,
  titleFor,
  type Conversation,
  type StoredMessage,
} from '../../store/conversations.ts';
import { openLabDb } from '../../store/db.ts';
import type { EngineClient } from '../engine-client.svelte.ts';
import { useEngine } from '../engine-context.ts';

export interface StreamingReply {
  requestId: string;
  text: string;
  tokens: number;
  /** When the first token arrived (decode speed is measured from there). */
  firstTokenAt: number | null;
  tokensPerSecond: number | null;
  stopping: boolean;
}

export class ChatState {
  conversation = $state<Conversation>(newConversation());
  /** Saved conversations (id and title) for the picker, most recent first. */
  saved = $state.raw<{ id: string; title: string; updatedAt: number }[]>([]);
  streaming = $state<StreamingReply | null>(null);
  /** The last failure, with a title saying what failed. */
  error = $state.raw<{ title: string; info: ErrorInfo } | null>(null);
  draft = $state('');
  restored = $state(false);

  #ticket = 0;

  constructor(private readonly engine: EngineClient) {
    void this.#restore();
  }

  get busy(): boolean {
    return this.streaming !== null;
  }

  async #restore(): Promise<void> {
    try {
      const all = await listConversations(await openLabDb());
      if (all[0] && this.conversation.messages.length === 0) this.conversation = all[0];
      this.#setSaved(all);
    } catch (err) {
      this.error = { title: 'Saved conversations could not be read', info: errorInfo(err) };
    } finally {
      this.restored = true;
    }
  }

  #setSaved(all: Conversation[]): void {
    this.saved = all.map((c) => ({ id: c.id, title: c.title || titleFor(c), updatedAt: c.updatedAt }));
  }

  /** Store the current conversation (settings included) and refresh the picker; a failure is shown, not thrown. */
  async save(): Promise<void> {
    try {
      const db = await openLabDb();
      const saved = await saveConversation(db, $state.snapshot(this.conversation) as Conversation);
      this.conversation.title = saved.title;
      this.conversation.updatedAt = saved.updatedAt;
      this.#setSaved(await listConversations(db));
    } catch (err) {
      this.error = { title: 'The conversation could not be saved in this browser', info: errorInfo(err) };
    }
  }

  /** The engine's messages: the system prompt, then the turns. */
  #messages(): ChatMessage[] {
    const c = this.conversation;
    const turns = c.messages.map((m) => ({ role: m.role, content: m.content }));
    return c.systemPrompt.trim() ? [{ role: 'system', content: c.systemPrompt }, ...turns] : turns;
  }

  async send(): Promise<void> {
    const text = this.draft.trim();
    if (!text || this.busy || !this.engine.model) return;
    this.draft = '';
    this.conversation.messages.push({ role: 'user', content: text });
    await this.save();
    await this.#reply();
  }

  /** Drop the last reply (if the conversation ends with one) and generate it again. */
  async regenerate(): Promise<void> {
    if (this.busy || !this.engine.model) return;
    const last = this.conversation.messages.at(-1);
    if (last?.role === 'assistant') this.conversation.messages.pop();
    if (this.conversation.messages.at(-1)?.role !== 'user') return;
    await this.#reply();
  }

  stop(): void {
    if (!this.streaming) return;
    this.streaming.stopping = true;
    void this.engine.cancel(this.streaming.requestId);
  }

  async #reply(): Promise<void> {
    const model = this.engine.model;
    if (!model) return;
    const c = this.conversation;
    const requestId = `chat-${++this.#ticket}`;
    const request: GenerateRequest = {
      maxNewTokens: c.sampling.maxNewTokens,
      sampling: samplingOptions($state.snapshot(c.sampling)),
      // A model without a chat template continues the last message as plain text.
      ...(model.chatTemplate ? { messages: this.#messages() } : { prompt: c.messages.at(-1)!.content }),
    };
    this.error = null;
    this.streaming = { requestId, text: '', tokens: 0, firstTokenAt: null, tokensPerSecond: null, stopping: false };
    let result: GenerateResult;
    try {
      result = await this.engine.generate(request, (e) => {
        const s = this.streaming;
        if (s?.requestId !== requestId) return;
        s.text += e.text;
        if (e.type !== 'token') return;
        const now = performance.now();
        s.tokens = e.index + 1;
        s.firstTokenAt ??= now;
        if (now > s.firstTokenAt) s.tokensPerSecond = (e.index * 1000) / (now - s.firstTokenAt);
      }, requestId);
    } catch (err) {
      this.error = { title: 'The model could not reply', info: errorInfo(err) };
      return;
    } finally {
      this.streaming = null;
    }
    if (result.ids.length === 0 && result.stop === 'cancelled') return;
    const reply: StoredMessage = {
      role: 'assistant',
      content: result.text,
      meta: {
        modelId: model.id,
        modelName: model.name,
        ids: result.ids,
        stop: result.stop,
        promptTokens: result.promptTokens,
        tokensPerSecond: result.tokensPerSecond,
        decodeMs: result.decodeMs,
        seed: request.sampling.greedy ? null : result.seed,
      },
    };
    c.messages.push(reply);
    await this.save();
  }

  newChat(): void {
    if (this.busy) return;
    const sampling = $state.snapshot(this.conversation.sampling);
    const systemPrompt = this.conversation.systemPrompt;
    this.conversation = newConversation(sampling);
    this.conversation.systemPrompt = systemPrompt;
    this.error = null;
  }

  async open(id: string): Promise<void> {
    if (this.busy || id === this.conversation.id) return;
    try {
      const found = (await listConversations(await openLabDb())).find((c) => c.id === id);
      if (found) {
        this.conversation = found;
        this.error = null;
      }
    } catch (err) {
      this.error = { title: 'The conversation could not be opened', info: errorInfo(err) };
    }
  }

  async remove(): Promise<void> {
    if (this.busy) return;
    try {
      const db = await openLabDb();
      await deleteConversation(db, this.conversation.id);
      const rest = await listConversations(db);
      this.#setSaved(rest);
      this.conversation = rest[0] ?? newConversation($state.snapshot(this.conversation.sampling));
      this.error = null;
    } catch (err) {
      this.error = { title: 'The conversation could not be deleted', info: errorInfo(err) };
    }
  }
}

const states = new WeakMap<EngineClient, ChatState>();

export function useChat(): ChatState {
  const engine = useEngine();
  let state = states.get(engine);
  if (!state) {
    state = new ChatState(engine);
    states.set(engine, state);
  }
  return state;
}
