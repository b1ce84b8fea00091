import { describe, expect, it } from 'vitest';
import { extractColumns, insertColumns } from '../../../src/engine/kernels/columns/columns.ts';
import { extractColumnsRef, insertColumnsRef } from '../../../src/engine/kernels/columns/reference.ts';
import { expectClose } from '../../helpers/close.ts';
import { makeRng, normal } from '../../helpers/random.ts';
import { testGpu, withFoldLimit } from '../setup.ts';

// Pure copies: exact.
const EXACT = { atol: 0, rtol: 0 };

describe('column block copies', () => {
  for (const [rows, cols, wideCols, offset] of [[1, 64, 512, 128], [7, 13, 50, 37], [33, 100, 300, 0], [5, 1, 9, 8]]) {
    it(`${rows}x${cols} at column ${offset} of ${wideCols}`, async () => {
      const gpu = await testGpu();
      const rng = makeRng();
      const narrow = normal(rng, rows * cols);
      const wide = normal(rng, rows * wideCols);
      const tw = gpu.upload(wide, [rows, wideCols]);
      insertColumns(gpu, gpu.upload(narrow, [rows, cols]), tw, offset);
      expectClose(await gpu.readF32(tw), insertColumnsRef(narrow, wide, rows, cols, wideCols, offset), EXACT, `insert seed=${rng.seed}`);
      const out = await withFoldLimit(gpu, 8, async () => gpu.readF32(extractColumns(gpu, gpu.upload(wide, [rows, wideCols]), offset, cols)));
      expectClose(out, extractColumnsRef(wide, rows, wideCols, offset, cols), EXACT, `extract seed=${rng.seed}`);
    });
  }

  it('refuses columns past the edge', async () => {
    const gpu = await testGpu();
    expect(() => insertColumns(gpu, gpu.zeros([2, 5]), gpu.zeros([2, 8]), 4)).toThrowError(/columns 4 … 9 of \[2, 8\]/);
  });
});
