// KV cache allocated once per generation session: per layer keys and values [B, capacity, Hkv, D],
// plus a key mask [B, capacity] (1 where a slot holds a real token). Slots fill left to right; the
// position of a token (for RoPE) is separate from its slot, so padded batches work.
import type { ModelConfig } from '../../formats/config.ts';
import type { Gpu } from '../gpu.ts';
import { ShapeError } from '../errors.ts';
import type { Tensor } from '../tensor.ts';

export interface LayerCache {
  k: Tensor;
  v: Tensor;
}

export class KvCache {
  readonly layers: LayerCache[];
  readonly mask: Tensor;
  /** Slots in use (the same for every sequence of the batch). */
  length = 0;

  constructor(
    private readonly gpu: Gpu,
    config: ModelConfig,
    readonly batch: number,
    readonly capacity: number,
  ) {
    const shape = [batch, capacity, config.numKvHeads, config.headDim];
    this.layers = [];
    try {
      for (let i = 0; i < config.numLayers; i++) {
        this.layers.push({ k: gpu.zeros(shape, 'f32', `kv.${i}.k`), v: gpu.zeros(shape, 'f32', `kv.${i}.v`) });
      }
      this.mask = gpu.zeros([batch, capacity], 'f32', 'kv.mask');
    } catch (err) {
      this.release();
      throw err;
    }
  }

  /** Bytes held by the cache. */
  static bytes(config: ModelConfig, batch: number, capacity: number): number {
    return 2 * config.numLayers * batch * capacity * config.numKvHeads * config.headDim * 4 + batch * capacity * 4;
  }

  get free(): number {
    return this.capacity - this.length;
  }

  /** Check that `count` more slots fit before any work is recorded. */
  reserve(count: number): void {
    if (this.length + count > this.capacity) {
      throw new ShapeError(
        `The KV cache holds ${this.capacity} tokens; ${this.length} are used and ${count} more were asked for.`,
        'Start a new conversation or raise the context length of the session.',
      );
    }
  }

  /** Mark the validity of the next `T` slots of every sequence (mask row-major [B, T]). */
  writeMask(valid: Float32Array, T: number): void {
    for (let b = 0; b < this.batch; b++) {
      this.gpu.write(this.mask.view([T], b * this.capacity + this.length), valid.subarray(b * T, (b + 1) * T));
    }
  }

  /** Copy the new keys/values [B·T, Hkv·D] of one layer into slots length … length+T−1. */
  store(layer: number, k: Tensor, v: Tensor, T: number): void {
    const c = this.layers[layer];
    const row = c.k.shape[2] * c.k.shape[3];
    for (let b = 0; b < this.batch; b++) {
      const dst = (b * this.capacity + this.length) * row;
      this.gpu.copy(k.view([T * row], b * T * row), c.k.view([T * row], dst));
      this.gpu.copy(v.view([T * row], b * T * row), c.v.view([T * row], dst));
    }
  }

  /** Forget everything (the buffers stay allocated). */
  reset(): void {
    this.length = 0;
    this.gpu.clear(this.mask);
  }

  release(): void {
    for (const l of this.layers ?? []) {
      l.k.release();
      l.v.release();
    }
    this.mask?.release();
  }
}
