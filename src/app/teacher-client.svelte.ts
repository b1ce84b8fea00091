// The page's side of the teacher worker (workers/teacher.worker.ts): its two ONNX models loaded
// through transformers.js, each with its load progress, cancel and errors — the teacher, with the
// cache builds it runs, and a chat model that plays in the Arena and in batch runs. The worker (and
// transformers.js with onnxruntime-web in it) is created on the first load only and shared by both;
// the states last the page's lifetime, like the panels' states.
import type * as ComlinkModule from 'comlink';
import type { Remote } from 'comlink';
import { errorInfo, type ErrorInfo, type LoadProgressEvent, type ModelSourceSpec } from '../engine/api.ts';
import type { CacheBuildEvent, CacheBuildRequest } from '../engine/data-api.ts';
import type { OnnxLoadOptions, OnnxSlot, OnnxTeacherCard, StudentIdentity, TeacherApi } from '../engine/teacher-api.ts';
import type { LocalGenerator } from '../llm/local-engine.ts';
import type { TeacherCacheSummary } from '../store/teacher-caches.ts';
import type { LoadInProgress } from './models/models.svelte.ts';

interface Connection {
  remote: Remote<TeacherApi>;
  Comlink: typeof ComlinkModule;
}

let connection: Promise<Connection> | null = null;
const clients: TeacherClient[] = [];

/** The one teacher worker, started on first use; a crash tells every client its model is gone. */
function connect(): Promise<Connection> {
  connection ??= import('comlink').then((Comlink) => {
    const worker = new Worker(new URL('../../workers/teacher.worker.ts', import.meta.url), { type: 'module', name: 'teacher' });
    worker.addEventListener('error', (event) => {
      worker.terminate();
      connection = null;
      for (const client of clients) client.lost(event.message);
    });
    return { remote: Comlink.wrap<TeacherApi>(worker), Comlink };
  });
  return connection;
}

export class TeacherClient {
  card = $state.raw<OnnxTeacherCard | null>(null);
  loading = $state<LoadInProgress | null>(null);
  error = $state.raw<(ErrorInfo & { label: string }) | null>(null);
  note = $state<string | null>(null);

  #ticket = 0;

  /** `noun` names the slot's model in messages ("the ONNX teacher"). */
  constructor(
    readonly slot: OnnxSlot,
    private readonly noun: string,
  ) {
    clients.push(this);
  }

  /** The worker failed to start or crashed: the model is gone. */
  lost(message: string): void {
    if (!this.card && !this.loading) return;
    this.card = null;
    this.error = { name: 'WorkerError', message: message || 'The teacher worker failed to load or crashed.', hint: `Load ${this.noun} again.`, label: this.noun };
  }

  /** Load the slot's ONNX model; resolves true when it is loaded (the previous one stays until then). */
  async load(source: ModelSourceSpec, label: string, options: OnnxLoadOptions = {}): Promise<boolean> {
    if (this.loading) return false;
    const requestId = `onnx-${this.slot}-load-${++this.#ticket}`;
    this.loading = { requestId, label, origin: 'form', progress: null };
    this.error = null;
    this.note = null;
    try {
      const { remote, Comlink } = await connect();
      const onProgress = (p: LoadProgressEvent) => {
        if (this.loading?.requestId === requestId) this.loading.progress = p;
      };
      this.card = await remote.load(source, { ...options, slot: this.slot }, Comlink.proxy(onProgress), requestId);
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
      if (connection) await (await connection).remote.unload(this.slot);
      this.card = null;
      this.note = name ? `Unloaded ${name}.` : null;
    } catch (err) {
      this.report(err, name ?? this.noun);
    }
  }

  /** The chat slot's model as a LocalGenerator (LocalEngineChat puts it behind the chat interface). */
  generator(): LocalGenerator {
    return {
      generate: async (messages, options, onToken) => {
        const { remote, Comlink } = await connect();
        return remote.generate(messages, options, Comlink.proxy(onToken));
      },
      cancel: (requestId) => this.cancel(requestId),
    };
  }

  /** Build (or resume) a cache with the loaded teacher; events go to `onEvent`. */
  async buildCache(request: CacheBuildRequest, student: StudentIdentity | null, onEvent: (e: CacheBuildEvent) => void, requestId: string): Promise<TeacherCacheSummary> {
    const { remote, Comlink } = await connect();
    return remote.buildCache(request, student, Comlink.proxy(onEvent), requestId);
  }

  cancel(requestId: string): void {
    void connection?.then(({ remote }) => remote.cancel(requestId));
  }

  report(err: unknown, label: string): void {
    this.error = { ...errorInfo(err), label };
  }

  dismiss(): void {
    this.error = null;
  }
}

let teacher: TeacherClient | null = null;
let chat: TeacherClient | null = null;

/** The page's ONNX teacher (no worker until the first load). */
export function useTeacher(): TeacherClient {
  teacher ??= new TeacherClient('teacher', 'the ONNX teacher');
  return teacher;
}

/** The page's ONNX chat model, for the Arena and batch runs (no worker until the first load). */
export function useOnnxChat(): TeacherClient {
  chat ??= new TeacherClient('chat', 'the ONNX model');
  return chat;
}
