// Shared by the Node side (suite.ts) and the browser page (page.ts) of the model benchmark: timing
// of our GenerationSession (prefill = time to the first token, decode = time per later token, both
// greedy), memory from our allocator, the "no allocation during decode" check, and the per-kernel
// breakdown of a decode step.
import type { Dispatch, Gpu } from '../../../src/engine/gpu.ts';
import { GenerationSession } from '../../../src/engine/models/generate.ts';
import type { LoadedModel } from '../../../src/engine/models/load.ts';
import { weightTensors } from '../../../src/engine/models/weights.ts';
import type { Decoder } from '../../../src/engine/models/decoder.ts';
import { KvCache } from '../../../src/engine/models/kv-cache.ts';
import type { Tensor } from '../../../src/engine/tensor.ts';
import { median } from '../../lib/stats.ts';

export interface GenerationCase {
  promptTokens: number;
  newTokens: number;
  /** Timed repetitions, after `warmups` untimed ones (pipelines compile, pools fill, the JIT and the rasteriser settle). */
  reps: number;
  warmups: number;
}

/** The same prompt for every implementation: ids spread over the vocabulary, no special tokens (0…2). */
export function benchPrompt(length: number, vocab: number): number[] {
  return Array.from({ length }, (_, i) => 3 + ((i * 37 + 11) % (vocab - 3)));
}

/** One generation's timings from per-token timestamps (t0 = call start). */
export interface GenerationTiming {
  /** Time to the first new token: prompt forward + first choice. */
  prefillMs: number;
  /** Mean time per later token, first to last (one decode forward + choice each, however pipelined). */
  decodeMsPerToken: number;
}

export function timingOf(t0: number, tokenTimes: readonly number[]): GenerationTiming {
  const n = tokenTimes.length;
  return { prefillMs: tokenTimes[0] - t0, decodeMsPerToken: n > 1 ? (tokenTimes[n - 1] - tokenTimes[0]) / (n - 1) : NaN };
}

export interface OursResult {
  timings: GenerationTiming[];
  /** Greedy ids of the last repetition. */
  ids: number[];
  weightBytes: number;
  kvCacheBytes: number;
  /** Highest bytes held by our allocator while generating (weights, cache, activations, step buffers). */
  peakBytes: number;
  /** GPU buffers created between the first and the last new token, summed over the timed repetitions. */
  createdDuringDecode: number;
  /** Dispatches and submits per decode step (Gpu counters: a generation of newTokens minus one of 1 token). */
  dispatchesPerStep: number;
  submitsPerStep: number;
}

/**
 * Decode optimisations turned off for an ablation (cumulative in the suite: each row removes one
 * more), to show what each one brings. Bench-only switches, from outside the engine:
 *   hostChoice      a logits callback: the host reads each whole logits row and chooses the token
 *                   (no GPU argmax, no steps recorded ahead)
 *   unfused         Decoder.canDecodeFused reads false: decode steps take the general forward
 *   noBindGroupCache the Gpu's bind-group cache never hits: a bind group per dispatch, as before it
 */
export interface Ablation {
  hostChoice?: boolean;
  unfused?: boolean;
  noBindGroupCache?: boolean;
}

export const ABLATIONS: readonly { name: string; off: Ablation }[] = [
  { name: 'ours: host reads logits', off: { hostChoice: true } },
  { name: 'ours: … + unfused step', off: { hostChoice: true, unfused: true } },
  { name: 'ours: … + no bind-group cache', off: { hostChoice: true, unfused: true, noBindGroupCache: true } },
];

/** A Map that never keeps anything (stands in for the Gpu's bind-group cache). */
class ForgetfulMap<K, V> extends Map<K, V> {
  override get(): V | undefined {
    return undefined;
  }
  override set(): this {
    return this;
  }
}

