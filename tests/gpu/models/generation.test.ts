// Generation behaviour on the fixture llama: seeded sampling (reproducible, equal to the host
// sampling reference, support restricted by top-k / top-p), the ways generation ends (EOS, a stop
// callback, a stop string, an AbortSignal), prefix reuse across chat turns, no GPU buffer created
// during steady decoding, no memory left behind, and the KV cache refusing over-long requests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError } from '../../../src/engine/errors.ts';
import type { Gpu } from '../../../src/engine/gpu.ts';
import type { Decoder } from '../../../src/engine/models/decoder.ts';
import { GenerationSession } from '../../../src/engine/models/generate.ts';
import { sampleToken, type SamplingOptions } from '../../../src/engine/models/sampling.ts';
import { generateText } from '../../../src/engine/models/text-generation.ts';
import { attachLora, detachLora } from '../../../src/engine/models/lora.ts';
import { Rng } from '../../../src/engine/rng.ts';
import { loadTokenizer, type Tokenizer } from '../../../src/formats/tokenizer.ts';
import { fixture } from '../../helpers/fixtures.ts';
import { testGpu } from '../setup.ts';
import { loadFixtureDecoder } from './load-fixture.ts';

const f = fixture('llama');
const PROMPT: number[] = Array.from(f.i32('b.input_ids'));
const REFERENCE: number[] = f.info.generate.new_token_ids;

let gpu: Gpu;
let decoder: Decoder;
let tokenizer: Tokenizer;

beforeAll(async () => {
  gpu = await testGpu();
  decoder = loadFixtureDecoder(gpu, 'llama');
  const file = (name: string) => readFileSync(join(f.dir, name));
  tokenizer = await loadTokenizer({ tokenizerJson: file('tokenizer.json'), tokenizerConfig: file('tokenizer_config.json'), specialTokensMap: file('special_tokens_map.json') });
});

afterAll(() => decoder?.release());

/** Run one generation in a fresh session, keeping every step's logits row. */
async function generate(options: SamplingOptions & { maxNewTokens: number; eosTokenIds?: number[] }, prompt = PROMPT) {
  const session = new GenerationSession(decoder, 128);
  const rows: Float32Array[] = [];
  try {
    const result = await session.generate(prompt, { eosTokenIds: [], ...options, onStepLogits: (row) => void rows.push(row) });
    return { ...result, rows };
  } finally {
    session.release();
  }
}

/** One generation in a fresh session without a logits callback: the GPU chooses greedy and top-k tokens. */
async function generateOnGpu(options: SamplingOptions & { maxNewTokens: number; eosTokenIds?: number[] }) {
  const session = new GenerationSession(decoder, 128);
  try {
    return await session.generate(PROMPT, { eosTokenIds: [], ...options });
  } finally {
    session.release();
  }
}

/** Ids of the k largest logits (independent of sampling.ts). */
function topK(row: Float32Array, k: number): Set<number> {
  return new Set(Array.from(row.keys()).sort((a, b) => row[b] - row[a]).slice(0, k));
}

/** The nucleus: the most likely ids whose softmax(row / T) mass first reaches p. */
function nucleus(row: Float32Array, temperature: number, p: number): Set<number> {
  const max = Math.max(...row);
  const w = Array.from(row, (v) => Math.exp((v - max) / temperature));
  const total = w.reduce((a, b) => a + b, 0);
  const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a]);
  const out = new Set<number>();
  let mass = 0;
  for (const id of order) {
    out.add(id);
    mass += w[id] / total;
    if (mass >= p) break;
  }
  return out;
}

describe('sampling', () => {
  it('is reproducible from a seed and equals the host reference replayed on the same logits', async () => {
    const options = { temperature: 0.9, topK: 40, topP: 0.95, repetitionPenalty: 1.3, seed: 11, maxNewTokens: 20 };
    const a = await generate(options);
    const b = await generate(options);
    expect(a.ids).toHaveLength(20);
    expect(b.ids).toEqual(a.ids);
    const rng = Rng.fromSeed(options.seed);
    const seen = [...PROMPT];
    a.rows.forEach((row, t) => {
      const id = sampleToken(row.slice(), options, rng, seen);
      expect(id, `step ${t}`).toBe(a.ids[t]);
      seen.push(id);
    });
    const other = await generate({ ...options, seed: 12 });
    expect(other.ids).not.toEqual(a.ids);
  });

  it('top-k sampling on the GPU (k ≤ 64) draws what the host draws from the whole row', async () => {
    // With onStepLogits the host reads every row and samples; without it, the GPU keeps the k best
    // logits and the host draws from those: the same seed must give the same ids.
    for (const options of [{ temperature: 0.9, topK: 40, topP: 0.95, seed: 21 }, { temperature: 1.3, topK: 64, seed: 4 }, { temperature: 0.7, topK: 3, seed: 8 }]) {
      const host = await generate({ ...options, maxNewTokens: 20 });
      const onGpu = await generateOnGpu({ ...options, maxNewTokens: 20 });
      expect(onGpu.ids, JSON.stringify(options)).toEqual(host.ids);
    }
  });

  it('top-k keeps every choice among the k most likely tokens', async () => {
    // At temperature 5 the distribution over 512 tokens is nearly flat: unrestricted draws would
    // leave the top 3 at most steps, so this fails if top-k is ignored.
    const r = await generate({ temperature: 5, topK: 3, seed: 5, maxNewTokens: 24 });
    r.rows.forEach((row, t) => expect(topK(row, 3).has(r.ids[t]), `step ${t}`).toBe(true));
    expect(new Set(r.ids.map((id, t) => [...topK(r.rows[t], 3)].indexOf(id))).size).toBeGreaterThan(1);
  });

  it('top-p keeps every choice inside the nucleus', async () => {
    const temperature = 1.5;
    const r = await generate({ temperature, topP: 0.3, seed: 9, maxNewTokens: 24 });
    r.rows.forEach((row, t) => {
      const allowed = nucleus(row, temperature, 0.3);
      expect(allowed.size, `step ${t}`).toBeLessThan(row.length / 4);
      expect(allowed.has(r.ids[t]), `step ${t}`).toBe(true);
    });
  });
});

