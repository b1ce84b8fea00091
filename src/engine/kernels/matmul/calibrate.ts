// One-time measured choice of matmul variant per device: times the candidates on a typical square
// product and a decode row, and records the fastest for `matmul` to use. Worth calling once after
// acquiring a device where the adapter does not say what it is (browsers often report no name).
import type { Gpu } from '../../gpu.ts';
import { matmulWith, setMatmulChoice, type MatmulChoice, type MatmulVariant } from './matmul.ts';

export interface MatmulCalibration extends MatmulChoice {
  /** Best time per matmul of each candidate, ms, keyed "variant@MxKxN". */
  timesMs: Record<string, number>;
}

const REPEATS = 3;
const PER_SUBMIT = 3;

async function bestTime(gpu: Gpu, variant: MatmulVariant, M: number, K: number, N: number): Promise<number> {
  const a = gpu.zeros([M, K], 'f32', 'calibrate.a');
  const b = gpu.zeros([K, N], 'f32', 'calibrate.b');
  const out = gpu.empty([M, N], 'f32', 'calibrate.out');
  try {
    matmulWith(gpu, variant, a, b, { out }); // compiles the pipeline
    await gpu.sync();
    let best = Infinity;
    for (let r = 0; r < REPEATS; r++) {
      const t0 = performance.now();
      for (let i = 0; i < PER_SUBMIT; i++) matmulWith(gpu, variant, a, b, { out });
      await gpu.sync();
      best = Math.min(best, (performance.now() - t0) / PER_SUBMIT);
    }
    return best;
  } finally {
    for (const t of [a, b, out]) t.release();
  }
}

/** Measure the variants on this device, record the choice for `matmul` and return it. */
export async function calibrateMatmul(gpu: Gpu): Promise<MatmulCalibration> {
  const timesMs: Record<string, number> = {};
  const time = async (variant: MatmulVariant, M: number, K: number, N: number) => {
    const ms = await bestTime(gpu, variant, M, K, N);
    timesMs[`${variant}@${M}x${K}x${N}`] = ms;
    return ms;
  };
  const rows = (await time('blocked', 256, 256, 256)) <= (await time('tiled', 256, 256, 256)) ? 'blocked' : 'tiled';
  const row = (await time('blocked', 1, 1024, 1024)) <= (await time('gemv', 1, 1024, 1024)) ? 'blocked' : 'gemv';
  const choice = { rows, row } as const;
  setMatmulChoice(gpu, choice);
  return { ...choice, timesMs };
}
