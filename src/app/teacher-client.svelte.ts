// The page's side of the teacher worker (workers/teacher.worker.ts): an ONNX teacher loaded through
// transformers.js, with its load progress, cancel and errors, and the cache builds it runs. The
// worker (and transformers.js with onnxruntime-web in it) is created on the first load only; the
// state lasts the page's lifetime, like the panels' states.
import type * as ComlinkModule from 'comlink';
import type { Remote } from 'comlink';
import { errorInfo, type ErrorInfo, type LoadProgressEvent, type ModelSourceSpec } from '../engine/api.ts';
import type { CacheBuildEvent, CacheBuildRequest } from '../engine/data-api.ts';
import type { OnnxLoadOptions, OnnxTeacherCard, StudentIdentity, TeacherApi } from '../engine/teacher-api.ts';
import type { TeacherCacheSummary } from '../store/teacher-caches.ts';
import type { LoadInProgress } from './models/models.svelte.ts';

export class TeacherClient {
  card = $state.raw<OnnxTeacherCard | null>(null);
  loading = $state<LoadInProgress | null>(null);
  error = $state.raw<(ErrorInfo & { label: string }) | null>(null);
  note = $state<string | null>(null);

  #remote: Remote<TeacherApi> | null = null;
  #comlink: typeof ComlinkModule | null = null;
  #ticket = 0;

  async #connect(): Promise<{ remote: Remote<TeacherApi>; Comlink: typeof ComlinkModule }> {
    if (!this.#remote || !this.#comlink) {
      const Comlink = await import('comlink');
      const worker = new Worker(new URL('../../workers/teacher.worker.ts', import.meta.url), { type: 'module', name: 'teacher' });
      worker.addEventListener('error', (event) => {
        worker.terminate();
        this.#remote = null;
        this.card = null;
        this.error = { name: 'WorkerError', message: event.message || 'The teacher worker failed to load or crashed.', hint: 'Load the ONNX teacher again.', label: 'the ONNX teacher' };
      });
      this.#comlink = Comlink;
      this.#remote = Comlink.wrap<TeacherApi>(worker);
    }
    return { remote: this.#remote, Comlink: this.#comlink };
  }

  /** Load an ONNX teacher; resolves true when it is loaded (the previous one stays until then). */
  async load(source: ModelSourceSpec, label: string, options: OnnxLoadOptions = {}): Promise<boolean> {
    if (this.loading) return false;
    const requestId = `onnx-load-${++this.#ticket}`;
    this.loading = { requestId, label, origin: 'form', progress: null };
    this.error = null;
    this.note = null;
    try {
      const { remote, Comlink } = await this.#connect();
      const onProgress = (p: LoadProgressEvent) => {
        if (this.loading?.requestId === requestId) this.loading.progress = p;
      };
      this.card = await remote.load(source, options, Comlink.proxy(onProgress), requestId);
      return true;
    } catch (err) {
      const info = errorInfo(err);
      if (info.name === 'CancelledError' || info.name === 'AbortError') this.note = `Loading ${label} was cancelled.`;
      else this.error = { ...info, label };
      return false;
    } finally {
      this.loading = null;
    }
  }

  cancelLoad(): void {
    if (this.loading) this.cancel(this.loading.requestId);
  }

  async unload(): Promise<void> {
    const name = this.card?.name;
    try {
      await this.#remote?.unload();
      this.card = null;
      this.note = name ? `Unloaded ${name}.` : null;
    } catch (err) {
      this.report(err, name ?? 'the ONNX model');
    }
  }

  /** Build (or resume) a cache with the loaded teacher; events go to `onEvent`. */
  async buildCache(request: CacheBuildRequest, student: StudentIdentity | null, onEvent: (e: CacheBuildEvent) => void, requestId: string): Promise<TeacherCacheSummary> {
    const { remote, Comlink } = await this.#connect();
    return remote.buildCache(request, student, Comlink.proxy(onEvent), requestId);
  }

  cancel(requestId: string): void {
    void this.#remote?.cancel(requestId);
  }

  report(err: unknown, label: string): void {
    this.error = { ...errorInfo(err), label };
  }

  dismiss(): void {
    this.error = null;
  }
}

let client: TeacherClient | null = null;

/** The page's one teacher client (no worker until the first load). */
export function useTeacher(): TeacherClient {
  client ??= new TeacherClient();
  return client;
}
