// The generate and forward commands' argument handling, without a GPU: every bad input is refused
// before a model is loaded, with a message naming the flag and value, and exit code 2.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from '../../../src/cli/args.ts';
import { parseChatFile, samplingFromArgs } from '../../../src/cli/commands/generate.ts';
import { parseIds } from '../../../src/cli/commands/forward.ts';
import { main } from '../../../src/cli/main.ts';
import { captureIo } from './io.ts';

const SAMPLING = { values: ['temperature', 'top-k', 'top-p', 'repetition-penalty', 'seed'], booleans: ['greedy'] };
const sampling = (...argv: string[]) => samplingFromArgs(parseArgs(argv, SAMPLING));

describe('generate: sampling options', () => {
  it('is greedy without sampling flags and samples when any is given', () => {
    expect(sampling()).toMatchObject({ greedy: true, temperature: undefined });
    expect(sampling('--greedy', '--seed', '4')).toMatchObject({ greedy: true, seed: 4 });
    expect(sampling('--temperature', '0.7', '--top-p', '0.9', '--seed', '3')).toEqual({
      greedy: false,
      temperature: 0.7,
      topK: undefined,
      topP: 0.9,
      repetitionPenalty: undefined,
      seed: 3,
    });
    // top-k alone samples at temperature 1
    expect(sampling('--top-k', '5')).toMatchObject({ greedy: false, temperature: 1, topK: 5 });
  });

  it('refuses out-of-range values and --greedy with sampling options', () => {
    expect(() => sampling('--greedy', '--temperature', '0.5')).toThrow(/--greedy cannot be combined with --temperature/);
    expect(() => sampling('--temperature', '0')).toThrow(/--temperature must be > 0/);
    expect(() => sampling('--top-p', '1.5')).toThrow(/--top-p must be in \(0, 1\], got 1.5/);
    expect(() => sampling('--top-k', '2.5')).toThrow(/--top-k must be a whole number ≥ 0, got 2.5/);
    expect(() => sampling('--seed', '-1')).toThrow(/--seed must be a whole number ≥ 0/);
    expect(() => sampling('--temperature', 'hot')).toThrow(/--temperature must be a number, got "hot"/);
  });
});

describe('generate: chat files', () => {
  it('reads an array of role/content messages', () => {
    expect(parseChatFile('c.json', '[{"role":"user","content":"hi"}]')).toEqual([{ role: 'user', content: 'hi' }]);
  });

  it('names the file and the broken message', () => {
    expect(() => parseChatFile('c.json', '{"role":"user"}')).toThrow(/c\.json: expected a non-empty JSON array/);
    expect(() => parseChatFile('c.json', '[]')).toThrow(/non-empty/);
    expect(() => parseChatFile('c.json', '[{"role":"user","content":"a"},{"role":"user"}]')).toThrow(/c\.json: message 1 must be/);
    expect(() => parseChatFile('c.json', '[oops')).toThrow(/c\.json: not valid JSON/);
  });
});

describe('forward: --ids', () => {
  it('parses comma-separated ids', () => {
    expect(parseIds('1, 85,91')).toEqual([1, 85, 91]);
  });

  it('names the entry that is not a token id', () => {
    for (const [text, entry] of [['1,x,3', 2], ['1,-2', 2], ['', 1], ['4,,5', 2], ['1.5', 1]] as const) {
      const err = (() => {
        try {
          parseIds(text);
        } catch (e) {
          return e;
        }
      })();
      expect(err, text).toBeInstanceOf(UsageError);
      expect((err as Error).message, text).toMatch(new RegExp(`entry ${entry} `));
    }
  });
});

describe('main(): bad invocations exit with 2 and say why', () => {
  const run = async (...argv: string[]) => {
    const io = captureIo();
    const code = await main(argv, io);
    return { code, ...io };
  };

  it('an unknown flag', async () => {
    const r = await run('generate', '--model', 'x', '--prompt', 'hi', '--temprature', '1');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Unknown option --temprature/);
  });

  it('a model folder that does not exist', async () => {
    const missing = join(tmpdir(), 'student-lab-no-such-model');
    for (const cmd of [['generate', '--prompt', 'hi'], ['forward', '--ids', '1', '--out', join(tmpdir(), 'x.safetensors')]]) {
      const r = await run(cmd[0], '--model', missing, ...cmd.slice(1));
      expect(r.code, cmd[0]).toBe(2);
      expect(r.stderr).toContain(`there is no folder at ${missing}`);
    }
  });

  it('both or neither of --prompt and --chat, and an unreadable chat file', async () => {
    expect((await run('generate', '--model', 'x/y', '--prompt', 'a', '--chat', 'c.json')).stderr).toMatch(/exactly one of --prompt/);
    expect((await run('generate', '--model', 'x/y')).code).toBe(2);
    const dir = mkdtempSync(join(tmpdir(), 'student-lab-cli-'));
    const bad = join(dir, 'chat.json');
    writeFileSync(bad, '[{"role": 1}]');
    const r = await run('generate', '--model', 'x/y', '--chat', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}: message 0 must be`);
    expect((await run('generate', '--model', 'x/y', '--chat', join(dir, 'none.json'))).stderr).toMatch(/cannot read the file \(ENOENT\)/);
  });

  it('bad ids, a missing --out and a stray argument', async () => {
    expect((await run('forward', '--model', 'x/y', '--ids', '1,two', '--out', 'o.safetensors')).stderr).toMatch(/entry 2 "two" is not a token id/);
    expect((await run('forward', '--model', 'x/y', '--ids', '1')).stderr).toMatch(/Missing --out/);
    const stray = await run('generate', '--model', 'x/y', '--prompt', 'a', 'b');
    expect(stray.code).toBe(2);
    expect(stray.stderr).toMatch(/Unexpected argument "b"/);
  });

  it('--max-new-tokens must be a whole number ≥ 1', async () => {
    const r = await run('generate', '--model', 'x/y', '--prompt', 'a', '--max-new-tokens', '0');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--max-new-tokens must be a whole number ≥ 1, got 0/);
  });
});
