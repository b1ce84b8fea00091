// The page's side of ProactiveEval, shared by the Arena, Runs and endpoint settings: the configured
// endpoints (keys stay in IndexedDB and in this object, never in the DOM), which endpoint plays
// which role by default, the scenarios in use (the bundled set, or files the person picked), the
// prompt templates in use, and turning a choice ("endpoint X", "the local student", "the ONNX
// model") into a ChatBackend. Kept for the page's lifetime (created on first use), like the other panel states.
import { errorInfo, type ErrorInfo, type GenerateEvent, type ModelCard } from '../engine/api.ts';
import { LabError } from '../engine/errors.ts';
import type { ChatBackend } from '../llm/chat.ts';
import { endpointBackend, exportEndpoints, importEndpoints, newEndpoint, type EndpointSettings } from '../llm/endpoint-settings.ts';
import { inProcessGenerator, LocalEngineChat } from '../llm/local-engine.ts';
import { OpenAiChat } from '../llm/openai.ts';
import { fileListSource, loadOfficialLayout, loadScenarioFile, loadScenarioUrl, requireScenarios, urlSource, type LoadedScenarios } from '../proactive/loader.ts';
import { promptSet, type PromptId, type PromptSet } from '../proactive/prompts.ts';
import type { ModelRef } from '../proactive/records.ts';
import type { Scenario, ScenarioIssue } from '../proactive/schema.ts';
import { openLabDb } from '../store/db.ts';
import { deleteEndpoint, listEndpoints, saveEndpoint, saveImportedEndpoints } from '../store/endpoints.ts';
import { loadPromptSet, resetPrompt, savePromptEdit } from '../store/eval-prompts.ts';
import { demoModelName, fetchDemo, isDemoCard } from './demo/kit.ts';
import { withDemoPrompts } from './demo/prompts.ts';
import type { EngineClient } from './engine-client.svelte.ts';
import { useEngine } from './engine-context.ts';
import { useOnnxChat, type TeacherClient } from './teacher-client.svelte.ts';

/** The roles an endpoint can play by default. */
export type Role = 'model' | 'judge' | 'user';
export const ROLE_LABELS: Record<Role, string> = { model: 'Model under test', judge: 'Judge', user: 'Simulated user' };

/**
 * A backend the person can pick: `endpoint:<id>`, `local` (the student loaded in the engine),
 * `local:compare` (the model in the engine's compare slot, e.g. the student before training) or
 * `onnx` (the ONNX chat model in the teacher worker, through transformers.js).
 * Strings, so they sit in <select> values and in stored run records as they are.
 */
export type BackendKey = `endpoint:${string}` | LocalKey | typeof ONNX_KEY;
export const ONNX_KEY = 'onnx';
export type LocalKey = 'local' | 'local:compare';

/** The engine slot of the Arena's second local model. */
export const COMPARE_SLOT = 'compare';

export interface BackendOption {
  key: BackendKey;
  label: string;
}

/** The bundled scenarios' name in run records (files the person picks are named after them). */
export const BUNDLED_SCENARIOS = 'Student Lab scenarios (bundled)';
/** The demo kit's held-out scenarios (public/demo/data/), short enough for the demo models. */
export const DEMO_SCENARIOS = 'Demo scenarios (held out)';

const ROLES_SETTING = 'proactive.roles';

/** What a key looks like once saved: its last 4 characters at most, never the whole key. */
export function maskKey(key: string): string {
  if (!key) return '';
  return key.length >= 12 ? `••••${key.slice(-4)}` : '•••• (saved)';
}

/** How a saved endpoint's key changes on save. */
export type KeyChange = { kind: 'keep' } | { kind: 'set'; key: string } | { kind: 'clear' };

export interface EndpointFields {
  id?: string;
  label: string;
  baseUrl: string;
  model: string;
  stream: boolean;
  timeoutMs: number;
}

export interface ConnectionTest {
  ok: boolean;
  ms: number;
  /** The model's reply to the probe (shown as text). */
  reply?: string;
  error?: ErrorInfo;
}

export class ProactiveClient {
  endpoints = $state.raw<EndpointSettings[]>([]);
  roles = $state<Record<Role, string | null>>({ model: null, judge: null, user: null });
  scenarios = $state.raw<Scenario[]>([]);
  /** The name of the scenario set in use (BUNDLED_SCENARIOS or the picked files' name). */
  scenarioSource = $state('');
  /** What the loader found wrong in the scenarios in use (their skipped items, warnings). */
  scenarioIssues = $state.raw<ScenarioIssue[]>([]);
  /** Why the last load failed (the scenarios in use stayed), and what the loader found wrong in it. */
  scenarioError = $state.raw<ErrorInfo | null>(null);
  scenarioErrorIssues = $state.raw<ScenarioIssue[]>([]);
  scenariosLoading = $state(false);
  prompts = $state.raw<PromptSet>(promptSet());
  /** The endpoints or prompt edits could not be read from this browser's storage. */
  storageError = $state.raw<ErrorInfo | null>(null);
  /** Prompt templates whose saved edit was made on an older built-in version. */
  outdatedPrompts = $state.raw<PromptId[]>([]);
  /** What a local model is, when known ("before training"), for the model it was said of (a new load drops it). */
  localNotes = $state.raw<Partial<Record<LocalKey, { card: ModelCard; note: string }>>>({});
  ready: Promise<void>;

