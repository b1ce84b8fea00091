import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { endpointBackend, EndpointSettingsError, exportEndpoints, importEndpoints, newEndpoint } from '../../../src/llm/endpoint-settings.ts';
import { openLabDb } from '../../../src/store/db.ts';
import { deleteEndpoint, getEndpoint, listEndpoints, saveEndpoint, saveImportedEndpoints } from '../../../src/store/endpoints.ts';
import { startOpenAiServer, type ScriptedServer } from '../../helpers/openai-server.ts';

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('endpoint settings', () => {
  it('are stored with their key in IndexedDB and exported without it', async () => {
    const db = await openLabDb(`e-${Math.random()}`);
    const hosted = newEndpoint({ id: 'a', label: 'Hosted', baseUrl: 'https://api.example.com/v1', model: 'big', apiKey: 'sk-live-999' }, 1);
    const local = newEndpoint({ id: 'b', baseUrl: 'http://localhost:11434', model: 'qwen2.5:7b' }, 2);
    await saveEndpoint(db, hosted);
    await saveEndpoint(db, local);
    expect((await getEndpoint(db, 'a'))!.apiKey).toBe('sk-live-999');
    const exported = exportEndpoints(await listEndpoints(db));
    expect(exported).not.toContain('sk-live-999');
    expect(exported).not.toContain('apiKey');
    const parsed = JSON.parse(exported) as { endpoints: { id: string; hasKey: boolean }[] };
    expect(parsed.endpoints.map((e) => [e.id, e.hasKey])).toEqual([
      ['a', true],
      ['b', false],
    ]);
    await deleteEndpoint(db, 'b');
    expect((await listEndpoints(db)).map((e) => e.id)).toEqual(['a']);
  });

  it('imports never take a key from the file, and keep the key already stored for the same endpoint', async () => {
    const db = await openLabDb(`e-${Math.random()}`);
    await saveEndpoint(db, newEndpoint({ id: 'a', baseUrl: 'https://api.example.com', model: 'big', apiKey: 'mine' }));
    const file = JSON.stringify({
      format: 'student-lab/endpoints',
      version: 1,
      endpoints: [
        { id: 'a', baseUrl: 'https://api.example.com', model: 'bigger', apiKey: 'planted' },
        { id: 'c', baseUrl: 'http://127.0.0.1:8080', model: 'llama', apiKey: 'planted-too' },
      ],
    });
    const { endpoints, ignoredKeys } = importEndpoints(file);
    expect(ignoredKeys).toBe(2);
    expect(endpoints.map((e) => e.apiKey)).toEqual(['', '']);
    await saveImportedEndpoints(db, endpoints);
    const stored = await listEndpoints(db);
    expect(stored.map((e) => [e.id, e.model, e.apiKey])).toEqual([
      ['a', 'bigger', 'mine'],
      ['c', 'llama', ''],
    ]);
  });

  it('names bad settings and bad files', () => {
    expect(() => newEndpoint({ baseUrl: 'localhost', model: 'x' })).toThrow(/not an http\(s\) URL|not a URL/);
    expect(() => newEndpoint({ baseUrl: 'http://h', model: ' ' })).toThrow(EndpointSettingsError);
    expect(() => importEndpoints('{"format": "other"}')).toThrow(/Not a Student Lab endpoints file/);
    expect(() => importEndpoints('{"format": "student-lab/endpoints", "endpoints": [{"model": "x"}]}')).toThrow(/Endpoint 0 .* "baseUrl" and "model"/);
  });

  it('the backend sends the key only to its own endpoint', async () => {
    const s = (server = await startOpenAiServer({ apiKey: 'k1', respond: () => 'hello' }));
    const chat = endpointBackend(newEndpoint({ baseUrl: s.url, model: 'm', apiKey: 'k1', stream: false }));
    expect((await chat.chat([{ role: 'user', content: 'hi' }])).text).toBe('hello');
    expect(s.requests[0].headers.authorization).toBe('Bearer k1');
    expect(s.requests[0].stream).toBe(false);
  });
});
