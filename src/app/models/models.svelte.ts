// The Models panel's state, kept for the page's lifetime (a load goes on while another panel is
// shown): the load in progress with its progress and cancel, the last error and where it belongs,
// the cached models (records of the `models` store + the weight cache's bytes), the hub address,
// and whether the built-in demo model ships with this build.
import { errorInfo, type ErrorInfo, type LoadModelOptions, type LoadProgressEvent, type ModelSourceSpec } from '../../engine/api.ts';
import { forgetModel, listModelRecords, saveModelRecord, summarizeCache, type ModelRecord } from '../../store/cached-models.ts';
import { openLabDb } from '../../store/db.ts';
import { HUB_BASE } from '../../formats/source.ts';
import { openBrowserWeightCache, type WeightCache } from '../../store/weight-cache.ts';
import { demoAvailable, demoUrl } from '../demo/kit.ts';
import type { EngineClient } from '../engine-client.svelte.ts';
import { useEngine } from '../engine-context.ts';

/** Where a load was started from, so its error shows there. */
export type LoadOrigin = 'form' | 'demo' | { cached: string };

export interface LoadInProgress {
  requestId: string;
  label: string;
  origin: LoadOrigin;
  progress: LoadProgressEvent | null;
}

export interface LoadError extends ErrorInfo {
  label: string;
  origin: LoadOrigin;
}

/** One row of the cached-models list. */
export interface CachedModel {
  /** `${sourceId}@${revision}` */
  id: string;
  sourceId: string;
  revision: string;
  /** The model's record; null for the files of a load that did not finish (cancelled, failed). */
  record: ModelRecord | null;
  bytes: number;
  files: number;
}

export type DemoState = 'unknown' | 'checking' | 'available' | 'missing';

const HUB_SETTING = 'models.hubBase';

/** What a person would type to load this source again. */
export function locationOf(sourceId: string, revision: string): string {
  if (sourceId.startsWith('hf:')) return revision && revision !== 'main' ? `${sourceId.slice(3)}@${revision}` : sourceId.slice(3);
  return sourceId.replace(/^url:/, '');
}

export class ModelsState {
  loading = $state<LoadInProgress | null>(null);
  error = $state.raw<LoadError | null>(null);
  /** A quiet line after a cancelled load or a delete. */
  note = $state<string | null>(null);
  cached = $state.raw<CachedModel[]>([]);
  cachedError = $state<string | null>(null);
  hubBase = $state(HUB_BASE);
  demo = $state<DemoState>('unknown');

  #ticket = 0;
  #cache: Promise<WeightCache | null> | null = null;

  constructor(private readonly engine: EngineClient) {
    void this.#restoreHub();
    void this.refreshCached();
  }

