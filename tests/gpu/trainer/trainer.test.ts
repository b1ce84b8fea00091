// The training loop end to end on the fixture models: one SGD step with lr 1 is "weights minus
// gradients", LoRA gradients match PEFT, checkpoints resume bit-for-bit, NaN steps are skipped,
// and a tiny model overfits a small text (fails if learning is broken).
import { describe, expect, it } from 'vitest';
import { attachLora } from '../../../src/engine/models/lora.ts';
import { Rng } from '../../../src/engine/rng.ts';
import { SftBatches } from '../../../src/distill/trainer/batches.ts';
import { captureCheckpoint, decodeCheckpoint, encodeCheckpoint, restoreCheckpoint } from '../../../src/distill/trainer/checkpoint.ts';
import { NonFiniteError, Trainer, type TrainConfig } from '../../../src/distill/trainer/trainer.ts';
import type { TokenizedExample } from '../../../src/distill/data/sft.ts';
import { tensorToFloat32 } from '../../../src/formats/dtypes.ts';
import { parseSafetensors } from '../../../src/formats/safetensors.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectClose, relativeL2 } from '../../helpers/close.ts';
import { fixture, FIXTURE_MODELS } from '../../helpers/fixtures.ts';
import { testGpu } from '../setup.ts';
import { loadFixtureDecoder } from '../models/load-fixture.ts';

function lossExample(name: (typeof FIXTURE_MODELS)[number]): TokenizedExample {
  const f = fixture(name);
  return { ids: Array.from(f.i32('loss.input_ids')), labels: Array.from(f.i32('loss.labels')), where: 'fixture' };
}

const base: TrainConfig = {
  mode: 'full',
  optimizer: { kind: 'sgd', weightDecay: 0 },
  lr: 1,
  schedule: 'constant',
  warmup: 0,
  steps: 1,
  gradAccum: 1,
  maxGradNorm: 0,
  seed: 7,
};

