// Words and tones for the engine's state and adapter, shared by the status bar and its details.
import type { AdapterReport } from '../../engine/adapter.ts';
import type { EngineState } from '../engine-client.svelte.ts';

export type Tone = 'ok' | 'warn' | 'danger' | 'neutral';

export function stateLabel(state: EngineState, job: string | null): string {
  switch (state) {
    case 'idle':
      return 'Engine not started';
    case 'starting':
      return 'Starting engine…';
    case 'ready':
      return 'Engine ready';
    case 'busy':
      return job ? `Busy: ${job}` : 'Busy';
    case 'lost':
      return 'GPU device lost';
    case 'error':
      return 'Engine error';
  }
}

export function stateTone(state: EngineState): Tone {
  if (state === 'ready') return 'ok';
  if (state === 'busy' || state === 'starting') return 'warn';
  if (state === 'lost' || state === 'error') return 'danger';
  return 'neutral';
}

/** The browser withheld vendor, architecture and description (Chromium does unless developer features are on). */
export function identityHidden(report: AdapterReport): boolean {
  return !report.vendor && !report.architecture && !report.description;
}

/** The adapter's most specific name. */
export function adapterName(report: AdapterReport): string {
  if (identityHidden(report)) return 'name hidden by the browser';
  return report.description || [report.vendor, report.architecture].filter(Boolean).join(' ');
}
