// Journey "chat" (issue 7, journey 3) in Chromium against the production build, with the fixture
// llama loaded from a local stand-in of the hub: greedy chat reproduces transformers' reference
// generation in the page's engine worker (ids and text: the browser end-to-end parity check),
// regenerate, copy, stop mid-stream, sampling settings, and the conversation kept across a reload.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { FIXTURES_DIR, fixture } from '../helpers/fixtures.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';
import { expectText, openLab, seriousAxeViolations, waitForReadyEngine, type Lab } from './lab.ts';
import { startRepoLoad, useHub, waitForModel } from './model-steps.ts';

const llama = fixture('llama');
const [system, user] = llama.info.inputs.b.messages as { role: string; content: string }[];

async function openSettings(page: Page): Promise<void> {
  const details = page.locator('details.settings');
  if (!(await details.getAttribute('open'))) await details.locator('summary').click();
}

async function setNumber(page: Page, label: string, value: number): Promise<void> {
  const input = page.getByLabel(label, { exact: true });
  await input.fill(String(value));
  await input.blur(); // commits (change event)
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Message' }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
}

const replies = (page: Page) => page.getByTestId('message-assistant');

/** Wait until no reply is streaming (streaming starts within the click that asks for a reply). */
async function replyDone(page: Page, timeout = 60_000): Promise<void> {
  await page.locator('[aria-busy="true"]').waitFor({ state: 'detached', timeout });
  await page.getByRole('button', { name: 'Send' }).waitFor({ timeout });
}

describe('journey: chat', () => {
  let lab: Lab;
  let hub: HubServer;

  beforeAll(async () => {
    hub = await startHubServer({ 'fixtures/llama': { folder: join(FIXTURES_DIR, 'llama') } });
    lab = await openLab();
    await lab.browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(lab.server.url).origin });
    await waitForReadyEngine(lab.page);
    await useHub(lab.page, hub.url);
    await startRepoLoad(lab.page, 'fixtures/llama');
    await waitForModel(lab.page, 'fixtures/llama');
  });

  afterAll(async () => {
    await lab?.close();
    await hub?.close();
  });

  it('greedy chat reproduces the reference generation (ids and text) in the browser worker', async () => {
    const { page } = lab;
    await openSettings(page);
    await page.getByLabel('System prompt').fill(system.content);
    await page.getByLabel('System prompt').blur();
    await setNumber(page, 'Max new tokens', 24);
    expect(await page.getByRole('radio', { name: 'Greedy' }).isChecked()).toBe(true);
    await send(page, user.content);

    const reply = replies(page).last();
    await reply.getByTestId('reply-meta').waitFor({ timeout: 60_000 });
    expect(await reply.getByTestId('message-text').textContent()).toBe(llama.info.generate.new_text);
    await reply.getByText('Token ids').click();
    expect(await reply.getByTestId('reply-ids').textContent()).toBe(llama.info.generate.new_token_ids.join(', '));
    expect(await reply.getByTestId('reply-meta').textContent()).toMatch(/^24 tokens · [\d.]+ tok\/s · token limit$/);
    expect(await page.getByTestId('message-user').last().textContent()).toContain(user.content);
    await lab.browser.screenshot('chat');
  });

  it('regenerates the same greedy reply, and copies it', async () => {
    const { page } = lab;
    await page.getByRole('button', { name: 'Regenerate' }).click();
    await replyDone(page);
    await expectText(page.getByRole('status').filter({ hasText: 'Reply finished' }), 'Reply finished: 24 tokens.');
    expect(await replies(page).count()).toBe(1);
    const reply = replies(page).last();
    expect(await reply.getByTestId('message-text').textContent()).toBe(llama.info.generate.new_text);
    await reply.getByRole('button', { name: 'Copy' }).click();
    await expectText(reply.getByRole('button', { name: 'Copied' }), 'Copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(llama.info.generate.new_text);
  });

  it('stops a reply mid-stream', async () => {
    const { page } = lab;
    await setNumber(page, 'Max new tokens', 150);
    await send(page, 'Tell me a long story, please.');
    const stop = page.getByRole('button', { name: 'Stop' });
    await stop.waitFor();
    // Wait for the first streamed tokens, then stop.
    await expectText(page.locator('[aria-busy="true"] .meta'), /^[1-9]\d* tokens?( · [\d.]+ tok\/s)?…$/, 30_000);
    await stop.click();
    const meta = replies(page).last().getByTestId('reply-meta');
    await expectText(meta, /^\d+ tokens · [\d.]+ tok\/s · stopped$/);
    const count = Number((await meta.textContent())!.split(' ')[0]);
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThan(150);
    await page.getByRole('button', { name: 'Send' }).waitFor();
  });

  it('samples with a seed reproducibly', async () => {
    const { page } = lab;
    await page.getByRole('button', { name: 'New chat' }).click();
    await page.getByRole('radio', { name: 'Sample' }).check();
    await setNumber(page, 'Max new tokens', 12);
    await setNumber(page, 'Temperature', 1.2);
    await setNumber(page, 'Seed (empty = random)', 42);
    await send(page, 'Hello!');
    const first = replies(page).last();
    await expectText(first.getByTestId('reply-meta'), /^12 tokens · [\d.]+ tok\/s · token limit · seed 42$/, 60_000);
    const text = await first.getByTestId('message-text').textContent();
    await page.getByRole('button', { name: 'Regenerate' }).click();
    await replyDone(page);
    expect(await replies(page).count()).toBe(1);
    expect(await replies(page).last().getByTestId('message-text').textContent()).toBe(text);
    expect(await seriousAxeViolations(page)).toEqual([]);
  });

  it('keeps the conversations across a reload', async () => {
    const { page } = lab;
    await page.reload();
    await waitForReadyEngine(page);
    // The most recent conversation comes back with its settings; the first one is in the picker.
    await expectText(page.getByTestId('message-user').first(), /Hello!/);
    await openSettings(page);
    expect(await page.getByRole('radio', { name: 'Sample' }).isChecked()).toBe(true);
    const picker = page.getByRole('combobox', { name: 'Conversation' });
    await picker.selectOption({ label: user.content });
    // (expectText compares trimmed text: the reply starts with a space.)
    await expectText(replies(page).first().getByTestId('message-text'), llama.info.generate.new_text.trim());
    expect(await page.getByLabel('System prompt').inputValue()).toBe(system.content);
    expect(await replies(page).count()).toBe(2);
    // No model after a reload: the composer says so.
    expect(await page.getByRole('textbox', { name: 'Message' }).getAttribute('placeholder')).toBe('Load a model to chat');
    await lab.browser.screenshot('chat-after-reload');
    // The model it talked with is cached here: one click brings it back, and the chat goes on.
    const again = page.getByTestId('chat-load-again');
    await expectText(again, /^This conversation was with fixtures\/llama, which is cached in this browser\./);
    await again.getByRole('button', { name: 'Load it again' }).click();
    await expectText(page.getByTestId('status-model'), /fixtures\/llama/, 60_000);
    expect(await again.count()).toBe(0);
    expect(await page.getByRole('textbox', { name: 'Message' }).getAttribute('placeholder')).toBe('Message fixtures/llama');
  });

  it('logged no console errors', () => {
    lab.browser.expectNoProblems();
  });
});
