// The built-in demo kit as the page sees it: the files of public/demo/ next to the page (resolved
// against the page's own address, so the demo works under any base path and needs no network beyond
// the page's host), whether this build has them, and which loaded models are demo models.
import type { ModelCard } from '../../engine/api.ts';
import { LabError } from '../../engine/errors.ts';

/** Files of the kit, relative to the page (npm run demo:data and demo:build write them). */
export const DEMO_FILES = {
  student: 'demo/models/student/',
  pairs: 'demo/caches/pairs.demo.jsonl',
  chosen: 'demo/caches/chosen.safetensors',
  rejected: 'demo/caches/rejected.safetensors',
  scenarios: 'demo/data/scenarios.heldout.json',
} as const;
export type DemoFile = keyof typeof DEMO_FILES;

/** The folder of every demo model (student, teacher, teacher-sft). */
const MODELS = 'demo/models/';

export function demoUrl(file: DemoFile): string {
  return new URL(DEMO_FILES[file], document.baseURI).href;
}

/** A model loaded from the kit's models folder on the host of the page at `base`. */
export function isDemoCard(card: ModelCard | null | undefined, base = document.baseURI): card is ModelCard {
  return !!card && card.source.kind === 'url' && card.source.id.startsWith(`url:${new URL(MODELS, base).href}`);
}

/** "demo student", "demo teacher": a demo model's short name (null for any other model). */
export function demoModelName(card: ModelCard | null | undefined, base = document.baseURI): string | null {
  if (!isDemoCard(card, base)) return null;
  const folder = card.source.id.slice(`url:${new URL(MODELS, base).href}`.length).replace(/\/+$/, '');
  return `demo ${folder}`;
}

let available: Promise<boolean> | null = null;

/** Whether this build ships the demo student (asked once; a build without the kit answers 404). */
export function demoAvailable(): Promise<boolean> {
  available ??= fetch(new URL('config.json', demoUrl('student')), { cache: 'no-store' })
    // A dev server answers unknown paths with the page itself: only real JSON counts.
    .then(async (r) => r.ok && typeof (await r.json()) === 'object')
    .catch(() => false);
  return available;
}

/** A file of the kit; a missing one is an error that says the build lacks the demo kit. */
export async function fetchDemo(file: DemoFile, signal?: AbortSignal): Promise<Response> {
  const response = await fetch(demoUrl(file), { signal });
  if (!response.ok) {
    await response.body?.cancel();
    throw new LabError('DemoKitError', `The demo file ${DEMO_FILES[file]} is not part of this build (HTTP ${response.status}).`, 'Rebuild the lab with the demo kit in public/demo/ (npm run demo:data, then npm run demo:build).');
  }
  return response;
}
