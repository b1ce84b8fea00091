// Client-side stop strings for backends that generate token by token (transformers.js, the
// engine): text is released to the caller only once it cannot be the start of a stop string,
// and generation is cut before the first stop string.

export class StopScanner {
  private text = '';
  private emitted = 0;
  private hit = false;

  constructor(private readonly stops: readonly string[]) {}

  /** True once a stop string appeared; the caller should end generation. */
  get stopped(): boolean {
    return this.hit;
  }

  /** The text so far, cut before the stop string if one appeared. */
  get value(): string {
    return this.text;
  }

  /** Adds generated text; returns the part that may be shown now ('' while it could be a stop string). */
  push(delta: string): string {
    if (this.hit) return '';
    this.text += delta;
    let cut = -1;
    for (const stop of this.stops) {
      if (!stop) continue;
      // Nothing emitted can contain the start of a stop string (it was held back), so search from there.
      const at = this.text.indexOf(stop, this.emitted);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.hit = true;
      this.text = this.text.slice(0, cut);
      return this.release(this.text.length);
    }
    let hold = 0;
    for (const stop of this.stops) {
      for (let k = Math.min(stop.length - 1, this.text.length); k > hold; k--) {
        if (this.text.endsWith(stop.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    return this.release(this.text.length - hold);
  }

  /** Generation ended: whatever was held back is released. */
  finish(): string {
    return this.release(this.text.length);
  }

  private release(upTo: number): string {
    if (upTo <= this.emitted) return '';
    const out = this.text.slice(this.emitted, upTo);
    this.emitted = upTo;
    return out;
  }
}

/** `text` cut before the first of `stops` (unchanged when none occurs). */
export function cutAtStop(text: string, stops: readonly string[]): string {
  let cut = text.length;
  for (const stop of stops) {
    const at = stop ? text.indexOf(stop) : -1;
    if (at >= 0 && at < cut) cut = at;
  }
  return text.slice(0, cut);
}
