// The page's side of the engine worker: owns the Worker, mirrors its state in rune fields for the
// UI, and drops results that a newer request has superseded. The worker and Comlink load lazily
// (start() is called after the shell is on screen), so the shell never waits for the engine.
import type * as ComlinkModule from 'comlink';
import type { Remote } from 'comlink';
import type { AdapterReport } from '../engine/adapter.ts';
import type { AllocatorStats } from '../engine/allocator.ts';
import {
  errorInfo,
  type DeviceLostInfo,
  type EngineApi,
  type EngineEvent,
  type ErrorInfo,
  type GenerateEvent,
  type GenerateRequest,
  type GenerateResult,
  type LoadModelOptions,
  type LoadModelResult,
  type LoadProgressEvent,
  type ModelCard,
  type ModelSlot,
  type ModelSourceSpec,
  type SelfTestResult,
  type WorkerState,
} from '../engine/api.ts';
import { LabError } from '../engine/errors.ts';
import type { TrainApi } from '../engine/train-api.ts';
import type { DataApi } from '../engine/data-api.ts';

/** `idle`: the worker has not been started yet. */
export type EngineState = 'idle' | WorkerState;

/** Errors meaning "this browser gives us no WebGPU device": the page shows the explanation. */
const NO_WEBGPU = new Set(['WebGpuUnavailableError', 'AdapterRequestError']);

export class EngineClient {
  state = $state<EngineState>('idle');
  /** What the worker is busy with, e.g. "self-test". */
  job = $state<string | null>(null);
  adapter = $state.raw<AdapterReport | null>(null);
  memory = $state.raw<AllocatorStats | null>(null);
  lost = $state.raw<DeviceLostInfo | null>(null);
  error = $state.raw<ErrorInfo | null>(null);
  selfTest = $state.raw<SelfTestResult | null>(null);
  selfTestError = $state.raw<ErrorInfo | null>(null);
  /** The self-test's matmul shape (M×K · K×N). */
  selfTestShape = $state({ M: 64, N: 80, K: 96 });
  /** The model loaded in the worker (null: none, or lost with the device). */
  model = $state.raw<ModelCard | null>(null);
  /** Models of the other slots (teacher, reference, …; see ModelSlot), by slot. */
  slots = $state.raw<Partial<Record<ModelSlot, ModelCard>>>({});

  /** The browser offers no usable WebGPU: show the explanation page instead of the panels. */
  readonly unsupported = $derived(this.adapter === null && this.error !== null && NO_WEBGPU.has(this.error.name));

  #remote: Remote<EngineApi> | null = null;
  #comlink: typeof ComlinkModule | null = null;
  #latest = new Map<string, number>();
  #ticket = 0;
  #selfTestRequest: string | null = null;

