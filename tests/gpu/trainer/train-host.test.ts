// The worker's training host (workers/train-host.ts) in Node, on Dawn, with fake-indexeddb as the
// browser's storage and the fixture Llama as the loaded model: a paused run resumed on a freshly
// loaded model continues exactly like an uninterrupted one; a full quota while checkpointing is
// reported and leaves the previous checkpoint valid while the run goes on; cancel discards the
// checkpoints; a refused configuration stores nothing; export from memory equals export from the
// checkpoint after a "reload". (Device loss is exercised in the browser: tests/e2e/train.test.ts.)
import 'fake-indexeddb/auto';
import { join } from 'node:path';
import * as Comlink from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sink } from '../../../src/engine/api.ts';
import type { ExportEvent, TrainEvent, TrainOptions } from '../../../src/engine/train-api.ts';
import { loadDecoder, type LoadedModel } from '../../../src/engine/models/load.ts';
import { weightTensors } from '../../../src/engine/models/weights.ts';
import { decodeCheckpoint } from '../../../src/distill/trainer/checkpoint.ts';
import { loadModelFiles, type ModelFiles } from '../../../src/formats/model-files.ts';
import { parseSafetensors } from '../../../src/formats/safetensors.ts';
import { NodeFolderSource } from '../../../src/formats/source.node.ts';
import { loadLatestCheckpoint } from '../../../src/store/checkpoints.ts';
import { openLabDb } from '../../../src/store/db.ts';
import { getTrainRun, loadMetrics, type MetricPoint, type TrainRunRecord } from '../../../src/store/runs.ts';
import { DEFAULT_OPTIONS } from '../../../src/app/train/options.ts';
import { TrainHost } from '../../../workers/train-host.ts';
import { FIXTURES_DIR } from '../../helpers/fixtures.ts';
import { testGpu } from '../setup.ts';

const DATA = {
  name: 'dialogue.jsonl',
  text: [
    { prompt: 'Where is the station?', response: 'It is two streets down, on the left.' },
    { prompt: 'Do you want some tea?', response: 'Yes please, with a little milk.' },
    { prompt: 'What time is it?', response: 'It is almost five o’clock.' },
    { prompt: 'How was your day?', response: 'Good, thank you. I walked in the park.' },
  ]
    .map((l) => JSON.stringify(l))
    .join('\n'),
};

function options(over: Partial<TrainOptions> = {}): TrainOptions {
  return { ...structuredClone(DEFAULT_OPTIONS), length: { unit: 'steps', value: 6 }, batchSize: 2, checkpointEvery: 2, lr: 1e-3, schedule: 'constant', warmup: 0, ...over };
}

let files: ModelFiles | null = null;

/** A host over the fixture Llama; `reload()` replaces the model with a fresh copy, as a page reload would. */
async function makeHost() {
  const gpu = await testGpu();
  files ??= await loadModelFiles(new NodeFolderSource(join(FIXTURES_DIR, 'llama')));
  const f = files;
  let model: LoadedModel = await loadDecoder(gpu, f);
  const card = { id: 'local:llama@main', name: 'llama', parameters: model.parameters, tokenizerSha256: f.tokenizer.tokenizerSha256 };
  let controller = new AbortController();
  const dbName = `train-host-${Math.random()}`;
  const reload = async () => {
    for (const t of weightTensors(model.decoder.weights)) t.release();
    model.decoder.release();
    model = await loadDecoder(gpu, f);
  };
  const host = new TrainHost({
    runJob: (_label, _requestId, body) => body(controller.signal),
    gpu: () => gpu,
    model: () => ({ model, card }),
    reloadModel: reload,
    recover: async () => {
      throw new Error('no device loss in these tests');
    },
    weightsChanged: () => undefined,
    db: () => openLabDb(dbName),
  });
  return {
    api: host.api,
    reload,
    cancelSoon: () => controller.abort(),
    resetCancel: () => (controller = new AbortController()),
    db: () => openLabDb(dbName),
  };
}

