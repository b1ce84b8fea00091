// The engine worker: the only place in the page that touches the GPU. It exposes `EngineApi`
// (src/engine/api.ts, which documents the conventions) through Comlink. The loaded model lives in
// ModelHost (./model-host.ts), the other slots' models (teacher, reference…) in ModelSlots; data
// sets and teacher caches are DataHost's (./data-host.ts).
import * as Comlink from 'comlink';
import type { AdapterReport } from '../src/engine/adapter.ts';
import type {
  DeviceLostInfo,
  EngineApi,
  EngineEvent,
  ErrorInfo,
  RequestId,
  SelfTestOptions,
  SelfTestResult,
  Sink,
  WorkerState,
} from '../src/engine/api.ts';
import { errorInfo, STUDENT_SLOT } from '../src/engine/api.ts';
import { CancelledError, DeviceLostError, LabError, ShapeError } from '../src/engine/errors.ts';
import { Gpu } from '../src/engine/gpu.ts';
import { matmul } from '../src/engine/kernels/matmul/matmul.ts';
import { matmulRef } from '../src/engine/kernels/matmul/reference.ts';
import { ModelHost, ModelSlots } from './model-host.ts';
import { DataHost } from './data-host.ts';
import type { LoadModelOptions, ModelSourceSpec } from '../src/engine/api.ts';
import { openLabDb } from '../src/store/db.ts';
import { TrainHost } from './train-host.ts';

let gpu: Gpu | null = null;
let acquiring: Promise<AdapterReport> | null = null;
let state: WorkerState = 'starting';
let job: string | null = null;
let lost: DeviceLostInfo | null = null;
let lastError: ErrorInfo | null = null;
const sinks: Sink<EngineEvent>[] = [];
const models = new ModelHost((model) => emit({ type: 'model', model }));
/** Every model slot; 'student' is `models` (see ModelSlot in src/engine/api.ts). */
const slots = new ModelSlots(models, (slot, model) => emit({ type: 'slot', slot, model }));
/** How the loaded model was loaded: training loads it again (fresh weights, or after a device loss). */
let modelLoad: { source: ModelSourceSpec; options: LoadModelOptions } | null = null;
const reloadModel = async (signal: AbortSignal) => {
  if (!modelLoad) throw new LabError('NoModelError', 'No model is loaded.', 'Load the student in the Models panel first.');
  await models.load(requireGpu(), modelLoad.source, modelLoad.options, () => undefined, signal);
};
const training = new TrainHost({
  runJob: (label, requestId, body) => runJob(label, requestId, (signal) => body(signal)),
  gpu: requireGpu,
  model: () => models.current,
  reloadModel,
  recover: async (signal) => {
    await api.reacquire();
    setState('busy', 'training');
    await reloadModel(signal);
  },
  weightsChanged: () => models.weightsChanged(),
  slot: (slot) => slots.current(slot),
  db: () => openLabDb(),
});

const data = new DataHost({
  runJob: (label, requestId, body) => runJob(label, requestId, (signal) => body(signal)),
  slot: (slot) => slots.current(slot),
  db: () => openLabDb(),
});

/** Queued or running requests by id; `cancel(id)` aborts its controller. */
const pending = new Map<RequestId, AbortController>();
/** GPU jobs run one at a time, in call order. */
let queue: Promise<unknown> = Promise.resolve();

function emit(event: EngineEvent): void {
  for (const sink of sinks) sink(event);
}

function setState(next: WorkerState, label: string | null): void {
  state = next;
  job = label;
  emit({ type: 'state', state, job });
}

function emitMemory(): void {
  if (gpu) emit({ type: 'memory', memory: gpu.memory() });
}

function requireGpu(): Gpu {
  if (gpu && !gpu.isLost) return gpu;
  if (lost) throw new DeviceLostError(`The GPU device was lost (${lost.reason}).`, 'Press "Re-acquire GPU" in the status bar.');
  throw new LabError('EngineNotReadyError', 'The engine has no GPU device yet.', 'Wait until the status bar says "Engine ready".');
}

async function acquire(): Promise<AdapterReport> {
  setState('starting', 'acquiring a GPU device');
  try {
    const next = await Gpu.create(navigator.gpu);
    gpu = next;
    lost = null;
    lastError = null;
    void next.lost.then((info) => {
      if (gpu !== next) return; // a device we replaced on purpose
      lost = { reason: info.reason, message: info.message };
      slots.forgetLost();
      emit({ type: 'lost', lost });
      setState('lost', null);
    });
    setState('ready', null);
    emitMemory();
    return next.report;
  } catch (err) {
    lastError = errorInfo(err);
    setState('error', null);
    throw err;
  }
}

function acquireOnce(): Promise<AdapterReport> {
  acquiring ??= acquire().finally(() => (acquiring = null));
  return acquiring;
}

