// Text generation with a KV cache allocated once per session: prefill (in chunks), then one
// decode step per token. Step inputs and outputs are preallocated and the attention scratch is
// sized for the cache, so steady decoding creates no GPU buffers (the allocator's `created`
// counter stays still). A session keeps the tokens it holds: a chat turn that extends the previous
// prompt only prefills the new tokens.
//
// Decode steps use the decoder's fused kernels where it can (Decoder.decodeStep: one submit, no
// host writes), and the next token is chosen where it costs least:
//   greedy (no repetition penalty, no logits callback): argmax on the GPU, into the very buffer the
//     next step embeds from, so steps are recorded LOOKAHEAD ahead of the host, which reads back
//     4 bytes per token while the GPU already runs the following steps. Steps recorded past the
//     end (EOS, a stop, a cancel) are simply forgotten: the cache's length is set back, and slots
//     past it are never read.
//   top-k sampling with k ≤ 64 (no penalty, no logits callback): top-k on the GPU, the host reads
//     the k best logits and draws from them exactly as from the whole row (sampling.ts).
//   otherwise: the host reads the whole logits row.
import { CancelledError, ShapeError } from '../errors.ts';
import { argmax as argmaxOnGpu, topk, TOPK_MAX_K } from '../kernels/topk/topk.ts';
import { Rng } from '../rng.ts';
import type { Tensor } from '../tensor.ts';
import type { Decoder } from './decoder.ts';
import { KvCache } from './kv-cache.ts';
import { argmax, isGreedy, sampleToken, sampleTopK, validateSampling, type SamplingOptions } from './sampling.ts';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Token ids that end generation (the model's EOS ids by default). */
  eosTokenIds?: readonly number[];
  /** Called with each new token; return true to stop (stop strings: the caller holds the tokenizer). */
  onToken?: (id: number, index: number) => boolean | void;
  signal?: AbortSignal;
  /** Receives the logits row that chose each token (parity checks, logit lenses). */
  onStepLogits?: (row: Float32Array) => void;
}

export type StopReason = 'eos' | 'stop' | 'length' | 'cancelled';

export interface GenerateResult {
  ids: number[];
  stop: StopReason;
  promptTokens: number;
  /** Prompt tokens actually run (the rest came from the cache). */
  prefilledTokens: number;
  prefillMs: number;
  decodeMs: number;
}

/** Prompt tokens per prefill forward (bounds the attention probabilities' memory). */
const PREFILL_CHUNK = 256;
/** Greedy decode steps recorded ahead of the token the host is reading. */
const LOOKAHEAD = 2;

/** Where the next token is chosen (see the file header). */
type Chooser = 'gpu-greedy' | 'gpu-topk' | 'host';

export class GenerationSession {
  readonly cache: KvCache;
  private held: number[] = [];
  private readonly stepIds: Tensor;
  private readonly stepPositions: Tensor;
  private readonly lastHidden: Tensor;
  private readonly stepLogits: Tensor;
  private readonly topValues: Tensor;
  private readonly topIndices: Tensor;

  constructor(
    private readonly decoder: Decoder,
    readonly capacity: number,
  ) {
    const { gpu, config } = decoder;
    this.cache = new KvCache(gpu, config, 1, capacity);
    this.stepIds = gpu.empty([1], 'i32', 'step.ids');
    this.stepPositions = gpu.empty([1], 'i32', 'step.positions');
    this.lastHidden = gpu.empty([1, config.hiddenSize], 'f32', 'step.hidden');
    this.stepLogits = gpu.empty([1, config.vocabSize], 'f32', 'step.logits');
    this.topValues = gpu.empty([TOPK_MAX_K], 'f32', 'step.topk.values');
    this.topIndices = gpu.empty([TOPK_MAX_K], 'i32', 'step.topk.indices');
  }

  /** Tokens currently in the cache. */
  get tokens(): readonly number[] {
    return this.held;
  }

  reset(): void {
    this.held = [];
    this.cache.reset();
  }

