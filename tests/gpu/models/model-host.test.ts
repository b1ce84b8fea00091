// The engine worker's model host in Node (the same code as in the page's worker): a load replaces
// the model only when it succeeds; a failed or cancelled load leaves the previous model loaded,
// usable, and its GPU memory exactly as it was; unload gives every byte back.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GenerateRequest, LoadProgressEvent, ModelCard, ModelSourceSpec } from '../../../src/engine/api.ts';
import { CancelledError } from '../../../src/engine/errors.ts';
import { ModelHost } from '../../../workers/model-host.ts';
import { fixture } from '../../helpers/fixtures.ts';
import { testGpu } from '../setup.ts';

const llama = fixture('llama');

/** A fixture folder as picked files (what the page sends for a dropped or selected folder). */
function folder(name: string, replace: Record<string, Uint8Array> = {}, drop: string[] = []): ModelSourceSpec {
  const dir = fixture(name as 'llama').dir;
  const files = readdirSync(dir)
    .filter((f) => statSync(join(dir, f)).isFile() && !drop.includes(f))
    .map((f) => ({ path: `${name}/${f}`, file: new File([new Uint8Array(replace[f] ?? readFileSync(join(dir, f)))], f) }));
  return { kind: 'files', files, name };
}

const CHAT_B: GenerateRequest = { messages: llama.info.inputs.b.messages, maxNewTokens: 24, sampling: { greedy: true } };

describe('ModelHost', () => {
  it('keeps the loaded model usable after a failed or cancelled load, and frees everything on unload', async () => {
    const gpu = await testGpu();
    // Warm up once, so that the baseline holds what the Gpu keeps for itself (its uniform chunks).
    const warm = new ModelHost(() => undefined);
    await warm.load(gpu, folder('qwen3'), {}, () => undefined, new AbortController().signal);
    await warm.generate(CHAT_B, () => undefined, new AbortController().signal);
    warm.unload();
    await gpu.sync();
    const baseline = gpu.memory().liveBytes;
    const changes: (ModelCard | null)[] = [];
    const host = new ModelHost((card) => changes.push(card));
    const progress: LoadProgressEvent[] = [];

    const { card, record } = await host.load(gpu, folder('llama'), {}, (e) => progress.push(e), new AbortController().signal);
    expect(record).toBeNull(); // local files are not cached
    expect(card).toMatchObject({ name: 'llama', architecture: 'LlamaForCausalLM', parameters: 123_712, dtype: 'float32', chatTemplate: true, sessionContext: 256, layers: 2, heads: 4, kvHeads: 2 });
    expect(card.weightBytes).toBe(123_712 * 4);
    expect(card.kvCacheBytes).toBe(2 * 2 * 256 * 2 * 16 * 4 + 256 * 4);
    expect(progress.some((e) => e.phase === 'upload')).toBe(true);
    expect(progress.at(-1)).toMatchObject({ phase: 'upload', loadedBytes: progress.at(-1)!.totalBytes });
    expect(changes).toEqual([card]);
    expect(gpu.memory().liveBytes - baseline).toBeGreaterThanOrEqual(card.weightBytes + card.kvCacheBytes);

    const first = await host.generate(CHAT_B, () => undefined, new AbortController().signal);
    expect(first.ids).toEqual(llama.info.generate.new_token_ids);
    await gpu.sync();
    // Weights, KV cache, and what the first generation sized once (attention scratch, RoPE tables).
    const loadedBytes = gpu.memory().liveBytes;

    // A checkpoint whose config disagrees with its weights, and one without weights.
    const qwen2Config = readFileSync(join(fixture('qwen2').dir, 'config.json'));
    await expect(host.load(gpu, folder('llama', { 'config.json': qwen2Config }), {}, () => undefined, new AbortController().signal)).rejects.toThrow(
      /do not match config\.json/,
    );
    await expect(host.load(gpu, folder('llama', {}, ['model.safetensors']), {}, () => undefined, new AbortController().signal)).rejects.toThrow(
      /model\.safetensors is not in local folder llama/,
    );
    // Cancelled halfway through the upload.
    const controller = new AbortController();
    const cancelled = host.load(gpu, folder('qwen3'), {}, (e) => {
      if (e.phase === 'upload') controller.abort(new CancelledError('The request was cancelled.'));
    }, controller.signal);
    await expect(cancelled).rejects.toBeInstanceOf(CancelledError);

    await gpu.sync();
    expect(gpu.memory().liveBytes).toBe(loadedBytes);
    expect(host.card).toBe(card);
    expect(changes).toEqual([card]);
    const again = await host.generate(CHAT_B, () => undefined, new AbortController().signal);
    expect(again.ids).toEqual(llama.info.generate.new_token_ids);
    expect(again.prefilledTokens).toBeLessThan(again.promptTokens); // the session kept its cache

    // A successful load replaces the model and frees the old one.
    const qwen3 = await host.load(gpu, folder('qwen3'), {}, () => undefined, new AbortController().signal);
    expect(qwen3.card.architecture).toBe('Qwen3ForCausalLM');
    expect((await host.generate(CHAT_B, () => undefined, new AbortController().signal)).ids).toEqual(fixture('qwen3').info.generate.new_token_ids);
    host.unload();
    await gpu.sync();
    expect(gpu.memory().liveBytes).toBe(baseline);
    expect(changes).toEqual([card, qwen3.card, null]);
    await expect(host.generate(CHAT_B, () => undefined, new AbortController().signal)).rejects.toThrow(/No model is loaded/);
  });

  it('streams text events whose concatenation is the reply, and stops on cancel', async () => {
    const gpu = await testGpu();
    const host = new ModelHost(() => undefined);
    await host.load(gpu, folder('llama'), {}, () => undefined, new AbortController().signal);
    let streamed = '';
    const controller = new AbortController();
    const r = await host.generate(CHAT_B, (e) => {
      streamed += e.text;
      if (e.type === 'token' && e.index === 9) controller.abort();
    }, controller.signal);
    expect(r.stop).toBe('cancelled');
    expect(r.ids).toEqual(llama.info.generate.new_token_ids.slice(0, 10));
    expect(streamed).toBe(r.text);
    expect(r.tokensPerSecond).toBeGreaterThan(0);
    host.unload();
  });
});
