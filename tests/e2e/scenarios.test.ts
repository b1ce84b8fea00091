// Loading scenarios in the Arena's picker (issue 6, bad input) in Chromium against the production
// build: a file whose every item is broken loads nothing, says why item by item and field by field
// where the person picked it, and the scenarios in use stay; a file with some broken items loads
// the rest and lists the skipped ones; a file or a whole dataset loads from a URL typed with the
// keyboard, and a URL with nothing behind it is an error in place.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { expectText, openLab, seriousAxeViolations, type Lab } from './lab.ts';
import { openPanel } from './proactive.ts';

const good = {
  environment: { user_information: 'Ana, 34, runs a bakery and sketches her regulars at night.', trigger_factor: 'She posted a drawing of the baker next door.' },
  target: 'Persuade Ana to show her sketches',
  sub_target: ['Praise the drawing', 'Suggest a small display'],
  topic: 'Sketching',
  domain: 'persuasion',
  tier: 'fair',
};
const HARD = JSON.parse(await readFile('public/scenarios/dataset/persuasion/hard.json', 'utf8')) as unknown[];
const BUNDLED = '60 environments · Student Lab scenarios (bundled)';

describe('loading scenarios in the Arena', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await openLab();
    await openPanel(lab.page, 'Arena');
  });

  afterAll(async () => {
    await lab?.close();
  });

  const picker = (page: Page): Locator => page.getByRole('region', { name: 'Scenario', exact: true });
  const source = (page: Page): Locator => picker(page).getByTestId('scenario-source');
  const pickFile = (page: Page, name: string, text: string): Promise<void> =>
    picker(page).getByLabel('Scenario file (JSON or JSONL)').setInputFiles({ name, mimeType: 'application/json', buffer: Buffer.from(text) });

  it('a file with no usable item loads nothing, lists each problem by item and field, and keeps the scenarios in use', async () => {
    const { page } = lab;
    await expectText(source(page), BUNDLED);
    const environment = await picker(page).getByLabel('Environment').inputValue();
    const { trigger_factor: _, ...noTrigger } = good.environment;
    await pickFile(page, 'bad.json', JSON.stringify([{ ...good, target: 5 }, { ...good, environment: noTrigger }]));

    const alert = picker(page).getByRole('alert');
    await expectText(alert.locator('.message'), 'No usable environments in bad.json (2 errors).');
    const problems = picker(page).getByTestId('scenario-issues');
    for (const message of [
      'error: bad.json, item 0, field "target": must be text (a string or a list of strings), got number 5',
      'error: bad.json, item 1, field "environment.trigger_factor": is missing',
    ]) {
      expect(await problems.getByText(message, { exact: true }).isVisible(), message).toBe(true);
    }
    // The bundled scenarios are still in use, the chosen one still shown.
    expect((await source(page).textContent())?.trim()).toBe(BUNDLED);
    expect(await picker(page).getByLabel('Environment').inputValue()).toBe(environment);
    expect(await page.getByTestId('scenario-card').isVisible()).toBe(true);
    expect(await seriousAxeViolations(page)).toEqual([]);

    await alert.getByRole('button', { name: 'Dismiss' }).click();
    expect(await problems.count()).toBe(0);
  });

  it('a file with some broken items loads the others and lists the skipped ones', async () => {
    const { page } = lab;
    await pickFile(page, 'mixed.jsonl', `${JSON.stringify(good)}\n${JSON.stringify({ ...good, sub_target: undefined })}\n`);
    await expectText(source(page), '1 environment · mixed.jsonl');
    // The picker moves to the domain that has the environment.
    expect(await picker(page).getByLabel('Domain', { exact: true }).inputValue()).toBe('persuasion');
    expect(await picker(page).getByLabel('Environment').inputValue()).toBe('persuasion/fair/0');
    expect(await picker(page).getByRole('alert').count()).toBe(0);
    const message = picker(page).getByTestId('scenario-issues').getByText('error: mixed.jsonl, item 1, field "sub_target": is missing', { exact: true });
    expect(await message.isVisible()).toBe(true);
  });

  it('loads one file or a whole dataset from a URL typed with the keyboard; a URL with nothing behind it is an error in place', async () => {
    const { page } = lab;
    const toggle = picker(page).getByRole('button', { name: 'Load from a URL…' });
    await toggle.focus();
    await page.keyboard.press('Enter');
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    const field = picker(page).getByLabel(/^Scenarios URL/);
    expect(await field.evaluate((el) => el === document.activeElement)).toBe(true);

    const file = `${lab.server.url}scenarios/dataset/persuasion/hard.json`;
    await page.keyboard.type(file);
    await page.keyboard.press('Enter');
    await expectText(source(page), `${HARD.length} environments · ${file}`);
    expect(await picker(page).getByLabel('Environment').inputValue()).toBe('persuasion/hard/0');

    const missing = `${lab.server.url}scenarios/dataset/persuasion/missing.json`;
    await field.fill(missing);
    await field.press('Enter');
    await expectText(picker(page).getByRole('alert').locator('.message'), `${missing} was not found.`);
    expect((await source(page).textContent())?.trim()).toBe(`${HARD.length} environments · ${file}`);
    const described = await field.getAttribute('aria-describedby');
    expect(await page.locator(`[id="${described}"]`).textContent()).toContain(`${missing} was not found.`);

    await field.fill(`${lab.server.url}scenarios/`);
    await picker(page).getByRole('button', { name: 'Load', exact: true }).click();
    await expectText(source(page), `60 environments · ${lab.server.url}scenarios/`);
    expect(await picker(page).getByRole('alert').count()).toBe(0);
  });

  it('logged no console errors and threw nothing', () => {
    lab.browser.expectNoProblems([/Failed to load resource: the server responded with a status of 404/]);
  });
});
