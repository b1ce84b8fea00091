import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadModelFiles, type ModelFiles } from '../../../src/formats/model-files.ts';
import type { LoadProgress } from '../../../src/formats/progress.ts';
import { parseSafetensors } from '../../../src/formats/safetensors.ts';
import { writeSafetensors } from '../../../src/formats/safetensors-writer.ts';
import { NodeFolderSource } from '../../../src/formats/source.node.ts';
import { hubSource, urlSource, type ModelSource } from '../../../src/formats/source.ts';
import { OpfsCacheStore, WeightCache } from '../../../src/store/weight-cache.ts';
import { fixtureRepos, startHubServer, type HubServer } from '../../helpers/hub-server.ts';
import { FakeOpfsDirectory } from './fake-opfs.ts';
import { fixtureBytes, fixtureJson, fixturePath, FIXTURES, MODELS } from './fixtures.ts';

let hub: HubServer;
beforeAll(async () => {
  hub = await startHubServer(fixtureRepos(FIXTURES, MODELS));
});
afterAll(() => hub.close());
beforeEach(() => {
  hub.requests.length = 0;
});

const newCache = () => new WeightCache(new OpfsCacheStore(new FakeOpfsDirectory()));
const hubOf = (repo: string) => hubSource(repo, { hubBase: hub.url });
const MODEL_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'model.safetensors'];

/** Every tensor of a load, streamed, compared with the checkpoint file read directly. */
async function expectSameTensors(m: ModelFiles, checkpoint: Uint8Array): Promise<void> {
  const st = parseSafetensors(checkpoint, 'expected');
  const seen: string[] = [];
  for await (const t of m.weights.stream()) {
    seen.push(t.name);
    expect(Buffer.compare(t.data, st.get(t.name).data), t.name).toBe(0);
  }
  expect(seen.sort()).toEqual([...st.header.byName.keys()].sort());
}

const errorOf = (p: Promise<unknown>) => p.then(() => null, (e: Error) => e);
const resolveRequests = () => hub.requests.filter((r) => r.path.includes('/resolve/')).map((r) => r.path.split('/resolve/main/')[1]);