describe('how generation ends', () => {
  it('greedy decoding reproduces the reference and stops on an EOS id (host and GPU choice)', async () => {
    for (const run of [generate, generateOnGpu]) {
      expect((await run({ greedy: true, maxNewTokens: 24 })).ids).toEqual(REFERENCE);
      const eos = REFERENCE[5];
      const r = await run({ greedy: true, maxNewTokens: 24, eosTokenIds: [eos] });
      expect(r.stop).toBe('eos');
      expect(r.ids).toEqual(REFERENCE.slice(0, REFERENCE.indexOf(eos) + 1));
    }
  });

  it('stops when the token callback says so, and at maxNewTokens', async () => {
    const session = new GenerationSession(decoder, 128);
    const r = await session.generate(PROMPT, { greedy: true, maxNewTokens: 24, eosTokenIds: [], onToken: (_id, i) => i === 3 });
    expect(r.stop).toBe('stop');
    expect(r.ids).toEqual(REFERENCE.slice(0, 4));
    // Steps the GPU ran ahead of the stop are not kept: the cache holds the prompt and the fed tokens.
    expect(session.tokens).toEqual([...PROMPT, ...REFERENCE.slice(0, 3)]);
    expect(session.cache.length).toBe(session.tokens.length);
    const short = await session.generate(PROMPT, { greedy: true, maxNewTokens: 5, eosTokenIds: [] });
    expect(short.stop).toBe('length');
    expect(short.ids).toEqual(REFERENCE.slice(0, 5));
    session.release();
  });

  it('cuts the text before a stop string, and the streamed pieces add up to it', async () => {
    const session = new GenerationSession(decoder, 128);
    const full: string = f.info.generate.new_text;
    const stop = 'this';
    const pieces: string[] = [];
    const r = await generateText(session, tokenizer, { messages: f.info.inputs.b.messages }, {
      greedy: true,
      maxNewTokens: 24,
      stop: [stop],
      eosTokenIds: [],
      onEvent: (e) => void pieces.push(e.text),
    });
    expect(r.stop).toBe('stop');
    expect(r.text).toBe(full.slice(0, full.indexOf(stop)));
    expect(pieces.join('')).toBe(r.text);
    expect(r.ids).toEqual(REFERENCE.slice(0, r.ids.length));
    expect(r.ids.length).toBeLessThan(24);
    session.release();
  });

  it('stops at the next token when its AbortSignal fires, and refuses to start when already aborted', async () => {
    const session = new GenerationSession(decoder, 128);
    const controller = new AbortController();
    const r = await session.generate(PROMPT, {
      greedy: true,
      maxNewTokens: 24,
      eosTokenIds: [],
      signal: controller.signal,
      onToken: (_id, i) => void (i === 2 && controller.abort()),
    });
    expect(r.stop).toBe('cancelled');
    expect(r.ids).toEqual(REFERENCE.slice(0, 3));
    await expect(session.generate(PROMPT, { greedy: true, maxNewTokens: 4, signal: controller.signal })).rejects.toBeInstanceOf(CancelledError);
    // generateText turns a cancel before the first token into an empty reply.
    const empty = await generateText(session, tokenizer, { prompt: 'hello' }, { greedy: true, maxNewTokens: 4, eosTokenIds: [], signal: controller.signal });
    expect(empty).toMatchObject({ text: '', ids: [], stop: 'cancelled' });
    // The session is still usable.
    expect((await session.generate(PROMPT, { greedy: true, maxNewTokens: 6, eosTokenIds: [] })).ids).toEqual(REFERENCE.slice(0, 6));
    session.release();
  });
});

