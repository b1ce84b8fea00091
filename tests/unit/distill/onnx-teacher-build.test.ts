// Teacher caches built with an ONNX teacher by the teacher worker's host (workers/teacher-host.ts)
// in Node: transformers.js on the CPU, fake-indexeddb as the browser's storage. A build stores a
// complete, valid cache of every pair with its plan; one cancelled half-way and resumed by a fresh
// host (a page reload) gives the identical cache; a student with another tokenizer or vocabulary,
// ŷ responses and a missing teacher are refused with messages that say so.
import 'fake-indexeddb/auto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Sink } from '../../../src/engine/api.ts';
import type { CacheBuildEvent, CacheBuildRequest } from '../../../src/engine/data-api.ts';
import { ONNX_SCORER, type StudentIdentity } from '../../../src/engine/teacher-api.ts';
import { readPreferenceData, responseTokens, tokenizePairs } from '../../../src/distill/data/preference.ts';
import { validateTeacherCache, type TeacherCache } from '../../../src/formats/teacher-cache.ts';
import { loadTokenizerFrom } from '../../../src/formats/model-files.ts';
import { NodeFolderSource } from '../../../src/formats/source.node.ts';
import { getBuildPlan } from '../../../src/store/cache-builds.ts';
import { importPreferenceData } from '../../../src/store/datasets.ts';
import { openLabDb } from '../../../src/store/db.ts';
import { listTeacherCaches, loadTeacherCache } from '../../../src/store/teacher-caches.ts';
import { TeacherHost } from '../../../workers/teacher-host.ts';
import { FIXTURES_DIR } from '../../helpers/fixtures.ts';

const PAIRS = [
  ['Where is the station?', 'It is two streets down, on the left.', 'No idea.'],
  ['Do you want some tea?', 'Yes please, with a little milk.', 'No.'],
  ['What time is it?', 'It is almost five o’clock.', 'Late.'],
  ['How was your day?', 'Good, thank you. I walked in the park and then met my sister by the river.', 'Fine.'],
  ['Can you help me with my bag?', 'Of course, let me take it.', 'Carry it yourself.'],
  ['Is it going to rain?', 'Maybe later, take an umbrella.', 'Who knows.'],
  ['Where did you put the keys?', 'On the table by the door.', 'Somewhere.'],
];
const TEXT = PAIRS.map(([prompt, chosen, rejected], i) => JSON.stringify({ id: `q${i}`, prompt, chosen, rejected })).join('\n');
const MAX_LENGTH = 40;
const LLAMA = join(FIXTURES_DIR, 'llama');

function request(datasetId: string, over: Partial<CacheBuildRequest> = {}): CacheBuildRequest {
  return { datasetId, response: 'chosen', scorer: ONNX_SCORER, k: 20, valueDType: 'F16', maxLength: MAX_LENGTH, maxNewTokens: 8, batchSize: 2, scorerLocation: null, studentLocation: null, ...over };
}

/** A host as the worker makes it (a fresh one = the worker after a page reload), with the llama teacher loaded. */
async function makeHost(dbName: string) {
  const host = new TeacherHost({ db: () => openLabDb(dbName), gpu: () => Promise.reject(new Error('no WebGPU in Node')) }, { flushSeconds: 0, progressMs: 0 });
  const card = await host.load(new NodeFolderSource(LLAMA), null, { device: 'cpu' }, () => undefined, new AbortController().signal);
  return { host, card };
}

function collect(onEvent: (e: CacheBuildEvent) => void = () => undefined) {
  const events: CacheBuildEvent[] = [];
  const sink = ((e: CacheBuildEvent) => {
    events.push(e);
    onEvent(e);
  }) as Sink<CacheBuildEvent>;
  return { events, sink };
}

function bytesOf(c: TeacherCache): Buffer[] {
  const b = (x: ArrayBufferView) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  if (c.kind !== 'probs') throw new Error('a probability cache was expected');
  return [b(c.exampleOffsets), b(c.tokens), b(c.indices), b(c.probs.dtype === 'F16' ? c.probs.bits : c.probs.values), b(c.rest)];
}

