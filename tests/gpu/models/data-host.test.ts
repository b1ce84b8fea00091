// The worker's model slots (workers/model-host.ts: ModelSlots) and data host (workers/data-host.ts)
// in Node, on Dawn, with fake-indexeddb as the browser's storage. Slots hold several models at once,
// each loaded and unloaded on its own. The fixture Qwen2 is the teacher and the fixture Llama the student (they
// share the tokenizer). A cache built by the host equals, byte for byte, the one the CLI path builds
// (buildTeacherCache); a build cancelled half-way and resumed by a fresh host (a page reload) gives
// the identical cache, for the student's own responses ŷ too; import and checks name mismatches.
import 'fake-indexeddb/auto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ModelCard, ModelSlot, ModelSourceSpec, Sink } from '../../../src/engine/api.ts';
import type { CacheBuildEvent, CacheBuildRequest } from '../../../src/engine/data-api.ts';
import type { LoadedModel } from '../../../src/engine/models/load.ts';
import { buildTeacherCache } from '../../../src/distill/cache/assemble.ts';
import { generateStudentResponses } from '../../../src/distill/cache/student-responses.ts';
import { readPreferenceData, tokenizePairs } from '../../../src/distill/data/preference.ts';
import { advantageCache } from '../../../src/distill/losses/advantage.ts';
import { decodeTeacherCache, encodeTeacherCache, type TeacherCache } from '../../../src/formats/teacher-cache.ts';
import { importPreferenceData } from '../../../src/store/datasets.ts';
import { openLabDb } from '../../../src/store/db.ts';
import { loadTeacherCache, type StoredTeacherCache } from '../../../src/store/teacher-caches.ts';
import { DataHost } from '../../../workers/data-host.ts';
import { ModelHost, ModelSlots } from '../../../workers/model-host.ts';
import { FIXTURES_DIR } from '../../helpers/fixtures.ts';
import { testGpu } from '../setup.ts';

/** Eight pairs of uneven lengths; one is longer than MAX_LENGTH (cut). */
const PAIRS = [
  ['Where is the station?', 'It is two streets down, on the left.', 'No idea.'],
  ['Do you want some tea?', 'Yes please, with a little milk.', 'No.'],
  ['What time is it?', 'It is almost five o’clock.', 'Late.'],
  ['How was your day?', 'Good, thank you. I walked in the park and then I met my sister for lunch near the river, and we talked for hours about the garden.', 'Fine.'],
  ['Can you help me with my bag?', 'Of course, let me take it.', 'Carry it yourself.'],
  ['Is it going to rain?', 'Maybe later, take an umbrella.', 'Who knows.'],
  ['Where did you put the keys?', 'On the table by the door.', 'Somewhere.'],
  ['Shall we walk to the shop?', 'Yes, it is a nice day for a walk.', 'No, drive.'],
];
const TEXT = PAIRS.map(([prompt, chosen, rejected], i) => JSON.stringify({ id: `q${i}`, prompt, chosen, rejected })).join('\n');
const MAX_LENGTH = 40;

function folder(name: string): ModelSourceSpec {
  const dir = join(FIXTURES_DIR, name);
  const files = readdirSync(dir)
    .filter((f) => statSync(join(dir, f)).isFile())
    .map((f) => ({ path: `${name}/${f}`, file: new File([new Uint8Array(readFileSync(join(dir, f)))], f) }));
  return { kind: 'files', files, name };
}

function request(over: Partial<CacheBuildRequest> = {}): CacheBuildRequest {
  return { datasetId: '', response: 'chosen', scorer: 'teacher', k: 50, valueDType: 'F16', maxLength: MAX_LENGTH, maxNewTokens: 12, batchSize: 3, scorerLocation: null, studentLocation: null, ...over };
}