  async generate(prompt: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
    validateSampling(opts);
    if (prompt.length === 0) throw new ShapeError('generate: the prompt is empty.');
    const vocab = this.decoder.config.vocabSize;
    const bad = prompt.find((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
    if (bad !== undefined) throw new ShapeError(`generate: token id ${bad} is outside the vocabulary (0 … ${vocab - 1}).`);
    if (prompt.length + opts.maxNewTokens > this.capacity) {
      throw new ShapeError(
        `generate: ${prompt.length} prompt tokens + ${opts.maxNewTokens} new tokens exceed the session's context of ${this.capacity}.`,
        'Shorten the conversation, ask for fewer new tokens, or open a session with a longer context.',
      );
    }
    const rng = Rng.fromSeed(opts.seed ?? Date.now());
    const eos = new Set(opts.eosTokenIds ?? this.decoder.config.eosTokenIds);
    const t0 = performance.now();

    // Reuse the cached prefix; the last prompt token always runs (its logits choose the first token).
    let keep = 0;
    while (keep < this.held.length && keep < prompt.length - 1 && this.held[keep] === prompt[keep]) keep++;
    this.held = this.held.slice(0, keep);
    this.cache.length = keep;
    for (let start = keep; start < prompt.length; start += PREFILL_CHUNK) {
      this.checkCancelled(opts.signal);
      const chunk = prompt.slice(start, Math.min(prompt.length, start + PREFILL_CHUNK));
      await this.run(chunk, start, start + chunk.length === prompt.length);
    }
    this.held.push(...prompt.slice(keep));
    const prefillMs = performance.now() - t0;

    const chooser = this.chooserFor(opts);
    const t1 = performance.now();
    const { ids, stop } =
      opts.maxNewTokens <= 0
        ? { ids: [], stop: 'length' as const }
        : chooser === 'gpu-greedy'
          ? await this.decodeOnGpu(opts, eos)
          : await this.decodeStepwise(prompt, opts, eos, chooser, rng);
    return { ids, stop, promptTokens: prompt.length, prefilledTokens: prompt.length - keep, prefillMs, decodeMs: performance.now() - t1 };
  }

  private chooserFor(opts: GenerateOptions): Chooser {
    if (opts.onStepLogits || (opts.repetitionPenalty ?? 1) !== 1) return 'host';
    if (isGreedy(opts)) return 'gpu-greedy';
    const k = opts.topK ?? 0;
    return k > 0 && k <= TOPK_MAX_K && k < this.decoder.config.vocabSize ? 'gpu-topk' : 'host';
  }

  /** Whether generation stops after token `next` (the index-th new one), and why. */
  private stopAfter(next: number, index: number, opts: GenerateOptions, eos: ReadonlySet<number>): StopReason | null {
    if (eos.has(next)) return 'eos';
    if (opts.onToken?.(next, index)) return 'stop';
    if (opts.signal?.aborted) return 'cancelled';
    return index + 1 === opts.maxNewTokens ? 'length' : null;
  }

  /** One token at a time: the host chooses each token (from the whole row, or from the GPU's top k) and feeds it. */
  private async decodeStepwise(
    prompt: readonly number[],
    opts: GenerateOptions,
    eos: ReadonlySet<number>,
    chooser: Chooser,
    rng: Rng,
  ): Promise<{ ids: number[]; stop: StopReason }> {
    const out: number[] = [];
    const seen = [...prompt];
    for (;;) {
      const next = chooser === 'gpu-topk' ? await this.chooseTopK(opts, rng) : await this.choose(opts, rng, seen);
      out.push(next);
      seen.push(next);
      const stop = this.stopAfter(next, out.length - 1, opts, eos);
      if (stop) return { ids: out, stop };
      // Feed the token: it enters the cache and produces the next logits.
      await this.run([next], this.held.length, true);
      this.held.push(next);
    }
  }

  /**
   * Greedy decoding on the GPU: each step's argmax writes the token the next step embeds, so the
   * host records steps ahead and only reads the tokens back (4 bytes each) to stream and to stop.
   */
  private async decodeOnGpu(opts: GenerateOptions, eos: ReadonlySet<number>): Promise<{ ids: number[]; stop: StopReason }> {
    const { gpu } = this.decoder;
    const out: number[] = [];
    // Token 0 from the prompt's logits; step j feeds token j (position start + j) and chooses token j + 1.
    const start = this.held.length;
    argmaxOnGpu(gpu, this.stepLogits, this.stepIds);
    const reads = [this.readStepToken()];
    let chosen = 1;
    try {
      for (;;) {
        while (chosen < opts.maxNewTokens && chosen <= out.length + LOOKAHEAD) {
          this.step(start + chosen - 1);
          argmaxOnGpu(gpu, this.stepLogits, this.stepIds);
          reads.push(this.readStepToken());
          chosen++;
        }
        const next = await reads.shift()!;
        out.push(next);
        const stop = this.stopAfter(next, out.length - 1, opts, eos);
        if (stop) return { ids: out, stop };
      }
    } finally {
      // Steps recorded past the last token are forgotten: their slots lie beyond the cache's length.
      await Promise.allSettled(reads);
      this.held.push(...out.slice(0, -1));
      this.cache.length = this.held.length;
    }
  }

  /** Read the token in stepIds (recorded now, in order with the steps before it). */
  private async readStepToken(): Promise<number> {
    return (await this.decoder.gpu.read(this.stepIds))[0];
  }

  /** A decode step for the token in stepIds at `position`: its logits go to stepLogits. */
  private step(position: number): void {
    const { decoder } = this;
    if (decoder.canDecodeFused) {
      decoder.decodeStep(this.stepIds, position, this.cache, this.stepLogits);
      return;
    }
    const { gpu } = decoder;
    gpu.write(this.stepPositions, Int32Array.of(position));
    const hidden = decoder.forward({ B: 1, T: 1, ids: this.stepIds, positions: this.stepPositions, maxPosition: position }, this.cache);
    decoder.logits(hidden, this.stepLogits);
    hidden.release();
  }

  /** Forward `ids` at positions start…; when `wantLogits`, leave the last row's logits in stepLogits. */
  private async run(ids: readonly number[], start: number, wantLogits: boolean): Promise<void> {
    const { gpu, config } = this.decoder;
    const T = ids.length;
    if (T === 1 && wantLogits) {
      gpu.write(this.stepIds, Int32Array.of(ids[0]));
      this.step(start);
      return;
    }
    const idsT = gpu.empty([T], 'i32', 'prefill.ids');
    const posT = gpu.empty([T], 'i32', 'prefill.positions');
    gpu.write(idsT, Int32Array.from(ids));
    gpu.write(posT, Int32Array.from({ length: T }, (_, i) => start + i));
    const hidden = this.decoder.forward({ B: 1, T, ids: idsT, positions: posT, maxPosition: start + T - 1 }, this.cache);
    if (wantLogits) {
      gpu.copy(hidden.view([config.hiddenSize], (T - 1) * config.hiddenSize), this.lastHidden.reshape([config.hiddenSize]));
      this.decoder.logits(this.lastHidden, this.stepLogits);
    }
    hidden.release();
    idsT.release();
    posT.release();
  }

  private async choose(opts: GenerateOptions, rng: Rng, seen: readonly number[]): Promise<number> {
    const row = await this.decoder.gpu.readF32(this.stepLogits);
    opts.onStepLogits?.(row.slice());
    if (isGreedy(opts) && (opts.repetitionPenalty ?? 1) === 1) return argmax(row);
    return sampleToken(row, opts, rng, seen);
  }

  /** Top-k on the GPU, then the host's draw from the k best logits (values and indices read together). */
  private async chooseTopK(opts: GenerateOptions, rng: Rng): Promise<number> {
    const { gpu } = this.decoder;
    const k = opts.topK!;
    const out = { values: this.topValues.view([1, k], 0), indices: this.topIndices.view([1, k], 0) };
    topk(gpu, this.stepLogits, k, out);
    const [values, indices] = await Promise.all([gpu.readF32(out.values), gpu.read(out.indices)]);
    return sampleTopK(values, indices, opts, rng);
  }

  private checkCancelled(signal?: AbortSignal): void {
    if (signal?.aborted) throw new CancelledError('Generation was cancelled.');
  }

  release(): void {
    this.cache.release();
    for (const t of [this.stepIds, this.stepPositions, this.lastHidden, this.stepLogits, this.topValues, this.topIndices]) t.release();
  }
}
