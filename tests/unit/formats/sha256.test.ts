import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256 } from '../../../src/formats/sha256.ts';
import { makeRng } from '../../helpers/random.ts';

describe('incremental SHA-256', () => {
  it('matches the FIPS 180-2 examples', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(new Sha256().update(enc('abc')).hex()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(new Sha256().hex()).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(new Sha256().update(enc('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).hex()).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  });

  it('equals node:crypto on random inputs split at random chunk boundaries', () => {
    const rng = makeRng();
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 70_001]) {
      const data = new Uint8Array(n).map(() => Math.floor(rng.next() * 256));
      const h = new Sha256();
      for (let i = 0; i < n; ) {
        const step = 1 + Math.floor(rng.next() * 150);
        h.update(data.subarray(i, i + step));
        i += step;
      }
      expect(h.hex(), `n=${n} seed=${rng.seed}`).toBe(createHash('sha256').update(data).digest('hex'));
    }
  });
});
