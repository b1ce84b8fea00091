// Journey "load a model" (issue 7, journey 2) in Chromium against the production build: from a repo
// id on a local stand-in of the Hugging Face hub (serving the fixtures under the hub's URL layout),
// with progress; the model card; the cached copy listed; cancel; errors in place that leave the
// loaded model alone; a local folder; after a reload, loading offline from the cache, then deleting it;
// and the demo student that ships with the build.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES_DIR } from '../helpers/fixtures.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';
import { expectText, openLab, seriousAxeViolations, waitForReadyEngine, type Lab } from './lab.ts';
import { modelCard, startRepoLoad, useHub, waitForModel } from './model-steps.ts';

describe('journey: load a model', () => {
  let lab: Lab;
  let hub: HubServer;

  beforeAll(async () => {
    hub = await startHubServer({
      'fixtures/llama': { folder: join(FIXTURES_DIR, 'llama') },
      'fixtures/qwen2': { folder: join(FIXTURES_DIR, 'qwen2') },
      // Llama's weights under Qwen2's config.json: the shapes disagree.
      'fixtures/mismatch': { folder: join(FIXTURES_DIR, 'llama'), files: { 'config.json': readFileSync(join(FIXTURES_DIR, 'qwen2', 'config.json')) } },
    });
    lab = await openLab();
    await waitForReadyEngine(lab.page);
  });

  afterAll(async () => {
    await lab?.close();
    await hub?.close();
  });

  it('loads a repo id from the hub with progress, shows the model card and lists the cached copy', async () => {
    const { page } = lab;
    await useHub(page, hub.url);
    // Slow the weights down (32 KiB every 80 ms) so that the progress can be seen.
    hub.fault('fixtures/llama', 'model.safetensors', { chunkBytes: 32 * 1024, delayMs: 80, times: 1 });
    await startRepoLoad(page, 'fixtures/llama');
    const progress = page.getByTestId('load-progress');
    await expectText(progress, /Downloading model\.safetensors/);
    await expectText(progress.getByTestId('load-numbers'), /^[\d.]+ KiB of [\d.]+ KiB · [\d.]+ (B|KiB|MiB)\/s · .+ left$/);
    expect(Number(await progress.getByRole('progressbar').getAttribute('aria-valuenow'))).toBeGreaterThan(0);
    await lab.browser.screenshot('models-progress');

    await waitForModel(page, 'fixtures/llama');
    const card = modelCard(page);
    const text = (await card.textContent()) ?? '';
    for (const fact of ['LlamaForCausalLM', '123,712 parameters', 'float32 → f32', 'chat template', 'Hugging Face repository fixtures/llama (main) · downloaded']) {
      expect(text).toContain(fact);
    }
    expect(await card.getByTestId('model-parameters').textContent()).toBe('123,712');
    // Weights: 123,712 f32 parameters; KV cache: 2 layers × K and V × 256 tokens × 2 heads × 16 × 4 bytes + the mask.
    expect(await card.getByTestId('model-memory').textContent()).toMatch(/= weights 483\.\d KiB \+ KV cache 129\.0 KiB/);
    expect(await page.getByTestId('status-model').textContent()).toMatch(/Model\s*fixtures\/llama\s*612\.\d KiB: weights 483\.\d KiB, KV cache 129\.0 KiB/);

    const cached = page.getByTestId('cached-model');
    await expectText(cached.first(), /fixtures\/llama.*Llama · 123,712 params · Hugging Face · used just now/);
    expect(await cached.count()).toBe(1);
    expect(await cached.getByText('loaded').isVisible()).toBe(true);
    await lab.browser.screenshot('models-loaded');
  });

  it('cancels a load in progress and keeps the loaded model', async () => {
    const { page } = lab;
    hub.fault('fixtures/qwen2', 'model.safetensors', { chunkBytes: 16 * 1024, delayMs: 200 });
    await startRepoLoad(page, 'fixtures/qwen2');
    await expectText(page.getByTestId('load-progress'), /Downloading model\.safetensors/);
    await page.getByTestId('load-progress').getByRole('button', { name: 'Cancel' }).click();
    await expectText(page.getByRole('status').filter({ hasText: 'cancelled' }), 'Loading fixtures/qwen2 was cancelled. fixtures/llama is still loaded.');
    await waitForModel(page, 'fixtures/llama');
    // The files that arrived complete stay cached, listed as a load that did not finish (to load again or delete).
    await expectText(page.getByTestId('cached-model').filter({ hasText: 'fixtures/qwen2' }).locator('.meta'), /\d+ files? of a load that did not finish/);
    hub.fault('fixtures/qwen2', 'model.safetensors', null);
  });

  it('shows a bad repo id, a bad URL and mismatched weights in place, and the loaded model stays', async () => {
    const { page } = lab;
    const notice = page.getByTestId('error-notice');

    await startRepoLoad(page, 'fixtures/nope');
    await expectText(notice.locator('.title'), 'Could not load fixtures/nope');
    expect(await notice.textContent()).toContain('config.json is not in Hugging Face repository fixtures/nope (main).');
    expect(await notice.textContent()).toMatch(/What to do: Check the repository id/);
    await waitForModel(page, 'fixtures/llama');

    await startRepoLoad(page, 'fixtures/mismatch');
    await expectText(notice.locator('.title'), 'Could not load fixtures/mismatch');
    expect(await notice.textContent()).toMatch(/do not match config\.json:[\s\S]*model\.layers\.0\.self_attn\.(q|k|v)_proj\.bias/);
    await lab.browser.screenshot('models-error');

    await page.getByRole('radio', { name: 'URL' }).check();
    // Another host name than the hub's, so that the URL is not read as a hub address.
    const url = `${hub.url.replace('127.0.0.1', 'localhost')}/fixtures/gone/resolve/main/`;
    await page.getByLabel('Model folder URL').fill(url);
    await page.getByRole('button', { name: 'Load', exact: true }).click();
    await expectText(notice.locator('.title'), `Could not load ${url}`);
    expect(await notice.textContent()).toContain(`config.json is not in ${url}.`);
    await notice.getByRole('button', { name: 'Dismiss' }).click();
    expect(await notice.count()).toBe(0);

    await waitForModel(page, 'fixtures/llama');
    expect(await page.getByTestId('status-model').textContent()).toContain('fixtures/llama');
    // …and still answers.
    await page.getByRole('textbox', { name: 'Message' }).fill('Are you still there?');
    await page.getByRole('button', { name: 'Send' }).click();
    await expectText(page.getByTestId('reply-meta'), /^\d+ tokens · [\d.]+ tok\/s · (token limit|end of reply)$/, 60_000);
  });

  it('loads a local folder through the file input, without caching it', async () => {
    const { page } = lab;
    await page.getByRole('radio', { name: 'Local folder' }).check();
    await page.getByLabel('Select the folder’s files…').setInputFiles(join(FIXTURES_DIR, 'qwen3'));
    await waitForModel(page, 'qwen3');
    expect(await modelCard(page).textContent()).toContain('Qwen3ForCausalLM');
    expect(await modelCard(page).textContent()).toContain('local folder qwen3 · local files');
    expect(await page.getByTestId('cached-model').filter({ hasText: 'qwen3' }).count()).toBe(0);
  });

  it('passes axe with a model loaded and an error shown', async () => {
    const { page } = lab;
    await page.getByRole('radio', { name: 'Hugging Face' }).check();
    await startRepoLoad(page, 'fixtures/nope');
    await page.getByTestId('error-notice').waitFor();
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      expect(await seriousAxeViolations(page), scheme).toEqual([]);
    }
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('after a reload, loads the cached model with the hub offline, then deletes it', async () => {
    const { page } = lab;
    await page.reload();
    await waitForReadyEngine(page);
    await hub.close();
    const row = page.getByTestId('cached-model').filter({ hasText: 'fixtures/llama' });
    await row.getByRole('button', { name: 'Load fixtures/llama' }).click();
    await waitForModel(page, 'fixtures/llama');
    expect(await modelCard(page).textContent()).toContain('Hugging Face repository fixtures/llama (main) · offline cache');

    await row.getByRole('button', { name: 'Delete fixtures/llama' }).click();
    await row.getByRole('button', { name: /^Delete [\d.]+ KiB$/ }).click();
    await expectText(page.getByRole('status').filter({ hasText: 'Deleted' }), /^Deleted the cached files of fixtures\/llama\. The model stays loaded/);
    expect(await page.getByTestId('cached-model').filter({ hasText: 'fixtures/llama' }).count()).toBe(0);
    await lab.browser.screenshot('models-deleted');
  });

  it('loads the demo student from the Demo tab, from the page’s own host', async () => {
    const { page } = lab;
    await page.getByRole('radio', { name: 'Demo' }).check();
    await page.getByTestId('demo-tab').getByRole('button', { name: 'Load the demo student' }).click();
    await waitForModel(page, 'demo student');
    const text = (await modelCard(page).textContent()) ?? '';
    expect(text).toContain('LlamaForCausalLM');
    expect(text).toContain(`${lab.server.url}demo/models/student/ · downloaded`);
    // public/demo/models/build.json: the student has 1,066,112 parameters.
    expect(await modelCard(page).getByTestId('model-parameters').textContent()).toBe('1,066,112');
  });

  it('logged no console errors besides the requests that were meant to fail', () => {
    lab.browser.expectNoProblems([/Failed to load resource: the server responded with a status of 404/]);
  });
});
