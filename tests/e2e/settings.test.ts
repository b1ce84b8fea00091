// Endpoint settings (issue 6, model backends; issue 7, qualities) in Chromium against the production
// build: add an OpenAI-compatible endpoint with a key, test the connection, the key never shown
// again; a refused key and a down endpoint explained where the person acted; bad input refused with
// the field named; role defaults; export without keys, import (keys in a file ignored); all of it
// kept across a reload.
import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiServer, type ScriptedServer } from '../helpers/openai-server.ts';
import { expectText, openLab, seriousAxeViolations, waitForReadyEngine, type Lab } from './lab.ts';
import { addEndpoint, closeEndpointsDialog, openEndpointsDialog, openPanel, setRoleDefaults } from './proactive.ts';

const KEY = 'sk-test-secret-98765';

/** A port nothing listens on: taken from the system, then released. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('endpoint settings', () => {
  let lab: Lab;
  let server: ScriptedServer;

  beforeAll(async () => {
    server = await startOpenAiServer({ cors: true, apiKey: KEY, respond: () => 'OK' });
    lab = await openLab();
    await waitForReadyEngine(lab.page);
    await openPanel(lab.page, 'Arena');
  });

  afterAll(async () => {
    await lab?.close();
    await server?.close();
  });

  it('refuses bad input with the field named and saves nothing', async () => {
    const { page } = lab;
    const dialog = await openEndpointsDialog(page);
    const form = dialog.getByRole('form', { name: 'Add an endpoint' });
    await form.getByLabel('Base URL').fill('localhost 11434');
    await form.getByLabel('Model').fill('qwen2.5:7b');
    await form.getByRole('button', { name: 'Add endpoint' }).click();
    const notice = form.getByTestId('error-notice');
    await expectText(notice.locator('.message'), '"localhost 11434" is not a URL.');
    expect(await notice.textContent()).toContain('What to do: Use e.g. http://localhost:11434');
    // Plain http to another machine, which the page's CSP would block: refused up front, with the way out.
    await form.getByLabel('Base URL').fill('http://192.168.1.20:11434');
    await form.getByRole('button', { name: 'Add endpoint' }).click();
    await expectText(notice.locator('.message'), /^The page cannot reach 192\.168\.1\.20:11434 over plain http/);
    expect(await notice.textContent()).toContain('What to do: Use https, or tunnel the server to this machine');
    await form.getByLabel('Base URL').fill('http://localhost:11434');
    await form.getByLabel('Model').fill('  ');
    await form.getByRole('button', { name: 'Add endpoint' }).click();
    await expectText(notice.locator('.message'), /the model name is empty\.$/);
    expect(await dialog.getByTestId('endpoint-row').count()).toBe(0);
  });

  it('adds an endpoint with a key, never shows the key again, and tests the connection', async () => {
    const { page } = lab;
    const row = await addEndpoint(page, { baseUrl: server.url, model: 'judge-model', label: 'Keyed', key: KEY });
    expect(await row.textContent()).toContain('Key ••••8765');
    expect(await page.content()).not.toContain(KEY);
    expect(await page.getByRole('dialog', { name: 'Endpoints' }).getByLabel(/^API key/).inputValue()).toBe('');

    await row.getByRole('button', { name: 'Test Keyed' }).click();
    await expectText(row.getByTestId('endpoint-test-ok'), /^Connected: answered in \d+ ms: “OK”\.$/);
    const probe = server.requests.at(-1)!;
    expect(probe.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(probe.model).toBe('judge-model');

    // Editing keeps the key unless a new one is typed; the field stays empty.
    await row.getByRole('button', { name: 'Edit Keyed' }).click();
    const edit = page.getByRole('form', { name: 'Edit “Keyed”' });
    expect(await edit.getByLabel(/^API key \(saved: ••••8765\)/).inputValue()).toBe('');
    await edit.getByLabel('Model').fill('judge-model-2');
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await expectText(row.locator('.detail').first(), /^judge-model-2 · /);
    await row.getByRole('button', { name: 'Test Keyed' }).click();
    await expectText(row.getByTestId('endpoint-test-ok'), /^Connected/);
    expect(server.requests.at(-1)!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(await page.content()).not.toContain(KEY);
  });

  it('explains a refused key and a down endpoint where the person tested them', async () => {
    const { page } = lab;
    const wrong = await addEndpoint(page, { baseUrl: server.url, model: 'judge-model', label: 'Wrong key', key: 'sk-wrong-key-000000' });
    await wrong.getByRole('button', { name: 'Test Wrong key' }).click();
    const refused = wrong.getByTestId('error-notice');
    await expectText(refused.locator('.message'), /^The endpoint refused the key \(HTTP 401 from http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions\): Incorrect API key provided\.\.?$/);
    expect(await refused.textContent()).toContain('Check the API key of this endpoint');

    const port = await closedPort();
    const down = await addEndpoint(page, { baseUrl: `http://127.0.0.1:${port}`, model: 'm', label: 'Down' });
    await down.getByRole('button', { name: 'Test Down' }).click();
    const notice = down.getByTestId('error-notice');
    await expectText(notice.locator('.message'), new RegExp(`^The endpoint is down or unreachable \\(http://127\\.0\\.0\\.1:${port}/v1/chat/completions\\)`));
    expect(await notice.textContent()).toContain('CORS');
    await lab.browser.screenshot('settings-endpoints');
    expect(await seriousAxeViolations(page)).toEqual([]);
  });

  it('sets role defaults, exports without keys, imports (ignoring keys in the file), and keeps it all across a reload', async () => {
    const { page } = lab;
    await setRoleDefaults(page, { Judge: 'Keyed', 'Simulated user': 'Keyed', 'Model under test': 'Wrong key' });
    const dialog = await openEndpointsDialog(page);
    const keyed = dialog.getByTestId('endpoint-row').filter({ hasText: 'Keyed' });
    expect(await keyed.locator('.tag').allTextContents()).toEqual(['Judge', 'Simulated user']);

    const [file] = await Promise.all([page.waitForEvent('download'), dialog.getByRole('button', { name: 'Export without keys' }).click()]);
    const text = await readFile(await file.path(), 'utf8');
    expect(text).not.toContain('sk-');
    expect(text).not.toContain('apiKey');
    const exported = JSON.parse(text) as { format: string; endpoints: { label: string; model: string; hasKey: boolean }[] };
    expect(exported.format).toBe('student-lab/endpoints');
    expect(exported.endpoints.map((e) => [e.label, e.model, e.hasKey])).toEqual([
      ['Keyed', 'judge-model-2', true],
      ['Wrong key', 'judge-model', true],
      ['Down', 'm', false],
    ]);
    await expectText(dialog.getByRole('status'), 'Exported 3 endpoints without their keys.');

    // Deleted, then imported back: it returns without its key.
    await keyed.getByRole('button', { name: 'Delete Keyed' }).click();
    await keyed.getByRole('button', { name: 'Delete for good' }).click();
    await expectText(dialog.getByRole('list', { name: 'Configured endpoints' }), /^(?![\s\S]*Keyed)/);
    const importInput = dialog.getByLabel('Endpoints file to import');
    await importInput.setInputFiles({ name: 'endpoints.json', mimeType: 'application/json', buffer: Buffer.from(text) });
    await expectText(dialog.getByRole('status'), 'Imported 3 endpoints from endpoints.json.');
    await expectText(keyed.locator('.detail').nth(1), /^No key/);

    // A file that carries a key: the key is not taken.
    const withKey = JSON.parse(text) as { endpoints: Record<string, unknown>[] };
    withKey.endpoints = [{ ...withKey.endpoints[2], apiKey: 'sk-from-a-file-1234' }];
    await importInput.setInputFiles({ name: 'with-key.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(withKey)) });
    await expectText(dialog.getByRole('status'), 'Imported 1 endpoint from with-key.json. 1 key was in the file and ignored: enter keys here.');
    expect(await page.content()).not.toContain('sk-from-a-file');

    await importInput.setInputFiles({ name: 'notes.json', mimeType: 'application/json', buffer: Buffer.from('{"hello": 1}') });
    await expectText(dialog.getByRole('alert').filter({ hasText: 'The file was not imported' }).locator('.message'), 'Not a Student Lab endpoints file (format undefined).');

    await page.reload();
    await openPanel(page, 'Arena');
    const again = await openEndpointsDialog(page);
    await expectText(again.getByTestId('endpoint-row').filter({ hasText: 'Wrong key' }).locator('.detail').nth(1), /^Key ••••0000/);
    expect(await again.getByTestId('endpoint-row').count()).toBe(3);
    expect(await again.getByRole('group', { name: 'Defaults' }).getByLabel('Model under test').locator('option:checked').textContent()).toBe('Wrong key');
  });

  it('edits a prompt template: unknown placeholders refused, a saved edit versioned, reset to the built-in text', async () => {
    const { page } = lab;
    await closeEndpointsDialog(page);
    await page.getByTestId('open-prompts').click();
    const dialog = page.getByRole('dialog', { name: 'Prompts' });
    await dialog.getByLabel('Template').selectOption({ label: 'Dialogue guidance: the cue that asks the model for its opening message' });
    const text = dialog.getByLabel('Text');
    expect(await text.inputValue()).toBe('(The user has not said anything yet. Write your opening message to them.)');
    await text.fill('(Open the chat now; aim for {{target}}.)');
    await dialog.getByRole('button', { name: 'Save version' }).click();
    await expectText(dialog.getByTestId('error-notice').locator('.message'), 'The prompt "guidance.start" cannot use {{target}}.');
    await text.fill('(Nothing has been said yet. Send your first message.)');
    await dialog.getByRole('button', { name: 'Save version' }).click();
    await expectText(dialog.getByRole('status'), /^Saved as version 1\+edit\.[0-9a-f]+\. New dialogues and runs use it\.$/);
    await expectText(page.getByTestId('open-prompts'), 'Prompts (1 edited)');
    await dialog.getByRole('button', { name: 'Reset to built-in' }).click();
    await expectText(dialog.getByRole('status'), 'Back to the built-in text.');
    expect(await text.inputValue()).toBe('(The user has not said anything yet. Write your opening message to them.)');
    await expectText(page.getByTestId('open-prompts'), 'Prompts');
    await dialog.getByRole('button', { name: 'Close' }).click();
  });

  it('logged no console errors other than the refused and unreachable requests it made on purpose', () => {
    lab.browser.expectNoProblems([/status of 401/, /ERR_CONNECTION_REFUSED/]);
  });
});