  constructor(
    private readonly engine: EngineClient,
    private readonly onnx: TeacherClient = useOnnxChat(),
  ) {
    this.ready = this.#init();
  }

  async #init(): Promise<void> {
    try {
      const db = await openLabDb();
      this.endpoints = await listEndpoints(db);
      const roles = (await db.get('settings', ROLES_SETTING).catch(() => undefined)) as Partial<Record<Role, string | null>> | undefined;
      if (roles) this.roles = { model: roles.model ?? null, judge: roles.judge ?? null, user: roles.user ?? null };
      // A broken prompt edit must not take the Arena down: the built-in prompts stay in use.
      await this.#reloadPrompts();
    } catch (err) {
      this.storageError = errorInfo(err);
    }
    await this.loadBundledScenarios();
  }

  // ---- prompts -----------------------------------------------------------------------------------

  async #reloadPrompts(): Promise<void> {
    const { prompts, outdated } = await loadPromptSet(await openLabDb());
    this.prompts = prompts;
    this.outdatedPrompts = outdated;
  }

  /** Saves an edited template (throws PromptTemplateError naming unknown placeholders); returns its version. */
  async savePrompt(id: PromptId, text: string): Promise<string> {
    const version = await savePromptEdit(await openLabDb(), id, text);
    await this.#reloadPrompts();
    return version;
  }

  /** Back to the built-in text (earlier edits stay in the history). */
  async resetPrompt(id: PromptId): Promise<void> {
    await resetPrompt(await openLabDb(), id);
    await this.#reloadPrompts();
  }

  // ---- endpoints ---------------------------------------------------------------------------------

  endpoint(id: string | null): EndpointSettings | undefined {
    return id === null ? undefined : this.endpoints.find((e) => e.id === id);
  }

  /** Validates and saves; returns the saved settings. Throws EndpointSettingsError / EndpointUrlError naming the field. */
  async saveEndpoint(fields: EndpointFields, key: KeyChange): Promise<EndpointSettings> {
    const existing = fields.id ? this.endpoint(fields.id) : undefined;
    const apiKey = key.kind === 'set' ? key.key.trim() : key.kind === 'clear' ? '' : (existing?.apiKey ?? '');
    const settings = newEndpoint({ ...fields, label: fields.label.trim() || undefined, apiKey, createdAt: existing?.createdAt });
    const db = await openLabDb();
    await saveEndpoint(db, settings);
    this.endpoints = await listEndpoints(db);
    // The first endpoint plays every role until the person says otherwise.
    if (this.endpoints.length === 1) await this.setRoles({ model: settings.id, judge: settings.id, user: settings.id });
    return settings;
  }

  async deleteEndpoint(id: string): Promise<void> {
    const db = await openLabDb();
    await deleteEndpoint(db, id);
    this.endpoints = await listEndpoints(db);
    const roles = { ...this.roles };
    for (const role of Object.keys(roles) as Role[]) if (roles[role] === id) roles[role] = null;
    await this.setRoles(roles);
  }

  async setRoles(roles: Partial<Record<Role, string | null>>): Promise<void> {
    this.roles = { ...this.roles, ...roles };
    await (await openLabDb()).put('settings', $state.snapshot(this.roles), ROLES_SETTING);
  }

  /** A short chat with the endpoint (no retries, short timeout): does it answer, and how fast. */
  async testEndpoint(settings: EndpointSettings, signal?: AbortSignal): Promise<ConnectionTest> {
    const chat = new OpenAiChat({
      baseUrl: settings.baseUrl,
      model: settings.model,
      apiKey: settings.apiKey || undefined,
      stream: settings.stream,
      timeoutMs: Math.min(settings.timeoutMs, 30_000),
      retry: { retries: 0 },
    });
    const started = performance.now();
    try {
      const { text } = await chat.chat([{ role: 'user', content: 'Reply with the single word OK.' }], { maxTokens: 16, signal });
      return { ok: true, ms: performance.now() - started, reply: text };
    } catch (err) {
      return { ok: false, ms: performance.now() - started, error: errorInfo(err) };
    }
  }

  exportEndpoints(): string {
    return exportEndpoints(this.endpoints);
  }

  /** Reads an endpoints file; keys are never imported. Returns how many endpoints and ignored keys. */
  async importEndpoints(text: string): Promise<{ count: number; ignoredKeys: number }> {
    const { endpoints, ignoredKeys } = importEndpoints(text);
    const db = await openLabDb();
    await saveImportedEndpoints(db, endpoints);
    this.endpoints = await listEndpoints(db);
    return { count: endpoints.length, ignoredKeys };
  }

  // ---- backends ----------------------------------------------------------------------------------

  /** The engine's model behind a local key (null: none loaded). */
  localCard(key: LocalKey): ModelCard | null {
    return key === 'local' ? this.engine.model : this.engine.slotCard(COMPARE_SLOT);
  }

  /** Say what a loaded local model is (shown in its label until another model is loaded there). */
  noteLocal(key: LocalKey, note: string): void {
    const card = this.localCard(key);
    if (card) this.localNotes = { ...this.localNotes, [key]: { card, note } };
  }

  #localLabel(key: LocalKey, card: ModelCard): string {
    const n = this.localNotes[key];
    const note = n && n.card === card ? `, ${n.note}` : '';
    return `${demoModelName(card) ?? card.name} (${key === 'local' ? 'local student' : 'local: compare slot'}${note})`;
  }

  /** The demo model behind a key (the built-in demo's student or teacher loaded locally), else null. */
  demoCard(key: BackendKey): ModelCard | null {
    if (key !== 'local' && key !== 'local:compare') return null;
    const card = this.localCard(key);
    return isDemoCard(card) ? card : null;
  }

  /** The prompt templates a model gets: a demo model the demo's short guidance prompts it was trained on. */
  promptsFor(key: BackendKey): PromptSet {
    return this.demoCard(key) ? withDemoPrompts(this.prompts) : this.prompts;
  }

  /** The ONNX chat model's label in pickers and results. */
  #onnxLabel(name: string): string {
    return `${name} (ONNX, transformers.js)`;
  }

  /** Every model the person can put to the test: the local student, the compare slot and the ONNX model (when loaded) and each endpoint. */
  get modelOptions(): BackendOption[] {
    const locals = (['local', 'local:compare'] as const).flatMap((key) => {
      const card = this.localCard(key);
      return card ? [{ key, label: this.#localLabel(key, card) }] : [];
    });
    const onnx: BackendOption[] = this.onnx.card ? [{ key: ONNX_KEY, label: this.#onnxLabel(this.onnx.card.name) }] : [];
    return [...locals, ...onnx, ...this.endpoints.map((e): BackendOption => ({ key: `endpoint:${e.id}`, label: e.label }))];
  }

  /** The default model: the role's endpoint, else the local student, else the first endpoint. */
  get defaultModel(): BackendKey | null {
    if (this.roles.model && this.endpoint(this.roles.model)) return `endpoint:${this.roles.model}`;
    return this.modelOptions[0]?.key ?? null;
  }

  /** The model's run-record reference: its id encodes the backend, so a resumed run finds it again. */
  modelRef(key: BackendKey): ModelRef {
    if (key === 'local') {
      const card = this.engine.model;
      return { id: `local:${card?.id ?? 'none'}`, label: card ? `${card.name} (local)` : 'local student' };
    }
    if (key === 'local:compare') {
      const card = this.localCard(key);
      return { id: `${COMPARE_SLOT}:${card?.id ?? 'none'}`, label: card ? `${card.name} (compare slot)` : 'compare slot' };
    }
    if (key === ONNX_KEY) {
      // The card id (`onnx:<source>@<revision>/<dtype>`) already says which backend it is.
      const card = this.onnx.card;
      return { id: card?.id ?? 'onnx:none', label: card ? this.#onnxLabel(card.name) : 'ONNX model' };
    }
    const e = this.endpoint(key.slice('endpoint:'.length));
    return { id: key, label: e?.label ?? key };
  }

  /** The backend for a model reference id (`endpoint:<id>`, `local:<card id>`, `compare:<card id>` or `onnx:<…>`); throws when it is gone. */
  backendForRef(id: string): ChatBackend {
    if (id.startsWith('onnx:')) {
      if (this.onnx.card?.id !== id) {
        throw new ProactiveClientError(`The ONNX model "${id.slice('onnx:'.length)}" is not loaded.`, 'Load it again in the Arena (ONNX model), then try again.');
      }
      return this.backend(ONNX_KEY);
    }
    if (id.startsWith(`${COMPARE_SLOT}:`)) {
      const want = id.slice(COMPARE_SLOT.length + 1);
      if (this.localCard('local:compare')?.id !== want) {
        throw new ProactiveClientError(`The model "${want}" is not loaded in the compare slot.`, 'Load it there again (Train panel: Compare in the Arena), then try again.');
      }
      return this.backend('local:compare');
    }
    if (id.startsWith('local:')) {
      const want = id.slice('local:'.length);
      if (this.engine.model?.id !== want) {
        throw new ProactiveClientError(`The local model "${want}" is not loaded.`, 'Load it in Models, then try again.');
      }
      return this.backend('local');
    }
    return this.backend(id as BackendKey);
  }

  backend(key: BackendKey): ChatBackend {
    if (key === ONNX_KEY) {
      const card = this.onnx.card;
      if (!card) throw new ProactiveClientError('No ONNX model is loaded.', 'Load one in the Arena (ONNX model), or pick another model.');
      return new LocalEngineChat(this.onnx.generator(), this.#onnxLabel(card.name));
    }
    if (key === 'local' || key === 'local:compare') {
      const card = this.localCard(key);
      if (!card) {
        throw key === 'local'
          ? new ProactiveClientError('No local student is loaded.', 'Load one in Models, or pick an endpoint model.')
          : new ProactiveClientError('No model is loaded in the compare slot.', 'Use "Compare in the Arena" on a finished training run, or pick another model.');
      }
      const engine = this.engine;
      const slot = key === 'local' ? undefined : COMPARE_SLOT;
      let n = 0;
      // The engine worker cancels by request id; an AbortSignal cannot cross to it.
      const generator = inProcessGenerator((request, onEvent: (e: GenerateEvent) => void, signal) => {
        const requestId = `arena-${Date.now().toString(36)}-${++n}`;
        signal.addEventListener('abort', () => void engine.cancel(requestId), { once: true });
        return engine.generate(slot ? { ...request, slot } : request, onEvent, requestId);
      });
      return new LocalEngineChat(generator, `${card.name} (${key === 'local' ? 'local' : 'compare slot'})`);
    }
    return this.endpointBackend(key.slice('endpoint:'.length));
  }

  endpointBackend(id: string): ChatBackend {
    const settings = this.endpoint(id);
    if (!settings) throw new ProactiveClientError(`The endpoint "${id}" no longer exists.`, 'Pick another one, or add it again under Endpoints.');
    return endpointBackend(settings);
  }

  // ---- scenarios ---------------------------------------------------------------------------------

  async loadBundledScenarios(): Promise<void> {
    await this.#loadScenarios(BUNDLED_SCENARIOS, () => loadOfficialLayout(urlSource('scenarios/')));
  }

  async loadDemoScenarios(): Promise<void> {
    await this.#loadScenarios(DEMO_SCENARIOS, async () => loadScenarioFile(await (await fetchDemo('scenarios')).text(), 'scenarios.heldout.json'));
  }

  /** Files the person picked: a folder in the official layout, or one JSON / JSONL file. */
  async loadScenarioFiles(files: readonly File[]): Promise<void> {
    const first = files[0];
    if (!first) return;
    const folder = files.length > 1 || first.webkitRelativePath !== '';
    const name = folder ? (first.webkitRelativePath.split('/')[0] || 'the picked folder') : first.name;
    await this.#loadScenarios(name, async () =>
      folder ? loadOfficialLayout(fileListSource(files, name)) : loadScenarioFile(await first.text(), first.name),
    );
  }

  /** A URL (absolute, or relative to the page) of one JSON / JSONL file or of a folder in the official layout. */
  async loadScenarioUrl(url: string): Promise<void> {
    const address = url.trim();
    await this.#loadScenarios(address, () => loadScenarioUrl(address));
  }

  dismissScenarioError(): void {
    this.scenarioError = null;
    this.scenarioErrorIssues = [];
  }

  async #loadScenarios(name: string, load: () => Promise<LoadedScenarios>): Promise<void> {
    this.scenariosLoading = true;
    let loaded: LoadedScenarios | undefined;
    try {
      loaded = await load();
      this.scenarios = requireScenarios(loaded, name);
      this.scenarioIssues = loaded.issues;
      this.scenarioSource = name;
      this.dismissScenarioError();
    } catch (err) {
      // The scenarios in use stay; the error and the problems found show where the person acted.
      this.scenarioError = errorInfo(err);
      this.scenarioErrorIssues = loaded?.issues ?? [];
      if (this.scenarios.length === 0) this.scenarioIssues = [];
    } finally {
      this.scenariosLoading = false;
    }
  }
}

export class ProactiveClientError extends LabError {
  constructor(message: string, hint?: string) {
    super('ProactiveClientError', message, hint);
  }
}

const clients = new WeakMap<EngineClient, ProactiveClient>();

/** The page's ProactiveEval client (created on first use). */
export function useProactive(): ProactiveClient {
  const engine = useEngine();
  let client = clients.get(engine);
  if (!client) {
    client = new ProactiveClient(engine);
    clients.set(engine, client);
  }
  return client;
}
