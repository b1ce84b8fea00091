// `student-lab eval` end to end against the scripted endpoint: in-process runs, a real process
// killed mid-run and resumed, flag errors, the local-model error and an ONNX model folder.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import type { ResultsDocument } from '../../../src/proactive/export.ts';
import { nodeDirSource } from '../../../src/proactive/loader-node.ts';
import { loadOfficialLayout } from '../../../src/proactive/loader.ts';
import { FIXTURES_DIR } from '../../helpers/fixtures.ts';
import { startOpenAiServer, type ScriptedServer } from '../../helpers/openai-server.ts';
import { kindOf, type Handler } from './script.ts';

const dir = mkdtempSync(join(tmpdir(), 'eval-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const ANSWERS: Record<string, Handler> = {
  'planning.model': () => '{"target": "Do the thing", "sub_targets": ["Step one", "Step two"]}',
  'planning.judge': () => '{"reason": "Fair.", "score": 5}',
  'guidance.model': () => 'Shall we start with one small step today?',
  'user.simulator': () => 'Okay, sure.',
  'guidance.check': () => '{"reached": true}',
  'guidance.judge': () => '{"thought": "Fine.", "score": 7}',
  'guidance.density': () => '{"touched": [[1]]}',
};

async function endpoint(options: { delayMs?: number; apiKey?: string } = {}): Promise<ScriptedServer> {
  const s = await startOpenAiServer({
    apiKey: options.apiKey,
    respond: (request, i) => {
      const text = ANSWERS[kindOf(request)](request, i) as string;
      return options.delayMs && kindOf(request) === 'planning.model' ? { text, delayMs: options.delayMs } : text;
    },
  });
  servers.push(s);
  return s;
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['eval', ...args], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const readResults = (path: string): ResultsDocument => JSON.parse(readFileSync(path, 'utf8')) as ResultsDocument;

function endpointArgs(url: string): string[] {
  return ['--model', url, '--model-name', 'student', '--judge', url, '--judge-model', 'judge', '--user', `${url}/v1`, '--user-model', 'user'];
}

describe('student-lab eval', () => {
  it('runs both tasks into --out, prints the table, and a rerun with the same --out does nothing new', async () => {
    const s = await endpoint();
    const out = join(dir, 'both.json');
    const first = await cli(['--task', 'both', ...endpointArgs(s.url), '--domains', 'rec,persuasion', '--limit', '1', '--agreeableness', 'low,high', '--out', out]);
    expect(first.err).not.toMatch(/error/i);
    expect(first.code).toBe(0);
    const doc = readResults(out);
    expect(doc.items.length).toBe(2 + 2 * 2);
    expect(doc.items.every((i) => i.status === 'done')).toBe(true);
    expect(doc.run.settings).toMatchObject({ tasks: ['planning', 'guidance'], domains: ['recommendation', 'persuasion'], agreeableness: ['low', 'high'], limitPerDomain: 1 });
    expect(doc.summary[0].planning).toMatchObject({ avg: 5, n: 2 });
    expect(doc.summary[0].guidance).toMatchObject({ avg: 7, n: 2 });
    expect(first.out).toMatch(/planning\s+5\.00\s+5\.00\s+5\.00\s+-/);
    expect(first.out).toMatch(/guidance\s+7\.00/);
    const requests = s.requests.length;
    const again = await cli(['--task', 'both', ...endpointArgs(s.url), '--domains', 'rec,persuasion', '--limit', '1', '--agreeableness', 'low,high', '--out', out]);
    expect(again.code).toBe(0);
    expect(again.err).toMatch(/Continuing run .*6 items, 6 already done/s);
    expect(s.requests.length).toBe(requests);
  });

  it('a process killed mid-run resumes with the same --out without redoing finished items', async () => {
    const s = await endpoint({ delayMs: 150 });
    const out = join(dir, 'killed.json');
    const args = ['eval', '--task', 'planning', ...endpointArgs(s.url), '--domains', 'rec,per,ai', '--limit', '2', '--concurrency', '1', '--out', out];
    const child = spawn(process.execPath, ['bin/student-lab.mjs', ...args], { stdio: 'ignore' });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (existsSync(out) && readResults(out).items.length >= 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const killed = readResults(out);
    expect(killed.items.length).toBeGreaterThanOrEqual(2);
    expect(killed.items.length).toBeLessThan(6);
    const before = s.requests.length;

    const resumed = await cli(args.slice(1));
    expect(resumed.code).toBe(0);
    const doc = readResults(out);
    expect(doc.items.length).toBe(6);
    for (const item of killed.items) expect(doc.items.find((i) => i.itemKey === item.itemKey)).toEqual(item);
    // The rerun asked the model about each unfinished environment once, and about no finished one.
    const { scenarios } = await loadOfficialLayout(nodeDirSource('public/scenarios'));
    const userInfo = (key: string): string => scenarios.find((sc) => sc.key === key)!.item.environment.user_information;
    const asked = s.requests.slice(before).filter((r) => kindOf(r) === 'planning.model').map((r) => r.messages[0].content);
    expect(asked.length).toBe(6 - killed.items.length);
    for (const item of doc.items) {
      const times = asked.filter((p) => p.includes(userInfo(item.scenarioKey))).length;
      expect(times, item.scenarioKey).toBe(killed.items.some((k) => k.itemKey === item.itemKey) ? 0 : 1);
    }
  });

  it('explains bad flags (exit 2) and never writes the API key into the results', async () => {
    expect((await cli(['--task', 'everything', '--model', 'http://x', '--model-name', 'm', '--out', join(dir, 'x.json')])).err).toMatch(/--task must be planning, guidance or both/);
    const noUser = await cli(['--task', 'guidance', '--model', 'http://x', '--model-name', 'm', '--out', join(dir, 'x.json')]);
    expect([noUser.code, noUser.err]).toEqual([2, expect.stringMatching(/needs a simulated user/)]);
    expect((await cli(['--task', 'planning', '--model', 'http://x', '--out', join(dir, 'x.json')])).err).toMatch(/Missing --model-name/);
    expect((await cli(['--task', 'planning', '--model', 'http://x', '--model-name', 'm', '--domains', 'cooking', '--out', join(dir, 'x.json')])).err).toMatch(/--domains: unknown value "cooking"/);

    const s = await endpoint({ apiKey: 'sk-secret-123' });
    process.env.TEST_EVAL_KEY = 'sk-secret-123';
    const out = join(dir, 'keyed.json');
    const run = await cli(['--task', 'planning', ...endpointArgs(s.url), '--api-key-env', 'TEST_EVAL_KEY', '--domains', 'sys', '--limit', '1', '--out', out]);
    expect(run.code).toBe(0);
    expect(readFileSync(out, 'utf8')).not.toContain('sk-secret-123');
    const missing = await cli(['--task', 'planning', ...endpointArgs(s.url), '--api-key-env', 'NO_SUCH_VARIABLE_X', '--out', out]);
    expect([missing.code, missing.err]).toEqual([2, expect.stringMatching(/NO_SUCH_VARIABLE_X .* is not set/)]);
  });

  it('an endpoint that refuses the key ends the run with that message (exit 1), results kept', async () => {
    const s = await endpoint({ apiKey: 'right' });
    const out = join(dir, 'refused.json');
    const run = await cli(['--task', 'planning', ...endpointArgs(s.url), '--domains', 'sys', '--limit', '1', '--out', out]);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/refused the key/);
    expect(readResults(out).items[0].status).toBe('error');
  });

  it('an ONNX folder runs through transformers.js (--backend onnx when it also has safetensors)', async () => {
    const bad = await cli(['--task', 'planning', '--model', join(FIXTURES_DIR, 'qwen2'), '--backend', 'onnx', '--out', join(dir, 'bad.json')]);
    expect([bad.code, bad.err]).toEqual([2, expect.stringMatching(/--backend onnx needs a folder with onnx\/model.onnx/)]);
    const s = await endpoint();
    const args = ['--task', 'planning', '--model', join(FIXTURES_DIR, 'llama'), '--backend', 'onnx', '--judge', s.url, '--judge-model', 'judge', '--domains', 'rec', '--limit', '1'];
    // The built-in planning prompt (~730 tokens with this tokenizer) does not fit the fixture's
    // 256-token context: the item fails with a message that says so.
    const long = join(dir, 'onnx-long.json');
    const refused = await cli([...args, '--out', long]);
    expect(refused.err).toMatch(/The prompt is \d+ tokens long, and the context of llama \(ONNX\) holds 256 tokens/);
    expect(readResults(long).items[0].status).toBe('error');
    // A shorter model prompt from --prompts fits, and the run records it.
    const prompts = join(dir, 'short-prompts.json');
    writeFileSync(prompts, JSON.stringify({ 'planning.model': 'Domain: {{domain_name}}. Plan a target.' }));
    const out = join(dir, 'onnx.json');
    const run = await cli([...args, '--prompts', prompts, '--out', out]);
    expect(run.err).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    const results = readResults(out);
    const [item] = results.items;
    expect(item).toMatchObject({ modelLabel: 'llama (ONNX)', status: 'done', score: 5 });
    expect(item.planning!.output.length).toBeGreaterThan(0);
    expect(item.prompts).toContainEqual({ id: 'planning.model', version: expect.stringMatching(/^1\+edit\./) });
  });

  it('--prompts refuses a file that is not JSON, an unknown prompt id and a placeholder the prompt cannot be given', async () => {
    const file = join(dir, 'prompts.json');
    const base = ['--task', 'planning', '--model', 'http://x', '--model-name', 'm', '--prompts', file, '--out', join(dir, 'x.json')];
    writeFileSync(file, '{ not json');
    expect((await cli(base)).err).toMatch(new RegExp(`--prompts ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*JSON`));
    writeFileSync(file, JSON.stringify({ 'planning.modell': 'x' }));
    expect((await cli(base)).err).toMatch(/unknown prompt id "planning.modell"/);
    writeFileSync(file, JSON.stringify({ 'planning.model': 'Plan for {{user_name}}.' }));
    const bad = await cli(base);
    expect([bad.code, bad.err]).toEqual([2, expect.stringMatching(/"planning.model" uses \{\{user_name\}\}/)]);
  });
});