function expectSameCache(a: TeacherCache, b: TeacherCache): void {
  expect(a.kind).toBe(b.kind);
  expect(a.meta).toEqual(b.meta);
  const bytes = (x: ArrayBufferView) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  expect(bytes(a.exampleOffsets).equals(bytes(b.exampleOffsets))).toBe(true);
  expect(bytes(a.tokens).equals(bytes(b.tokens))).toBe(true);
  expect(bytes(a.indices).equals(bytes(b.indices))).toBe(true);
  if (a.kind === 'probs' && b.kind === 'probs') {
    expect(bytes(a.probs.dtype === 'F16' ? a.probs.bits : a.probs.values).equals(bytes(b.probs.dtype === 'F16' ? b.probs.bits : b.probs.values))).toBe(true);
    expect(bytes(a.rest).equals(bytes(b.rest))).toBe(true);
  }
  if (a.kind === 'advantage' && b.kind === 'advantage') expect(bytes(a.advantage).equals(bytes(b.advantage))).toBe(true);
}

/** Teacher (qwen2), student (llama) and reference (llama again) loaded once for the file. */
let world: Promise<{ slots: Map<ModelSlot, { model: LoadedModel; card: ModelCard }> }> | null = null;
function models() {
  world ??= (async () => {
    const gpu = await testGpu();
    const slots = new Map<ModelSlot, { model: LoadedModel; card: ModelCard }>();
    for (const [slot, name] of [['teacher', 'qwen2'], ['student', 'llama'], ['reference', 'llama']] as const) {
      const host = new ModelHost(() => undefined);
      await host.load(gpu, folder(name), {}, () => undefined, new AbortController().signal);
      slots.set(slot, host.current!);
    }
    return { slots };
  })();
  return world;
}

/** A host as the worker makes it (a fresh one = the worker after a page reload), with its own cancel. */
async function makeHost(dbName: string) {
  const { slots } = await models();
  const controller = new AbortController();
  const host = new DataHost(
    { runJob: (_label, _id, body) => body(controller.signal), slot: (s) => slots.get(s) ?? null, db: () => openLabDb(dbName) },
    { flushSeconds: 0, progressMs: 0 }, // progress written at every batch boundary, reported for every example
  );
  return { api: host.api, cancel: () => controller.abort(new DOMException('cancelled', 'AbortError')), slots };
}

function collect(onEvent: (e: CacheBuildEvent) => void = () => undefined) {
  const events: CacheBuildEvent[] = [];
  const sink = ((e: CacheBuildEvent) => {
    events.push(e);
    onEvent(e);
  }) as Sink<CacheBuildEvent>;
  return { events, sink };
}

/** The CLI's way (src/cli/commands/teacher-cache.ts): tokenise with the teacher, build in memory. */
async function cliCache(response: 'chosen' | 'student', slots: Map<ModelSlot, { model: LoadedModel; card: ModelCard }>, datasetSha: string) {
  const teacher = slots.get('teacher')!;
  const set = await readPreferenceData(TEXT, 'pairs.jsonl');
  expect(set.sha256).toBe(datasetSha);
  const pairs = tokenizePairs(set, teacher.model.files.tokenizer, { maxLength: MAX_LENGTH, overLength: 'truncate' }).pairs;
  const student = slots.get('student')!;
  const ys = response === 'student' ? await generateStudentResponses(student.model.decoder, pairs, { maxNewTokens: 12, eosTokenIds: student.model.files.stopTokenIds }) : undefined;
  return buildTeacherCache({
    teacher: teacher.model.decoder,
    model: teacher.card.name,
    tokenizerSha256: teacher.model.files.tokenizer.tokenizerSha256,
    datasetSha256: set.sha256,
    pairs,
    response,
    student: ys,
    k: 50,
    valueDType: 'F16',
    batchSize: 3,
  });
}