describe('loadModelFiles from a hub-like server', () => {
  it('loads every fixture model with progress, into the cache, with validated config, tokenizer and tensors', async () => {
    for (const m of MODELS) {
      const cache = newCache();
      const events: LoadProgress[] = [];
      const files = await loadModelFiles(hubOf(`fixtures/${m}`), { cache, onProgress: (p) => events.push(p) });
      expect(files.config.architecture).toBe(m === 'llama-bf16' ? 'llama' : m);
      expect(files.tokenizer.encode('Hello world!')).toEqual([42, 71, 281, 81, 269, 280, 302, 3]);
      expect(files.stopTokenIds).toEqual([2]);
      expect(files.generationConfig?.eosTokenIds).toEqual([2]);
      await expectSameTensors(files, fixtureBytes(m, 'model.safetensors'));

      const sizes = Object.fromEntries(MODEL_FILES.map((f) => [f, readFileSync(fixturePath(m, f)).byteLength]));
      expect(Object.fromEntries(files.files.map((f) => [f.path, f.size]))).toEqual(sizes);
      expect(files.files.every((f) => f.from === 'download')).toBe(true);
      // Progress: every file completes once; the totals come from the listing and end equal.
      expect(events.filter((e) => e.done).map((e) => e.file).sort()).toEqual([...MODEL_FILES].sort());
      const total = Object.values(sizes).reduce((a, b) => a + b, 0);
      expect(events.every((e) => e.totalBytes === null || e.totalBytes === total)).toBe(true);
      const last = events[events.length - 1];
      expect([last.loadedBytes, last.totalBytes, last.file, last.done]).toEqual([total, total, 'model.safetensors', true]);
      for (let i = 1; i < events.length; i++) expect(events[i].loadedBytes).toBeGreaterThanOrEqual(events[i - 1].loadedBytes);
      // The sha256 the hub announced for the weights was checked and recorded.
      const weights = (await cache.list()).find((e) => e.file === 'model.safetensors');
      expect(weights?.sha256).toBe(files.files.find((f) => f.path === 'model.safetensors')?.sha256);
    }
  });

  it('reports rate and ETA while a slow download runs', async () => {
    hub.fault('fixtures/qwen2', 'model.safetensors', { delayMs: 15, chunkBytes: 16 * 1024 });
    try {
      const events: LoadProgress[] = [];
      await loadModelFiles(hubOf('fixtures/qwen2'), { cache: newCache(), onProgress: (p) => events.push(p) });
      const mid = events.filter((e) => e.file === 'model.safetensors' && !e.done && e.bytesPerSecond > 0);
      expect(mid.length).toBeGreaterThan(2);
      for (const e of mid) {
        expect(e.etaSeconds).not.toBeNull();
        // ETA is what remains at the measured rate.
        expect(e.etaSeconds!).toBeCloseTo((e.totalBytes! - e.loadedBytes) / e.bytesPerSecond, 6);
        expect(e.fileTotalBytes).toBe(619192);
      }
    } finally {
      hub.fault('fixtures/qwen2', 'model.safetensors', null);
    }
  });

  it('a second load comes from the cache without any download, even with the server gone', async () => {
    const cache = newCache();
    await loadModelFiles(hubOf('fixtures/llama'), { cache });
    hub.requests.length = 0;
    const again = await loadModelFiles(hubOf('fixtures/llama'), { cache });
    expect(again.files.every((f) => f.from === 'cache')).toBe(true);
    expect(hub.requests).toEqual([]);
    const offline = hubSource('fixtures/llama', { hubBase: hub.url, fetch: async () => Promise.reject(new TypeError('fetch failed: offline')) });
    const third = await loadModelFiles(offline, { cache });
    await expectSameTensors(third, fixtureBytes('llama', 'model.safetensors'));
  });

  it('streams weights over HTTP ranges when there is no cache (plain URL, no listing)', async () => {
    const source = urlSource(`${hub.url}/fixtures/qwen3/resolve/main/`);
    const events: LoadProgress[] = [];
    const files = await loadModelFiles(source, { onProgress: (p) => events.push(p) });
    expect(hub.requests.some((r) => r.path.endsWith('model.safetensors') && r.range !== null)).toBe(true);
    await expectSameTensors(files, fixtureBytes('qwen3', 'model.safetensors'));
    // The tensor pass is the download: its bytes count as progress.
    const last = events.filter((e) => e.file === 'model.safetensors').at(-1);
    expect([last?.fileLoadedBytes, last?.fileTotalBytes, last?.done]).toEqual([626864, 626864, true]);
    expect(await files.weights.read('model.norm.weight')).toMatchObject({ shape: [64], dtype: 'F32' });
  });

  it('loads from a local folder (Node) with local progress', async () => {
    const events: LoadProgress[] = [];
    const files = await loadModelFiles(new NodeFolderSource(fixturePath('llama-bf16')), { onProgress: (p) => events.push(p) });
    expect(files.config.dtype).toBe('bfloat16');
    expect(files.files.every((f) => f.from === 'local')).toBe(true);
    expect(events.every((e) => e.phase === 'local')).toBe(true);
    await expectSameTensors(files, fixtureBytes('llama-bf16', 'model.safetensors'));
  });
});

