// The generate and forward commands end to end on the fixture llama (through main(), with a captured
// io): greedy ids and text equal transformers' generation, forward's logits equal its logits, and
// bad models give messages that name the file.
import { mkdtempSync, readFileSync, writeFileSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { tensorToFloat32 } from '../../../src/formats/dtypes.ts';
import { parseSafetensors } from '../../../src/formats/safetensors.ts';
import { expectClose } from '../../helpers/close.ts';
import { fixture } from '../../helpers/fixtures.ts';
import { captureIo } from '../../unit/cli/io.ts';

const llama = fixture('llama');
const work = mkdtempSync(join(tmpdir(), 'student-lab-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function run(...argv: string[]) {
  const io = captureIo();
  const code = await main(argv, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

function chatFile(): string {
  const path = join(work, 'chat-b.json');
  writeFileSync(path, JSON.stringify(llama.info.inputs.b.messages));
  return path;
}

describe('student-lab generate', () => {
  it('--greedy --json reproduces the reference generation of chat input b', async () => {
    const r = await run('generate', '--model', llama.dir, '--chat', chatFile(), '--max-new-tokens', '24', '--greedy', '--json');
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]);
    expect(out.ids).toEqual(llama.info.generate.new_token_ids);
    expect(out.text).toBe(llama.info.generate.new_text);
    expect(r.stderr).toMatch(/24 tokens, [\d.]+ tok\/s, stop: length; prompt 68 tokens/);
  });

  it('streams the same text to stdout without --json', async () => {
    const r = await run('generate', '--model', llama.dir, '--chat', chatFile(), '--max-new-tokens', '24');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${llama.info.generate.new_text}\n`);
  });

  it('samples reproducibly with a seed, and differently with another', async () => {
    const args = ['generate', '--model', llama.dir, '--prompt', llama.info.inputs.a.text, '--max-new-tokens', '16', '--temperature', '1.5', '--json'];
    const a = JSON.parse((await run(...args, '--seed', '7')).stdout);
    const b = JSON.parse((await run(...args, '--seed', '7')).stdout);
    const c = JSON.parse((await run(...args, '--seed', '8')).stdout);
    expect(a.ids).toHaveLength(16);
    expect(b.ids).toEqual(a.ids);
    // 16 draws at temperature 1.5 from a 512-token vocabulary: two seeds agreeing everywhere is vanishingly unlikely.
    expect(c.ids).not.toEqual(a.ids);
  });

  it('refuses a request longer than the model context, and a folder without config.json', async () => {
    const long = await run('generate', '--model', llama.dir, '--prompt', 'hello', '--max-new-tokens', '300');
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/exceed the model's context of 256 tokens/);

    const broken = join(work, 'no-config');
    cpSync(llama.dir, broken, { recursive: true });
    rmSync(join(broken, 'config.json'));
    const r = await run('generate', '--model', broken, '--prompt', 'hi');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/MissingFileError: config\.json is not in folder .*no-config/);
  });
});

describe('student-lab forward', () => {
  it('writes logits [T, V] of input a that match transformers within 1e-4', async () => {
    const out = join(work, 'logits.safetensors');
    const ids = Array.from(llama.i32('a.input_ids'));
    const r = await run('forward', '--model', llama.dir, '--ids', ids.join(','), '--out', out);
    expect(r.code).toBe(0);
    const file = parseSafetensors(new Uint8Array(readFileSync(out)), out);
    const logits = file.get('logits');
    expect(logits.dtype).toBe('F32');
    expect(logits.shape).toEqual([ids.length, 512]);
    // The fixture README: an exact f32 re-implementation lands within 1e-5..5e-5; 1e-4 is the acceptance.
    expectClose(tensorToFloat32(logits), llama.f32('a.logits'), { atol: 1e-4, rtol: 0 }, 'forward a.logits');
  });

  it('names an id outside the vocabulary', async () => {
    const r = await run('forward', '--model', llama.dir, '--ids', '1,2,512', '--out', join(work, 'x.safetensors'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/entry 3 \(512\) is outside the vocabulary of 512 tokens/);
  });
});