  /** Start the worker and acquire a device; safe to call more than once. */
  async start(): Promise<void> {
    if (this.#remote) return;
    if (!('gpu' in navigator) || !navigator.gpu) {
      this.#fail({
        name: 'WebGpuUnavailableError',
        message: window.isSecureContext
          ? 'This browser does not expose WebGPU (navigator.gpu is undefined).'
          : 'WebGPU needs a secure context, and this page is served over plain http from another host.',
      });
      return;
    }
    this.state = 'starting';
    const Comlink = await import('comlink');
    this.#comlink = Comlink;
    const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'engine' });
    // A worker that failed to load or threw uncaught is not trusted again: drop it, so that
    // reacquire() starts a fresh one.
    worker.addEventListener('error', (event) => {
      worker.terminate();
      if (this.#remote === remote) this.#remote = null;
      this.model = null;
      this.slots = {};
      this.#fail({
        name: 'WorkerError',
        message: event.message || 'The engine worker failed to load or crashed.',
        hint: 'Press "Restart engine". If it happens again, the browser console has the details.',
      });
    });
    const remote = Comlink.wrap<EngineApi>(worker);
    this.#remote = remote;
    await remote.onEvent(Comlink.proxy((event: EngineEvent) => this.#onEvent(event)));
    await this.#acquire(() => remote.init());
  }

  /** Get a new device (after a loss, or to retry after an error); restarts a dropped worker. */
  async reacquire(): Promise<void> {
    const remote = this.#remote;
    if (!remote) return this.start();
    await this.#acquire(() => remote.reacquire());
  }

  /** Run the matmul self-test; a newer call supersedes (and cancels) an older one. */
  async runSelfTest(): Promise<void> {
    const remote = this.#remote;
    if (!remote) return;
    const ticket = this.#take('selfTest');
    if (this.#selfTestRequest) void remote.cancel(this.#selfTestRequest);
    const requestId = `self-test-${ticket}`;
    this.#selfTestRequest = requestId;
    try {
      const result = await remote.selfTest({ ...$state.snapshot(this.selfTestShape), requestId });
      if (!this.#isLatest('selfTest', ticket)) return;
      this.selfTest = result;
      this.selfTestError = null;
    } catch (err) {
      if (!this.#isLatest('selfTest', ticket)) return;
      this.selfTest = null;
      this.selfTestError = errorInfo(err);
    } finally {
      if (this.#selfTestRequest === requestId) this.#selfTestRequest = null;
    }
  }

  async refreshMemory(): Promise<void> {
    const remote = this.#remote;
    if (!remote) return;
    const ticket = this.#take('memory');
    const memory = await remote.memory();
    if (this.#isLatest('memory', ticket)) this.memory = memory;
  }

  /** Load a model in the worker (see EngineApi.loadModel); progress goes to `onProgress`. */
  async loadModel(source: ModelSourceSpec, options: LoadModelOptions, onProgress: (e: LoadProgressEvent) => void, requestId: string): Promise<LoadModelResult> {
    const { remote, Comlink } = this.#connection();
    return remote.loadModel(source, options, Comlink.proxy(onProgress), requestId);
  }

  async unloadModel(): Promise<void> {
    await this.#connection().remote.unloadModel();
  }

  /** The model in a slot: the student is `model`. */
  slotCard(slot: ModelSlot): ModelCard | null {
    return slot === 'student' ? this.model : (this.slots[slot] ?? null);
  }

  /** Load a model into a slot (see EngineApi.loadSlot). */
  async loadSlot(slot: ModelSlot, source: ModelSourceSpec, options: LoadModelOptions, onProgress: (e: LoadProgressEvent) => void, requestId: string): Promise<LoadModelResult> {
    const { remote, Comlink } = this.#connection();
    return remote.loadSlot(slot, source, options, Comlink.proxy(onProgress), requestId);
  }

  async unloadSlot(slot: ModelSlot): Promise<void> {
    await this.#connection().remote.unloadSlot(slot);
  }

  /** The worker's data API (src/engine/data-api.ts), with Comlink's proxy/transfer for its sinks and files (src/app/data). */
  data(): { api: Remote<DataApi>; proxy: typeof ComlinkModule.proxy; transfer: typeof ComlinkModule.transfer } {
    const { remote, Comlink } = this.#connection();
    return { api: remote.data, proxy: Comlink.proxy, transfer: Comlink.transfer };
  }

  /** Generate with the loaded model (see EngineApi.generate); tokens and text go to `onEvent`. */
  async generate(request: GenerateRequest, onEvent: (e: GenerateEvent) => void, requestId: string): Promise<GenerateResult> {
    const { remote, Comlink } = this.#connection();
    return remote.generate(request, Comlink.proxy(onEvent), requestId);
  }

  /** Ask a request of the worker to stop (unknown or finished ids are ignored). */
  async cancel(requestId: string): Promise<void> {
    await this.#remote?.cancel(requestId);
  }

  /** The worker's training API (src/engine/train-api.ts), with Comlink's proxy/transfer for its sinks (src/app/train). */
  training(): { api: Remote<TrainApi>; proxy: typeof ComlinkModule.proxy } {
    const { remote, Comlink } = this.#connection();
    return { api: remote.training, proxy: Comlink.proxy };
  }

  #connection(): { remote: Remote<EngineApi>; Comlink: typeof ComlinkModule } {
    if (!this.#remote || !this.#comlink) throw new LabError('EngineNotReadyError', 'The engine has not started yet.', 'Wait until the status bar says "Engine ready".');
    return { remote: this.#remote, Comlink: this.#comlink };
  }

  /** Diagnostics: make the worker lose its device as a real loss would. */
  async simulateDeviceLoss(): Promise<void> {
    await this.#remote?.simulateDeviceLoss();
  }

  async #acquire(request: () => Promise<AdapterReport>): Promise<void> {
    const ticket = this.#take('acquire');
    this.#take('selfTest'); // results computed on the old device are stale
    this.selfTest = null;
    this.selfTestError = null;
    try {
      const adapter = await request();
      if (!this.#isLatest('acquire', ticket)) return;
      this.adapter = adapter;
      this.lost = null;
      this.error = null;
    } catch (err) {
      if (this.#isLatest('acquire', ticket)) this.#fail(errorInfo(err));
      return;
    }
    await this.runSelfTest();
  }

  #onEvent(event: EngineEvent): void {
    switch (event.type) {
      case 'state':
        this.state = event.state;
        this.job = event.job;
        break;
      case 'lost':
        this.lost = event.lost;
        this.state = 'lost';
        this.model = null;
        this.slots = {};
        this.#take('selfTest'); // a verdict about the lost device no longer holds
        this.selfTest = null;
        break;
      case 'memory':
        this.memory = event.memory;
        break;
      case 'model':
        this.model = event.model;
        break;
      case 'slot': {
        const { [event.slot]: _old, ...rest } = this.slots;
        this.slots = event.model ? { ...rest, [event.slot]: event.model } : rest;
        break;
      }
    }
  }

  #fail(error: ErrorInfo): void {
    this.error = error;
    this.adapter = null;
    this.state = 'error';
  }

  #take(kind: string): number {
    const ticket = ++this.#ticket;
    this.#latest.set(kind, ticket);
    return ticket;
  }

  #isLatest(kind: string, ticket: number): boolean {
    return this.#latest.get(kind) === ticket;
  }
}