/**
 * Queue a GPU job. Its signal aborts on `cancel(requestId)` with a CancelledError as the reason, so
 * code that throws `signal.reason` (or calls `stopIfCancelled`) rejects with a CancelledError.
 */
function runJob<T>(label: string, requestId: RequestId | undefined, body: (signal: AbortSignal, stopIfCancelled: () => void) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  if (requestId) pending.set(requestId, controller);
  const stopIfCancelled = () => controller.signal.throwIfAborted();
  const run = async (): Promise<T> => {
    try {
      stopIfCancelled();
      requireGpu();
      setState('busy', label);
      return await body(controller.signal, stopIfCancelled);
    } finally {
      if (requestId && pending.get(requestId) === controller) pending.delete(requestId);
      if (state === 'busy') setState('ready', null);
      emitMemory();
    }
  };
  const result = queue.then(run, run);
  queue = result.catch(() => undefined);
  return result;
}

function checkDim(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1 || value > 2048) {
    throw new ShapeError(`self-test: ${name} must be an integer in 1..2048, got ${value}.`);
  }
}

function randomUniform(n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.random() * 2 - 1;
  return out;
}

async function selfTest({ M, N, K, requestId }: SelfTestOptions): Promise<SelfTestResult> {
  checkDim('M', M);
  checkDim('N', N);
  checkDim('K', K);
  return runJob('self-test', requestId, async (_signal, stopIfCancelled) => {
    const g = requireGpu();
    const a = randomUniform(M * K);
    const b = randomUniform(K * N);
    const t0 = performance.now();
    const ta = g.upload(a, [M, K], 'f32', 'selftest.a');
    const tb = g.upload(b, [K, N], 'f32', 'selftest.b');
    const tc = matmul(g, ta, tb);
    try {
      const got = await g.readF32(tc);
      const ms = performance.now() - t0;
      stopIfCancelled();
      const want = matmulRef({ a, b, M, N, K });
      let maxAbsError = 0;
      for (let i = 0; i < want.length; i++) maxAbsError = Math.max(maxAbsError, Math.abs(got[i] - want[i]));
      // K products of magnitude ≤ 1 summed in f32: observed errors are ~1e-6; K·2⁻²⁰ leaves wide
      // headroom while a wrong kernel (a missed term, a wrong index) is off by 1e-2 or more.
      const tolerance = K * 2 ** -20;
      return { M, N, K, maxAbsError, tolerance, passed: maxAbsError <= tolerance, ms };
    } finally {
      ta.release();
      tb.release();
      tc.release();
    }
  });
}

const api: EngineApi = {
  async init() {
    if (gpu && !gpu.isLost) return gpu.report;
    return acquireOnce();
  },
  async status() {
    return { state, adapter: gpu?.report ?? null, model: models.card, job, lost, error: lastError };
  },
  async memory() {
    return gpu ? gpu.memory() : null;
  },
  async reacquire() {
    const old = gpu;
    gpu = null;
    slots.forgetLost(); // their buffers belong to the old device
    if (old && !old.isLost) old.destroy();
    return acquireOnce();
  },
  async onEvent(sink) {
    sinks.push(sink);
  },
  selfTest,
  async cancel(requestId) {
    pending.get(requestId)?.abort(new CancelledError('The request was cancelled.'));
  },
  loadModel(source, options, sink, requestId) {
    return runJob('loading a model', requestId, (signal) => models.load(requireGpu(), source, options, (e) => sink(e), signal)).then((r) => ((modelLoad = { source, options }), r));
  },
  unloadModel() {
    return runJob('unloading the model', undefined, async () => models.unload());
  },
  generate(request, sink, requestId) {
    const slot = request.slot ?? STUDENT_SLOT;
    return runJob(slot === STUDENT_SLOT ? 'generating' : `generating with the ${slot}`, requestId, (signal) => slots.host(slot).generate(request, (e) => sink(e), signal)).catch((err: unknown) => {
      // Cancelled while queued: an empty reply, as for a cancel during generation (see api.ts).
      if (err instanceof CancelledError) return { text: '', ids: [], stop: 'cancelled' as const, promptTokens: 0, prefilledTokens: 0, prefillMs: 0, decodeMs: 0, tokensPerSecond: 0, seed: request.sampling.seed ?? 0 };
      throw err;
    });
  },
  loadSlot(slot, source, options, sink, requestId) {
    if (slot === STUDENT_SLOT) return api.loadModel(source, options, sink, requestId);
    return runJob(`loading the ${slot}`, requestId, (signal) => slots.host(slot).load(requireGpu(), source, options, (e) => sink(e), signal));
  },
  unloadSlot(slot) {
    if (slot === STUDENT_SLOT) return api.unloadModel();
    return runJob(`unloading the ${slot}`, undefined, async () => slots.host(slot).unload());
  },
  data: Comlink.proxy(data.api),
  training: Comlink.proxy(training.api),
  async simulateDeviceLoss() {
    requireGpu().device.destroy();
  },
};

Comlink.expose(api);