async function withAblation<T>(gpu: Gpu, decoder: Decoder, off: Ablation, fn: () => Promise<T>): Promise<T> {
  const g = gpu as unknown as { bindGroups: Map<string, GPUBindGroup> };
  const saved = g.bindGroups;
  if (off.unfused) Object.defineProperty(decoder, 'canDecodeFused', { value: false, configurable: true });
  if (off.noBindGroupCache) g.bindGroups = new ForgetfulMap();
  try {
    return await fn();
  } finally {
    delete (decoder as { canDecodeFused?: boolean }).canDecodeFused;
    g.bindGroups = saved;
  }
}

/** Greedy generation of `newTokens` after a prompt, `reps` times in one session (reset in between). */
export async function measureOurs(gpu: Gpu, decoder: Decoder, weightBytes: number, c: GenerationCase, off: Ablation = {}): Promise<OursResult> {
  return withAblation(gpu, decoder, off, () => measure(gpu, decoder, weightBytes, c, off));
}

async function measure(gpu: Gpu, decoder: Decoder, weightBytes: number, c: GenerationCase, off: Ablation): Promise<OursResult> {
  const prompt = benchPrompt(c.promptTokens, decoder.config.vocabSize);
  const capacity = c.promptTokens + c.newTokens;
  await gpu.sync();
  gpu.allocator.resetPeak();
  const session = new GenerationSession(decoder, capacity);
  const generate = (newTokens: number, onToken?: () => void) => {
    session.reset();
    return session.generate(prompt, { greedy: true, maxNewTokens: newTokens, eosTokenIds: [], onToken, onStepLogits: off.hostChoice ? () => {} : undefined });
  };
  const counted = async (newTokens: number) => {
    const before = { ...gpu.counters };
    await generate(newTokens);
    return { dispatches: gpu.counters.dispatches - before.dispatches, submits: gpu.counters.submits - before.submits };
  };
  const timings: GenerationTiming[] = [];
  let ids: number[] = [];
  let createdDuringDecode = 0;
  try {
    for (let rep = 0; rep < c.warmups + c.reps; rep++) {
      const times: number[] = [];
      const created: number[] = [];
      const t0 = performance.now();
      const r = await generate(c.newTokens, () => {
        times.push(performance.now());
        created.push(gpu.memory().created);
      });
      if (rep < c.warmups) continue;
      timings.push(timingOf(t0, times));
      ids = r.ids;
      createdDuringDecode += created[created.length - 1] - created[0];
    }
    const peakBytes = gpu.memory().peakBytes;
    const one = await counted(1);
    const all = await counted(c.newTokens);
    return {
      timings,
      ids,
      weightBytes,
      kvCacheBytes: KvCache.bytes(decoder.config, 1, capacity),
      peakBytes,
      createdDuringDecode,
      dispatchesPerStep: (all.dispatches - one.dispatches) / (c.newTokens - 1),
      submitsPerStep: (all.submits - one.submits) / (c.newTokens - 1),
    };
  } finally {
    session.release();
  }
}

/**
 * The floor of a step: record a 4-byte copy, submit, map the staging buffer and read it (what a
 * greedy step costs besides its kernels). Median of `reps`, ms.
 */
export async function roundTripMs(gpu: Gpu, reps = 30): Promise<number> {
  const t = gpu.zeros([1], 'i32', 'bench.roundtrip');
  const samples: number[] = [];
  try {
    await gpu.readBytes(t);
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await gpu.readBytes(t);
      samples.push(performance.now() - t0);
    }
  } finally {
    t.release();
  }
  return median(samples);
}

/** Free a loaded model's GPU memory (scratch, tables and weights). */
export function releaseModel(m: LoadedModel): void {
  m.decoder.release();
  for (const t of weightTensors(m.decoder.weights)) t.release();
}

/**
 * Kernel family of a dispatch: the kernel's name (without its variant suffixes), and for the
 * linear-layer kernels (matmul, row_linear) which weight they apply: "row_linear: q_proj", "matmul:
 * LM head".
 */