describe('sharded checkpoints', () => {
  /** qwen2's tensors split into two shards with an index. */
  function sharded(edit?: (shards: Record<string, string[]>, map: Record<string, string>) => void): Record<string, Uint8Array | string> {
    const st = parseSafetensors(fixtureBytes('qwen2', 'model.safetensors'), 'model.safetensors');
    const names = st.header.entries.map((e) => e.name);
    const shards: Record<string, string[]> = {
      'model-00001-of-00002.safetensors': names.filter((n) => !n.startsWith('model.layers.1.')),
      'model-00002-of-00002.safetensors': names.filter((n) => n.startsWith('model.layers.1.')),
    };
    const map: Record<string, string> = {};
    for (const [file, list] of Object.entries(shards)) for (const n of list) map[n] = file;
    edit?.(shards, map);
    const files: Record<string, Uint8Array | string> = { 'model.safetensors.index.json': JSON.stringify({ metadata: { total_size: st.header.dataBytes }, weight_map: map }) };
    for (const [file, list] of Object.entries(shards)) files[file] = writeSafetensors(list.map((n) => st.get(n)), { format: 'pt' });
    return files;
  }
  const serve = (repo: string, files: Record<string, Uint8Array | string>) => hub.setRepo(repo, { folder: fixturePath('qwen2'), hide: ['model.safetensors'], files });

  it('loads a two-shard checkpoint through the hub (cache) and a plain URL (ranges)', async () => {
    serve('shards/ok', sharded());
    const viaHub = await loadModelFiles(hubOf('shards/ok'), { cache: newCache() });
    expect(viaHub.weights.files).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    await expectSameTensors(viaHub, fixtureBytes('qwen2', 'model.safetensors'));
    const viaUrl = await loadModelFiles(urlSource(`${hub.url}/shards/ok/resolve/main`));
    await expectSameTensors(viaUrl, fixtureBytes('qwen2', 'model.safetensors'));
    expect(viaUrl.weights.tensors.get('model.layers.1.mlp.up_proj.weight')?.file).toBe('model-00002-of-00002.safetensors');
  });

  it('a shard the index names but the repository lacks', async () => {
    const files = sharded();
    delete files['model-00002-of-00002.safetensors'];
    serve('shards/missing', files);
    for (const source of [hubOf('shards/missing'), urlSource(`${hub.url}/shards/missing/resolve/main`)]) {
      const err = await errorOf(loadModelFiles(source, { cache: newCache() }));
      expect(err).toMatchObject({ name: 'MissingFileError', message: expect.stringMatching(/^model-00002-of-00002\.safetensors is not in .* \(named by model\.safetensors\.index\.json\)/) });
    }
  });

  it('a tensor in another shard than the index says', async () => {
    serve('shards/moved', sharded((shards) => {
      const moved = 'model.layers.1.mlp.up_proj.weight';
      shards['model-00002-of-00002.safetensors'] = shards['model-00002-of-00002.safetensors'].filter((n) => n !== moved);
      shards['model-00001-of-00002.safetensors'].push(moved);
    }));
    const err = await errorOf(loadModelFiles(hubOf('shards/moved'), { cache: newCache() }));
    expect(err).toMatchObject({ name: 'SafetensorsError', message: expect.stringMatching(/^model-00001-of-00002\.safetensors: holds tensor "model\.layers\.1\.mlp\.up_proj\.weight", which model\.safetensors\.index\.json places in model-00002-of-00002\.safetensors/) });
  });
});

