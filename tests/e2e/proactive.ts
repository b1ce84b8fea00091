// Shared steps of the Arena, Runs and endpoint-settings e2e tests: a scripted OpenAI-compatible
// endpoint the page can reach (CORS on), answering by which of our prompts a request carries and
// which model it names; and the endpoint dialog driven the way a person uses it.
import type { Locator, Page } from 'playwright-core';
import { promptKind, startOpenAiServer, type ScriptedReply, type ScriptedRequest, type ScriptedServer } from '../helpers/openai-server.ts';
import type { PromptId } from '../../src/proactive/prompts.ts';
import { expectText } from './lab.ts';

export type Handler = (request: ScriptedRequest, n: number) => string | ScriptedReply | Promise<string | ScriptedReply>;

export interface ScriptedEndpoint extends ScriptedServer {
  /** Requests of a prompt kind so far (all models). */
  of(kind: PromptId | 'other', model?: string): ScriptedRequest[];
}

/** A CORS-enabled scripted endpoint; handler `n` counts requests of that prompt kind from 0. */
export async function scriptedEndpoint(handlers: Partial<Record<PromptId | 'other', Handler>>): Promise<ScriptedEndpoint> {
  const counts = new Map<string, number>();
  const server = await startOpenAiServer({
    cors: true,
    respond: (request) => {
      const kind = promptKind(request);
      const n = counts.get(kind) ?? 0;
      counts.set(kind, n + 1);
      const handler = handlers[kind];
      if (!handler) throw new Error(`no script for ${kind}`);
      return handler(request, n);
    },
  });
  return Object.assign(server, {
    of: (kind: PromptId | 'other', model?: string) => server.requests.filter((r) => promptKind(r) === kind && (model === undefined || r.model === model)),
  });
}

/** A promise with its resolve, to hold a scripted reply until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** The number of "Assistant:" lines in a judge's or check's prompt: the turns it reads. */
export function turnsIn(request: ScriptedRequest): number {
  return (request.messages[0]?.content.match(/^Assistant: /gm) ?? []).length;
}

export async function openEndpointsDialog(page: Page): Promise<Locator> {
  const dialog = page.getByRole('dialog', { name: 'Endpoints' });
  if (!(await dialog.isVisible())) await page.getByTestId('open-endpoints').click();
  await dialog.waitFor();
  return dialog;
}

export interface EndpointInput {
  baseUrl: string;
  model: string;
  label: string;
  key?: string;
}

/** Adds an endpoint through the dialog (left open). */
export async function addEndpoint(page: Page, input: EndpointInput): Promise<Locator> {
  const dialog = await openEndpointsDialog(page);
  const form = dialog.getByRole('form', { name: 'Add an endpoint' });
  await form.getByLabel('Base URL').fill(input.baseUrl);
  await form.getByLabel('Model').fill(input.model);
  await form.getByLabel('Name (optional)').fill(input.label);
  if (input.key) await form.getByLabel(/^API key/).fill(input.key);
  await form.getByRole('button', { name: 'Add endpoint' }).click();
  await expectText(dialog.getByRole('status'), `Saved “${input.label}”.`);
  return dialog.getByTestId('endpoint-row').filter({ hasText: input.label });
}

/** Sets the dialog's role defaults by endpoint label. */
export async function setRoleDefaults(page: Page, roles: Partial<Record<'Model under test' | 'Judge' | 'Simulated user', string>>): Promise<void> {
  const dialog = await openEndpointsDialog(page);
  const group = dialog.getByRole('group', { name: 'Defaults' });
  for (const [role, label] of Object.entries(roles)) await group.getByLabel(role, { exact: true }).selectOption({ label });
}

export async function closeEndpointsDialog(page: Page): Promise<void> {
  const dialog = page.getByRole('dialog', { name: 'Endpoints' });
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'hidden' });
}

export async function openPanel(page: Page, label: string): Promise<void> {
  await page.getByRole('tab', { name: label }).click();
  await page.getByRole('tabpanel', { name: label }).waitFor();
}