describe('trainer', () => {
  for (const name of FIXTURE_MODELS) {
    it(`one SGD step with lr 1 leaves weights minus gradients (${name})`, async () => {
      const gpu = await testGpu();
      const f = fixture(name);
      const decoder = loadFixtureDecoder(gpu, name);
      const source = new SftBatches([lossExample(name)], 1, decoder.config.vocabSize, 0, 1);
      const trainer = new Trainer(gpu, decoder, source, base);
      const m = await trainer.trainStep();
      // Loss within 1e-5 of transformers (fixtures README acceptance).
      expect(Math.abs(m.loss - f.f32('loss')[0])).toBeLessThan(1e-5);
      for (const p of trainer.params) {
        const w0 = f.weight(f.weights.has(p.name) ? p.name : 'model.embed_tokens.weight');
        const g = f.f32(`grad.${p.name}`);
        // The update w1 − w0 must be −g: within 1e-4 relative L2 per tensor (fixtures README).
        const got = await gpu.readF32(p.param);
        const rel = relativeL2(got.map((x, i) => x - w0[i]), g.map((x) => -x));
        expect(rel, `${p.name}: relative L2 ${rel}`).toBeLessThan(1e-4);
      }
      trainer.release();
    });
  }

  for (const name of FIXTURE_MODELS) {
    it(`LoRA gradients and logits match PEFT (${name})`, async () => {
      const gpu = await testGpu();
      const f = fixture(name);
      const decoder = loadFixtureDecoder(gpu, name);
      const adapter = parseSafetensors(readFileSync(join(f.dir, 'lora/adapter_model.safetensors')), 'adapter_model.safetensors');
      const initial = new Map<string, { a: Float32Array; b: Float32Array }>();
      for (const e of adapter.header.entries) {
        const m = /^base_model\.model\.(.*)\.lora_([AB])\.weight$/.exec(e.name)!;
        const entry = initial.get(m[1]) ?? { a: new Float32Array(), b: new Float32Array() };
        entry[m[2] === 'A' ? 'a' : 'b'] = Float32Array.from(tensorToFloat32(adapter.get(e.name)));
        initial.set(m[1], entry);
      }
      attachLora(gpu, decoder.weights, { rank: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'] }, Rng.fromSeed(1), initial);
      const ids = f.i32('b.input_ids');
      const T = ids.length;
      const hidden = decoder.forward({
        B: 1,
        T,
        ids: gpu.upload(ids, [T], 'i32'),
        positions: gpu.upload(Int32Array.from({ length: T }, (_, i) => i), [T], 'i32'),
        mask: gpu.upload(new Float32Array(T).fill(1), [1, T]),
        maxPosition: T - 1,
      });
      expectClose(await gpu.readF32(decoder.logits(hidden)), f.f32('lora.b.logits'), { atol: 1e-4, rtol: 0 }, `${name} LoRA logits b`);
      const source = new SftBatches([lossExample(name)], 1, decoder.config.vocabSize, 0, 1);
      const trainer = new Trainer(gpu, decoder, source, { ...base, mode: 'lora', lr: 0, optimizer: { kind: 'adamw' } });
      const m = await trainer.trainStep();
      expect(Math.abs(m.loss - f.f32('lora.loss')[0])).toBeLessThan(1e-5);
      for (const p of trainer.params) {
        const rel = relativeL2(await gpu.readF32(p.grad), f.f32(`lora.grad.base_model.model.${p.name}`));
        expect(rel, `${p.name}: relative L2 ${rel}`).toBeLessThan(1e-4);
      }
      trainer.release();
    });
  }

  it('a checkpoint taken mid-run resumes to the same weights as an uninterrupted run', async () => {
    const gpu = await testGpu();
    const examples = [lossExample('llama'), { ...lossExample('llama'), ids: lossExample('llama').ids.slice(0, 70), labels: lossExample('llama').labels.slice(0, 70) }];
    const config: TrainConfig = { ...base, optimizer: { kind: 'adamw', weightDecay: 0.01 }, lr: 1e-3, schedule: 'cosine', warmup: 1, steps: 4, maxGradNorm: 1 };
    const straight = new Trainer(gpu, loadFixtureDecoder(gpu, 'llama'), new SftBatches(examples, 1, 512, 0, 3), config);
    for (let i = 0; i < 4; i++) await straight.trainStep();
    const first = new Trainer(gpu, loadFixtureDecoder(gpu, 'llama'), new SftBatches(examples, 1, 512, 0, 3), config);
    await first.trainStep();
    await first.trainStep();
    const bytes = encodeCheckpoint(await captureCheckpoint(first, 'run-1'));
    const resumed = new Trainer(gpu, loadFixtureDecoder(gpu, 'llama'), new SftBatches(examples, 1, 512, 0, 3), config);
    restoreCheckpoint(resumed, decodeCheckpoint(bytes));
    expect(resumed.step).toBe(2);
    await resumed.trainStep();
    await resumed.trainStep();
    for (let i = 0; i < straight.params.length; i++) {
      expectClose(await gpu.readF32(resumed.params[i].param), await gpu.readF32(straight.params[i].param), { atol: 0, rtol: 0 }, straight.params[i].name);
    }
  });

  it('skips steps whose loss is NaN and stops after several', async () => {
    const gpu = await testGpu();
    const decoder = loadFixtureDecoder(gpu, 'llama');
    const norm = decoder.weights.finalNorm;
    gpu.write(norm, new Float32Array(norm.numel).fill(NaN));
    const trainer = new Trainer(gpu, decoder, new SftBatches([lossExample('llama')], 1, 512, 0, 1), { ...base, steps: 10, maxBadSteps: 2 });
    const m = await trainer.trainStep();
    expect(m.skipped).toBe(true);
    await expect(trainer.trainStep()).rejects.toBeInstanceOf(NonFiniteError);
  });
});

describe('activation recomputation', () => {
  it('gives the same training steps as keeping every activation, with less peak memory (LoRA with dropout)', async () => {
    const gpu = await testGpu();
    const example = lossExample('qwen3');
    const run = async (recompute: boolean) => {
      const decoder = loadFixtureDecoder(gpu, 'qwen3');
      attachLora(gpu, decoder.weights, { rank: 4, alpha: 8, dropout: 0.2, targets: ['q_proj', 'v_proj', 'down_proj'] }, Rng.fromSeed(9));
      await gpu.sync();
      gpu.allocator.resetPeak();
      const t = new Trainer(gpu, decoder, new SftBatches([example, example], 2, 512, 0, 1), { ...base, mode: 'lora', optimizer: { kind: 'adamw' }, lr: 1e-2, steps: 2, recompute });
      const losses = [(await t.trainStep()).loss, (await t.trainStep()).loss];
      const params = await Promise.all(t.params.map((p) => gpu.readF32(p.param)));
      const peak = gpu.memory().peakBytes;
      t.release();
      decoder.release();
      return { losses, params, peak };
    };
    const kept = await run(false);
    const again = await run(true);
    // The recomputed forward runs the same kernels on the same inputs with the same dropout seeds: identical.
    expect(again.losses).toEqual(kept.losses);
    again.params.forEach((p, i) => expectClose(p, kept.params[i], { atol: 0, rtol: 0 }, `param ${i}`));
    expect(again.peak).toBeLessThan(kept.peak);
  });
});
