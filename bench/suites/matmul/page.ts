// Browser side of the matmul benchmark: our variants, then onnxruntime-web's WebGPU EP on the same
// GPUDevice and its wasm CPU EP, each on the same inputs, in one page.
import * as ort from 'onnxruntime-web/webgpu';
import { Gpu } from '../../../src/engine/gpu.ts';
import { describeAdapter } from '../../../src/engine/adapter.ts';
import { calibrateMatmul } from '../../../src/engine/kernels/matmul/calibrate.ts';
import { encodeOnnxModel } from '../../lib/onnx.ts';
import { timeBatches } from '../../lib/stats.ts';
import { caseName, inputs, measureOurs, opsPerSubmit, spotCheck, type MatmulCase } from './cases.ts';

export interface PageInput {
  cases: MatmulCase[];
  budgetMs: number;
}

export interface PageRecord {
  case: string;
  impl: string;
  samplesMs: number[];
  opsPerSubmit: number;
  check: string;
}

export interface PageOutput {
  device: string;
  /** What matmul() picks on this device after calibrateMatmul. */
  auto: string;
  wasmThreads: number;
  records: PageRecord[];
}

const log = (line: string) => console.log(`[bench] ${line}`);

/** `copies` independent MatMul nodes Y_i = A · B, with B a weight (initializer). */
function matmulModel(c: MatmulCase, copies: number, b: Float32Array): Uint8Array {
  return encodeOnnxModel({
    nodes: Array.from({ length: copies }, (_, i) => ({ op: 'MatMul', inputs: ['A', 'B'], outputs: [`Y${i}`] })),
    inputs: [{ name: 'A', dims: [c.M, c.K] }],
    outputs: Array.from({ length: copies }, (_, i) => ({ name: `Y${i}`, dims: [c.M, c.N] })),
    initializers: [{ name: 'B', dims: [c.K, c.N], data: b }],
  });
}

async function measureOrt(ep: 'webgpu' | 'wasm', gpu: Gpu, c: MatmulCase, budgetMs: number): Promise<PageRecord> {
  const { a, b } = inputs(c);
  const n = opsPerSubmit(c);
  const onGpu = ep === 'webgpu';
  // Graph optimisations off: the identical nodes must not be merged into one.
  const session = await ort.InferenceSession.create(matmulModel(c, n, b), {
    executionProviders: [onGpu ? { name: 'webgpu', device: gpu.device } : 'wasm'],
    graphOptimizationLevel: 'disabled',
    ...(onGpu ? { preferredOutputLocation: 'gpu-buffer' as const } : {}),
  });
  let input: GPUBuffer | undefined;
  try {
    let feed: ort.Tensor;
    if (onGpu) {
      input = gpu.device.createBuffer({ size: a.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      gpu.device.queue.writeBuffer(input, 0, a.buffer, a.byteOffset, a.byteLength);
      feed = ort.Tensor.fromGpuBuffer(input, { dataType: 'float32', dims: [c.M, c.K] });
    } else {
      feed = new ort.Tensor('float32', a, [c.M, c.K]);
    }
    const runOnce = async () => {
      const out = await session.run({ A: feed });
      if (onGpu) await gpu.device.queue.onSubmittedWorkDone();
      return out;
    };
    const samplesMs = await timeBatches(
      async () => {
        for (const t of Object.values(await runOnce())) t.dispose();
      },
      { opsPerBatch: n, budgetMs },
    );
    const last = await runOnce();
    const got = (await last.Y0.getData()) as Float32Array;
    const check = spotCheck(c, a, b, got);
    for (const t of Object.values(last)) t.dispose();
    return { case: caseName(c), impl: `ort:${ep}`, samplesMs, opsPerSubmit: n, check };
  } finally {
    await session.release();
    input?.destroy();
  }
}

export async function run(input: PageInput): Promise<PageOutput> {
  const gpu = await Gpu.create(navigator.gpu);
  const cal = await calibrateMatmul(gpu);
  const auto = `M>1: ${cal.rows}, M=1: ${cal.row}`;
  log(`calibrated matmul: ${auto}`);
  ort.env.wasm.wasmPaths = new URL('ort/', location.href).href;
  // All cores for the CPU reference, as llvmpipe uses them for WebGPU (threads need isolation).
  const wasmThreads = crossOriginIsolated ? navigator.hardwareConcurrency : 1;
  ort.env.wasm.numThreads = wasmThreads;
  ort.env.logLevel = 'error';
  const records: PageRecord[] = [];
  const attempt = async (c: MatmulCase, impl: string, fn: () => Promise<PageRecord[]>) => {
    log(`${caseName(c)} ${impl}`);
    try {
      records.push(...(await fn()));
    } catch (err) {
      records.push({ case: caseName(c), impl, samplesMs: [], opsPerSubmit: 0, check: `error: ${(err as Error).message.split('\n')[0]}` });
    }
  };
  for (const c of input.cases) {
    await attempt(c, 'ours', async () =>
      (await measureOurs(gpu, c, input.budgetMs)).map((r) => ({
        case: caseName(c),
        impl: `ours:${r.variant}`,
        samplesMs: r.samplesMs,
        opsPerSubmit: opsPerSubmit(c),
        check: r.check,
      })),
    );
    await attempt(c, 'ort:webgpu', async () => [await measureOrt('webgpu', gpu, c, input.budgetMs)]);
    await attempt(c, 'ort:wasm', async () => [await measureOrt('wasm', gpu, c, input.budgetMs)]);
  }
  const device = describeAdapter(gpu.report);
  gpu.destroy();
  return { device, auto, wasmThreads, records };
}