describe('ModelSlots', () => {
  it('holds the student and other slots at once, each loaded and unloaded on its own', async () => {
    const gpu = await testGpu();
    await gpu.sync();
    const before = gpu.memory().liveBytes;
    const studentChanges: (ModelCard | null)[] = [];
    const slotChanges: [ModelSlot, string | null][] = [];
    const student = new ModelHost((card) => studentChanges.push(card));
    const slots = new ModelSlots(student, (slot, card) => slotChanges.push([slot, card?.name ?? null]));
    expect(slots.host('student')).toBe(student);

    const never = new AbortController().signal;
    const s = await slots.host('student').load(gpu, folder('llama'), {}, () => undefined, never);
    const t = await slots.host('teacher').load(gpu, folder('qwen2'), {}, () => undefined, never);
    const c = await slots.host('compare').load(gpu, folder('qwen3'), {}, () => undefined, never);
    await gpu.sync();
    expect(slots.current('student')?.card).toBe(s.card);
    expect(slots.current('teacher')?.card).toBe(t.card);
    expect(slots.current('compare')?.card.architecture).toBe('Qwen3ForCausalLM');
    expect(slots.current('reference')).toBeNull();
    expect(gpu.memory().liveBytes - before).toBeGreaterThanOrEqual(s.card.weightBytes + t.card.weightBytes + c.card.weightBytes);
    // The student's changes go to its own callback only; the others name their slot.
    expect(studentChanges.map((x) => x?.name)).toEqual(['llama']);
    expect(slotChanges).toEqual([
      ['teacher', 'qwen2'],
      ['compare', 'qwen3'],
    ]);

    const withTeacher = gpu.memory().liveBytes;
    slots.host('teacher').unload();
    await gpu.sync();
    expect(slots.current('teacher')).toBeNull();
    expect(slots.current('student')?.card).toBe(s.card);
    expect(withTeacher - gpu.memory().liveBytes).toBeGreaterThanOrEqual(t.card.weightBytes + t.card.kvCacheBytes);
    // The student still answers after the teacher left.
    const reply = await student.generate({ prompt: 'Where is the station?', maxNewTokens: 4, sampling: { greedy: true } }, () => undefined, never);
    expect(reply.ids.length).toBeGreaterThan(0);

    slots.forgetLost();
    expect([slots.current('student'), slots.current('compare')]).toEqual([null, null]);
    expect(studentChanges.at(-1)).toBeNull();
    expect(slotChanges.slice(-2)).toEqual([
      ['teacher', null],
      ['compare', null],
    ]);
    expect(() => slots.host('Bad Name')).toThrow(/"Bad Name" is not a model slot name/);
  });
});

