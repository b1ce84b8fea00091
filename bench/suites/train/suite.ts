// Training throughput: tokens/s per optimiser step for full fine-tuning and LoRA on the fixture
// configs and one larger config, the model FLOPs utilisation (6·params·tokens plus attention, as a
// fraction of our own best matmul rate measured in the same run), and peak GPU bytes per parameter.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describeAdapter } from '../../../src/engine/adapter.ts';
import type { Gpu } from '../../../src/engine/gpu.ts';
import { matmul } from '../../../src/engine/kernels/matmul/matmul.ts';
import { initDecoder } from '../../../src/engine/models/init.ts';
import { attachLora } from '../../../src/engine/models/lora.ts';
import { createNodeGpu } from '../../../src/engine/node-gpu.ts';
import { Rng } from '../../../src/engine/rng.ts';
import { parameterCount, parseModelConfig, type ModelConfig } from '../../../src/formats/config.ts';
import { SftBatches } from '../../../src/distill/trainer/batches.ts';
import { Trainer } from '../../../src/distill/trainer/trainer.ts';
import { median, timeBatches } from '../../lib/stats.ts';
import { fmt } from '../../lib/table.ts';
import type { Measurement, Suite, SuiteContext, SuiteReport } from '../../lib/types.ts';

const FIXTURES = resolve(process.env.STUDENT_LAB_FIXTURES ?? join(import.meta.dirname, '../../../tests/fixtures/models'));
const HOST = 'node (Dawn)';

interface Case {
  name: string;
  config: ModelConfig;
  batch: number;
  seq: number;
}

function larger(): ModelConfig {
  return parseModelConfig({
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: 4096,
    hidden_size: 256,
    intermediate_size: 688,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 64,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 512,
    tie_word_embeddings: true,
    hidden_act: 'silu',
    torch_dtype: 'float32',
  });
}

function cases(quick: boolean): Case[] {
  const fixtures = ['llama', 'qwen2', 'qwen3'].map((name) => ({
    name,
    config: parseModelConfig(JSON.parse(readFileSync(join(FIXTURES, name, 'config.json'), 'utf8'))),
    batch: 2,
    seq: 64,
  }));
  return [...(quick ? fixtures.slice(0, 1) : fixtures), { name: 'L4 h256 V4096', config: larger(), batch: 1, seq: 256 }];
}

/** FLOPs of one training token: 6 per parameter, plus attention (scores and values, forward and backward). */
function flopsPerToken(c: ModelConfig, seq: number): number {
  const attention = 6 * 2 * c.numLayers * c.numHeads * c.headDim * seq;
  return 6 * parameterCount(c) + attention;
}

async function matmulRate(gpu: Gpu): Promise<number> {
  const n = 512;
  const a = gpu.upload(new Float32Array(n * n).fill(0.5), [n, n]);
  const b = gpu.upload(new Float32Array(n * n).fill(0.25), [n, n]);
  const out = gpu.empty([n, n]);
  const samples = await timeBatches(
    async () => {
      for (let i = 0; i < 3; i++) matmul(gpu, a, b, { out });
      await gpu.sync();
    },
    { opsPerBatch: 3, budgetMs: 1500 },
  );
  for (const t of [a, b, out]) t.release();
  return (2 * n ** 3) / (median(samples) * 1e6);
}

async function measure(gpu: Gpu, c: Case, mode: 'full' | 'lora', steps: number, recompute = false): Promise<{ msPerStep: number[]; tokens: number; peak: number; params: number }> {
  const decoder = initDecoder(gpu, c.config, 1, 0.02);
  if (mode === 'lora') attachLora(gpu, decoder.weights, { rank: 8, alpha: 16, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }, Rng.fromSeed(2));
  const rng = Rng.fromSeed(3);
  const examples = Array.from({ length: 8 }, (_, i) => {
    const ids = Array.from({ length: c.seq }, () => Math.floor(rng.next() * c.config.vocabSize));
    return { ids, labels: ids.slice(), where: `synthetic ${i}` };
  });
  await gpu.sync();
  gpu.allocator.resetPeak();
  const trainer = new Trainer(gpu, decoder, new SftBatches(examples, c.batch, c.config.vocabSize, 0, 4), {
    mode,
    optimizer: { kind: 'adamw' },
    lr: 1e-4,
    schedule: 'constant',
    warmup: 0,
    steps: steps + 1,
    gradAccum: 1,
    maxGradNorm: 1,
    seed: 5,
    recompute,
  });
  await trainer.trainStep(); // warm-up: pipelines, optimiser state
  const msPerStep: number[] = [];
  for (let i = 0; i < steps; i++) msPerStep.push((await trainer.trainStep()).ms);
  const peak = gpu.memory().peakBytes;
  trainer.release();
  decoder.release();
  return { msPerStep, tokens: c.batch * c.seq, peak, params: parameterCount(c.config) };
}

export const suite: Suite = {
  name: 'train',
  summary: 'training throughput, model FLOPs utilisation and bytes per parameter (full vs LoRA)',
  async run(ctx: SuiteContext): Promise<SuiteReport> {
    const gpu = await createNodeGpu();
    const device = describeAdapter(gpu.report);
    const notes: string[] = [];
    const measurements: Measurement[] = [];
    const table = [['config', 'params', 'tokens/step', 'full tok/s', 'LoRA tok/s', 'LoRA+rc tok/s', 'full MFU', 'full B/param', 'LoRA B/param', 'LoRA+rc B/param', 'LoRA/full peak', 'LoRA+rc/full peak']];
    try {
      const rate = await matmulRate(gpu);
      notes.push(`${device}; our matmul at 512³: ${fmt(rate)} GFLOP/s (the MFU denominator).`);
      for (const c of cases(ctx.quick)) {
        ctx.log(`train: ${c.name}`);
        const steps = ctx.quick ? 2 : 4;
        const full = await measure(gpu, c, 'full', steps);
        const lora = await measure(gpu, c, 'lora', steps);
        const loraRc = await measure(gpu, c, 'lora', steps, true);
        const tps = (r: typeof full) => (r.tokens * 1000) / median(r.msPerStep);
        const mfu = (tps(full) * flopsPerToken(c.config, c.seq)) / (rate * 1e9);
        for (const [impl, r] of [['full', full], ['lora', lora], ['lora+recompute', loraRc]] as const) {
          measurements.push({ case: c.name, host: HOST, impl: `ours:${impl}`, value: tps(r), unit: 'tokens/s', samplesMs: r.msPerStep, opsPerSubmit: 1, check: 'ok', device });
        }
        table.push([
          c.name,
          String(full.params),
          String(full.tokens),
          fmt(tps(full)),
          fmt(tps(lora)),
          fmt(tps(loraRc)),
          `${fmt(mfu * 100, 1)}%`,
          fmt(full.peak / full.params, 1),
          fmt(lora.peak / lora.params, 1),
          fmt(loraRc.peak / loraRc.params, 1),
          `${fmt((lora.peak / full.peak) * 100, 1)}%`,
          `${fmt((loraRc.peak / full.peak) * 100, 1)}%`,
        ]);
      }
    } finally {
      await gpu.destroy();
    }
    notes.push('tok/s: tokens per optimiser step over its median wall time (forward, loss, backward, grad norm readback, AdamW). MFU counts 6·params·tokens plus attention. Peak bytes from our allocator (weights, gradients, optimiser state, activations, logits). LoRA: rank 8 on all seven projections; +rc: with activation recomputation (only layer inputs kept).');
    return { title: 'training throughput (SFT step, AdamW)', table, notes, measurements };
  },
};