/** A sink collecting events; `onMetric` may act on a step (pause, flip a fault). */
function collector(onMetric?: (p: MetricPoint) => void) {
  const runs: TrainRunRecord[] = [];
  const points: MetricPoint[] = [];
  const sink = Comlink.proxy((e: TrainEvent) => {
    if (e.type === 'run') runs.push(e.run);
    else {
      points.push(e.point);
      onMetric?.(e.point);
    }
  }) as Sink<TrainEvent>;
  return { sink, runs, points };
}

function exportSink() {
  const files = new Map<string, Uint8Array[]>();
  const sink = Comlink.proxy(async (e: ExportEvent) => {
    files.set(e.path, [...(files.get(e.path) ?? []), e.bytes]);
  }) as Sink<ExportEvent>;
  const bytes = (path: string) => Buffer.concat(files.get(path) ?? []);
  return { sink, files, bytes };
}

let restorePut: (() => void) | null = null;
afterEach(() => {
  restorePut?.();
  restorePut = null;
});

describe('training host', () => {
  it('a run paused at step 3 and resumed on a freshly loaded model matches an uninterrupted run', async () => {
    const o = options({ mode: 'full' });
    const straight = await makeHost();
    const a = collector();
    expect(await straight.api.start({ runId: 'a', data: DATA, options: o, modelLocation: null }, a.sink, 'ra')).toMatchObject({ status: 'finished', step: 6, totalSteps: 6 });

    const paused = await makeHost();
    const b = collector((p) => {
      if (p.step === 3) void paused.api.pause('b');
    });
    expect(await paused.api.start({ runId: 'b', data: DATA, options: o, modelLocation: null }, b.sink, 'rb')).toMatchObject({ status: 'paused', step: 3 });
    const db = await paused.db();
    expect((await getTrainRun(db, 'b'))?.checkpoint?.step).toBe(3);
    await paused.reload(); // the tab was reloaded: the model is back to its files' weights
    const c = collector();
    expect(await paused.api.resume('b', c.sink, 'rc')).toMatchObject({ status: 'finished', step: 6 });

    expect(c.points.map((p) => p.step)).toEqual([4, 5, 6]);
    // Same data order, same weights, same optimiser state: the same losses (f32, identical kernels).
    const want = a.points.slice(3).map((p) => p.loss);
    c.points.forEach((p, i) => expect(Math.abs(p.loss - want[i]), `step ${p.step}`).toBeLessThan(1e-5 * Math.abs(want[i])));
    const run = (await getTrainRun(db, 'b'))!;
    expect(run).toMatchObject({ status: 'finished', step: 6, checkpoint: { step: 6 } });
    expect(run.checkpoints.map((k) => k.step)).toEqual([2, 3, 4, 6]);
    expect(run.notices.map((n) => n.kind)).toEqual(['resumed']);
    expect(run.notices[0].message).toBe('Resumed from the checkpoint at step 3.');
    expect((await loadMetrics(db, 'b')).map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('quota exceeded while checkpointing: the run goes on, the record says so, the previous checkpoint stays valid', async () => {
    const h = await makeHost();
    const db = await h.db();
    const proto = IDBObjectStore.prototype;
    const original = proto.put;
    let full = false;
    proto.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      if (full && this.name === 'checkpointChunks') throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return original.apply(this, args);
    };
    restorePut = () => {
      proto.put = original;
    };
    let midRun: Promise<{ step: number; stateStep: number } | null> | null = null;
    const events = collector((p) => {
      if (p.step === 3) full = true; // the checkpoint at step 4 hits a full disk
      if (p.step === 5) {
        full = false;
        midRun = loadLatestCheckpoint(db, 'q').then((c) => c && { step: c.info.step, stateStep: decodeCheckpoint(c.bytes).state.step });
      }
    });
    expect(await h.api.start({ runId: 'q', data: DATA, options: options(), modelLocation: null }, events.sink, 'rq')).toMatchObject({ status: 'finished', step: 6 });
    // While the disk was full, the stored checkpoint was still the complete one from step 2.
    expect(await midRun).toEqual({ step: 2, stateStep: 2 });
    const run = (await getTrainRun(db, 'q'))!;
    const failed = run.notices.filter((n) => n.kind === 'checkpoint-failed');
    expect(failed).toHaveLength(1);
    expect(failed[0].step).toBe(4);
    expect(failed[0].message).toMatch(/storage quota is full while saving the checkpoint at step 4.*The checkpoint at step 2 is still valid; a resume restarts from there\./);
    expect(failed[0].hint).toMatch(/Delete cached models/);
    expect(run.checkpoints.map((k) => k.step)).toEqual([2, 6]);
    expect(run.checkpoint?.step).toBe(6);
    // The page heard about it as it happened.
    expect(events.runs.some((r) => r.notices.some((n) => n.kind === 'checkpoint-failed'))).toBe(true);
  });

  it('cancel stops the run and discards its checkpoints; a refused configuration stores nothing', async () => {
    const h = await makeHost();
    const db = await h.db();
    const events = collector((p) => {
      if (p.step === 3) h.cancelSoon();
    });
    expect(await h.api.start({ runId: 'x', data: DATA, options: options(), modelLocation: null }, events.sink, 'rx')).toMatchObject({ status: 'cancelled', step: 3 });
    expect(await getTrainRun(db, 'x')).toMatchObject({ status: 'cancelled', checkpoint: null });
    expect(await loadLatestCheckpoint(db, 'x')).toBeNull();
    h.resetCancel();

    await expect(h.api.start({ runId: 'big', data: DATA, options: options({ budgetMiB: 0.5 }), modelLocation: null }, collector().sink, 'rbig')).rejects.toMatchObject({
      name: 'MemoryPlanError',
      message: expect.stringMatching(/needs about .* the budget is 512\.0 KiB\.\nHint: Try /),
    });
    expect(await getTrainRun(db, 'big')).toBeNull();
    // Bad data names the line.
    await expect(h.api.plan({ name: 'bad.jsonl', text: '{"prompt": "a", "response": "b"}\n{oops' }, options())).rejects.toMatchObject({ name: 'DataError', message: expect.stringMatching(/^bad\.jsonl line 2: is not valid JSON/) });
  });

  it('exports the PEFT adapter and the merged model; after a reload the same model comes from the checkpoint', async () => {
    const h = await makeHost();
    const events = collector();
    await h.api.start({ runId: 'e', data: DATA, options: options({ length: { unit: 'steps', value: 3 } }), modelLocation: null }, events.sink, 're');
    const adapter = exportSink();
    expect((await h.api.export('e', 'adapter', adapter.sink, 'x1')).files.map((f) => f.path)).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const peft = parseSafetensors(new Uint8Array(adapter.bytes('adapter_model.safetensors')), 'adapter');
    expect(peft.header.entries.map((e) => e.name)).toContain('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');

    const inMemory = exportSink();
    await h.api.export('e', 'model', inMemory.sink, 'x2');
    expect([...inMemory.files.keys()]).toContain('model.safetensors');
    await h.reload();
    const fromCheckpoint = exportSink();
    await h.api.export('e', 'model', fromCheckpoint.sink, 'x3');
    expect(Buffer.compare(fromCheckpoint.bytes('model.safetensors'), inMemory.bytes('model.safetensors'))).toBe(0);
    // A merged export consumed the adapters in memory; the adapter export still works, from the checkpoint.
    const again = exportSink();
    await h.api.export('e', 'adapter', again.sink, 'x4');
    expect(Buffer.compare(again.bytes('adapter_model.safetensors'), adapter.bytes('adapter_model.safetensors'))).toBe(0);
  });
});