export function familyOf(d: Dispatch): string {
  const name = d.kernel.name.split(/[/[]/)[0];
  if (!name.startsWith('matmul') && name !== 'row_linear') return name;
  const labels = d.bindings.map((t) => t.label).join(' ');
  const weight = /embed_tokens|lm_head/.test(labels) ? 'LM head' : (/\b(q|k|v|o|gate|up|down)_proj\b/.exec(labels)?.[0] ?? 'other');
  return `${name.startsWith('matmul') ? 'matmul' : name}: ${weight}`;
}

export interface BreakdownRow {
  family: string;
  /** Dispatches (or copies) of this family per decode step. */
  perStep: number;
  /** Added time per decode step, ms. */
  msPerStep: number;
}

export interface Breakdown {
  msPerStep: number;
  rows: BreakdownRow[];
  /** Extra copies of a family's dispatches recorded to measure it. */
  repeats: number;
}

/**
 * Cost of each kernel family in a decode step, by the difference method: decode the same tokens
 * once as is and once with every dispatch of one family recorded `repeats` extra times (right after
 * the original, same bindings); the family's cost per step is the extra time divided by `repeats`.
 * Repeating keeps the data real (skipping a family instead would leave stale, possibly denormal or
 * NaN inputs downstream, which changes the speed of what follows on a CPU rasteriser). It counts
 * everything a dispatch costs: encoding, bind group, the backend's launch and barrier, the kernel.
 * KV-cache and hidden-state copies (gpu.copy) count as the family "copy".
 */
export async function decodeBreakdown(gpu: Gpu, decoder: Decoder, c: GenerationCase, repeats = 2): Promise<Breakdown> {
  const prompt = benchPrompt(c.promptTokens, decoder.config.vocabSize);
  const session = new GenerationSession(decoder, c.promptTokens + c.newTokens);
  const { run, copy } = gpu;
  let extra: string | null = null;
  const counts = new Map<string, number>();
  const self = gpu as unknown as { run(d: Dispatch): void; copy(a: Tensor, b: Tensor): void };
  self.run = (d: Dispatch) => {
    const family = familyOf(d);
    counts.set(family, (counts.get(family) ?? 0) + 1);
    run.call(gpu, d);
    if (family === extra) for (let i = 0; i < repeats; i++) run.call(gpu, d);
  };
  self.copy = (a: Tensor, b: Tensor) => {
    counts.set('copy', (counts.get('copy') ?? 0) + 1);
    copy.call(gpu, a, b);
    if (extra === 'copy') for (let i = 0; i < repeats; i++) copy.call(gpu, a, b);
  };
  const generate = async (newTokens: number, onToken?: () => void) => {
    session.reset();
    await session.generate(prompt, { greedy: true, maxNewTokens: newTokens, eosTokenIds: [], onToken });
  };
  /** Mean ms per decode step of one generation, with `family`'s dispatches repeated (or none). */
  const stepMs = async (family: string | null): Promise<number> => {
    extra = family;
    const times: number[] = [];
    await generate(c.newTokens, () => void times.push(performance.now()));
    extra = null;
    return timingOf(0, times).decodeMsPerToken;
  };
  try {
    for (let i = 0; i < c.warmups; i++) await stepMs(null);
    // Dispatches of one decode step: a generation of 2 tokens minus one of 1 token.
    counts.clear();
    await generate(1);
    const one = new Map(counts);
    counts.clear();
    await generate(2);
    const perStep = new Map([...counts].map(([f, n]) => [f, n - (one.get(f) ?? 0)] as const).filter(([, n]) => n > 0));
    // Paired rounds: each family's run right after a plain one, so slow drifts of the machine cancel.
    const base: number[] = [];
    const diffs = new Map<string, number[]>([...perStep.keys()].map((f) => [f, []]));
    for (let round = 0; round < c.reps; round++) {
      for (const family of perStep.keys()) {
        const plain = await stepMs(null);
        base.push(plain);
        diffs.get(family)!.push(((await stepMs(family)) - plain) / repeats);
      }
    }
    const rows = [...perStep].map(([family, n]) => ({ family, perStep: n, msPerStep: median(diffs.get(family)!) }));
    rows.sort((a, b) => b.msPerStep - a.msPerStep);
    return { msPerStep: median(base), rows, repeats };
  } finally {
    // Back to the class's methods.
    delete (self as { run?: unknown }).run;
    delete (self as { copy?: unknown }).copy;
    session.release();
  }
}
