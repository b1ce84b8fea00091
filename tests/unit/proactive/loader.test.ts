import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenariosFrom, nodeDirSource } from '../../../src/proactive/loader-node.ts';
import { fileListSource, loadOfficialLayout, loadScenarioFile, loadScenarioUrl, parseItemsText, requireScenarios, ScenarioLoadError, urlSource } from '../../../src/proactive/loader.ts';
import { formatIssue, validateItem } from '../../../src/proactive/schema.ts';

const good = (target = 'Recommend a quiet jazz album') => ({
  environment: { user_information: 'A developer who codes at night.', trigger_factor: 'He skipped ten songs.' },
  target,
  sub_target: ['Notice the skipping', 'Share a favourite album'],
  topic: 'Music',
});

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'scen-'));
  dirs.push(dir);
  return dir;
}
function write(root: string, path: string, data: unknown): void {
  const full = join(root, path);
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, typeof data === 'string' ? data : JSON.stringify(data));
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('validateItem', () => {
  it('accepts a correct item and joins a behaviour list given as an array', () => {
    const item = { ...good(), environment: { user_information: ['[08:00] woke up', '[08:10] ran'], trigger_factor: 'x' } };
    const { item: out, issues } = validateItem(item, 'f.json', 0);
    expect(issues).toEqual([]);
    expect(out!.environment.user_information).toBe('[08:00] woke up\n[08:10] ran');
  });

  it('names file, item and field for missing and mistyped fields', () => {
    const bad = { environment: { user_information: 42 }, target: '', sub_target: ['ok', 7], topic: 'T' };
    const { item, issues } = validateItem(bad, 'dataset/persuasion/hard.json', 3);
    expect(item).toBeUndefined();
    expect(issues.map(formatIssue)).toEqual([
      'error: dataset/persuasion/hard.json, item 3, field "environment.user_information": must be text (a string or a list of strings), got number 42',
      'error: dataset/persuasion/hard.json, item 3, field "environment.trigger_factor": is missing',
      'error: dataset/persuasion/hard.json, item 3, field "target": is empty',
      'error: dataset/persuasion/hard.json, item 3, field "sub_target[1]": must be a string, got number 7',
    ]);
    expect(validateItem('text', 'a.json', 0).issues[0].message).toMatch(/must be an object/);
    expect(validateItem({ ...good(), sub_target: 'one' }, 'a.json', 1).issues[0]).toMatchObject({ severity: 'warning', field: 'sub_target' });
  });

  it('word limits and the sub-target count are warnings (the item still loads)', () => {
    const long = { ...good('Recommend a very quiet and relaxing jazz album for late night coding sessions'), sub_target: ['only one'] };
    const { item, issues } = validateItem(long, 'a.json', 0);
    expect(item).toBeDefined();
    expect(issues.map((i) => [i.severity, i.field])).toEqual([
      ['warning', 'target'],
      ['warning', 'sub_target'],
    ]);
  });
});

describe('parsing files', () => {
  it('reads JSON arrays, a single object and JSON Lines; names the line of a JSON error', () => {
    expect(parseItemsText(JSON.stringify([good(), good()]), 'a.json').raw.length).toBe(2);
    expect(parseItemsText(JSON.stringify(good()), 'a.json').raw.length).toBe(1);
    const jsonl = `${JSON.stringify(good())}\n\n${JSON.stringify(good())}\n{broken\n`;
    const lines = parseItemsText(jsonl, 'a.jsonl');
    expect(lines.raw.length).toBe(3);
    expect(lines.issues[0].message).toMatch(/^line 4 is not valid JSON/);
    const broken = parseItemsText('[\n  {"target": "x",\n  }\n', 'b.json');
    expect(broken.issues[0].message).toMatch(/not valid JSON.*line \d+, column \d+/);
    expect(parseItemsText('', 'c.json').issues[0].message).toBe('the file is empty');
  });

  it('a single file takes the domain from the item, the option or the path, else reports it', () => {
    const text = JSON.stringify([{ ...good(), domain: 'persuasion', tier: 'hard' }, good()]);
    const noDomain = loadScenarioFile(text, 'mine.json');
    expect(noDomain.scenarios.map((s) => [s.domain, s.tier])).toEqual([['persuasion', 'hard']]);
    expect(noDomain.issues[0]).toMatchObject({ file: 'mine.json', index: 1, field: 'domain' });
    expect(loadScenarioFile(text, 'x/dataset/recommendation/fair.json').scenarios.map((s) => [s.domain, s.tier])).toEqual([
      ['persuasion', 'hard'],
      ['recommendation', 'fair'],
    ]);
    expect(loadScenarioFile(text, 'mine.json', { domain: 'system_operation' }).scenarios[1].key).toBe('system_operation/all/1');
  });
});

