// Settings of an OpenAI-compatible endpoint as the person configures them in the page. The API key
// stays in the browser (IndexedDB) and is sent only to its own endpoint; exports never contain it
// and imports never read one.
import { LabError } from '../engine/errors.ts';
import { chatCompletionsUrl, DEFAULT_TIMEOUT_MS, OpenAiChat } from './openai.ts';

export interface EndpointSettings {
  id: string;
  /** The person's name for it ("Ollama on my desktop"). */
  label: string;
  baseUrl: string;
  model: string;
  /** '' when the endpoint needs none. */
  apiKey: string;
  stream: boolean;
  timeoutMs: number;
  createdAt: number;
  updatedAt: number;
}

export const ENDPOINTS_FORMAT = 'student-lab/endpoints';

/** An exported endpoint: everything but the key. */
export type ExportedEndpoint = Omit<EndpointSettings, 'apiKey'> & { hasKey: boolean };

export class EndpointSettingsError extends LabError {
  constructor(message: string, hint?: string) {
    super('EndpointSettingsError', message, hint);
  }
}

/** Checks a settings object; throws naming the field. */
export function validateEndpoint(settings: EndpointSettings): EndpointSettings {
  if (!settings.id) throw new EndpointSettingsError('An endpoint needs an id.');
  if (!settings.model.trim()) throw new EndpointSettingsError(`Endpoint "${settings.label || settings.id}": the model name is empty.`, 'Enter the model as the server names it (e.g. qwen2.5:7b for Ollama).');
  chatCompletionsUrl(settings.baseUrl); // throws EndpointUrlError naming the URL
  if (!(settings.timeoutMs > 0)) throw new EndpointSettingsError(`Endpoint "${settings.label || settings.id}": the timeout must be positive, got ${settings.timeoutMs}.`);
  return settings;
}

export function newEndpoint(fields: Pick<EndpointSettings, 'baseUrl' | 'model'> & Partial<EndpointSettings>, now = Date.now()): EndpointSettings {
  return validateEndpoint({
    id: fields.id ?? `ep-${now.toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
    label: fields.label ?? `${fields.model} @ ${fields.baseUrl}`,
    baseUrl: fields.baseUrl.trim(),
    model: fields.model.trim(),
    apiKey: fields.apiKey ?? '',
    stream: fields.stream ?? true,
    timeoutMs: fields.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    createdAt: fields.createdAt ?? now,
    updatedAt: now,
  });
}

export function endpointBackend(settings: EndpointSettings, fetchImpl?: typeof fetch): OpenAiChat {
  return new OpenAiChat({
    baseUrl: settings.baseUrl,
    model: settings.model,
    apiKey: settings.apiKey || undefined,
    stream: settings.stream,
    timeoutMs: settings.timeoutMs,
    fetch: fetchImpl,
  });
}

/** The JSON export: settings without keys. */
export function exportEndpoints(list: readonly EndpointSettings[]): string {
  const endpoints: ExportedEndpoint[] = list.map(({ apiKey, ...rest }) => ({ ...rest, hasKey: apiKey !== '' }));
  return JSON.stringify({ format: ENDPOINTS_FORMAT, version: 1, endpoints }, null, 2);
}

/** Reads an export; keys are never imported (a key found in the file is ignored and counted). */
export function importEndpoints(text: string, now = Date.now()): { endpoints: EndpointSettings[]; ignoredKeys: number } {
  let doc: { format?: unknown; endpoints?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch (err) {
    throw new EndpointSettingsError(`The endpoints file is not valid JSON: ${(err as Error).message}.`);
  }
  if (doc.format !== ENDPOINTS_FORMAT || !Array.isArray(doc.endpoints)) {
    throw new EndpointSettingsError(`Not a Student Lab endpoints file (format ${JSON.stringify(doc.format)}).`);
  }
  let ignoredKeys = 0;
  const endpoints = doc.endpoints.map((raw: unknown, i: number) => {
    const e = raw as Partial<EndpointSettings>;
    if (typeof e.baseUrl !== 'string' || typeof e.model !== 'string') {
      throw new EndpointSettingsError(`Endpoint ${i} in the file needs "baseUrl" and "model" strings.`);
    }
    if (typeof e.apiKey === 'string' && e.apiKey !== '') ignoredKeys++;
    return newEndpoint(
      {
        id: typeof e.id === 'string' ? e.id : undefined,
        label: typeof e.label === 'string' ? e.label : undefined,
        baseUrl: e.baseUrl,
        model: e.model,
        stream: typeof e.stream === 'boolean' ? e.stream : undefined,
        timeoutMs: typeof e.timeoutMs === 'number' ? e.timeoutMs : undefined,
        createdAt: typeof e.createdAt === 'number' ? e.createdAt : undefined,
      },
      now,
    );
  });
  return { endpoints, ignoredKeys };
}
