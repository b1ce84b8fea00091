// The one place that creates GPU buffers. It knows the live bytes (for the UI and for training's
// memory estimate), refuses sizes the device cannot hold with an error that names the buffer, and
// keeps released buffers in a size-keyed pool so steady loops (decode, train steps) stop allocating.
import { AllocationError } from './errors.ts';

export interface AllocatorStats {
  /** Bytes held by live tensors. */
  liveBytes: number;
  /** Highest liveBytes since the last resetPeak(). */
  peakBytes: number;
  /** Bytes parked in the reuse pool (still on the GPU). */
  pooledBytes: number;
  /** Buffers created by the device since the start (pool hits excluded). */
  created: number;
  liveBuffers: number;
}

/** Round up to a multiple of 4 bytes (WebGPU buffer sizes and copies need it). */
export function alignTo4(bytes: number): number {
  return Math.ceil(bytes / 4) * 4;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export class Allocator {
  private live = new Map<GPUBuffer, number>();
  private pool = new Map<string, GPUBuffer[]>();
  /** Buffers to destroy after the next submit (commands recorded but not submitted may use them). */
  private graveyard: GPUBuffer[] = [];
  private stats: AllocatorStats = { liveBytes: 0, peakBytes: 0, pooledBytes: 0, created: 0, liveBuffers: 0 };
  /** Bytes above which the pool is trimmed (oldest first) on release. */
  poolLimitBytes = 512 * 1024 * 1024;

  constructor(
    private readonly device: GPUDevice,
    private readonly limits: { maxBufferSize: number; maxStorageBufferBindingSize: number },
  ) {}

  /**
   * A storage buffer (STORAGE | COPY_SRC | COPY_DST). By default a kernel must be able to bind it
   * whole; a `windowed` buffer may be larger (up to maxBufferSize) and is bound in windows
   * (src/engine/windows.ts), as the vocabulary-sized embedding and LM head are.
   */
  storage(bytes: number, label: string, windowed = false): GPUBuffer {
    const size = alignTo4(Math.max(bytes, 4));
    if (!windowed && size > this.limits.maxStorageBufferBindingSize) {
      throw new AllocationError(
        `Cannot allocate "${label}": ${formatBytes(size)} exceeds this device's maxStorageBufferBindingSize (${formatBytes(this.limits.maxStorageBufferBindingSize)}).`,
        'Use a smaller batch or sequence length, or a smaller model.',
      );
    }
    return this.create(size, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label);
  }

  /** Any other buffer (staging, uniforms). */
  create(bytes: number, usage: number, label: string): GPUBuffer {
    const size = alignTo4(Math.max(bytes, 4));
    if (size > this.limits.maxBufferSize) {
      throw new AllocationError(
        `Cannot allocate "${label}": ${formatBytes(size)} exceeds this device's maxBufferSize (${formatBytes(this.limits.maxBufferSize)}).`,
        'Use a smaller model, batch or sequence length.',
      );
    }
    const key = `${size}:${usage}`;
    const pooled = this.pool.get(key)?.pop();
    let buffer: GPUBuffer;
    if (pooled) {
      buffer = pooled;
      this.stats.pooledBytes -= size;
    } else {
      buffer = this.device.createBuffer({ size, usage, label });
      this.stats.created++;
    }
    this.live.set(buffer, size);
    this.stats.liveBytes += size;
    this.stats.liveBuffers++;
    this.stats.peakBytes = Math.max(this.stats.peakBytes, this.stats.liveBytes);
    return buffer;
  }

  /**
   * Give a buffer back. It goes to the pool for reuse: queue order makes reuse by later dispatches
   * safe, and a pooled buffer is not zeroed (callers that need zeros clear it).
   */
  release(buffer: GPUBuffer): void {
    const size = this.live.get(buffer);
    if (size === undefined) return;
    this.live.delete(buffer);
    this.stats.liveBytes -= size;
    this.stats.liveBuffers--;
    const key = `${size}:${buffer.usage}`;
    let list = this.pool.get(key);
    if (!list) this.pool.set(key, (list = []));
    list.push(buffer);
    this.stats.pooledBytes += size;
    if (this.stats.pooledBytes > this.poolLimitBytes) this.trimPool();
  }

  /**
   * Drop every pooled buffer (e.g. before a large allocation, or on out-of-memory). They are
   * destroyed by collect() after the next submit, since recorded commands may still use them.
   */
  trimPool(): void {
    for (const list of this.pool.values()) this.graveyard.push(...list);
    this.pool.clear();
    this.stats.pooledBytes = 0;
  }

  /** Destroy the buffers trimmed from the pool; call right after a submit. */
  collect(): void {
    for (const buffer of this.graveyard) buffer.destroy();
    this.graveyard = [];
  }

  resetPeak(): void {
    this.stats.peakBytes = this.stats.liveBytes;
  }

  snapshot(): AllocatorStats {
    return { ...this.stats };
  }

  /** Destroy everything (device teardown). */
  destroyAll(): void {
    this.trimPool();
    this.collect();
    for (const buffer of this.live.keys()) buffer.destroy();
    this.live.clear();
    this.stats.liveBytes = 0;
    this.stats.liveBuffers = 0;
  }
}
