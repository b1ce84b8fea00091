// An ONNX chat model as a player (issue 6, item 2), in Chromium against the production build: the
// llama fixture folder (with its onnx/model.onnx) is served next to the build and loaded in the
// Arena's "ONNX model" loader (transformers.js in the teacher worker, onnxruntime-web on WebGPU).
// It becomes the Arena's model and is offered in the batch form; it plays one turn against a
// scripted simulated user and judge (the goal check ends the dialogue after it), and its reply is
// the greedy reply transformers.js gives in Node (onnxruntime-node, CPU) for the same messages, with
// the rule checks lit. Unloading takes it out of both pickers. The fixture's context is 256 tokens,
// so the model's system prompt is first shortened in Prompts, as a person with a small model would.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { modelMessages, referenceSetup } from '../../src/proactive/guidance.ts';
import { loadScenarioFile } from '../../src/proactive/loader.ts';
import { promptSet } from '../../src/proactive/prompts.ts';
import { stripThinking } from '../../src/proactive/json-extract.ts';
import { loadTransformersChat } from '../../src/llm/transformers.ts';
import { FIXTURES_DIR } from '../helpers/fixtures.ts';
import { expectText, openLab, seriousAxeViolations, waitForReadyEngine, type Lab } from './lab.ts';
import { siteWithFixture } from './model-steps.ts';
import { addEndpoint, closeEndpointsDialog, openPanel, scriptedEndpoint, setRoleDefaults, type ScriptedEndpoint } from './proactive.ts';

/** Short enough that the first scenario's messages fit the fixture's context with room for a reply. */
const SHORT_SYSTEM = 'Domain: {{domain_name}}. Your goal: {{target}}. Steps:\n{{sub_targets}}';
const LABEL = 'llama (ONNX, transformers.js)';

/** The Arena's first scenario (Recommendation, fair) and the model's first messages for it, as the page builds them. */
async function expectedReply(): Promise<string> {
  const file = 'public/scenarios/dataset/recommendation/fair.json';
  const [scenario] = loadScenarioFile(await readFile(file, 'utf8'), file, { domain: 'recommendation', tier: 'fair' }).scenarios;
  const messages = modelMessages(referenceSetup(scenario), promptSet({ 'guidance.model': SHORT_SYSTEM }), []);
  const chat = await loadTransformersChat({ model: 'llama', localModelPath: FIXTURES_DIR });
  // No max tokens asked (as in the Arena): the reply gets what the 256-token context leaves.
  return stripThinking((await chat.chat(messages)).text).trim();
}

