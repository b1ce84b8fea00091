// The worker's training host (workers/train-host.ts) in Node, on Dawn, with fake-indexeddb as the
// browser's storage and the fixture Llama as the loaded model: a paused run resumed on a freshly
// loaded model continues exactly like an uninterrupted one; a full quota while checkpointing is
// reported and leaves the previous checkpoint valid while the run goes on; cancel discards the
// checkpoints; a refused configuration stores nothing; export from memory equals export from the
// checkpoint after a "reload". Distillation through the same host, with the fixture Qwen2 as the
// DPO teacher and Qwen3 as the reference in their slots: a DCKD run charts its three terms and
// weighs them as docs/distillation.md says, and refuses a cache that does not fit, naming why; an
// ADPA+ run paused at the stage boundary and again inside stage 2, each time resumed on a freshly
// loaded model (the second time with the teacher and reference unloaded: its ADPA data is read
// from storage, not rebuilt), matches an uninterrupted ADPA+ run step for step.
// (Device loss is exercised in the browser: tests/e2e/train.test.ts.)
import 'fake-indexeddb/auto';
import { join } from 'node:path';
import * as Comlink from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModelCard, Sink } from '../../../src/engine/api.ts';
import type { CacheChoice, DistillSource, ExportEvent, Objective, TrainEvent, TrainOptions } from '../../../src/engine/train-api.ts';
import { loadDecoder, type LoadedModel } from '../../../src/engine/models/load.ts';
import { weightTensors } from '../../../src/engine/models/weights.ts';
import { decodeCheckpoint } from '../../../src/distill/trainer/checkpoint.ts';
import { loadModelFiles, type ModelFiles } from '../../../src/formats/model-files.ts';
import { parseSafetensors } from '../../../src/formats/safetensors.ts';
import { NodeFolderSource } from '../../../src/formats/source.node.ts';
import { loadLatestCheckpoint } from '../../../src/store/checkpoints.ts';
import { openLabDb } from '../../../src/store/db.ts';
import { getTrainRun, loadMetrics, type MetricPoint, type TrainRunRecord } from '../../../src/store/runs.ts';
import { DEFAULT_LOSS, DEFAULT_OPTIONS } from '../../../src/app/train/options.ts';
import { buildTeacherCache } from '../../../src/distill/cache/assemble.ts';
import { readPreferenceData, tokenizePairs } from '../../../src/distill/data/preference.ts';
import { importPreferenceData } from '../../../src/store/datasets.ts';
import { listTeacherCaches, loadTeacherCache, saveTeacherCache } from '../../../src/store/teacher-caches.ts';
import type { LabDb } from '../../../src/store/db.ts';
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

const folders = new Map<string, ModelFiles>();
async function filesOf(name: 'llama' | 'qwen2' | 'qwen3'): Promise<ModelFiles> {
  let f = folders.get(name);
  if (!f) folders.set(name, (f = await loadModelFiles(new NodeFolderSource(join(FIXTURES_DIR, name)))));
  return f;
}

/**
 * A host over the fixture Llama; `reload()` replaces the model with a fresh copy, as a page reload
 * would. `setSlot` loads Qwen2 / Qwen3 into the teacher / reference slot (or empties it).
 */
async function makeHost() {
  const gpu = await testGpu();
  const f = await filesOf('llama');
  let model: LoadedModel = await loadDecoder(gpu, f);
  const card = { id: 'local:llama@main', name: 'llama', parameters: model.parameters, tokenizerSha256: f.tokenizer.tokenizerSha256 };
  let controller = new AbortController();
  const dbName = `train-host-${Math.random()}`;
  const slots = new Map<string, { model: LoadedModel; card: ModelCard }>();
  const setSlot = async (slot: 'teacher' | 'reference', name: 'qwen2' | 'qwen3' | null) => {
    const old = slots.get(slot);
    if (old) {
      for (const t of weightTensors(old.model.decoder.weights)) t.release();
      old.model.decoder.release();
      slots.delete(slot);
    }
    if (!name) return;
    const files = await filesOf(name);
    const m = await loadDecoder(gpu, files);
    slots.set(slot, { model: m, card: { id: `local:${name}@main`, name, tokenizerSha256: files.tokenizer.tokenizerSha256 } as ModelCard });
  };
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
    slot: (slot) => slots.get(slot) ?? null,
    db: () => openLabDb(dbName),
  });
  return {
    api: host.api,
    reload,
    setSlot,
    slot: (name: 'teacher' | 'reference') => slots.get(name) ?? null,
    files: f,
    cancelSoon: () => controller.abort(),
    resetCancel: () => (controller = new AbortController()),
    db: () => openLabDb(dbName),
  };
}