describe('DataHost', () => {
  it('previews the data rendered with the chat template, with token counts and cuts', async () => {
    const dbName = `data-host-${Math.random()}`;
    const { record } = await importPreferenceData(await openLabDb(dbName), { fileName: 'pairs.jsonl', text: TEXT });
    const { api, slots } = await makeHost(dbName);
    const tok = slots.get('student')!.model.files.tokenizer;
    const p = await api.preview({ datasetId: record.id, slot: 'student', maxLength: MAX_LENGTH, examples: 2 });
    const head = tok.applyChatTemplate([{ role: 'user', content: PAIRS[0][0] }], { addGenerationPrompt: true });
    const full = tok.applyChatTemplate(
      [
        { role: 'user', content: PAIRS[0][0] },
        { role: 'assistant', content: PAIRS[0][1] },
      ],
      { addGenerationPrompt: false },
    );
    const rendered = (user: string, answer: string) =>
      tok.applyChatTemplate(
        [
          { role: 'user', content: user },
          { role: 'assistant', content: answer },
        ],
        { addGenerationPrompt: false },
      ).ids.length;
    const longer = PAIRS.filter(([q, c, r]) => Math.max(rendered(q, c), rendered(q, r)) > MAX_LENGTH).length;
    expect(longer).toBeGreaterThan(0);
    expect(p).toMatchObject({ pairs: 8, maxLength: MAX_LENGTH, model: 'llama', chatTemplate: true, overLength: longer, skipped: 0 });
    expect(p.examples).toHaveLength(2);
    expect(p.examples[0]).toMatchObject({
      id: 'q0',
      where: 'line 1',
      prompt: head.text,
      chosen: full.text.slice(head.text.length),
      promptTokens: head.ids.length,
      chosenTokens: full.ids.length - head.ids.length,
      overLength: false,
    });
    expect(p.examples[0].prompt).toBe('<|im_start|>user\nWhere is the station?<|im_end|>\n<|im_start|>assistant\n');
    expect(p.examples[0].chosen).toBe('It is two streets down, on the left.<|im_end|>\n');
    expect(p.chosen.max).toBeGreaterThan(MAX_LENGTH - p.prompt.max); // the long pair
    await expect(api.preview({ datasetId: record.id, slot: 'compare', maxLength: 40, examples: 1 })).rejects.toMatchObject({ name: 'NoModelError' });
  });

  it('builds the same cache as the CLI path, stores it complete, checks it ok, and names an imported mismatch', async () => {
    const dbName = `data-host-${Math.random()}`;
    const db = await openLabDb(dbName);
    const { record } = await importPreferenceData(db, { fileName: 'pairs.jsonl', text: TEXT });
    const { api, slots } = await makeHost(dbName);
    const { events, sink } = collect();
    const summary = await api.buildCache(request({ datasetId: record.id }), sink, 'r1');
    expect(summary).toMatchObject({ complete: true, examplesDone: 8, examplesTotal: 8, coverage: 1, k: 50, response: 'chosen', model: 'qwen2' });
    const built = await loadTeacherCache(db, summary.id);
    expectSameCache(built, await cliCache('chosen', slots, record.sha256));
    expect(summary.positions).toBe(built.tokens.length);
    const progress = events.filter((e) => e.type === 'progress');
    expect(events[0]).toMatchObject({ type: 'started', resumedAt: 0 });
    expect(progress.at(-1)).toMatchObject({ phase: 'scoring', done: 8, total: 8, positions: built.tokens.length, etaSeconds: 0 });
    // Written at each batch boundary (flushSeconds 0): 3 + 3 + 2 examples.
    const stored = (await db.get('teacherCaches', summary.id)) as StoredTeacherCache;
    expect(stored.chunks.map((c) => c.examples)).toEqual([3, 3, 2]);

    expect(await api.checkCaches({ ids: [summary.id], datasetId: record.id, maxLength: MAX_LENGTH, slot: 'student' })).toEqual([
      { id: summary.id, integrity: 'ok', message: null, against: 'llama and pairs.jsonl at 40 tokens' },
    ]);
    // Checked at another max length, the cut pair no longer matches.
    const [longer] = await api.checkCaches({ ids: [summary.id], datasetId: record.id, maxLength: 80, slot: 'student' });
    expect(longer).toMatchObject({ integrity: 'mismatch', message: expect.stringMatching(/^example "q3" has \d+ positions in the cache, the student's tokenisation of its response has \d+ tokens\./) });

    // Export → import gives the identical cache; another data set's cache is refused, naming it.
    const exported = await api.exportCache(summary.id);
    const imported = await api.importCache({ bytes: exported.slice(), fileName: 'back.safetensors', datasetId: record.id, maxLength: MAX_LENGTH, slot: 'student' });
    expectSameCache(await loadTeacherCache(db, imported.id), built);
    const other = encodeTeacherCache({ ...built, meta: { ...built.meta, datasetSha256: 'c'.repeat(64) } });
    await expect(api.importCache({ bytes: other, fileName: 'other.safetensors', datasetId: record.id, maxLength: MAX_LENGTH, slot: 'student' })).rejects.toMatchObject({
      name: 'TeacherCacheMismatchError',
      message: expect.stringMatching(/^other\.safetensors: was made from other data: dataset_sha256 cccccccccccc… vs [0-9a-f]{12}…\./),
    });
    expect((await db.getAll('teacherCaches')).map((r) => r.id).sort()).toEqual([imported.id, summary.id].sort());

    // Bad options and a missing scorer are refused before any work, naming the field or the slot.
    await expect(api.buildCache(request({ datasetId: record.id, k: 65 }), collect().sink, 'r3')).rejects.toMatchObject({ name: 'CacheOptionsError', message: expect.stringMatching(/^K: must be a whole number in 1 … 64, got 65\./) });
    await expect(api.buildCache(request({ datasetId: record.id, scorer: 'compare' }), collect().sink, 'r4')).rejects.toMatchObject({ name: 'NoModelError', message: expect.stringMatching(/^No model is loaded as the compare, which would score the responses\./) });
    // The same settings again: already complete.
    await expect(api.buildCache(request({ datasetId: record.id }), collect().sink, 'r2')).rejects.toMatchObject({ name: 'TeacherCacheStoreError', message: expect.stringMatching(/is already complete/) });
  });

  it('a ŷ build cancelled half-way and resumed by a fresh host gives the identical cache; the advantage of two ŷ caches is stored', async () => {
    const dbName = `data-host-${Math.random()}`;
    const db = await openLabDb(dbName);
    const { record } = await importPreferenceData(db, { fileName: 'pairs.jsonl', text: TEXT });
    const first = await makeHost(dbName);
    const { events, sink } = collect((e) => {
      if (e.type === 'progress' && e.phase === 'scoring' && e.done >= 4) first.cancel();
    });
    const ask = request({ datasetId: record.id, response: 'student' });
    await expect(first.api.buildCache(ask, sink, 'r1')).rejects.toMatchObject({ name: 'CancelledError' });
    expect(events.some((e) => e.type === 'progress' && e.phase === 'responses' && e.done === 8)).toBe(true);
    const started = events[0];
    if (started.type !== 'started') throw new Error('no started event');
    const partial = (await db.get('teacherCaches', started.cache.id)) as StoredTeacherCache;
    expect(partial).toMatchObject({ complete: false, examplesDone: 6 }); // two whole batches were kept
    await expect(loadTeacherCache(db, started.cache.id)).rejects.toMatchObject({ name: 'TeacherCacheIncompleteError' });
    const [check] = await first.api.checkCaches({ ids: [started.cache.id], datasetId: record.id, maxLength: MAX_LENGTH, slot: 'student' });
    expect(check).toMatchObject({ integrity: 'incomplete', message: '6 of 8 examples computed.' });

    const second = await makeHost(dbName);
    const resumed = collect();
    const summary = await second.api.resumeCache(started.cache.id, resumed.sink, 'r2');
    expect(resumed.events[0]).toMatchObject({ type: 'started', resumedAt: 6 });
    // Only the two examples left were generated and scored.
    expect(resumed.events.filter((e) => e.type === 'progress' && e.phase === 'responses').at(-1)).toMatchObject({ done: 2, total: 2 });
    expect(summary).toMatchObject({ id: started.cache.id, complete: true, examplesDone: 8, response: 'student' });
    const dpo = await loadTeacherCache(db, summary.id);
    expectSameCache(dpo, await cliCache('student', second.slots, record.sha256));

    // The reference model's cache on the same ŷ, then the advantage.
    const reference = await second.api.buildCache({ ...ask, scorer: 'reference' }, collect().sink, 'r3');
    expect(reference.model).toBe('llama');
    const advantage = await second.api.buildAdvantage({ dpoId: summary.id, referenceId: reference.id });
    expect(advantage).toMatchObject({ kind: 'advantage', complete: true, examplesTotal: 8 });
    expectSameCache(await loadTeacherCache(db, advantage.id), advantageCache(dpo, await loadTeacherCache(db, reference.id)));
    const checks = await second.api.checkCaches({ ids: [summary.id, advantage.id], datasetId: record.id, maxLength: MAX_LENGTH, slot: 'student' });
    expect(checks.map((c) => c.integrity)).toEqual(['ok', 'ok']);
    // A ŷ cache against other data.
    const { record: other } = await importPreferenceData(db, { fileName: 'other.jsonl', text: TEXT.replace('station', 'bakery') });
    const [mismatch] = await second.api.checkCaches({ ids: [summary.id], datasetId: other.id, maxLength: MAX_LENGTH, slot: 'student' });
    expect(mismatch).toMatchObject({ integrity: 'mismatch', message: expect.stringMatching(/^was made from other data/) });
    expect(decodeTeacherCache(await second.api.exportCache(advantage.id), 'adv').kind).toBe('advantage');
  });
});
