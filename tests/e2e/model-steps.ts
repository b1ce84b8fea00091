// Steps of the Models panel as a user takes them (shared by the models and chat journeys).
import { mkdtemp, readdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { FIXTURES_DIR } from '../helpers/fixtures.ts';
import { expectText } from './lab.ts';

/** The production build with the llama fixture beside it, at <site>/llama/ (links, nothing copied). */
export async function siteWithFixture(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'student-lab-onnx-'));
  const dist = resolve('dist');
  for (const entry of await readdir(dist)) await symlink(join(dist, entry), join(root, entry));
  await symlink(join(FIXTURES_DIR, 'llama'), join(root, 'llama'));
  return root;
}

/** Point repo ids at another hub (the local stand-in): the "Hub …" disclosure of the Hugging Face tab. */
export async function useHub(page: Page, url: string): Promise<void> {
  await page.getByRole('radio', { name: 'Hugging Face' }).check();
  const details = page.locator('details', { has: page.locator('summary', { hasText: /^Hub / }) });
  if (!(await details.getAttribute('open'))) await details.locator('summary').click();
  await page.getByLabel('Hub address').fill(url);
  await page.getByRole('button', { name: 'Use', exact: true }).click();
  await expectText(details.locator('summary'), new RegExp(`^Hub ${url.replace(/^https?:\/\//, '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
}

/** Type a repo id and press Load (does not wait for the result). */
export async function startRepoLoad(page: Page, repo: string): Promise<void> {
  await page.getByRole('radio', { name: 'Hugging Face' }).check();
  await page.getByLabel('Repository id').fill(repo);
  await page.getByRole('button', { name: 'Load', exact: true }).click();
}

export function modelCard(page: Page): Locator {
  return page.getByTestId('model-card');
}

/** Wait until the card names `name` as the loaded model. */
export async function waitForModel(page: Page, name: string, timeout = 60_000): Promise<void> {
  await expectText(modelCard(page).getByRole('heading', { level: 2 }), name, timeout);
}
