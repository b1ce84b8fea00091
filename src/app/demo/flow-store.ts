// What the page keeps of the demo in IndexedDB settings: the step the one-click demo is at (so a
// reload picks it up there) and whether the person dismissed the welcome card.
import { openLabDb } from '../../store/db.ts';

/** The demo's steps, in order; `done` once the Arena shows before and after. */
export const DEMO_STEPS = ['student', 'data', 'training', 'compare'] as const;
export type DemoStep = (typeof DEMO_STEPS)[number];

export interface StoredDemo {
  step: DemoStep | 'done';
  /** The demo's training run, once it was started. */
  runId: string | null;
  startedAt: number;
}

const FLOW_SETTING = 'demo.flow';
const WELCOME_SETTING = 'demo.welcomeDismissed';

function isStoredDemo(value: unknown): value is StoredDemo {
  const v = value as Partial<StoredDemo> | null;
  return !!v && typeof v === 'object' && (v.step === 'done' || (DEMO_STEPS as readonly unknown[]).includes(v.step)) && (v.runId === null || typeof v.runId === 'string') && typeof v.startedAt === 'number';
}

/** The stored demo (null: none, or a record this version cannot read). */
export async function loadDemo(): Promise<StoredDemo | null> {
  const value = await (await openLabDb()).get('settings', FLOW_SETTING).catch(() => undefined);
  return isStoredDemo(value) ? value : null;
}

export async function saveDemo(demo: StoredDemo | null): Promise<void> {
  const db = await openLabDb();
  if (demo) await db.put('settings', { ...demo }, FLOW_SETTING);
  else await db.delete('settings', FLOW_SETTING);
}

/** A demo that was under way when the page closed. */
export function inProgress(demo: StoredDemo | null): demo is StoredDemo & { step: DemoStep } {
  return demo !== null && demo.step !== 'done';
}

export async function welcomeDismissed(): Promise<boolean> {
  return (await (await openLabDb()).get('settings', WELCOME_SETTING).catch(() => undefined)) === true;
}

export async function dismissWelcome(): Promise<void> {
  await (await openLabDb()).put('settings', true, WELCOME_SETTING);
}