describe('an ONNX model in the Arena and the batch form (transformers.js)', () => {
  let lab: Lab;
  let endpoint: ScriptedEndpoint;
  let expected: string;
  const requests: string[] = [];

  beforeAll(async () => {
    expected = await expectedReply();
    endpoint = await scriptedEndpoint({
      'user.simulator': () => 'Sounds good, tell me more.',
      'guidance.check': () => '{"reached": true}',
      'guidance.judge': () => '{"thought": "One message, on topic.", "score": 4}',
      'guidance.density': (request) => {
        const count = Number(/holding (\d+) lists/.exec(request.messages[0].content)?.[1] ?? 0);
        return JSON.stringify({ touched: Array.from({ length: count }, () => [1]) });
      },
    });
    lab = await openLab({ root: await siteWithFixture() });
    lab.browser.context.on('request', (r) => requests.push(r.url()));
    await waitForReadyEngine(lab.page);
    const { page } = lab;
    await openPanel(page, 'Arena');
    await addEndpoint(page, { baseUrl: endpoint.url, model: 'judge', label: 'Judge' });
    await addEndpoint(page, { baseUrl: endpoint.url, model: 'user', label: 'Simulated user' });
    await setRoleDefaults(page, { Judge: 'Judge', 'Simulated user': 'Simulated user' });
    await closeEndpointsDialog(page);
  });

  afterAll(async () => {
    await lab?.close();
    await endpoint?.close();
  });

  const players = (page: Page): Locator => page.getByRole('region', { name: 'Players' });

  it('loads the ONNX model in the Arena, plays one turn with it: the greedy reply of transformers.js, rule checks lit', async () => {
    const { page, server } = lab;
    expect(expected.length).toBeGreaterThan(0);
    // Prompts: the model's system prompt shortened for a 256-token context.
    await page.getByTestId('open-prompts').click();
    const prompts = page.getByRole('dialog', { name: 'Prompts' });
    await prompts.getByLabel('Text', { exact: true }).fill(SHORT_SYSTEM);
    await prompts.getByRole('button', { name: 'Save version' }).click();
    await expectText(prompts.getByRole('status').filter({ hasText: 'Saved' }), /^Saved as version/);
    await prompts.getByRole('button', { name: 'Close' }).click();

    const loader = players(page).getByTestId('onnx-player');
    await loader.locator('summary').click();
    const onnx = loader.getByTestId('onnx-chat');
    await onnx.getByRole('radio', { name: 'URL' }).check();
    await onnx.getByLabel('ONNX model Model folder URL').fill(`${server.url}llama/`);
    await onnx.getByRole('button', { name: 'Load the ONNX model' }).click();
    await expectText(onnx.getByTestId('onnx-name'), 'llama', 120_000);
    await expectText(onnx.getByTestId('onnx-device'), /^WebGPU · .* · fp32 · vocabulary 512$/);
    await expectText(loader.locator('summary'), 'ONNX model: llama');
    // Loaded, it is the model under test (and one of the options).
    const model = players(page).getByLabel('Model', { exact: true });
    expect(await model.locator('option:checked').textContent()).toBe(LABEL);
    expect(await model.locator('option').allTextContents()).toEqual([LABEL, 'Judge', 'Simulated user']);

    await page.getByRole('radiogroup', { name: 'Who plays the user' }).getByText('Medium').click();
    await page.getByRole('button', { name: 'Start dialogue' }).click();
    const side = page.getByRole('region', { name: LABEL, exact: true });
    const turn = side.locator('[data-testid="turn"][data-turn="1"]');
    await expectText(turn.getByTestId('assistant-text'), expected, 180_000);
    for (const id of ['engagement', 'leaks', 'turns', 'tone']) expect(await turn.getByTestId(`rule-${id}`).getAttribute('data-pass'), id).toMatch(/^(true|false)$/);
    await expectText(turn.getByTestId('user-text'), 'Sounds good, tell me more.');
    await expectText(side.getByTestId('ended-by'), 'Target reached: the dialogue ended early after 1 turn.', 60_000);
    // The model's turn never went over HTTP; the scripted endpoint only played the user and the judge.
    expect(endpoint.of('guidance.model')).toEqual([]);
    expect(endpoint.of('user.simulator').length).toBe(1);
    await lab.browser.screenshot('arena-onnx');
    expect(await seriousAxeViolations(page)).toEqual([]);
  });

  it('is offered in the batch form, and unloading it takes it out of both pickers', async () => {
    const { page } = lab;
    await openPanel(page, 'Runs & results');
    const models = page.getByRole('form', { name: 'New evaluation' }).getByRole('group', { name: 'Models' });
    await models.getByLabel(LABEL).waitFor();

    await openPanel(page, 'Arena');
    // Folded again (the panel was left): its summary names the model.
    const loader = players(page).getByTestId('onnx-player');
    await expectText(loader.locator('summary'), 'ONNX model: llama');
    if ((await loader.getAttribute('open')) === null) await loader.locator('summary').click();
    await loader.getByRole('button', { name: 'Unload the ONNX model' }).click();
    await expectText(loader.getByRole('status'), 'Unloaded llama.');
    await expectText(loader.locator('summary'), 'Add an ONNX model (transformers.js)');
    expect(await players(page).getByLabel('Model', { exact: true }).locator('option').allTextContents()).toEqual(['Judge', 'Simulated user']);
    await openPanel(page, 'Runs & results');
    await models.waitFor();
    expect(await models.getByLabel(LABEL).count()).toBe(0);
  });

  it('asked nothing of another origin but the scripted endpoint, and threw nothing', () => {
    const page = new URL(lab.server.url).origin;
    const scripted = new URL(endpoint.url).origin;
    expect(requests.filter((u) => !u.startsWith(`${page}/`) && !u.startsWith(`${scripted}/`) && !/^(data|blob):/.test(u))).toEqual([]);
    expect(requests.filter((u) => u.startsWith(`${scripted}/`)).every((u) => u.endsWith('/v1/chat/completions'))).toBe(true);
    expect(lab.server.requests.some((p) => p.endsWith('/llama/onnx/model.onnx'))).toBe(true);
    lab.browser.expectNoProblems();
  });
});