/** A sink collecting events; `onMetric` may act on a step (pause, flip a fault). */
function collector(onMetric?: (p: MetricPoint) => void) {
  const runs: TrainRunRecord[] = [];
  const points: MetricPoint[] = [];
  const prepared: Extract<TrainEvent, { type: 'prepare' }>['progress'][] = [];
  const sink = Comlink.proxy((e: TrainEvent) => {
    if (e.type === 'run') runs.push(e.run);
    else if (e.type === 'prepare') prepared.push(e.progress);
    else {
      points.push(e.point);
      onMetric?.(e.point);
    }
  }) as Sink<TrainEvent>;
  return { sink, runs, points, prepared };
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

// ---- distillation ------------------------------------------------------------------------------

const PAIRS_TEXT = [
  { id: 'station', prompt: 'Where is the station?', chosen: 'Two streets down, on the left.', rejected: 'I do not know.' },
  { id: 'tea', prompt: 'Do you want some tea?', chosen: 'Yes please, with a little milk.', rejected: 'No.' },
  { id: 'time', prompt: 'What time is it?', chosen: 'It is almost five o’clock.', rejected: 'Ask someone else.' },
  { id: 'bag', prompt: 'Can you help me with my bag?', chosen: 'Of course, let me take it.', rejected: 'I am busy.' },
  { id: 'rain', prompt: 'Is it going to rain?', chosen: 'Maybe later, take an umbrella.', rejected: 'Who knows.' },
  { id: 'keys', prompt: 'Where are the keys?', chosen: 'On the table by the door.', rejected: 'Not my problem.' },
]
  .map((l) => JSON.stringify(l))
  .join('\n');

/** The pairs in the data-set store, Qwen2 as the teacher, and its caches on both sides (K = 16). */
async function storeDistillData(h: Awaited<ReturnType<typeof makeHost>>): Promise<{ db: LabDb; datasetId: string }> {
  const db = await h.db();
  const { record } = await importPreferenceData(db, { fileName: 'pairs.jsonl', text: PAIRS_TEXT });
  const set = await readPreferenceData(PAIRS_TEXT, 'pairs.jsonl');
  // As training cuts them: the max length (512) at most the student's context (256).
  const pairs = tokenizePairs(set, h.files.tokenizer, { maxLength: 256, overLength: 'truncate' }).pairs;
  await h.setSlot('teacher', 'qwen2');
  const teacher = h.slot('teacher')!.model.decoder;
  for (const response of ['chosen', 'rejected'] as const) {
    const cache = await buildTeacherCache({ teacher, model: 'qwen2', tokenizerSha256: h.files.tokenizer.tokenizerSha256, datasetSha256: set.sha256, pairs, response, k: 16, valueDType: 'F32' });
    await saveTeacherCache(db, cache, { id: `tc-${response}`, name: `qwen2 · ${response}` });
  }
  return { db, datasetId: record.id };
}

function distillOptions(objective: Objective, steps: number, weights?: Partial<TrainOptions['loss']['weights']>): TrainOptions {
  const loss = { ...structuredClone(DEFAULT_LOSS), objective, maxNewTokens: 10, k: 16 };
  return options({ mode: 'full', length: { unit: 'steps', value: steps }, loss: { ...loss, weights: { ...loss.weights, ...weights } } });
}

function source(datasetId: string, caches: Partial<CacheChoice> = {}): DistillSource {
  return { datasetId, caches: { chosen: 'tc-chosen', rejected: 'tc-rejected', advantage: null, ...caches } };
}

describe('training host: distillation', () => {
  it('DCKD charts sft, kl_chosen and kl_rejected, weighs them as set, and refuses a cache that does not fit, naming why', async () => {
    const h = await makeHost();
    const { db, datasetId } = await storeDistillData(h);
    const o = distillOptions('dckd', 4, { dckd: { sft: 0.5, kd: 2, c: 0.25, r: 0.1 } });

    const plan = await h.api.plan(source(datasetId), o);
    expect(plan.distill!.caches.map((c) => [c.role, c.integrity])).toEqual([['chosen', 'ok'], ['rejected', 'ok']]);
    expect(plan.distill!.stages).toEqual([{ loss: 'dckd', steps: 4, offset: 0, advantageCacheId: null }]);
    expect(plan.data.examples).toBe(6);

    // The rejected cache where the chosen one belongs: shown in the plan, refused at start, nothing stored.
    const swapped = source(datasetId, { chosen: 'tc-rejected' });
    expect((await h.api.plan(swapped, o)).distill!.caches[0]).toMatchObject({ role: 'chosen', integrity: 'mismatch', name: 'qwen2 · rejected', message: 'covers the "rejected" responses, this use needs "chosen".' });
    await expect(h.api.start({ runId: 'bad', data: swapped, options: o, modelLocation: null }, collector().sink, 'rbad')).rejects.toMatchObject({
      name: 'TeacherCacheMismatchError',
      message: expect.stringMatching(/^qwen2 · rejected: covers the "rejected" responses, this use needs "chosen"\./),
    });
    expect(await getTrainRun(db, 'bad')).toBeNull();
    // No cache picked for a side it needs.
    await expect(h.api.start({ runId: 'none', data: source(datasetId, { rejected: null }), options: o, modelLocation: null }, collector().sink, 'rnone')).rejects.toMatchObject({ name: 'NoCacheError' });

    const events = collector();
    expect(await h.api.start({ runId: 'd', data: source(datasetId), options: o, modelLocation: null }, events.sink, 'rd')).toMatchObject({ status: 'finished', step: 4, totalSteps: 4 });
    expect(events.points.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    for (const p of events.points) {
      expect(Object.keys(p.terms).sort()).toEqual(['kl_chosen', 'kl_rejected', 'sft']);
      expect(p.terms.kl_chosen).toBeGreaterThan(0);
      expect(p.terms.kl_rejected).toBeGreaterThan(0);
      // L = w_sft·CE + w_kd·(w_c·KL_chosen + w_r·KL_rejected); the terms are read back in f32 (≈ 1e-7 relative each).
      const want = 0.5 * p.terms.sft + 2 * (0.25 * p.terms.kl_chosen + 0.1 * p.terms.kl_rejected);
      expect(Math.abs(p.loss - want), `step ${p.step}`).toBeLessThan(1e-5 * Math.abs(want));
    }
    const run = (await getTrainRun(db, 'd'))!;
    expect(run.name).toBe('llama · DCKD · pairs.jsonl');
    expect(run.distill).toMatchObject({ objective: 'dckd', datasetId, caches: { chosen: 'tc-chosen', rejected: 'tc-rejected', advantage: null }, teacher: null, reference: null });
    expect(run.data.examples).toBe(6);
  });

  it('the KD zoo: λ and β reach the loss; skew forward KL at λ = 0 is forward KL', async () => {
    const h = await makeHost();
    const { datasetId } = await storeDistillData(h);
    /** The first step's loss (before any update; each run starts from the model's files). */
    const first = async (objective: Objective, loss: Partial<TrainOptions['loss']> = {}) => {
      const o = distillOptions(objective, 1);
      const events = collector();
      await h.api.start({ runId: `zoo-${objective}-${JSON.stringify(loss)}`, data: source(datasetId), options: { ...o, loss: { ...o.loss, ...loss } }, modelLocation: null }, events.sink, `r-${Math.random()}`);
      expect(Object.keys(events.points[0].terms)).toEqual([objective]); // w_sft = 0: the divergence alone
      return events.points[0].loss;
    };
    const kd = await first('kd');
    const skew0 = await first('skew-fkl', { skewLambda: 0 });
    const skewHalf = await first('skew-fkl', { skewLambda: 0.5 });
    const jsdA = await first('jsd', { jsdBeta: 0.2 });
    const jsdB = await first('jsd', { jsdBeta: 0.8 });
    // KL(P ‖ 0·P + 1·Q) = KL(P ‖ Q): the same bins, the same kernel sums (f32).
    expect(Math.abs(skew0 - kd)).toBeLessThan(1e-5 * kd);
    expect(Math.abs(skewHalf - kd)).toBeGreaterThan(1e-2 * kd);
    expect(Math.abs(jsdA - jsdB)).toBeGreaterThan(1e-2 * Math.abs(jsdA));
    // w_kd scales the divergence.
    expect(Math.abs((await first('kd', { weights: { ...DEFAULT_LOSS.weights, kd: { sft: 0, kd: 3 } } })) - 3 * kd)).toBeLessThan(1e-5 * 3 * kd);
  });

  it('ADPA builds ŷ and its advantages at the start and stores them; a run that picks that advantage cache builds nothing and trains the same', async () => {
    const h = await makeHost();
    const { db, datasetId } = await storeDistillData(h);
    await h.setSlot('reference', 'qwen3');
    const o = distillOptions('adpa', 2);
    const plan = await h.api.plan(source(datasetId, { chosen: null, rejected: null }), o);
    expect(plan.distill!.caches).toEqual([]);
    expect(plan.distill!.builds.map((b) => [b.slot, b.name, b.problem])).toEqual([['teacher', 'qwen2', null], ['reference', 'qwen3', null]]);
    const built = collector();
    expect(await h.api.start({ runId: 'x', data: source(datasetId, { chosen: null, rejected: null }), options: o, modelLocation: null }, built.sink, 'rx')).toMatchObject({ status: 'finished', step: 2 });
    expect(built.points.map((p) => Object.keys(p.terms).sort().join())).toEqual(['adpa,sft', 'adpa,sft']);
    const run = (await getTrainRun(db, 'x'))!;
    expect(run.distill!.stages[0].advantageCacheId).toBe('adv-x-s0');
    expect(run.notices.map((n) => n.message)).toEqual([expect.stringMatching(/^ADPA data: the student wrote ŷ for 6 prompts/)]);

    // Without the teacher and reference, a run on the stored advantage cache: nothing to build.
    await h.setSlot('teacher', null);
    await h.setSlot('reference', null);
    const picked = source(datasetId, { chosen: null, rejected: null, advantage: 'adv-x-s0' });
    expect((await h.api.plan(picked, o)).distill).toMatchObject({ caches: [{ role: 'advantage', integrity: 'ok' }], builds: [] });
    const again = collector();
    expect(await h.api.start({ runId: 'y', data: picked, options: o, modelLocation: null }, again.sink, 'ry')).toMatchObject({ status: 'finished', step: 2 });
    expect(again.prepared).toEqual([]);
    // The same start weights (the files'), the same ŷ and advantages, the same batches: the same losses.
    again.points.forEach((p, i) => expect(Math.abs(p.loss - built.points[i].loss), `step ${p.step}`).toBeLessThan(1e-5 * Math.abs(built.points[i].loss)));
    // An advantage cache where probabilities are needed is refused in the plan, with why.
    const wrong = await h.api.plan(source(datasetId, { chosen: 'adv-x-s0' }), distillOptions('kd', 1));
    expect(wrong.distill!.caches[0]).toMatchObject({ role: 'chosen', integrity: 'mismatch', message: expect.stringMatching(/^is a "advantage" cache, the loss needs a "probs" cache\./) });
  });

  it('ADPA+ paused at its stage boundary and inside stage 2, resumed on fresh models (the last time without teacher and reference), matches an uninterrupted run', async () => {
    const o = distillOptions('adpa+', 3);
    const straight = await makeHost();
    const s = await storeDistillData(straight);
    await straight.setSlot('reference', 'qwen3');
    const a = collector();
    expect(await straight.api.start({ runId: 'a', data: source(s.datasetId), options: o, modelLocation: null }, a.sink, 'ra')).toMatchObject({ status: 'finished', step: 6, totalSteps: 6 });
    expect(a.points.map((p) => Object.keys(p.terms).sort().join())).toEqual([...Array(3).fill('kl_chosen,kl_rejected,sft'), ...Array(3).fill('adpa,sft')]);
    // The ADPA data of stage 2: ŷ for each of the 6 prompts, then both caches on it.
    for (const phase of ['responses', 'teacher', 'reference'] as const) expect(a.prepared.filter((p) => p.phase === phase).at(-1)).toEqual({ stage: 1, phase, done: 6, total: 6 });

    const h = await makeHost();
    const { db, datasetId } = await storeDistillData(h);
    await h.setSlot('reference', 'qwen3');
    const b = collector((p) => {
      if (p.step === 3) void h.api.pause('b'); // during the last DCKD step: stops at the boundary
    });
    expect(await h.api.start({ runId: 'b', data: source(datasetId), options: o, modelLocation: null }, b.sink, 'rb')).toMatchObject({ status: 'paused', step: 3 });
    let run = (await getTrainRun(db, 'b'))!;
    expect(run.checkpoint?.step).toBe(3);
    expect(run.distill!.stages).toEqual([
      { loss: 'dckd', steps: 3, offset: 0, advantageCacheId: null },
      { loss: 'adpa', steps: 3, offset: 3, advantageCacheId: null },
    ]);
    expect(b.prepared).toEqual([]);

    await h.reload(); // a new page: the model is its files' again
    const c = collector((p) => {
      if (p.step === 5) void h.api.pause('b');
    });
    expect(await h.api.resume('b', c.sink, 'rc')).toMatchObject({ status: 'paused', step: 5 });
    expect(c.prepared.length).toBeGreaterThan(0);
    run = (await getTrainRun(db, 'b'))!;
    expect(run.distill!.stages[1].advantageCacheId).toBe('adv-b-s1');

    // Stage 2 resumed inside: its ADPA data comes from storage, so no teacher or reference is needed.
    await h.reload();
    await h.setSlot('teacher', null);
    await h.setSlot('reference', null);
    const d = collector();
    expect(await h.api.resume('b', d.sink, 'rd')).toMatchObject({ status: 'finished', step: 6 });
    expect(d.prepared).toEqual([]);

    const resumed = [...b.points, ...c.points, ...d.points];
    expect(resumed.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // Same weights at the boundary (from the checkpoint), the same ŷ (greedy), the same data order: the same losses (f32, identical kernels).
    resumed.forEach((p, i) => expect(Math.abs(p.loss - a.points[i].loss), `step ${p.step}`).toBeLessThan(1e-5 * Math.abs(a.points[i].loss)));
    run = (await getTrainRun(db, 'b'))!;
    expect(run).toMatchObject({ status: 'finished', step: 6, checkpoint: { step: 6 } });
    expect(run.notices.map((n) => n.kind)).toEqual(['resumed', 'stage', 'resumed']);
    expect(run.notices[1].message).toMatch(/^Stage 2 \(ADPA\) began after step 3: the DCKD student wrote ŷ for 6 prompts \([\d,]+ tokens\); qwen2 and qwen3 scored it, and the advantages are stored\.$/);
    expect(run.notices[2].message).toBe('Resumed from the checkpoint at step 5.');
    expect((await loadMetrics(db, 'b')).map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // The stored ADPA data is the advantage cache on ŷ, bit for bit the uninterrupted run's.
    const mine = await loadTeacherCache(db, 'adv-b-s1');
    const theirs = await loadTeacherCache(await straight.db(), 'adv-a-s1');
    expect(mine.kind).toBe('advantage');
    expect(mine.meta.exampleIds).toEqual(['station', 'tea', 'time', 'bag', 'rain', 'keys']);
    expect(Buffer.compare(Buffer.from(mine.tokens.buffer), Buffer.from(theirs.tokens.buffer))).toBe(0);
    if (mine.kind === 'advantage' && theirs.kind === 'advantage') expect(Buffer.compare(Buffer.from(mine.advantage.buffer), Buffer.from(theirs.advantage.buffer))).toBe(0);
    expect((await listTeacherCaches(db)).map((c) => c.id).sort()).toEqual(['adv-b-s1', 'tc-chosen', 'tc-rejected']);
  });
});
