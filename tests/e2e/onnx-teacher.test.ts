// A teacher cache scored by an ONNX model in the teacher worker (transformers.js, onnxruntime-web on
// WebGPU with our compatibility-mode device), in Chromium against the production build. The llama
// fixture folder (with its onnx/model.onnx) is served next to the build; the student and the ONNX
// teacher load from its URL. The cache completes, lists, and checks ok against the student; its
// values match the engine's cache of the same model built in the page (both exported and compared
// here). Every request the page and its workers make stays on the page's origin (onnxruntime-web's
// wasm ships with the build).
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTeacherCache, probsAsFloat32, type TeacherCache } from '../../src/formats/teacher-cache.ts';
import { expectText, openLab, seriousAxeViolations, waitForReadyEngine, type Lab } from './lab.ts';
import { siteWithFixture, waitForModel } from './model-steps.ts';

const PAIRS = [
  ['Where is the station?', 'It is two streets down, on the left.', 'No idea.'],
  ['Do you want some tea?', 'Yes please, with a little milk.', 'No.'],
  ['What time is it?', 'It is almost five o’clock.', 'Late.'],
  ['How was your day?', 'Good, thank you. I walked in the park and met my sister.', 'Fine.'],
  ['Can you help me with my bag?', 'Of course, let me take it.', 'Carry it yourself.'],
  ['Where did you put the keys?', 'On the table by the door.', 'Somewhere.'],
];
const TEXT = PAIRS.map(([prompt, chosen, rejected], i) => JSON.stringify({ id: `q${i}`, prompt, chosen, rejected })).join('\n') + '\n';
// onnxruntime-web's WebGPU EP and our engine both reproduce the fixture's logits to ~5e-5; softmax
// turns that into at most ~1e-4 relative on a probability: 2e-4 relative is f32 noise (both f32).
const RTOL = 2e-4;

async function exported(page: Page, row: Locator, dir: string): Promise<TeacherCache> {
  const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: /^Export/ }).click()]);
  const file = join(dir, download.suggestedFilename());
  await download.saveAs(file);
  return decodeTeacherCache(new Uint8Array(await readFile(file)), file);
}

