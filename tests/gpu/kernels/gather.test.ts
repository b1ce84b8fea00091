import { describe, expect, it } from 'vitest';
import { gatherRows } from '../../../src/engine/kernels/gather/gather.ts';
import { gatherRowsRef } from '../../../src/engine/kernels/gather/reference.ts';
import { expectClose } from '../../helpers/close.ts';
import { integers, makeRng, normal } from '../../helpers/random.ts';
import { testGpu, withFoldLimit } from '../setup.ts';

// A gather copies f32 values: exact.
const EXACT = { atol: 0, rtol: 0 };

describe('gatherRows vs reference', () => {
  it('looks up rows, ids outside the table give zero rows', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const [R, D] = [37, 19];
    const table = normal(rng, R * D);
    const ids = integers(rng, 2 * 13, -3, R + 4); // a few ids outside [0, R)
    const got = gatherRows(gpu, gpu.upload(table, [R, D]), gpu.upload(ids, [2, 13], 'i32'));
    expect(got.shape).toEqual([2, 13, D]);
    expectClose(await gpu.readF32(got), gatherRowsRef(table, D, ids, new Float32Array(ids.length * D)), EXACT, `seed=${rng.seed}`);
  });

  it('gathers a table split into row chunks into one output', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const [R, D, n] = [100, 8, 57];
    const table = normal(rng, R * D);
    const ids = integers(rng, n, 0, R);
    const idsT = gpu.upload(ids, [n], 'i32');
    const bounds = [0, 40, 80, R];
    const out = gatherRows(gpu, gpu.upload(table.subarray(0, 40 * D), [40, D]), idsT);
    for (let c = 1; c < 3; c++) {
      const chunk = table.subarray(bounds[c] * D, bounds[c + 1] * D);
      gatherRows(gpu, gpu.upload(chunk, [bounds[c + 1] - bounds[c], D]), idsT, { out, rowOffset: bounds[c] });
    }
    expectClose(await gpu.readF32(out), gatherRowsRef(table, D, ids, new Float32Array(n * D)), EXACT, `seed=${rng.seed}`);
  });

  it('leaves rows of a given out alone when their id is in another chunk', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const [R, D] = [10, 5];
    const chunk = normal(rng, R * D);
    const ids = new Int32Array([3, 12, 25, 19, 20, 10]);
    const init = normal(rng, ids.length * D);
    const out = gpu.upload(init, [ids.length, D]);
    gatherRows(gpu, gpu.upload(chunk, [R, D]), gpu.upload(ids, [ids.length], 'i32'), { out, rowOffset: 10 });
    expectClose(await gpu.readF32(out), gatherRowsRef(chunk, D, ids, init, 10), EXACT, `seed=${rng.seed}`);
  });

  it('folds the grid into 2D past maxComputeWorkgroupsPerDimension', async () => {
    const gpu = await testGpu();
    const rng = makeRng();
    const [R, D, n] = [50, 64, 40]; // 40·64 elements = 10 workgroups of 256, folded at 4 -> 3 x 4
    const table = normal(rng, R * D);
    const ids = integers(rng, n, 0, R);
    const got = await withFoldLimit(gpu, 4, () => gpu.readF32(gatherRows(gpu, gpu.upload(table, [R, D]), gpu.upload(ids, [n], 'i32'))));
    expectClose(got, gatherRowsRef(table, D, ids, new Float32Array(n * D)), EXACT, `seed=${rng.seed}`);
  });

  it('explains a table over the storage binding limit and wrong id types', async () => {
    const gpu = await testGpu();
    const table = gpu.zeros([64, 16], 'f32', 'embed');
    const limits = gpu.limits as { maxStorageBufferBindingSize: number };
    const saved = limits.maxStorageBufferBindingSize;
    limits.maxStorageBufferBindingSize = 1024;
    try {
      expect(() => gatherRows(gpu, table, gpu.zeros([3], 'i32'))).toThrowError(/table "embed" \[64, 16\] is 4096 bytes, over this device's 1024-byte storage binding limit[\s\S]*row chunks/);
    } finally {
      limits.maxStorageBufferBindingSize = saved;
    }
    expect(() => gatherRows(gpu, table, gpu.zeros([3], 'f32', 'tokens'))).toThrowError(/gatherRows: ids \("tokens"\) has dtype f32, expected i32/);
  });
});
