import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../src/formats/config.ts';
import { loadPeftAdapter, peftTensorName, readPeftAdapter, writePeftAdapter } from '../../../src/formats/peft.ts';
import { parseSafetensors } from '../../../src/formats/safetensors.ts';
import { writeSafetensors } from '../../../src/formats/safetensors-writer.ts';
import { NodeFolderSource } from '../../../src/formats/source.node.ts';
import { fixtureBytes, fixtureJson, fixturePath, MODELS, type FixtureModel } from './fixtures.ts';

const model = (m: FixtureModel) => parseModelConfig(fixtureJson(m, 'config.json'));
const adapterConfig = (m: FixtureModel) => fixtureJson(m, 'lora', 'adapter_config.json');
const adapterBytes = (m: FixtureModel) => fixtureBytes(m, 'lora', 'adapter_model.safetensors');

/** The fixture adapter's tensors, edited, as a new file. */
function edited(m: FixtureModel, edit: (tensors: Map<string, { dtype: 'F32'; shape: number[]; data: Uint8Array }>) => void): Uint8Array {
  const st = parseSafetensors(adapterBytes(m), 'adapter');
  const tensors = new Map(st.header.entries.map((e) => [e.name, { dtype: 'F32' as const, shape: e.shape, data: st.get(e.name).data }]));
  edit(tensors);
  return writeSafetensors([...tensors].map(([name, t]) => ({ name, ...t })));
}

describe('PEFT LoRA adapters', () => {
  it('reads every fixture adapter: q/v modules of each layer, shapes from the base model, scaling alpha / r', async () => {
    for (const m of MODELS) {
      const c = model(m);
      const a = await loadPeftAdapter(new NodeFolderSource(fixturePath(m, 'lora')), { model: c });
      expect([a.config.r, a.config.loraAlpha, a.config.loraDropout, a.config.scaling, a.config.targetModules]).toEqual([4, 8, 0, 2, ['q_proj', 'v_proj']]);
      expect(a.modules.map((x) => x.baseName)).toEqual(['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj', 'model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj']);
      for (const x of a.modules) {
        const out = x.target === 'q_proj' ? c.numHeads * c.headDim : c.numKvHeads * c.headDim;
        expect([x.inFeatures, x.outFeatures, x.a.length, x.b.length], `${m} ${x.baseName}`).toEqual([c.hiddenSize, out, 4 * c.hiddenSize, out * 4]);
      }
      // The tensor names are the keys reference.json uses for the LoRA gradients.
      const gradNames = fixtureJson<{ lora: { grad_names: string[] } }>(m, 'reference.json').lora.grad_names;
      expect(a.modules.flatMap((x) => [peftTensorName(x.layer, x.target, 'A'), peftTensorName(x.layer, x.target, 'B')]).sort()).toEqual([...gradNames].sort());
    }
  });

  it('round-trips: written files read back to the same adapter, with the same tensor bytes as peft wrote', () => {
    for (const m of MODELS) {
      const a = readPeftAdapter(adapterConfig(m), adapterBytes(m), model(m));
      const written = writePeftAdapter(a, { baseModelNameOrPath: '..' });
      const back = readPeftAdapter(JSON.parse(written.adapterConfig), written.adapterModel, model(m));
      expect({ ...back.config, raw: null }).toEqual({ ...a.config, raw: null });
      expect(back.modules).toEqual(a.modules);
      const mine = parseSafetensors(written.adapterModel, 'mine');
      const theirs = parseSafetensors(adapterBytes(m), 'theirs');
      expect(mine.header.entries.map((e) => e.name).sort()).toEqual(theirs.header.entries.map((e) => e.name).sort());
      for (const e of theirs.header.entries) expect(Buffer.compare(mine.get(e.name).data, theirs.get(e.name).data), e.name).toBe(0);
      const json = JSON.parse(written.adapterConfig);
      expect([json.peft_type, json.task_type, json.bias, json.fan_in_fan_out, json.base_model_name_or_path]).toEqual(['LORA', 'CAUSAL_LM', 'none', false, '..']);
    }
  });

  it('use_rslora scales by alpha / sqrt(r)', () => {
    expect(readPeftAdapter({ ...adapterConfig('llama'), use_rslora: true }, adapterBytes('llama')).config.scaling).toBe(4);
  });
});

describe('PEFT bad input', () => {
  const c = model('llama');
  const cfg = adapterConfig('llama');
  const fails = (config: unknown, bytes: Uint8Array, pattern: RegExp, base = c) => {
    let err: Error | null = null;
    try {
      readPeftAdapter(config, bytes, base);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.name).toBe('PeftAdapterError');
    expect(err?.message).toMatch(pattern);
  };

  it('a missing half of an A/B pair', () => {
    const bytes = edited('llama', (t) => t.delete(peftTensorName(1, 'v_proj', 'B')));
    fails(cfg, bytes, /module model\.layers\.1\.self_attn\.v_proj has lora_A but no base_model\.model\.model\.layers\.1\.self_attn\.v_proj\.lora_B\.weight/);
  });

  it('a rank that disagrees with r', () => {
    fails({ ...cfg, r: 8 }, adapterBytes('llama'), /rank mismatch: lora_A \[4, 64\] and lora_B \[64, 4\] but r = 8/);
  });

  it('unknown modules and modules outside target_modules', () => {
    fails({ ...cfg, target_modules: ['q_proj', 'qkv_proj'] }, adapterBytes('llama'), /target_modules: "qkv_proj" is not a supported module/);
    const lmHead = edited('llama', (t) => t.set('base_model.model.lm_head.lora_A.weight', { dtype: 'F32', shape: [4, 64], data: new Uint8Array(4 * 64 * 4) }));
    fails(cfg, lmHead, /tensor "base_model\.model\.lm_head\.lora_A\.weight" is not a LoRA A\/B weight of a supported module/);
    fails({ ...cfg, target_modules: ['q_proj'] }, adapterBytes('llama'), /adapts v_proj, which target_modules \(q_proj\) does not list/);
  });

  it('unsupported options', () => {
    fails({ ...cfg, bias: 'all' }, adapterBytes('llama'), /bias: "all" is not supported \(only "none"\)/);
    fails({ ...cfg, use_dora: true }, adapterBytes('llama'), /use_dora: true is not supported/);
    fails({ ...cfg, fan_in_fan_out: true }, adapterBytes('llama'), /fan_in_fan_out: true is not supported/);
    fails({ ...cfg, modules_to_save: ['lm_head'] }, adapterBytes('llama'), /modules_to_save/);
    fails({ ...cfg, peft_type: 'IA3' }, adapterBytes('llama'), /peft_type: "IA3" is not supported/);
  });

  it('an adapter for another base model', () => {
    fails(adapterConfig('qwen3'), adapterBytes('qwen3'), /module model\.layers\.0\.self_attn\.q_proj: adapter maps 64 -> 128 features but the base weight is \[64, 64\]/);
    const oneLayer = edited('llama', (t) => {
      t.delete(peftTensorName(1, 'q_proj', 'A'));
      t.delete(peftTensorName(1, 'q_proj', 'B'));
    });
    fails(cfg, oneLayer, /has no adapter for model\.layers\.1\.self_attn\.q_proj although target_modules lists q_proj/);
  });
});
