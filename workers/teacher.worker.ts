// The teacher worker: ONNX teachers (and an ONNX chat model) through transformers.js and
// onnxruntime-web, off the engine's worker (its own WebGPU device, its own job queue). Exposes TeacherApi (src/engine/teacher-api.ts)
// through Comlink; the work is TeacherHost's (./teacher-host.ts). Started lazily by the page
// (src/app/teacher-client.svelte.ts) when an ONNX teacher is first loaded.
import * as Comlink from 'comlink';
import { env } from '@huggingface/transformers';
import { acquireDevice, type Acquired, type AdapterReport } from '../src/engine/adapter.ts';
import type { ModelSourceSpec, RequestId } from '../src/engine/api.ts';
import type { ModelLocation } from '../src/engine/data-api.ts';
import { CancelledError } from '../src/engine/errors.ts';
import type { TeacherApi } from '../src/engine/teacher-api.ts';
import { openLabDb } from '../src/store/db.ts';
import { sourceOf } from './model-host.ts';
import { TeacherHost } from './teacher-host.ts';

// onnxruntime-web as Vite bundles it: its wasm file is an asset of this build, found next to this
// chunk, when wasmPaths is unset (transformers.js points it at a CDN). One thread: its thread
// workers would start from this chunk. The wasm is not copied into the Cache API.
const ort = env.backends.onnx as { wasm?: { wasmPaths?: unknown; numThreads?: number } };
if (ort.wasm) {
  delete ort.wasm.wasmPaths;
  ort.wasm.numThreads = 1;
}
env.useWasmCache = false;

/** onnxruntime-web's WebGPU backend keeps the first device it runs on: acquire one, once. */
let acquired: Promise<Acquired> | null = null;
async function gpu(): Promise<{ device: GPUDevice; report: AdapterReport }> {
  acquired ??= acquireDevice(navigator.gpu);
  const a = await acquired.catch((err: unknown) => {
    acquired = null;
    throw err;
  });
  return { device: a.device, report: a.report };
}

const host = new TeacherHost({ db: () => openLabDb(), gpu });

/** Requests by id (cancel aborts them); jobs run one at a time, in call order. */
const pending = new Map<RequestId, AbortController>();
let queue: Promise<unknown> = Promise.resolve();
let unloads = 0;

function job<T>(requestId: RequestId, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  pending.set(requestId, controller);
  const run = queue
    .then(() => {
      if (controller.signal.aborted) throw new CancelledError('The request was cancelled before it started.');
      return body(controller.signal);
    })
    .finally(() => pending.delete(requestId));
  queue = run.catch(() => undefined);
  return run;
}

function locationOf(spec: ModelSourceSpec): ModelLocation | null {
  return spec.kind === 'location' ? { text: spec.text, hubBase: spec.hubBase } : null;
}

const api: TeacherApi = {
  load: (spec, options, sink, requestId) =>
    job(requestId, (signal) => host.load(sourceOf(spec), locationOf(spec), { device: options.device ?? 'webgpu', dtype: options.dtype, slot: options.slot }, (e) => void sink(e), signal)),
  unload: (slot) => job(`unload-${++unloads}`, () => host.unload(slot)),
  generate: (messages, options, sink) =>
    job(options.requestId, async (signal) => {
      // Tokens cross on the sink's own port, the result on the worker's: wait until every token is
      // delivered, or the result could overtake the last of them.
      const delivered: Promise<unknown>[] = [];
      const result = await host.generate(messages, options, (t) => void delivered.push(Promise.resolve(sink(t)).catch(() => undefined)), signal);
      await Promise.all(delivered);
      return result;
    }),
  buildCache: (request, student, sink, requestId) => job(requestId, (signal) => host.build(request, student, sink, signal)),
  cancel: (requestId) => pending.get(requestId)?.abort(new CancelledError('Cancelled.')),
};

Comlink.expose(api);
