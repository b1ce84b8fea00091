// The teacher and the reference model of the Data panel: loads into the worker's model slots
// (see ModelSlot in src/engine/api.ts) with their progress, cancel and errors, kept for the page's
// lifetime. Sources are the Models panel's (repo id on its hub, URL, folder, the weight cache), and
// remote loads are remembered in the `models` store so they list as cached there too.
import { errorInfo, type ErrorInfo, type ModelCard, type ModelSourceSpec } from '../../engine/api.ts';
import type { ModelLocation } from '../../engine/data-api.ts';
import { saveModelRecord } from '../../store/cached-models.ts';
import { openLabDb } from '../../store/db.ts';
import type { EngineClient } from '../engine-client.svelte.ts';
import { useEngine } from '../engine-context.ts';
import { locationOf, useModels, type CachedModel, type LoadInProgress, type ModelsState } from '../models/models.svelte.ts';

export type DistillSlot = 'teacher' | 'reference';

export const SLOT_TITLE: Record<DistillSlot, string> = { teacher: 'Teacher', reference: 'Reference model' };

/** Where the model of a card can be loaded from again (null: a local folder). */
export function locationOfCard(card: ModelCard | null, hubBase: string): ModelLocation | null {
  if (!card || (card.source.kind !== 'hub' && card.source.kind !== 'url')) return null;
  return { text: locationOf(card.source.id, card.source.revision), hubBase };
}

export class SlotLoads {
  loading = $state<Partial<Record<DistillSlot, LoadInProgress>>>({});
  errors = $state.raw<Partial<Record<DistillSlot, ErrorInfo & { label: string }>>>({});
  notes = $state<Partial<Record<DistillSlot, string>>>({});

  #ticket = 0;

  constructor(
    private readonly engine: EngineClient,
    readonly models: ModelsState,
  ) {}

  card(slot: DistillSlot): ModelCard | null {
    return this.engine.slotCard(slot);
  }

  location(slot: DistillSlot): ModelLocation | null {
    return locationOfCard(this.card(slot), this.models.hubBase);
  }

  /** Load into a slot; resolves true when the model is loaded. */
  async load(slot: DistillSlot, source: ModelSourceSpec, label: string): Promise<boolean> {
    if (this.loading[slot]) return false;
    const requestId = `${slot}-load-${++this.#ticket}`;
    this.loading[slot] = { requestId, label, origin: 'form', progress: null };
    this.errors = { ...this.errors, [slot]: undefined };
    this.notes[slot] = undefined;
    try {
      const { record } = await this.engine.loadSlot(slot, source, {}, (p) => {
        const now = this.loading[slot];
        if (now?.requestId === requestId) now.progress = p;
      }, requestId);
      if (record) await saveModelRecord(await openLabDb(), record);
      await this.models.refreshCached();
      return true;
    } catch (err) {
      const info = errorInfo(err);
      if (info.name === 'CancelledError' || info.name === 'AbortError') this.notes[slot] = `Loading ${label} was cancelled.`;
      else this.errors = { ...this.errors, [slot]: { ...info, label } };
      await this.models.refreshCached();
      return false;
    } finally {
      this.loading[slot] = undefined;
    }
  }

  loadLocation(slot: DistillSlot, location: ModelLocation, label = location.text): Promise<boolean> {
    return this.load(slot, { kind: 'location', text: location.text, hubBase: location.hubBase }, label);
  }

  /** A repo id or URL as typed (repo ids go to the Models panel's hub). */
  loadTyped(slot: DistillSlot, text: string): Promise<boolean> {
    return this.loadLocation(slot, { text: text.trim(), hubBase: this.models.hubBase });
  }

  loadCached(slot: DistillSlot, row: CachedModel): Promise<boolean> {
    return this.loadTyped(slot, locationOf(row.sourceId, row.revision));
  }

  cancel(slot: DistillSlot): void {
    const loading = this.loading[slot];
    if (loading) void this.engine.cancel(loading.requestId);
  }

  async unload(slot: DistillSlot): Promise<void> {
    const name = this.card(slot)?.name;
    try {
      await this.engine.unloadSlot(slot);
      this.notes[slot] = name ? `Unloaded ${name}; its GPU memory is free.` : undefined;
    } catch (err) {
      this.errors = { ...this.errors, [slot]: { ...errorInfo(err), label: name ?? 'the model' } };
    }
  }

  report(slot: DistillSlot, err: unknown, label: string): void {
    this.errors = { ...this.errors, [slot]: { ...errorInfo(err), label } };
  }

  dismiss(slot: DistillSlot): void {
    this.errors = { ...this.errors, [slot]: undefined };
  }
}

const states = new WeakMap<EngineClient, SlotLoads>();

export function useSlotLoads(): SlotLoads {
  const engine = useEngine();
  let state = states.get(engine);
  if (!state) {
    state = new SlotLoads(engine, useModels());
    states.set(engine, state);
  }
  return state;
}