describe('loadModelFiles bad input and faults', () => {
  const withRepo = (repo: string, files: Record<string, Uint8Array | string>, hide: string[] = []) => hub.setRepo(repo, { folder: fixturePath('llama'), files, hide });

  it('a connection dropped mid-download names the file and byte; nothing partial is cached; a cached model stays intact', async () => {
    const cache = newCache();
    await loadModelFiles(hubOf('fixtures/qwen3'), { cache });
    const before = await cache.list();
    hub.fault('fixtures/llama', 'model.safetensors', { dropAfterBytes: 100_000, times: 1 });
    const err = await errorOf(loadModelFiles(hubOf('fixtures/llama'), { cache }));
    expect(err).toMatchObject({ name: 'DownloadError', message: expect.stringMatching(/^Download of model\.safetensors failed at byte (\d+) of 496920: /) });
    const at = Number(/at byte (\d+)/.exec(err!.message)![1]);
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThanOrEqual(100_000);
    const after = await cache.list();
    expect(after.filter((e) => e.sourceId === 'hf:fixtures/llama').map((e) => e.file)).not.toContain('model.safetensors');
    expect(after.filter((e) => e.sourceId === 'hf:fixtures/qwen3')).toEqual(before);
    expect((await cache.store.list()).filter((f) => f.name.endsWith('.bin')).length).toBe(after.length);
    const qwen3 = await loadModelFiles(hubOf('fixtures/qwen3'), { cache });
    expect(qwen3.files.every((f) => f.from === 'cache')).toBe(true);
    // The fault was one-off: loading again downloads the rest and works.
    const llama = await loadModelFiles(hubOf('fixtures/llama'), { cache });
    expect(llama.files.find((f) => f.path === 'model.safetensors')?.from).toBe('download');
  });

  it('without a cache the broken connection surfaces while streaming the tensors', async () => {
    hub.fault('fixtures/llama', 'model.safetensors', { dropAfterBytes: 200_000 });
    try {
      const files = await loadModelFiles(hubOf('fixtures/llama'));
      const err = await errorOf((async () => {
        for await (const _ of files.weights.stream()) void _;
      })());
      expect(err).toMatchObject({ name: 'DownloadError', message: expect.stringMatching(/^Download of model\.safetensors failed at byte \d+ of 496920/) });
    } finally {
      hub.fault('fixtures/llama', 'model.safetensors', null);
    }
  });

  it('a body that ends before its Content-Length is a DownloadError naming the byte where it stopped', async () => {
    const real = fixtureBytes('llama', 'model.safetensors');
    const shortFetch: typeof fetch = async (input, init) => {
      const url = String(input);
      if (!url.endsWith('model.safetensors')) return fetch(input, init);
      const body = new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(real.slice(0, 1000)), c.close()) });
      return new Response(body, { headers: { 'content-length': String(real.byteLength) } });
    };
    const source = hubSource('fixtures/llama', { hubBase: hub.url, fetch: shortFetch });
    expect(await errorOf(loadModelFiles(source, { cache: newCache() }))).toMatchObject({ name: 'DownloadError', message: expect.stringMatching(/^Download of model\.safetensors failed at byte 1000 of 496920: the server closed the connection 495920 bytes early/) });
  });

  it('a text file whose Content-Length counts compressed bytes is read whole, not cut or refused', async () => {
    const gzipLike: typeof fetch = async (input, init) => {
      const r = await fetch(input, init);
      if (!String(input).endsWith('.json')) return r;
      const body = new Uint8Array(await r.arrayBuffer());
      return new Response(body, { status: r.status, headers: { 'content-type': 'application/json', 'content-length': String(Math.floor(body.byteLength / 3)) } });
    };
    const noListing = urlSource(`${hub.url}/fixtures/llama/resolve/main/`, { fetch: gzipLike });
    const files = await loadModelFiles(noListing, { cache: newCache() });
    expect(files.tokenizer.vocabSize).toBe(512);
    expect(files.files.find((f) => f.path === 'tokenizer.json')?.size).toBe(21226);
  });

  it('a server that ignores Range headers still serves correct tensors without a cache', async () => {
    hub.fault('fixtures/qwen2', 'model.safetensors', { ignoreRange: true });
    try {
      const files = await loadModelFiles(urlSource(`${hub.url}/fixtures/qwen2/resolve/main/`));
      expect(hub.requests.some((r) => r.path.endsWith('model.safetensors') && r.range !== null && r.status === 200)).toBe(true);
      await expectSameTensors(files, fixtureBytes('qwen2', 'model.safetensors'));
      expect(Buffer.compare((await files.weights.read('lm_head.weight')).data, parseSafetensors(fixtureBytes('qwen2', 'model.safetensors'), 'x').get('lm_head.weight').data)).toBe(0);
    } finally {
      hub.fault('fixtures/qwen2', 'model.safetensors', null);
    }
  });

  it('corrupt bytes fail the announced SHA-256 and are not cached', async () => {
    const cache = newCache();
    hub.fault('fixtures/llama', 'model.safetensors', { corruptAt: 300_000, times: 1 });
    const err = await errorOf(loadModelFiles(hubOf('fixtures/llama'), { cache }));
    expect(err).toMatchObject({ name: 'IntegrityError', message: expect.stringMatching(/^model\.safetensors: SHA-256 .* differs from the announced/) });
    expect((await cache.list()).map((e) => e.file)).not.toContain('model.safetensors');
  });

  it('HTTP errors and missing files name the file and the source', async () => {
    hub.fault('fixtures/llama', 'tokenizer.json', { status: 500, times: 1 });
    expect(await errorOf(loadModelFiles(hubOf('fixtures/llama')))).toMatchObject({ name: 'DownloadError', message: expect.stringMatching(/^Download of tokenizer\.json failed at byte 0: HTTP 500/) });
    withRepo('bad/no-config', {}, ['config.json']);
    expect(await errorOf(loadModelFiles(hubOf('bad/no-config')))).toMatchObject({ name: 'MissingFileError', message: expect.stringMatching(/^config\.json is not in Hugging Face repository bad\/no-config \(main\)/) });
    withRepo('bad/no-weights', {}, ['model.safetensors']);
    expect(await errorOf(loadModelFiles(urlSource(`${hub.url}/bad/no-weights/resolve/main`)))).toMatchObject({ name: 'MissingFileError', message: expect.stringMatching(/^model\.safetensors is not in/) });
    expect(await errorOf(loadModelFiles(hubOf('nobody/nothing')))).toMatchObject({ name: 'MissingFileError' });
  });

  it('an unsupported architecture stops before any weights are downloaded', async () => {
    withRepo('bad/arch', { 'config.json': JSON.stringify({ ...fixtureJson('llama', 'config.json'), model_type: 'gpt_neox', architectures: ['GPTNeoXForCausalLM'] }) });
    expect(await errorOf(loadModelFiles(hubOf('bad/arch'), { cache: newCache() }))).toMatchObject({ name: 'ConfigError', message: expect.stringMatching(/^config\.json: model_type: "gpt_neox"/) });
    expect(resolveRequests()).toEqual(['config.json']);
  });

  it('tensor shapes that disagree with config.json, and a missing tensor', async () => {
    withRepo('bad/shape', { 'config.json': JSON.stringify({ ...fixtureJson('llama', 'config.json'), intermediate_size: 176 }) });
    expect(await errorOf(loadModelFiles(hubOf('bad/shape')))).toMatchObject({
      name: 'TensorMismatchError',
      message: expect.stringMatching(/tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[172, 64\] but config\.json implies \[176, 64\]/),
    });
    const st = parseSafetensors(fixtureBytes('llama', 'model.safetensors'), 'x');
    const fewer = writeSafetensors(st.header.entries.filter((e) => e.name !== 'model.norm.weight').map((e) => st.get(e.name)));
    withRepo('bad/missing-tensor', { 'model.safetensors': fewer });
    expect(await errorOf(loadModelFiles(hubOf('bad/missing-tensor')))).toMatchObject({ name: 'TensorMismatchError', message: expect.stringMatching(/missing tensor "model\.norm\.weight" \(expected shape \[64\]\)/) });
  });

  it('a damaged safetensors header and an unsupported dtype name the file', async () => {
    const damaged = fixtureBytes('llama', 'model.safetensors').slice(0, 4000);
    withRepo('bad/truncated', { 'model.safetensors': damaged });
    expect(await errorOf(loadModelFiles(hubOf('bad/truncated'), { cache: newCache() }))).toMatchObject({ name: 'SafetensorsError', message: expect.stringMatching(/^model\.safetensors: tensor ".*" has data_offsets \[\d+, \d+\] beyond the \d+-byte data section: the file is truncated/) });
    const huge = fixtureBytes('llama', 'model.safetensors').slice();
    new DataView(huge.buffer).setBigUint64(0, 1n << 50n, true);
    withRepo('bad/oversized', { 'model.safetensors': huge });
    expect(await errorOf(loadModelFiles(hubOf('bad/oversized')))).toMatchObject({ name: 'SafetensorsError', message: expect.stringMatching(/^model\.safetensors: header length \d+ exceeds/) });
    const st = parseSafetensors(fixtureBytes('llama', 'model.safetensors'), 'x');
    const ints = writeSafetensors(st.header.entries.map((e) => (e.name === 'model.norm.weight' ? { ...st.get(e.name), dtype: 'I32' as const } : st.get(e.name))));
    withRepo('bad/dtype', { 'model.safetensors': ints });
    expect(await errorOf(loadModelFiles(hubOf('bad/dtype')))).toMatchObject({ name: 'TensorMismatchError', message: expect.stringMatching(/tensor "model\.norm\.weight" has dtype I32; weights must be F32, F16 or BF16/) });
  });

  it('a tokenizer that does not load is a TokenizerError naming the file', async () => {
    withRepo('bad/tokenizer', { 'tokenizer.json': '{"model": {"type": "BPE", "vocab": ' });
    expect(await errorOf(loadModelFiles(hubOf('bad/tokenizer')))).toMatchObject({ name: 'TokenizerError', message: expect.stringMatching(/^tokenizer\.json: is not valid JSON/) });
  });

  it('cancel through the signal: AbortError, nothing partial cached', async () => {
    const cache = newCache();
    const controller = new AbortController();
    hub.fault('fixtures/qwen2', 'model.safetensors', { delayMs: 20, chunkBytes: 16 * 1024 });
    try {
      const err = await errorOf(loadModelFiles(hubOf('fixtures/qwen2'), {
        cache,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.file === 'model.safetensors' && p.fileLoadedBytes > 50_000) controller.abort();
        },
      }));
      expect(err?.name).toBe('AbortError');
      expect((await cache.list()).map((e) => e.file)).not.toContain('model.safetensors');
      expect((await cache.store.list()).filter((f) => f.name.endsWith('.bin')).length).toBe((await cache.list()).length);
    } finally {
      hub.fault('fixtures/qwen2', 'model.safetensors', null);
    }
  });
});

