// Journey "Arena" (issue 7, journey 6; issue 6, live scoring) in Chromium against the production
// build, with a scripted OpenAI-compatible endpoint playing the model(s), the judge and the
// simulated user: a planned target with its judge score; a full dialogue whose rule checks light up
// after every assistant message and whose running judge score follows every turn, ending early
// when the goal check says so; a reply full of HTML and script shown as text with nothing run; the
// local judge (partial) without a judge; two models side by side on one human reply; cancel.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { FIXTURES_DIR } from '../helpers/fixtures.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';
import type { ScriptedRequest } from '../helpers/openai-server.ts';
import { startRepoLoad, useHub, waitForModel } from './model-steps.ts';
import { expectText, openLab, seriousAxeViolations, waitForReadyEngine, type Lab } from './lab.ts';
import { addEndpoint, closeEndpointsDialog, gate, openPanel, scriptedEndpoint, setRoleDefaults, turnsIn, type ScriptedEndpoint } from './proactive.ts';

const OPENERS: Record<string, string> = {
  'student-a': 'Maya, you gave And Then There Were None five stars this morning! Did you guess the killer before the end?',
  'student-b': 'Five stars for Christie again, Maya! Who was your prime suspect this time?',
};
/** Turn 2 of the simulated dialogue: too long, and opens passively. */
const LONG =
  'It sounds like you really enjoy working out the puzzle yourself. I just finished The Thursday Murder Club, where four friends in a retirement village solve a murder over tea. ' +
  'The clues are fair, there is no gore at all, and the twists are clever without being cruel. It would fit your night breaks perfectly, and each chapter is short.';
const CLOSE = "Shall I put it on your tablet for tonight's shift?";
const XSS = 'Sure: <img src=x onerror="window.__xss=1;document.title=\'owned\'"> and <script>window.__xss=2</script> <b>bold</b>';

