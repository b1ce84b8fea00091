// Text generation with a KV cache allocated once per session: prefill (in chunks), then one
// decode step per token. Step inputs and outputs are preallocated and the attention scratch is
// sized for the cache, so steady decoding creates no GPU buffers (the allocator's `created`
// counter stays still). A session keeps the tokens it holds: a chat turn that extends the previous
// prompt only prefills the new tokens.
import { CancelledError, ShapeError } from '../errors.ts';
import { Rng } from '../rng.ts';
import type { Tensor } from '../tensor.ts';
import type { Decoder } from './decoder.ts';
import { KvCache } from './kv-cache.ts';
import { argmax, isGreedy, sampleToken, validateSampling, type SamplingOptions } from './sampling.ts';

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

export class GenerationSession {
  readonly cache: KvCache;
  private held: number[] = [];
  private readonly stepIds: Tensor;
  private readonly stepPositions: Tensor;
  private readonly lastHidden: Tensor;
  private readonly stepLogits: Tensor;

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

    const out: number[] = [];
    let stop: StopReason = 'length';
    const t1 = performance.now();
    const seen = [...prompt];
    while (out.length < opts.maxNewTokens) {
      const next = await this.choose(opts, rng, seen);
      out.push(next);
      seen.push(next);
      if (eos.has(next)) {
        stop = 'eos';
        break;
      }
      if (opts.onToken?.(next, out.length - 1)) {
        stop = 'stop';
        break;
      }
      if (opts.signal?.aborted) {
        stop = 'cancelled';
        break;
      }
      if (out.length === opts.maxNewTokens) break;
      // Feed the token: it enters the cache and produces the next logits.
      await this.run([next], this.held.length, true);
      this.held.push(next);
    }
    return { ids: out, stop, promptTokens: prompt.length, prefilledTokens: prompt.length - keep, prefillMs, decodeMs: performance.now() - t1 };
  }

  /** Forward `ids` at positions start…; when `wantLogits`, leave the last row's logits in stepLogits. */
  private async run(ids: readonly number[], start: number, wantLogits: boolean): Promise<void> {
    const { gpu, config } = this.decoder;
    const T = ids.length;
    const single = T === 1;
    const idsT = single ? this.stepIds : gpu.empty([T], 'i32', 'prefill.ids');
    const posT = single ? this.stepPositions : gpu.empty([T], 'i32', 'prefill.positions');
    gpu.write(idsT, Int32Array.from(ids));
    gpu.write(posT, Int32Array.from({ length: T }, (_, i) => start + i));
    const hidden = this.decoder.forward({ B: 1, T, ids: idsT, positions: posT, maxPosition: start + T - 1 }, this.cache);
    if (wantLogits) {
      gpu.copy(hidden.view([config.hiddenSize], (T - 1) * config.hiddenSize), this.lastHidden.reshape([config.hiddenSize]));
      this.decoder.logits(this.lastHidden, this.stepLogits);
    }
    hidden.release();
    if (!single) {
      idsT.release();
      posT.release();
    }
  }

  private async choose(opts: GenerateOptions, rng: Rng, seen: readonly number[]): Promise<number> {
    const row = await this.decoder.gpu.readF32(this.stepLogits);
    opts.onStepLogits?.(row.slice());
    if (isGreedy(opts) && (opts.repetitionPenalty ?? 1) === 1) return argmax(row);
    return sampleToken(row, opts, rng, seen);
  }

  private checkCancelled(signal?: AbortSignal): void {
    if (signal?.aborted) throw new CancelledError('Generation was cancelled.');
  }

  release(): void {
    this.cache.release();
    for (const t of [this.stepIds, this.stepPositions, this.lastHidden, this.stepLogits]) t.release();
  }
}