describe('teacher caches from an ONNX teacher (TeacherHost, CPU)', () => {
  it('builds a complete, valid cache of every pair, stores its plan, and reports progress', async () => {
    const db = await openLabDb('onnx-build-1');
    const { record } = await importPreferenceData(db, { fileName: 'pairs.jsonl', text: TEXT });
    const { host, card } = await makeHost('onnx-build-1');
    expect(card).toMatchObject({ name: LLAMA, device: 'cpu', adapter: null, fallback: null, dtype: 'fp32', vocab: 512, context: 256 });
    const { events, sink } = collect();
    const student: StudentIdentity = { name: 'llama', tokenizerSha256: card.tokenizerSha256, vocab: 512 };
    const summary = await host.build(request(record.id), student, sink, new AbortController().signal);

    const set = await readPreferenceData(TEXT, 'pairs.jsonl');
    const tok = await loadTokenizerFrom(new NodeFolderSource(LLAMA));
    const pairs = tokenizePairs(set, tok, { maxLength: MAX_LENGTH, overLength: 'truncate' }).pairs;
    const positions = pairs.reduce((n, p) => n + responseTokens(p.chosen).length, 0);
    expect(summary).toMatchObject({ complete: true, examplesDone: PAIRS.length, examplesTotal: PAIRS.length, coverage: 1, positions, k: 20, response: 'chosen', kind: 'probs' });
    expect(summary.name).toBe(`${card.name} (ONNX) · chosen · pairs.jsonl`);
    expect((await listTeacherCaches(db)).map((c) => c.id)).toEqual([summary.id]);

    const cache = await loadTeacherCache(db, summary.id);
    validateTeacherCache(cache, 'built');
    expect(cache.meta).toEqual({
      response: 'chosen',
      k: 20,
      temperature: 1,
      model: card.name,
      tokenizerSha256: card.tokenizerSha256,
      vocabSize: 512,
      datasetSha256: set.sha256,
      exampleIds: PAIRS.map((_, i) => `q${i}`),
    });
    // Position j of an example is its response token j.
    pairs.forEach((p, e) => expect(Array.from(cache.tokens.subarray(cache.exampleOffsets[e], cache.exampleOffsets[e + 1]))).toEqual(responseTokens(p.chosen)));
    expect(cache.kind === 'probs' && cache.probs.dtype).toBe('F16');

    const plan = await getBuildPlan(db, summary.id);
    expect(plan).toMatchObject({ request: request(record.id), scorer: { id: card.id, name: card.name }, student: null });
    expect(events[0]).toMatchObject({ type: 'started', resumedAt: 0 });
    const last = events.at(-1)!;
    expect(last).toMatchObject({ type: 'progress', phase: 'scoring', done: PAIRS.length, total: PAIRS.length, positions });
  });

  it('a build cancelled half-way and resumed by a fresh host gives the identical cache', async () => {
    const whole = await openLabDb('onnx-build-whole');
    const { record } = await importPreferenceData(whole, { fileName: 'pairs.jsonl', text: TEXT });
    const a = await makeHost('onnx-build-whole');
    const done = await a.host.build(request(record.id, { valueDType: 'F32' }), null, collect().sink, new AbortController().signal);

    const cut = await openLabDb('onnx-build-cut');
    await importPreferenceData(cut, { fileName: 'pairs.jsonl', text: TEXT });
    const b = await makeHost('onnx-build-cut');
    const controller = new AbortController();
    const { sink } = collect((e) => {
      if (e.type === 'progress' && e.done >= 3) controller.abort();
    });
    await expect(b.host.build(request(record.id, { valueDType: 'F32' }), null, sink, controller.signal)).rejects.toMatchObject({ name: 'CancelledError' });
    const stopped = (await listTeacherCaches(cut))[0];
    // Cancelled after a batch of 2 had begun: kept at the boundary.
    expect(stopped).toMatchObject({ complete: false, examplesDone: 4 });

    const c = await makeHost('onnx-build-cut');
    const { events, sink: sink2 } = collect();
    const resumed = await c.host.build(request(record.id, { valueDType: 'F32' }), null, sink2, new AbortController().signal);
    expect(events[0]).toMatchObject({ type: 'started', resumedAt: 4 });
    expect(resumed.id).toBe(done.id);
    expect(bytesOf(await loadTeacherCache(cut, resumed.id))).toEqual(bytesOf(await loadTeacherCache(whole, done.id)));
  });

  it('runs on the fallback device, saying why, when no WebGPU device can be had', async () => {
    const host = new TeacherHost({ db: () => openLabDb('onnx-build-fallback'), gpu: () => Promise.reject(new Error('no WebGPU in Node')) }, { fallback: 'cpu' });
    const card = await host.load(new NodeFolderSource(LLAMA), null, { device: 'webgpu' }, () => undefined, new AbortController().signal);
    expect(card).toMatchObject({ device: 'cpu', adapter: null, fallback: 'no WebGPU in Node', vocab: 512 });
    // A fault of the files is not a WebGPU problem: it is reported as it is.
    const missing = host.load(new NodeFolderSource(join(FIXTURES_DIR, 'no-such-model')), null, { device: 'webgpu' }, () => undefined, new AbortController().signal);
    await expect(missing).rejects.toMatchObject({ name: 'MissingFileError' });
    expect(host.card).toBe(card);
  });

  it('refuses a student of another tokenizer or vocabulary, ŷ responses, and building with no teacher', async () => {
    const db = await openLabDb('onnx-build-refused');
    const { record } = await importPreferenceData(db, { fileName: 'pairs.jsonl', text: TEXT });
    const { host, card } = await makeHost('onnx-build-refused');
    const never = new AbortController().signal;
    const build = (r: CacheBuildRequest, s: StudentIdentity | null) => host.build(r, s, collect().sink, never);
    await expect(build(request(record.id), { name: 'other', tokenizerSha256: 'ab'.repeat(32), vocab: 512 })).rejects.toThrow(
      /^The ONNX teacher \(.*llama\) and the student \(other\) have different tokenizers \(tokenizer\.json sha256 [0-9a-f]{12}… vs abababababab…\)\./,
    );
    await expect(build(request(record.id), { name: 'small', tokenizerSha256: card.tokenizerSha256, vocab: 300 })).rejects.toThrow(/has vocab_size 512, the student \(small\) 300\./);
    await expect(build(request(record.id, { response: 'student' }), null)).rejects.toThrow(/^Responses: an ONNX teacher scores the chosen or rejected responses/);
    await host.unload();
    await expect(build(request(record.id), null)).rejects.toMatchObject({ name: 'NoModelError' });
    expect(await listTeacherCaches(db)).toEqual([]);
  });
});