describe('a teacher cache from an ONNX model (transformers.js on WebGPU)', () => {
  let lab: Lab;
  let root: string;
  const requests: string[] = [];

  beforeAll(async () => {
    root = await siteWithFixture();
    lab = await openLab({ root });
    lab.browser.context.on('request', (r) => requests.push(r.url()));
    await waitForReadyEngine(lab.page);
  });

  afterAll(async () => {
    await lab?.close();
  });

  it('loads the ONNX teacher on WebGPU, builds a cache that lists and checks ok, equal to the engine’s within f32 noise', async () => {
    const { page, server } = lab;
    const folder = `${server.url}llama/`;
    /** What the lab calls a model from that folder (its last folder, not the whole URL). */
    const name = 'llama';
    // The student, from the same folder.
    await page.getByRole('radio', { name: 'URL' }).check();
    await page.getByLabel('Model folder URL').fill(folder);
    await page.getByRole('button', { name: 'Load', exact: true }).click();
    await waitForModel(page, name);

    await page.getByRole('tab', { name: 'Data & teacher cache' }).click();
    await page.getByTestId('data-file').setInputFiles({ name: 'pairs.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(TEXT) });
    await expectText(page.getByTestId('dataset').first(), /^pairs\.jsonl\s*6 pairs/);

    const build = page.getByTestId('data-build');
    await build.getByRole('radio', { name: 'f32', exact: true }).check();
    await build.getByRole('radio', { name: 'ONNX', exact: true }).check();
    const onnx = build.getByTestId('onnx-teacher');
    await onnx.getByRole('radio', { name: 'URL' }).check();
    await onnx.getByLabel('ONNX model Model folder URL').fill(folder);
    await onnx.getByRole('button', { name: 'Load the ONNX model' }).click();
    await expectText(onnx.getByTestId('onnx-name'), name, 120_000);
    // Our compatibility-mode device (Mesa's OpenGL ES route), not the wasm fallback.
    await expectText(onnx.getByTestId('onnx-device'), /^WebGPU · .* \(compatibility\) · fp32 · vocabulary 512$/);
    expect(await onnx.textContent()).toContain('same tokenizer as the student');

    await build.getByRole('button', { name: 'Build the cache' }).click();
    const row = page.getByTestId('cache-row').filter({ hasText: '(ONNX)' });
    await expectText(row.getByTestId('cache-integrity'), 'ok', 180_000);
    await expectText(row.getByTestId('cache-coverage'), /^6 \/ 6 examples · \d+ positions$/);
    expect(await row.locator('.name').textContent()).toBe(`${name} (ONNX) · chosen · pairs.jsonl`);
    await expectText(build.getByRole('status').filter({ hasText: 'Built' }), /^Built .* \(ONNX\) · chosen · pairs\.jsonl: 6 examples, \d+ positions\.$/);
    await lab.browser.screenshot('data-onnx-teacher');
    expect(await seriousAxeViolations(page)).toEqual([]);

    // The engine's cache of the same model: the teacher slot from the same folder.
    await build.getByRole('radio', { name: 'Teacher', exact: true }).check();
    const teacher = page.getByTestId('teacher-loader');
    await teacher.getByRole('radio', { name: 'URL' }).check();
    await teacher.getByLabel('Teacher Model folder URL').fill(folder);
    await teacher.getByRole('button', { name: 'Load the teacher' }).click();
    await expectText(page.getByTestId('slot-teacher').getByTestId('slot-name'), name, 60_000);
    await build.getByRole('button', { name: 'Build the cache' }).click();
    const engineRow = page.getByTestId('cache-row').filter({ hasNotText: '(ONNX)' });
    await expectText(engineRow.getByTestId('cache-integrity'), 'ok', 180_000);

    const dir = await mkdtemp(join(tmpdir(), 'student-lab-onnx-caches-'));
    const ours = await exported(page, row, dir);
    const engine = await exported(page, engineRow, dir);
    expect(ours.meta).toEqual(engine.meta);
    if (ours.kind !== 'probs' || engine.kind !== 'probs') throw new Error('probability caches expected');
    expect(ours.probs.dtype).toBe('F32');
    expect(Array.from(ours.exampleOffsets)).toEqual(Array.from(engine.exampleOffsets));
    expect(Array.from(ours.tokens)).toEqual(Array.from(engine.tokens));
    const K = ours.meta.k;
    const a = probsAsFloat32(ours.probs);
    const b = probsAsFloat32(engine.probs);
    let sameIds = 0;
    let maxRel = 0;
    for (let i = 0; i < ours.tokens.length; i++) {
      for (let k = 0; k < K; k++) {
        const rel = Math.abs(a[i * K + k] - b[i * K + k]) / b[i * K + k];
        maxRel = Math.max(maxRel, rel);
        expect(rel, `position ${i} rank ${k}`).toBeLessThanOrEqual(RTOL);
      }
      expect(Math.abs(ours.rest[i] - engine.rest[i]), `position ${i} rest`).toBeLessThanOrEqual(RTOL);
      if (ours.indices.subarray(i * K, (i + 1) * K).every((id, k) => id === engine.indices[i * K + k])) sameIds++;
    }
    // Only a near-tie could order two ids differently (see tests/gpu/distill/onnx-teacher.test.ts).
    expect(sameIds).toBeGreaterThanOrEqual(ours.tokens.length - 2);
    console.log(`ONNX (WebGPU) vs engine in Chromium: ${ours.tokens.length} positions, ${sameIds} with identical top-${K} ids, largest relative probability difference ${maxRel.toExponential(2)}`);
  });

  it('a cancelled ONNX build keeps its examples, and Resume after a reload reloads the ONNX teacher and completes it', async () => {
    const { page, server } = lab;
    const many = Array.from({ length: 60 }, (_, i) => JSON.stringify({ id: `m${i}`, prompt: `${PAIRS[i % 6][0]} (${i})`, chosen: PAIRS[i % 6][1], rejected: PAIRS[i % 6][2] })).join('\n');
    await page.getByTestId('data-file').setInputFiles({ name: 'many.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(many) });
    await expectText(page.getByTestId('dataset').first(), /^many\.jsonl\s*60 pairs/);
    const build = page.getByTestId('data-build');
    await build.getByRole('radio', { name: 'ONNX', exact: true }).check();
    await build.getByRole('radio', { name: 'Rejected' }).check();
    await build.getByTestId('cache-batch').fill('1');
    await build.getByRole('button', { name: 'Build the cache' }).click();
    const progress = build.getByTestId('build-progress');
    await expectText(progress.getByTestId('build-numbers'), /^([3-9]|[1-5]\d) of 60 examples · [\d,]+ positions/, 60_000);
    await progress.getByRole('button', { name: 'Cancel' }).click();
    const note = build.getByRole('status').filter({ hasText: 'Cancelled' });
    await expectText(note, /^Cancelled\. \d+ of 60 examples are kept; Resume continues from there\.$/);
    const kept = Number(/(\d+) of 60/.exec((await note.textContent()) ?? '')![1]);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(60);

    // A reload: no teacher worker, no ONNX model; Resume loads it again from its URL.
    await page.reload();
    await waitForReadyEngine(page);
    await page.getByRole('tab', { name: 'Data & teacher cache' }).click();
    const interrupted = page.getByTestId('interrupted-build');
    await expectText(interrupted.locator('.muted'), new RegExp(`^Stopped at ${kept} of 60 examples`));
    const fetched = () => server.requests.filter((p) => p.endsWith('/llama/onnx/model.onnx')).length;
    const before = fetched();
    await interrupted.getByRole('button', { name: /^Resume/ }).click();
    const row = page.getByTestId('cache-row').filter({ hasText: '(ONNX) · rejected · many.jsonl' });
    await expectText(row.getByTestId('cache-coverage'), /^60 \/ 60 examples · \d+ positions$/, 120_000);
    expect(fetched()).toBe(before + 1);
    await expectText(page.getByTestId('data-build').getByTestId('onnx-teacher').getByTestId('onnx-name'), 'llama');
    expect(await page.getByTestId('interrupted-build').count()).toBe(0);
  });

  it('asked nothing of any other origin: onnxruntime-web’s wasm came with the build', () => {
    const origin = new URL(lab.server.url).origin;
    expect(requests.filter((u) => !u.startsWith(`${origin}/`) && !/^(data|blob):/.test(u))).toEqual([]);
    expect(requests.some((u) => /\/assets\/ort-wasm-simd-threaded\.asyncify-[\w-]+\.wasm$/.test(u))).toBe(true);
    expect(lab.server.requests.some((p) => p.endsWith('/llama/onnx/model.onnx'))).toBe(true);
    lab.browser.expectNoProblems();
  });
});
