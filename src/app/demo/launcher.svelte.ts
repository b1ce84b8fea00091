// Asking for the demo from anywhere (the welcome card, the Models panel's Demo tab) without loading
// the demo flow and the panel states it drives: the shell mounts the flow (DemoBanner) once it is
// wanted, and the flow takes the pending run from here.
import type { EngineClient } from '../engine-client.svelte.ts';
import { useEngine } from '../engine-context.ts';
import type { DemoFlow } from './demo-flow.svelte.ts';

export class DemoLauncher {
  /** The flow is mounted: a run was asked for, or a demo was under way when the page closed. */
  wanted = $state(false);
  /** A run was asked for and the flow has not taken it yet. */
  pending = $state(false);
  /** The flow, once mounted. */
  flow = $state.raw<DemoFlow | null>(null);

  get running(): boolean {
    return this.pending || (this.flow?.active ?? false);
  }

  run(): void {
    if (this.running) return;
    this.wanted = true;
    this.pending = true;
  }

  /** A demo was under way when the page closed: mount the flow, which picks it up. */
  restore(): void {
    this.wanted = true;
  }

  /** Hide the demo's banner (not while it runs). */
  close(): void {
    if (!this.running) this.wanted = false;
  }
}

const launchers = new WeakMap<EngineClient, DemoLauncher>();

export function useDemoLauncher(): DemoLauncher {
  const engine = useEngine();
  let launcher = launchers.get(engine);
  if (!launcher) {
    launcher = new DemoLauncher();
    launchers.set(engine, launcher);
  }
  return launcher;
}