describe('model sources', () => {
  it('parses repository ids, hub URLs and base URLs', async () => {
    const { sourceFromString } = await import('../../../src/formats/source.ts');
    const ids = (s: ModelSource) => [s.id, s.revision, s.kind];
    expect(ids(sourceFromString('HuggingFaceTB/SmolLM2-135M-Instruct'))).toEqual(['hf:HuggingFaceTB/SmolLM2-135M-Instruct', 'main', 'hub']);
    expect(ids(sourceFromString('Qwen/Qwen3-0.6B@abc123'))).toEqual(['hf:Qwen/Qwen3-0.6B', 'abc123', 'hub']);
    expect(ids(sourceFromString('https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct/tree/v1'))).toEqual(['hf:Qwen/Qwen2.5-0.5B-Instruct', 'v1', 'hub']);
    expect(ids(sourceFromString('https://example.com/models/tiny'))).toEqual(['url:https://example.com/models/tiny/', '', 'url']);
    expect(() => sourceFromString('not a model')).toThrow(/"not a model" is not a model location/);
    const hubFile = (hubSource('org/name', { revision: 'refs/pr/1' }) as unknown as { url(p: string): string }).url('sub dir/model.safetensors');
    expect(hubFile).toBe('https://huggingface.co/org/name/resolve/refs%2Fpr%2F1/sub%20dir/model.safetensors');
  });
});