  #weightCache(): Promise<WeightCache | null> {
    this.#cache ??= openBrowserWeightCache().catch(() => null);
    return this.#cache;
  }

  async #restoreHub(): Promise<void> {
    const saved = await (await openLabDb()).get('settings', HUB_SETTING).catch(() => undefined);
    if (typeof saved === 'string' && saved) this.hubBase = saved;
  }

  /** Use another hub (a mirror, or a local server in tests); kept across reloads. */
  async setHubBase(value: string): Promise<void> {
    this.hubBase = value.trim().replace(/\/+$/, '') || HUB_BASE;
    await (await openLabDb()).put('settings', this.hubBase, HUB_SETTING);
  }

  /** Look for the demo student once (on demand: a build without it answers 404, which the console reports). */
  async checkDemo(): Promise<void> {
    if (this.demo !== 'unknown') return;
    this.demo = 'checking';
    this.demo = (await demoAvailable()) ? 'available' : 'missing';
  }

  /** Load from what was typed in the form (repo id or URL). */
  loadLocation(text: string, token?: string): Promise<void> {
    return this.load({ kind: 'location', text: text.trim(), hubBase: this.hubBase, token: token || undefined }, text.trim(), 'form');
  }

  loadDemo(): Promise<void> {
    return this.load({ kind: 'location', text: demoUrl('student') }, 'the demo student', 'demo', { name: 'demo student' });
  }

  loadCached(row: CachedModel): Promise<void> {
    const text = locationOf(row.sourceId, row.revision);
    return this.load({ kind: 'location', text, hubBase: this.hubBase }, text, { cached: row.id });
  }

  /** `label` names the load in its progress and errors; `options.name`, if given, names the model itself. */
  async load(source: ModelSourceSpec, label: string, origin: LoadOrigin, options: LoadModelOptions = {}): Promise<void> {
    if (this.loading) return;
    const requestId = `load-${++this.#ticket}`;
    this.loading = { requestId, label, origin, progress: null };
    this.error = null;
    this.note = null;
    try {
      const { record } = await this.engine.loadModel(source, options, (p) => {
        if (this.loading?.requestId === requestId) this.loading.progress = p;
      }, requestId);
      if (record) await saveModelRecord(await openLabDb(), record);
      await this.refreshCached();
    } catch (err) {
      const info = errorInfo(err);
      if (info.name === 'CancelledError' || info.name === 'AbortError') {
        this.note = `Loading ${label} was cancelled.${this.engine.model ? ` ${this.engine.model.name} is still loaded.` : ''}`;
      } else {
        this.error = { ...info, label, origin };
      }
      // A cancelled or failed download may still have completed some files.
      await this.refreshCached();
    } finally {
      this.loading = null;
    }
  }

  /** Free the loaded model's GPU memory. */
  async unload(): Promise<void> {
    const name = this.engine.model?.name;
    try {
      await this.engine.unloadModel();
      this.note = name ? `Unloaded ${name}; its GPU memory is free.` : null;
    } catch (err) {
      this.error = { ...errorInfo(err), label: name ?? 'the model', origin: 'form' };
    }
  }

  /** An error of the panel itself (a folder picker that failed) shown where loads report theirs. */
  report(err: unknown, label: string, origin: LoadOrigin): void {
    this.error = { ...errorInfo(err), label, origin };
  }

  cancel(): void {
    if (this.loading) void this.engine.cancel(this.loading.requestId);
  }

  dismissError(): void {
    this.error = null;
  }

  async refreshCached(): Promise<void> {
    try {
      const db = await openLabDb();
      const cache = await this.#weightCache();
      const records = new Map((await listModelRecords(db)).filter((r) => r.cached).map((r) => [r.id, r]));
      const groups = cache ? await summarizeCache(cache) : [];
      const rows: CachedModel[] = groups.map((g) => {
        const id = `${g.sourceId}@${g.revision}`;
        return { id, sourceId: g.sourceId, revision: g.revision, record: records.get(id) ?? null, bytes: g.totalBytes, files: g.files.length };
      });
      // Most recently used first; unfinished downloads last.
      rows.sort((a, b) => (b.record?.lastUsedAt ?? -1) - (a.record?.lastUsedAt ?? -1));
      this.cached = rows;
      this.cachedError = cache ? null : 'This browser gives the page no private file system (OPFS), so models are not cached for offline use.';
    } catch (err) {
      this.cachedError = `The list of cached models could not be read: ${errorInfo(err).message}`;
    }
  }

  async deleteCached(row: CachedModel): Promise<void> {
    try {
      const db = await openLabDb();
      const cache = await this.#weightCache();
      if (row.record) await forgetModel(db, cache, row.id);
      else await cache?.deleteSource(row.sourceId, row.revision);
    } catch (err) {
      this.cachedError = `Deleting ${locationOf(row.sourceId, row.revision)} failed: ${errorInfo(err).message}`;
      return;
    }
    await this.refreshCached();
    const name = locationOf(row.sourceId, row.revision);
    const loaded = this.engine.model?.id === row.id;
    this.note = `Deleted the cached files of ${name}.${loaded ? ' The model stays loaded until you load another one or reload the page.' : ''}`;
  }
}

const states = new WeakMap<EngineClient, ModelsState>();

/** The panel's state for this page (created on first use). */
export function useModels(): ModelsState {
  const engine = useEngine();
  let state = states.get(engine);
  if (!state) {
    state = new ModelsState(engine);
    states.set(engine, state);
  }
  return state;
}
