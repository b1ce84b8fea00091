// The Data panel's preference data sets, kept for the page's lifetime: the sets stored in this
// browser (src/store/datasets.ts), the one selected (remembered across reloads), importing a file or
// the bundled demo pairs with the error in place, and the preview of the selected set rendered by
// the worker with the student's (or the teacher's) chat template at the chosen max length.
import { errorInfo, type ErrorInfo } from '../../engine/api.ts';
import type { DataPreview } from '../../engine/data-api.ts';
import { deleteDataset, importPreferenceData, listDatasets, type DatasetRecord } from '../../store/datasets.ts';
import { openLabDb } from '../../store/db.ts';
import type { EngineClient } from '../engine-client.svelte.ts';
import { useEngine } from '../engine-context.ts';

const SELECTED_SETTING = 'data.selected';
const MAX_LENGTH_SETTING = 'data.maxLength';
export const DEFAULT_MAX_LENGTH = 512;
/** Rendered examples shown in the preview. */
const PREVIEW_EXAMPLES = 3;
const DEMO_PAIRS = 'demo/data/pairs.train.jsonl';

export type RenderSlot = 'student' | 'teacher';

export class DatasetsState {
  list = $state.raw<DatasetRecord[]>([]);
  selectedId = $state<string | null>(null);
  /** What is being imported now (a file name), or null. */
  importing = $state<string | null>(null);
  error = $state.raw<ErrorInfo | null>(null);
  note = $state<string | null>(null);
  maxLength = $state(DEFAULT_MAX_LENGTH);
  /** Which loaded model renders the preview, when both are loaded. */
  renderWith = $state<RenderSlot>('student');
  preview = $state.raw<DataPreview | null>(null);
  previewing = $state(false);
  previewError = $state.raw<ErrorInfo | null>(null);
  /** The saved selection and max length are back (changes are saved from then on). */
  restored = $state(false);

  // Getters, not $derived: this state outlives the panel that created it, and a derived would be
  // torn down with that panel.
  get selected(): DatasetRecord | null {
    return this.list.find((d) => d.id === this.selectedId) ?? null;
  }

  /** The slot that renders: the chosen one if loaded, else the other one, else none. */
  get renderSlot(): RenderSlot | null {
    const other: RenderSlot = this.renderWith === 'student' ? 'teacher' : 'student';
    if (this.engine.slotCard(this.renderWith)) return this.renderWith;
    return this.engine.slotCard(other) ? other : null;
  }

  #ticket = 0;

  constructor(private readonly engine: EngineClient) {
    void this.#restore();
  }

  async #restore(): Promise<void> {
    try {
      const db = await openLabDb();
      const [selected, maxLength] = await Promise.all([db.get('settings', SELECTED_SETTING), db.get('settings', MAX_LENGTH_SETTING)]);
      if (typeof maxLength === 'number' && Number.isInteger(maxLength) && maxLength >= 2) this.maxLength = maxLength;
      await this.refresh(typeof selected === 'string' ? selected : null);
    } catch (err) {
      this.error = errorInfo(err);
    } finally {
      this.restored = true;
    }
  }

  async refresh(select: string | null = this.selectedId): Promise<void> {
    this.list = await listDatasets(await openLabDb());
    const keep = this.list.some((d) => d.id === select) ? select : (this.list[0]?.id ?? null);
    if (keep !== this.selectedId) await this.select(keep);
  }

  async select(id: string | null): Promise<void> {
    this.selectedId = id;
    this.preview = null;
    this.previewError = null;
    await (await openLabDb()).put('settings', id, SELECTED_SETTING);
  }

  /** Remember the max length (a valid one) for the next visit. */
  async saveMaxLength(): Promise<void> {
    const value = this.maxLength;
    if (this.restored && Number.isInteger(value) && value >= 2) await (await openLabDb()).put('settings', value, MAX_LENGTH_SETTING);
  }

  /** Store a picked or dropped file (validated first: errors name the file and line). */
  async importFile(file: File): Promise<void> {
    await this.#import(file.name, () => file.text());
  }

  /** The demo pairs that ship with the lab (public/demo/data/). */
  async importDemo(): Promise<void> {
    await this.#import('pairs.train.jsonl', async () => {
      const response = await fetch(new URL(DEMO_PAIRS, document.baseURI));
      if (!response.ok) throw new Error(`The demo pairs are not part of this build (HTTP ${response.status} for ${DEMO_PAIRS}).`);
      return response.text();
    });
  }

  async #import(fileName: string, read: () => Promise<string>): Promise<void> {
    if (this.importing) return;
    this.importing = fileName;
    this.error = null;
    this.note = null;
    try {
      const { record, replaced } = await importPreferenceData(await openLabDb(), { fileName, text: await read() });
      this.note = replaced ? `${record.name} was already stored (same bytes); it is selected.` : null;
      await this.refresh(record.id);
      await this.select(record.id);
    } catch (err) {
      this.error = errorInfo(err);
    } finally {
      this.importing = null;
    }
  }

  async remove(row: DatasetRecord): Promise<void> {
    try {
      await deleteDataset(await openLabDb(), row.id);
      this.note = `Deleted ${row.name}. Teacher caches made from it stay until you delete them.`;
      await this.refresh();
    } catch (err) {
      this.error = errorInfo(err);
    }
  }

  /** Render the selected set with the loaded model (stale answers are dropped). */
  async refreshPreview(): Promise<void> {
    const ticket = ++this.#ticket;
    const slot = this.renderSlot;
    if (!this.selectedId || !slot || !this.engine.slotCard(slot)) {
      this.preview = null;
      this.previewError = null;
      return;
    }
    this.previewing = true;
    try {
      const preview = await this.engine.data().api.preview({ datasetId: this.selectedId, slot, maxLength: this.maxLength, examples: PREVIEW_EXAMPLES });
      if (ticket !== this.#ticket) return;
      this.preview = preview;
      this.previewError = null;
    } catch (err) {
      if (ticket !== this.#ticket) return;
      this.preview = null;
      this.previewError = errorInfo(err);
    } finally {
      if (ticket === this.#ticket) this.previewing = false;
    }
  }
}

const states = new WeakMap<EngineClient, DatasetsState>();

export function useDatasets(): DatasetsState {
  const engine = useEngine();
  let state = states.get(engine);
  if (!state) {
    state = new DatasetsState(engine);
    states.set(engine, state);
  }
  return state;
}
