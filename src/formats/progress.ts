// Load progress: bytes, rate and ETA for the Models panel and the CLI.
// The rate is measured over a sliding window of recent samples (a steady figure that still follows
// a connection that speeds up or stalls); files served from the cache count as loaded at once and
// do not inflate the rate.

export interface LoadProgress {
  /** The file being loaded. */
  file: string;
  /** 'download': from the network; 'cache': from the offline cache; 'local': from a local folder. */
  phase: 'download' | 'cache' | 'local';
  fileLoadedBytes: number;
  fileTotalBytes: number | null;
  /** Over every file of this load. totalBytes is null until every size is known. */
  loadedBytes: number;
  totalBytes: number | null;
  bytesPerSecond: number;
  /** null while the rate is unknown. */
  etaSeconds: number | null;
  /** This file is complete. */
  done: boolean;
}

export type ProgressListener = (p: LoadProgress) => void;

/** Bytes per second over the last `windowMs`. */
export class RateMeter {
  private samples: { t: number; bytes: number }[] = [];
  private total = 0;

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly windowMs = 3000,
  ) {}

  add(bytes: number): void {
    this.total += bytes;
    const t = this.now();
    this.samples.push({ t, bytes: this.total });
    // Keep one sample at or before the window's start as the anchor of the measurement.
    while (this.samples.length > 2 && this.samples[1].t <= t - this.windowMs) this.samples.shift();
  }

  rate(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const seconds = (last.t - first.t) / 1000;
    return seconds > 0 ? (last.bytes - first.bytes) / seconds : 0;
  }
}

/** Turns byte counts of the files of one load into throttled LoadProgress events. */
export class ProgressTracker {
  private readonly meter: RateMeter;
  private readonly sizes = new Map<string, number | null>();
  private readonly loaded = new Map<string, number>();
  private lastEmit = -Infinity;

  constructor(
    private readonly listener: ProgressListener | undefined,
    private readonly now: () => number = () => performance.now(),
    private readonly intervalMs = 100,
  ) {
    this.meter = new RateMeter(now);
  }

  /** Announce a file (its size when known) so that totals and ETA cover it from the start. */
  expect(file: string, size: number | null): void {
    if (!this.sizes.has(file) || size !== null) this.sizes.set(file, size);
    if (!this.loaded.has(file)) this.loaded.set(file, 0);
  }

  /** `bytes` more of `file` arrived; `network` bytes count toward the rate. */
  advance(file: string, bytes: number, phase: LoadProgress['phase']): void {
    this.loaded.set(file, (this.loaded.get(file) ?? 0) + bytes);
    if (phase === 'download') this.meter.add(bytes);
    const t = this.now();
    if (t - this.lastEmit >= this.intervalMs) this.emit(file, phase, false, t);
  }

  /** `file` is complete (always reported). */
  finish(file: string, phase: LoadProgress['phase']): void {
    const got = this.loaded.get(file) ?? 0;
    const size = this.sizes.get(file);
    if (size === null || size === undefined) this.sizes.set(file, got);
    this.emit(file, phase, true, this.now());
  }

  private emit(file: string, phase: LoadProgress['phase'], done: boolean, t: number): void {
    this.lastEmit = t;
    if (!this.listener) return;
    let loadedBytes = 0;
    for (const n of this.loaded.values()) loadedBytes += n;
    let totalBytes: number | null = 0;
    for (const s of this.sizes.values()) totalBytes = s === null || totalBytes === null ? null : totalBytes + s;
    const bytesPerSecond = this.meter.rate();
    const etaSeconds = totalBytes !== null && bytesPerSecond > 0 ? Math.max(0, totalBytes - loadedBytes) / bytesPerSecond : null;
    this.listener({
      file,
      phase,
      fileLoadedBytes: this.loaded.get(file) ?? 0,
      fileTotalBytes: this.sizes.get(file) ?? null,
      loadedBytes,
      totalBytes,
      bytesPerSecond,
      etaSeconds,
      done,
    });
  }
}
