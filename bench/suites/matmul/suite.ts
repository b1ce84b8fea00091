// Matmul benchmark: GFLOP/s of our kernel variants in Node (Dawn) and in headless Chromium, beside
// onnxruntime-web's WebGPU EP (same device, same page) and its wasm CPU EP.
import { describeAdapter } from '../../../src/engine/adapter.ts';
import { createNodeGpu } from '../../../src/engine/node-gpu.ts';
import { calibrateMatmul } from '../../../src/engine/kernels/matmul/calibrate.ts';
import { runBrowserPage } from '../../lib/browser.ts';
import { median } from '../../lib/stats.ts';
import { fmt } from '../../lib/table.ts';
import type { Measurement, Suite, SuiteContext, SuiteReport } from '../../lib/types.ts';
import { caseName, flopsOf, matmulCases, measureOurs, opsPerSubmit, type MatmulCase } from './cases.ts';
import type { PageInput, PageOutput } from './page.ts';

const NODE = 'node (Dawn)';
const CHROMIUM = 'chromium';

function gflops(c: MatmulCase, samplesMs: number[]): number {
  return samplesMs.length ? flopsOf(c) / (median(samplesMs) * 1e6) : NaN;
}

async function runNode(cases: MatmulCase[], budgetMs: number, ctx: SuiteContext, notes: string[]): Promise<Measurement[]> {
  const gpu = await createNodeGpu();
  const device = describeAdapter(gpu.report);
  ctx.log(`node: ${device}`);
  const out: Measurement[] = [];
  try {
    const cal = await calibrateMatmul(gpu);
    notes.push(`node: ${device}; matmul() picks by measurement: M>1 ${cal.rows}, M=1 ${cal.row}.`);
    for (const c of cases) {
      ctx.log(`node: ${caseName(c)}`);
      for (const r of await measureOurs(gpu, c, budgetMs)) {
        out.push({
          case: caseName(c),
          host: NODE,
          impl: `ours:${r.variant}`,
          value: gflops(c, r.samplesMs),
          unit: 'GFLOP/s',
          samplesMs: r.samplesMs,
          opsPerSubmit: opsPerSubmit(c),
          check: r.check,
          device,
        });
      }
    }
  } finally {
    gpu.destroy();
  }
  return out;
}

async function runChromium(
  cases: MatmulCase[],
  budgetMs: number,
  ctx: SuiteContext,
  notes: string[],
): Promise<{ measurements: Measurement[]; wasmThreads: number }> {
  const page = await runBrowserPage<PageInput, PageOutput>('matmul', { cases, budgetMs }, ctx);
  notes.push(`chromium: ${page.device}; matmul() picks by measurement: ${page.auto}; ORT wasm with ${page.wasmThreads} thread(s).`);
  const byName = new Map(cases.map((c) => [caseName(c), c]));
  const measurements = page.records.map((r) => ({
    ...r,
    host: CHROMIUM,
    value: gflops(byName.get(r.case)!, r.samplesMs),
    unit: 'GFLOP/s',
    device: r.impl.startsWith('ort:wasm') ? `wasm, ${page.wasmThreads} thread(s)` : page.device,
  }));
  return { measurements, wasmThreads: page.wasmThreads };
}

function report(cases: MatmulCase[], ms: Measurement[], wasmThreads: number, notes: string[]): SuiteReport {
  const value = (c: MatmulCase, host: string, impl: string) => {
    const m = ms.find((x) => x.case === caseName(c) && x.host === host && x.impl === impl);
    if (!m) return undefined;
    if (m.check !== 'ok') notes.push(`${host} ${impl} ${caseName(c)}: ${m.check}`);
    return m.check === 'ok' ? m.value : undefined;
  };
  const header = [
    'M x K x N',
    'node blocked',
    'node tiled',
    'node gemv',
    'chr blocked',
    'chr tiled',
    'chr gemv',
    'ORT webgpu',
    `ORT wasm(${wasmThreads}t)`,
    'best/ORT-gpu',
    'best/ORT-wasm',
  ];
  const rows = cases.map((c) => {
    const ours = (host: string) => ['blocked', 'tiled', 'gemv'].map((v) => value(c, host, `ours:${v}`));
    const node = ours(NODE);
    const chr = ours(CHROMIUM);
    const ortGpu = value(c, CHROMIUM, 'ort:webgpu');
    const ortWasm = value(c, CHROMIUM, 'ort:wasm');
    const best = Math.max(...chr.filter((v): v is number => v !== undefined));
    const ratio = (ref: number | undefined) => (ref && Number.isFinite(best) ? `${fmt(best / ref)}x` : '-');
    return [caseName(c), ...node.map((v) => fmt(v)), ...chr.map((v) => fmt(v)), fmt(ortGpu), fmt(ortWasm), ratio(ortGpu), ratio(ortWasm)];
  });
  notes.unshift(
    'GFLOP/s, median of repeated batches (warm-up excluded); "best" is our fastest variant in the same Chromium page as ORT.',
    `Batches: ${cases.map((c) => `${caseName(c)} ${opsPerSubmit(c)}/submit`).join(', ')}; ORT runs the same number of MatMul nodes per session.run.`,
  );
  return { title: 'matmul (f32, C = A·B)', table: [header, ...rows], notes, measurements: ms };
}

export const suite: Suite = {
  name: 'matmul',
  summary: 'f32 matmul GFLOP/s: our variants (Node, Chromium) vs onnxruntime-web WebGPU and wasm',
  async run(ctx) {
    const cases = matmulCases(ctx.quick);
    const budgetMs = ctx.quick ? 600 : 2000;
    const notes: string[] = [];
    const measurements = await runNode(cases, budgetMs, ctx, notes);
    let wasmThreads = 0;
    try {
      const chromium = await runChromium(cases, budgetMs, ctx, notes);
      measurements.push(...chromium.measurements);
      wasmThreads = chromium.wasmThreads;
    } catch (err) {
      notes.push(`The Chromium part failed: ${(err as Error).message.split('\n')[0]}`);
    }
    return report(cases, measurements, wasmThreads, notes);
  },
};
