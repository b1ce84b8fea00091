// A small seeded generator (mulberry32) for sampling and dropout masks: reproducible from a seed,
// and its state is one 32-bit word, so checkpoints can store and restore it.

export class Rng {
  constructor(public state: number) {
    this.state = state >>> 0;
  }

  static fromSeed(seed: number): Rng {
    return new Rng(Math.floor(seed) ^ 0x9e3779b9);
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An unsigned 32-bit integer (for seeding GPU-side generators). */
  nextU32(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }
}