function lastUser(request: ScriptedRequest): string {
  return [...request.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
}

describe('journey: arena', () => {
  let lab: Lab;
  let endpoint: ScriptedEndpoint;
  let hub: HubServer;
  /** The simulated user's replies wait for these (one per turn), so the test sees each turn's state. */
  const userGates = [gate(), gate(), gate()];

  beforeAll(async () => {
    endpoint = await scriptedEndpoint({
      'planning.model': () => 'Here is my plan:\n```json\n{"target": "Recommend The Thursday Murder Club to Maya", "sub_targets": ["Ask about her Christie rating", "Share the assistant\'s own favourite", "Suggest reading it on night breaks"]}\n```',
      'planning.judge': () => '{"reason": "Same need as the reference: a cosy mystery she can solve. Specific and actionable. The steps lead there.", "score": 8}',
      'guidance.model': (request) => {
        const said = lastUser(request);
        if (said.startsWith('(The user has not said')) return OPENERS[request.model] ?? 'Hello!';
        if (said.includes('show me html')) return XSS;
        if (said.includes('wait forever')) return { hang: true };
        if (said.includes('guessed it')) return LONG;
        if (said.includes('heard of it')) return CLOSE;
        return `Noted: ${said.slice(0, 40)}. What do you think of cosy mysteries?`;
      },
      'user.simulator': async (_, n) => {
        await userGates[n]?.promise;
        return ['Ha, I guessed it halfway through!', "I've heard of it, is it gory?", 'Yes please, add it!'][n] ?? 'Okay.';
      },
      'guidance.check': (request) => `{"reached": ${turnsIn(request) >= 3}}`,
      'guidance.judge': (request) => {
        const n = turnsIn(request);
        return `{"thought": "After ${n} turn${n === 1 ? '' : 's'}: personal and leading${n === 2 ? ', but the second message is long and opens passively' : ''}.", "score": ${[0, 9, 6, 7][n] ?? 5}}`;
      },
      'guidance.density': (request) => {
        const count = Number(/holding (\d+) lists/.exec(request.messages[0].content)?.[1] ?? 0);
        return JSON.stringify({ touched: Array.from({ length: count }, (_, i) => [Math.min(i + 1, 3)]) });
      },
    });
    hub = await startHubServer({ 'fixtures/llama': { folder: join(FIXTURES_DIR, 'llama') } });
    lab = await openLab({ launch: { viewport: { width: 1440, height: 900 } } });
    await waitForReadyEngine(lab.page);
    const { page } = lab;
    await openPanel(page, 'Arena');
    await addEndpoint(page, { baseUrl: endpoint.url, model: 'student-a', label: 'Student A' });
    await addEndpoint(page, { baseUrl: `${endpoint.url}/v1`, model: 'judge', label: 'Judge' });
    await addEndpoint(page, { baseUrl: endpoint.url, model: 'user', label: 'Simulated user' });
    await setRoleDefaults(page, { 'Model under test': 'Student A', Judge: 'Judge', 'Simulated user': 'Simulated user' });
    await closeEndpointsDialog(page);
  });

  afterAll(async () => {
    for (const g of userGates) g.open();
    await lab?.close();
    await endpoint?.close();
    await hub?.close();
  });

  const players = (page: Page): Locator => page.getByRole('region', { name: 'Players' });
  const side = (page: Page, label: string): Locator => page.getByRole('region', { name: label, exact: true });
  const turn = (scope: Locator, n: number): Locator => scope.locator(`[data-testid="turn"][data-turn="${n}"]`);
  const rule = async (scope: Locator, id: string): Promise<string | null> => scope.getByTestId(`rule-${id}`).getAttribute('data-pass');

  it('shows the scenario, plans a target and shows the judge score with its reason', async () => {
    const { page } = lab;
    const card = page.getByTestId('scenario-card');
    await expectText(card.getByRole('heading', { level: 3 }), 'Books: cosy puzzle mysteries');
    expect(await card.textContent()).toContain('The assistant recently enjoyed');
    // A hard environment's behaviour log shows as a timeline, folded.
    await page.getByRole('radiogroup', { name: 'Tier' }).getByText('Hard').click();
    await expectText(card.getByRole('button', { name: /^Show all \d+ lines$/ }), /^Show all \d+ lines$/);
    expect(await card.locator('.event').count()).toBeGreaterThan(3);
    await page.getByRole('radiogroup', { name: 'Tier' }).getByText('Fair').click();
    await expectText(card.getByRole('heading', { level: 3 }), 'Books: cosy puzzle mysteries');

    await page.getByRole('button', { name: 'Plan target' }).click();
    const plan = side(page, 'Student A').getByTestId('plan');
    await expectText(plan.getByTestId('plan-target'), 'Recommend The Thursday Murder Club to Maya');
    expect(await plan.locator('ol li').allTextContents()).toEqual(['Ask about her Christie rating', "Share the assistant's own favourite", 'Suggest reading it on night breaks']);
    await expectText(plan.getByTestId('plan-score'), '8/10');
    expect(await plan.getByTestId('plan-reason').textContent()).toMatch(/^Same need as the reference/);
    // The judge saw the reference and the domain description.
    const judged = endpoint.of('planning.judge')[0].messages[0].content;
    expect(judged).toContain('Target: Recommend The Thursday Murder Club to Maya');
    expect(judged).toContain('The assistant has tastes and habits of its own');
  });

  it('plays a full dialogue with the simulated user: checks light up per message, the judge score per turn, early end', async () => {
    const { page } = lab;
    await page.getByRole('radiogroup', { name: 'Who plays the user' }).getByText('Medium').click();
    await page.getByRole('button', { name: 'Start dialogue' }).click();
    const a = side(page, 'Student A');

    // Turn 1: the opener passes every rule, before the user has answered.
    await expectText(turn(a, 1).getByTestId('assistant-text'), OPENERS['student-a']);
    for (const id of ['engagement', 'leaks', 'turns', 'tone']) expect(await rule(turn(a, 1), id), `turn 1 ${id}`).toBe('true');
    expect(await turn(a, 1).getByTestId('rule-density').textContent()).toMatch(/local estimate/);
    expect(await turn(a, 1).getByTestId('user-text').count()).toBe(0);
    userGates[0].open();
    await expectText(turn(a, 1).getByTestId('user-text'), 'Ha, I guessed it halfway through!');
    await expectText(a.getByTestId('judge-value'), '9');
    expect(await a.getByTestId('judge-turn').textContent()).toBe('after turn 1');
    expect(await a.getByTestId('judge-thought').textContent()).toBe('After 1 turn: personal and leading.');
    await expectText(turn(a, 1).getByTestId('goal-check'), 'Goal check: not yet');
    // The judge's count of the steps replaces the local estimate for the messages it has read.
    await expectText(turn(a, 1).getByTestId('rule-density'), /Touches step 1\s*judge/);

    // Turn 2: too long and a passive opener, lit at once.
    await expectText(turn(a, 2).getByTestId('assistant-text'), LONG);
    expect(await rule(turn(a, 2), 'engagement')).toBe('false');
    expect(await rule(turn(a, 2), 'tone')).toBe('false');
    expect(await turn(a, 2).getByTestId('rule-tone').textContent()).toContain('Passive opener “It sounds like”');
    expect(await rule(turn(a, 2), 'leaks')).toBe('true');
    expect(await a.getByTestId('local-judge').textContent()).toMatch(/Engagement\s*1\/2/);
    userGates[1].open();
    await expectText(a.getByTestId('judge-value'), '6');
    expect(await a.getByTestId('judge-turn').textContent()).toBe('after turn 2');
    expect(await a.getByTestId('judge-thought').textContent()).toContain('the second message is long');

    // Turn 3 written; the simulated user is still typing: the README's picture of the Arena.
    await expectText(turn(a, 3).getByTestId('assistant-text'), CLOSE);
    for (const id of ['engagement', 'leaks', 'turns', 'tone']) expect(await rule(turn(a, 3), id), `turn 3 ${id}`).toBe('true');
    // A taller window shows the scenario, the plan, the live scores and the dialogue together.
    await page.setViewportSize({ width: 1440, height: 1400 });
    await lab.browser.screenshot('arena');
    await page.setViewportSize({ width: 1440, height: 900 });
    userGates[2].open();

    // The goal check says reached after turn 3: the dialogue ends early with the final score.
    await expectText(a.getByTestId('ended-by'), 'Target reached: the dialogue ended early after 3 turns.');
    await expectText(a.getByTestId('judge-turn'), 'final, 3 turns');
    expect(await a.getByTestId('judge-value').textContent()).toBe('7');
    expect(await turn(a, 3).getByTestId('goal-check').getAttribute('data-reached')).toBe('true');
    expect(endpoint.of('guidance.model', 'student-a').length).toBe(3);
    expect(endpoint.of('guidance.judge').map(turnsIn)).toEqual([1, 2, 3]);
    // The simulated user was told its agreeableness and never the target (reference: "Recommend 'The
    // Thursday Murder Club' for her night-shift reading", steps from "Bond over her love of Christie's puzzles").
    const userPrompt = endpoint.of('user.simulator')[0].messages[0].content;
    expect(userPrompt).toContain('(medium agreeableness)');
    expect(userPrompt).not.toContain('for her night-shift reading');
    expect(userPrompt).not.toContain('Bond over her love');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(400); // let the colour transitions (≤ 200 ms) settle before contrast is measured
    expect(await seriousAxeViolations(page), 'dark').toEqual([]);
    await lab.browser.screenshot('arena-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('renders a reply with HTML and script as text, runs nothing, and labels the local judge partial without a judge', async () => {
    const { page } = lab;
    await page.getByRole('radiogroup', { name: 'Who plays the user' }).getByText('You').click();
    await players(page).getByLabel('Judge', { exact: true }).selectOption({ label: 'None: local rule checks only' });
    await page.getByRole('button', { name: 'Start dialogue' }).click();
    const a = side(page, 'Student A');
    await expectText(turn(a, 1).getByTestId('assistant-text'), OPENERS['student-a']);
    const input = page.getByLabel(/^Your reply as the user/);
    await input.fill('show me html');
    await input.press('Enter');
    await expectText(turn(a, 2).getByTestId('assistant-text'), XSS);
    expect(await a.locator('img, script, b').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.title()).toBe('Student Lab');
    // No judge: no score at all, and the local checks say they are partial.
    expect(await a.getByTestId('judge-score').count()).toBe(0);
    const local = a.getByTestId('local-judge');
    expect(await local.textContent()).toMatch(/Local rule checks\s*partial/);
    expect(await local.textContent()).toContain('there is no overall score');
    await page.getByRole('button', { name: 'End conversation' }).click();
    await expectText(a.getByTestId('ended-by'), 'You ended the conversation after 2 turns.');
    expect(endpoint.of('guidance.check').length).toBe(3); // from the first dialogue only
  });

  it('puts two models side by side on one reply typed once, and cancels at any time', async () => {
    const { page } = lab;
    await addEndpoint(page, { baseUrl: endpoint.url, model: 'student-b', label: 'Student B' });
    await closeEndpointsDialog(page);
    await players(page).getByLabel('Judge', { exact: true }).selectOption({ label: 'Judge' });
    await players(page).getByLabel('Side by side').check();
    await players(page).getByLabel('Right model').selectOption({ label: 'Student B' });
    expect(await page.getByText('You type each reply once; it goes to both models.').isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Start dialogue' }).click();
    const a = side(page, 'Student A');
    const b = side(page, 'Student B');
    await expectText(turn(a, 1).getByTestId('assistant-text'), OPENERS['student-a']);
    await expectText(turn(b, 1).getByTestId('assistant-text'), OPENERS['student-b']);
    const input = page.getByLabel(/^Your reply as the user \(sent to both models\)/);
    await input.fill('I suspected the judge all along.');
    await page.getByRole('button', { name: 'Send to both' }).click();
    await expectText(turn(a, 1).getByTestId('user-text'), 'I suspected the judge all along.');
    await expectText(turn(b, 1).getByTestId('user-text'), 'I suspected the judge all along.');
    await expectText(turn(a, 2).getByTestId('assistant-text'), /^Noted: I suspected the judge/);
    await expectText(turn(b, 2).getByTestId('assistant-text'), /^Noted: I suspected the judge/);
    await expectText(a.getByTestId('judge-turn'), 'after turn 1');
    await expectText(b.getByTestId('judge-turn'), 'after turn 1');
    // Each model was sent the same reply.
    for (const model of ['student-a', 'student-b']) {
      const second = endpoint.of('guidance.model', model).at(-1)!;
      expect(lastUser(second), model).toBe('I suspected the judge all along.');
    }
    await lab.browser.screenshot('arena-side-by-side');
    // A laptop-width window: the two columns stack, nothing scrolls sideways.
    for (const width of [1024, 800]) {
      await page.setViewportSize({ width, height: 800 });
      expect(await page.evaluate(() => document.querySelector('main')!.scrollWidth - document.querySelector('main')!.clientWidth), `width ${width}`).toBeLessThanOrEqual(0);
    }
    await page.setViewportSize({ width: 1440, height: 900 });

    // Both models hang on the next reply: Cancel ends both at once.
    await input.fill('wait forever');
    await input.press('Enter');
    await expectText(a.getByTestId('side-status'), 'talking');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expectText(a.getByTestId('side-status'), 'cancelled');
    await expectText(b.getByTestId('side-status'), 'cancelled');
    expect(await page.getByRole('button', { name: 'Start dialogue' }).isEnabled()).toBe(true);
    expect(await seriousAxeViolations(page)).toEqual([]);
  });

  it('offers the student loaded in Models and talks to it through the engine worker', async () => {
    const { page } = lab;
    await players(page).getByLabel('Side by side').uncheck();
    await openPanel(page, 'Models');
    await useHub(page, hub.url);
    await startRepoLoad(page, 'fixtures/llama');
    await waitForModel(page, 'fixtures/llama');
    await openPanel(page, 'Arena');
    await players(page).getByLabel('Model', { exact: true }).selectOption({ label: 'fixtures/llama (local student)' });
    await page.getByRole('button', { name: 'Plan target' }).click();
    // The fixture's context (256 tokens) cannot hold the planning prompt: the engine's error comes
    // back through the worker, named, with its hint, where the plan would be.
    const plan = side(page, 'fixtures/llama (local student)').getByTestId('plan');
    const notice = plan.getByTestId('error-notice');
    await expectText(notice.locator('.message'), /context (holds|of) 256 tokens/, 60_000);
    expect(await notice.textContent()).toContain('What to do:');
    expect(await page.getByRole('button', { name: 'Plan target' }).isEnabled()).toBe(true);
  });

  it('logged no console errors and threw nothing', () => {
    lab.browser.expectNoProblems();
  });
});
