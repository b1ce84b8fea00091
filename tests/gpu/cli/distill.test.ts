// The distillation commands end to end on the fixture models (they share one tokenizer):
// teacher caches for chosen, rejected and the student's own responses, the advantage cache, and
// training with DCKD, ADPA (from a cache, and building it), ADPA+ in two stages, and a zoo loss.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { decodeTeacherCache, validateTeacherCache } from '../../../src/formats/teacher-cache.ts';
import { fixture } from '../../helpers/fixtures.ts';

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), write: (t) => out.push(t) });
  return { code, out, err };
}

const PAIRS = [
  ['Where is the station?', 'Go left at the bakery.', 'It sounds like you want the station. There are many ways to go.'],
  ['Can you book a table?', 'Sure, seven for two?', 'I understand that you want a table. Tables can be booked.'],
  ['What should I cook?', 'Try the pasta you like.', 'It sounds like you are hungry. Many foods exist.'],
  ['Is it going to rain?', 'Yes, take your blue umbrella.', 'I understand the question about the weather. Weather changes.'],
];

let dir: string;
let data: string;
const student = () => fixture('llama').dir;
const teacher = () => fixture('qwen2').dir;
const reference = () => fixture('qwen3').dir;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distill-'));
  data = join(dir, 'pairs.jsonl');
  await writeFile(data, PAIRS.map(([prompt, chosen, rejected], i) => JSON.stringify({ id: `p${i}`, prompt, chosen, rejected })).join('\n') + '\n');
});

async function cache(response: string, model: string, extra: string[] = []): Promise<string> {
  const file = join(dir, `${response}-${model.split('/').pop()}.safetensors`);
  const r = await cli(['teacher-cache', '--teacher', model, '--data', data, '--response', response, '--k', '8', '--out', file, ...extra]);
  expect(r.code, r.err.join('\n')).toBe(0);
  return file;
}

describe('distillation CLI', () => {
  it('builds valid caches for chosen, rejected and student responses, and an advantage cache', async () => {
    const chosen = decodeTeacherCache(new Uint8Array(await readFile(await cache('chosen', teacher()))), 'chosen');
    validateTeacherCache(chosen, 'chosen');
    expect(chosen.meta.exampleIds).toEqual(['p0', 'p1', 'p2', 'p3']);
    expect(chosen.meta.k).toBe(8);
    const yDpo = await cache('student', teacher(), ['--student', student(), '--max-new-tokens', '6']);
    const yRef = await cache('student', reference(), ['--student', student(), '--max-new-tokens', '6']);
    const out = join(dir, 'advantage.safetensors');
    const r = await cli(['advantage', '--dpo', yDpo, '--reference', yRef, '--out', out]);
    expect(r.code, r.err.join('\n')).toBe(0);
    const adv = decodeTeacherCache(new Uint8Array(await readFile(out)), out);
    expect(adv.kind).toBe('advantage');
    expect(adv.tokens.length).toBe(4 * 6); // greedy ŷ of 6 tokens each (the fixtures never emit EOS early)
  });

  it('trains with DCKD, ADPA from a cache, and a zoo loss, reporting every term', async () => {
    const chosen = await cache('chosen', teacher());
    const rejected = await cache('rejected', teacher());
    const dckd = await cli(['train', '--model', student(), '--data', data, '--loss', 'dckd', '--teacher-chosen', chosen, '--teacher-rejected', rejected, '--steps', '2', '--batch-size', '2', '--lr', '1e-3', '--out', join(dir, 'dckd')]);
    expect(dckd.code, dckd.err.join('\n')).toBe(0);
    const line = JSON.parse(dckd.out[1]);
    expect(Object.keys(line)).toEqual(expect.arrayContaining(['loss', 'sft', 'kl_chosen', 'kl_rejected', 'grad_norm']));
    expect(line.loss).toBeCloseTo(line.sft + 0.1 * line.kl_chosen + 0.1 * line.kl_rejected, 4);
    const jsd = await cli(['train', '--model', student(), '--data', data, '--loss', 'jsd', '--teacher-chosen', chosen, '--steps', '1', '--out', join(dir, 'jsd')]);
    expect(jsd.code, jsd.err.join('\n')).toBe(0);
    expect(JSON.parse(jsd.out[0]).jsd).toBeGreaterThan(0);
    const adv = join(dir, 'advantage.safetensors');
    const adpa = await cli(['train', '--model', student(), '--data', data, '--loss', 'adpa', '--advantage', adv, '--steps', '1', '--batch-size', '4', '--out', join(dir, 'adpa')]);
    expect(adpa.code, adpa.err.join('\n')).toBe(0);
    const a = JSON.parse(adpa.out[0]);
    expect(a.loss).toBeCloseTo(a.sft - 1.6 * a.adpa, 4);
  });

  it('ADPA+ runs DCKD then ADPA as one run with two stages', async () => {
    const chosen = await cache('chosen', teacher());
    const rejected = await cache('rejected', teacher());
    const r = await cli([
      'train', '--model', student(), '--data', data, '--loss', 'adpa+', '--teacher-chosen', chosen, '--teacher-rejected', rejected,
      '--teacher', teacher(), '--reference', reference(), '--stage-steps', '1,1', '--max-new-tokens', '4', '--k', '8', '--out', join(dir, 'adpa-plus'),
    ]);
    expect(r.code, r.err.join('\n')).toBe(0);
    expect(r.out.map((l) => JSON.parse(l).stage)).toEqual(['dckd', 'adpa']);
    await readFile(join(dir, 'adpa-plus/advantage.safetensors'));
  });

  it('refuses a cache from other data, naming the mismatch', async () => {
    const chosen = await cache('chosen', teacher());
    const other = join(dir, 'other.jsonl');
    await writeFile(other, JSON.stringify({ id: 'x', prompt: 'Hi?', chosen: 'Hello.', rejected: 'It sounds like hi.' }) + '\n');
    const r = await cli(['train', '--model', student(), '--data', other, '--loss', 'kd', '--teacher-chosen', chosen, '--steps', '1', '--out', join(dir, 'bad')]);
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toMatch(/TeacherCacheMismatchError/);
  });
});