describe('decode paths', () => {
  it('with a LoRA adapter attached (no fused decode step) greedy decoding still reproduces the reference', async () => {
    // A fresh adapter has B = 0, so the model is unchanged; decode steps go through the general
    // forward (positions written per step) while the GPU still chooses the tokens ahead of the host.
    attachLora(gpu, decoder.weights, { rank: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'down_proj'] }, Rng.fromSeed(3));
    try {
      expect(decoder.canDecodeFused).toBe(false);
      expect((await generateOnGpu({ greedy: true, maxNewTokens: 24 })).ids).toEqual(REFERENCE);
      expect((await generate({ greedy: true, maxNewTokens: 24 })).ids).toEqual(REFERENCE);
      const eos = REFERENCE[9];
      const stopped = await generateOnGpu({ greedy: true, maxNewTokens: 24, eosTokenIds: [eos] });
      expect(stopped.ids).toEqual(REFERENCE.slice(0, REFERENCE.indexOf(eos) + 1));
    } finally {
      detachLora(decoder.weights);
    }
    expect(decoder.canDecodeFused).toBe(true);
  });
});

describe('chat turns and memory', () => {
  it('a second chat turn reuses the first turn’s cache and gives the ids of a fresh session', async () => {
    const messages = f.info.inputs.b.messages as { role: string; content: string }[];
    const session = new GenerationSession(decoder, 160);
    const first = await generateText(session, tokenizer, { messages }, { greedy: true, maxNewTokens: 10, eosTokenIds: [] });
    const second = [...messages, { role: 'assistant', content: first.text }, { role: 'user', content: 'And on Mondays?' }];
    const reused = await generateText(session, tokenizer, { messages: second }, { greedy: true, maxNewTokens: 12, eosTokenIds: [] });
    expect(reused.prefilledTokens).toBeLessThanOrEqual(reused.promptTokens - PROMPT.length);
    const freshSession = new GenerationSession(decoder, 160);
    const fresh = await generateText(freshSession, tokenizer, { messages: second }, { greedy: true, maxNewTokens: 12, eosTokenIds: [] });
    expect(fresh.prefilledTokens).toBe(fresh.promptTokens);
    expect(reused.ids).toEqual(fresh.ids);
    session.release();
    freshSession.release();
  });

  it('creates no GPU buffer during steady decode steps (greedy and sampled)', async () => {
    for (const options of [{ greedy: true }, { temperature: 1, topK: 50, topP: 0.9, repetitionPenalty: 1.1, seed: 1 }]) {
      const session = new GenerationSession(decoder, 128);
      const created: number[] = [];
      await session.generate(PROMPT, { ...options, maxNewTokens: 24, eosTokenIds: [], onToken: () => void created.push(gpu.memory().created) });
      // After the first two steps every buffer a step needs exists (pooled or preallocated).
      expect(created.slice(2), JSON.stringify(options)).toEqual(created.slice(2).map(() => created[2]));
      session.release();
    }
  });

  it('gives back every byte of the KV cache and step buffers on release', async () => {
    await gpu.sync();
    const before = gpu.memory().liveBytes;
    const session = new GenerationSession(decoder, 128);
    await session.generate(PROMPT, { greedy: true, maxNewTokens: 8, eosTokenIds: [] });
    expect(gpu.memory().liveBytes).toBeGreaterThan(before);
    session.release();
    await gpu.sync();
    expect(gpu.memory().liveBytes).toBe(before);
  });

  it('refuses a request longer than the KV cache, naming the numbers', async () => {
    const session = new GenerationSession(decoder, 80);
    await expect(session.generate(PROMPT, { greedy: true, maxNewTokens: 24 })).rejects.toThrow(
      /68 prompt tokens \+ 24 new tokens exceed the session's context of 80/,
    );
    // What fits still runs.
    expect((await session.generate(PROMPT, { greedy: true, maxNewTokens: 12, eosTokenIds: [] })).ids).toEqual(REFERENCE.slice(0, 12));
    session.release();
  });
});

describe('fitting the context', () => {
  it('fitContext lowers maxNewTokens to the room the cache has, and refuses a prompt that does not fit', async () => {
    const session = new GenerationSession(decoder, 80);
    const messages = f.info.inputs.b.messages;
    const r = await generateText(session, tokenizer, { messages }, { greedy: true, maxNewTokens: 24, eosTokenIds: [], fitContext: true });
    expect(r.stop).toBe('length');
    expect(r.ids).toEqual(REFERENCE.slice(0, 80 - PROMPT.length));
    const small = new GenerationSession(decoder, 68);
    await expect(generateText(small, tokenizer, { messages }, { greedy: true, maxNewTokens: 4, eosTokenIds: [], fitContext: true })).rejects.toThrow(
      /The prompt is 68 tokens long, and this session's context holds 68 tokens/,
    );
    session.release();
    small.release();
  });
});