describe('the official layout', () => {
  it('loads fair + hard (skipping eval.json), with or without the dataset/ folder, and filters tiers and domains', async () => {
    const root = tempDir();
    write(root, 'dataset/persuasion/fair.json', [good('A'), good('B')]);
    write(root, 'dataset/persuasion/hard.json', [good('C')]);
    write(root, 'dataset/persuasion/eval.json', [good('A'), good('B'), good('C')]);
    write(root, 'dataset/recommendation/eval.json', [good('D')]);
    const all = await loadOfficialLayout(nodeDirSource(root));
    expect(all.scenarios.map((s) => `${s.key}:${s.item.target}`)).toEqual(['recommendation/all/0:D', 'persuasion/fair/0:A', 'persuasion/fair/1:B', 'persuasion/hard/0:C']);
    expect(all.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(all.issues.filter((i) => i.severity === 'warning').length).toBe(4); // four domains have no files
    const hardOnly = await loadOfficialLayout(nodeDirSource(join(root, 'dataset')), { tiers: ['hard'], domains: ['persuasion', 'recommendation'] });
    expect(hardOnly.scenarios.map((s) => s.key)).toEqual(['persuasion/hard/0']);
    expect(hardOnly.issues.map((i) => i.message)).toEqual(['has no fair/hard split next to it; skipped because tiers were chosen']);
  });

  it('loads the good items of a file with bad ones and reports the bad ones', async () => {
    const root = tempDir();
    write(root, 'dataset/glasses_assistant/fair.json', [good(), { ...good(), target: 5 }, good()]);
    const loaded = await loadOfficialLayout(nodeDirSource(root), { domains: ['glasses_assistant'] });
    expect(loaded.scenarios.map((s) => s.index)).toEqual([0, 2]);
    expect(formatIssue(loaded.issues[0])).toBe('error: dataset/glasses_assistant/fair.json, item 1, field "target": must be text (a string or a list of strings), got number 5');
  });

  it('an empty source is a clear error; --envs accepts a folder or a single file', async () => {
    const root = tempDir();
    await expect(async () => requireScenarios(await loadOfficialLayout(nodeDirSource(root)), root)).rejects.toThrow(ScenarioLoadError);
    write(root, 'one.jsonl', `${JSON.stringify({ ...good(), domain: 'persuasion' })}\n${JSON.stringify({ ...good(), domain: 'recommendation', tier: 'fair' })}`);
    const file = await loadScenariosFrom(join(root, 'one.jsonl'), { domains: ['persuasion', 'recommendation'] });
    expect(file.scenarios.length).toBe(2);
    expect((await loadScenariosFrom(join(root, 'one.jsonl'), { tiers: ['fair'] })).scenarios.map((s) => s.domain)).toEqual(['recommendation']);
  });

  it('reads over HTTP (treating 404 and an SPA fallback page as missing), a layout or one file by URL, and from a browser File list', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/data/dataset/persuasion/fair.json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify([good()]));
      } else if (req.url?.endsWith('hard.json')) {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><html></html>');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/data`;
    const loaded = await loadOfficialLayout(urlSource(base), { domains: ['persuasion'] });
    // A URL ending in .json is one file (domain and tier from its path), anything else a layout root.
    const file = await loadScenarioUrl(`${base}/dataset/persuasion/fair.json`);
    const layout = await loadScenariosFrom(base, { domains: ['persuasion'] });
    const missing = loadScenarioUrl(`${base}/dataset/persuasion/eval.json`);
    await expect(missing).rejects.toThrow(ScenarioLoadError);
    await expect(missing).rejects.toThrow(`${base}/dataset/persuasion/eval.json was not found.`);
    server.close();
    expect(loaded.scenarios.map((s) => s.key)).toEqual(['persuasion/fair/0']);
    expect(loaded.issues).toEqual([]);
    expect(file.scenarios.map((s) => [s.key, s.source])).toEqual([['persuasion/fair/0', `${base}/dataset/persuasion/fair.json`]]);
    expect(layout.scenarios.map((s) => s.key)).toEqual(['persuasion/fair/0']);
    await expect(loadScenarioUrl('no address')).rejects.toThrow('"no address" is not a URL.');

    const picked = new File([JSON.stringify([good(), good()])], 'hard.json');
    Object.defineProperty(picked, 'webkitRelativePath', { value: 'my-download/dataset/recommendation/hard.json' });
    const fromFiles = await loadOfficialLayout(fileListSource([picked]), { domains: ['recommendation'] });
    expect(fromFiles.scenarios.map((s) => s.key)).toEqual(['recommendation/hard/0', 'recommendation/hard/1']);
  });
});
