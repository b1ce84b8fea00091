import { describe, expect, it } from 'vitest';
import { ProgressTracker, RateMeter, type LoadProgress } from '../../../src/formats/progress.ts';

describe('load progress', () => {
  it('measures the rate over the recent window', () => {
    let t = 0;
    const m = new RateMeter(() => t, 3000);
    expect(m.rate()).toBe(0);
    m.add(0);
    for (let i = 0; i < 10; i++) {
      t += 500;
      m.add(1000); // 2000 B/s
    }
    expect(m.rate()).toBeCloseTo(2000, 6);
    for (let i = 0; i < 10; i++) {
      t += 500;
      m.add(4000); // now 8000 B/s; the window forgets the slow start
    }
    expect(m.rate()).toBeCloseTo(8000, 6);
  });

  it('reports totals, ETA and completion; cached bytes do not count toward the rate; events are throttled', () => {
    let t = 0;
    const events: LoadProgress[] = [];
    const p = new ProgressTracker((e) => events.push(e), () => t, 100);
    p.expect('config.json', 100);
    p.expect('model.safetensors', 10_000);
    p.advance('config.json', 100, 'cache');
    p.finish('config.json', 'cache');
    for (let i = 0; i < 40; i++) {
      t += 50;
      p.advance('model.safetensors', 200, 'download'); // 4000 B/s
    }
    const last = events[events.length - 1];
    expect(last.file).toBe('model.safetensors');
    expect(last.totalBytes).toBe(10_100);
    expect(last.bytesPerSecond).toBeCloseTo(4000, 6);
    expect(last.etaSeconds).toBeCloseTo((10_100 - last.loadedBytes) / 4000, 6);
    // 40 advances over 2 s at one event per 100 ms at most, plus the cached file's two.
    expect(events.length).toBeLessThanOrEqual(22);
    p.finish('model.safetensors', 'download');
    expect(events[events.length - 1]).toMatchObject({ done: true, file: 'model.safetensors', fileLoadedBytes: 8000 });
  });

  it('totals are unknown until every size is', () => {
    const events: LoadProgress[] = [];
    const p = new ProgressTracker((e) => events.push(e), () => 0, 0);
    p.expect('a', null);
    p.advance('a', 10, 'download');
    expect(events[0].totalBytes).toBeNull();
    p.finish('a', 'download');
    expect(events[1].totalBytes).toBe(10);
  });
});
