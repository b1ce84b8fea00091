import { describe, expect, it } from 'vitest';
import { checkTensors, expectedTensors, parameterCount, parseModelConfig, ropeInvFreq, type ModelConfig } from '../../../src/formats/config.ts';
import { tensorToFloat32 } from '../../../src/formats/dtypes.ts';
import { parseGenerationConfig } from '../../../src/formats/generation-config.ts';
import type { TensorDescription } from '../../../src/formats/model-tensors.ts';
import { parseSafetensors } from '../../../src/formats/safetensors.ts';
import { fixtureBytes, fixtureJson, MODELS, type FixtureModel } from './fixtures.ts';

const configOf = (m: FixtureModel) => fixtureJson(m, 'config.json');
const headerOf = (m: FixtureModel) => {
  const st = parseSafetensors(fixtureBytes(m, 'model.safetensors'), 'model.safetensors');
  return new Map<string, TensorDescription>(st.header.entries.map((e) => [e.name, { shape: e.shape, dtype: e.dtype }]));
};

/** transformers 5 writes rope_parameters and dtype instead of rope_theta/rope_scaling/torch_dtype. */
function toV5Layout(c: Record<string, unknown>): Record<string, unknown> {
  const { rope_theta, rope_scaling, torch_dtype, ...rest } = c;
  const scaling = (rope_scaling ?? {}) as Record<string, unknown>;
  return { ...rest, dtype: torch_dtype, rope_parameters: { rope_type: scaling.rope_type ?? 'default', ...scaling, rope_theta } };
}

describe('config.json parsing', () => {
  it('reads the fixtures as their README table describes them', () => {
    const pick = (c: ModelConfig) => [c.architecture, c.vocabSize, c.hiddenSize, c.numLayers, c.numHeads, c.numKvHeads, c.headDim, c.intermediateSize, c.tieWordEmbeddings, c.ropeTheta, c.rmsNormEps, c.attentionBias, c.qkNorm, c.dtype];
    expect(pick(parseModelConfig(configOf('llama')))).toEqual(['llama', 512, 64, 2, 4, 2, 16, 172, true, 10000, 1e-5, false, false, 'float32']);
    expect(pick(parseModelConfig(configOf('llama-bf16')))).toEqual(['llama', 512, 64, 2, 4, 2, 16, 172, true, 10000, 1e-5, false, false, 'bfloat16']);
    expect(pick(parseModelConfig(configOf('qwen2')))).toEqual(['qwen2', 512, 64, 2, 4, 1, 16, 176, false, 1e6, 1e-6, true, false, 'float32']);
    expect(pick(parseModelConfig(configOf('qwen3')))).toEqual(['qwen3', 512, 64, 2, 4, 2, 32, 192, true, 1e6, 1e-6, false, true, 'float32']);
    const q2 = parseModelConfig(configOf('qwen2'));
    expect([q2.attentionOutputBias, q2.mlpBias, q2.slidingWindow, q2.ropeScaling, q2.bosTokenId, q2.eosTokenIds, q2.padTokenId]).toEqual([false, false, null, null, 1, [2], 0]);
  });

  it('counts the parameters the README lists', () => {
    expect(MODELS.map((m) => parameterCount(parseModelConfig(configOf(m))))).toEqual([123712, 123712, 154112, 156096]);
  });

  it('expects exactly the tensors (names and shapes) each fixture checkpoint holds', () => {
    for (const m of MODELS) {
      const c = parseModelConfig(configOf(m));
      const header = headerOf(m);
      expect(new Map([...header].map(([n, t]) => [n, t.shape])), m).toEqual(expectedTensors(c));
      expect(() => checkTensors(c, header)).not.toThrow();
    }
  });

  it('reads the transformers 5 layout (rope_parameters, dtype) to the same config', () => {
    for (const m of MODELS) {
      const v4 = parseModelConfig(configOf(m));
      const v5 = parseModelConfig(toV5Layout(configOf(m)));
      expect({ ...v5, raw: null }, m).toEqual({ ...v4, raw: null });
    }
  });

  it('ropeInvFreq equals rope.inv_freq of every fixture reference', () => {
    for (const m of MODELS) {
      const want = tensorToFloat32(parseSafetensors(fixtureBytes(m, 'reference.safetensors'), 'reference.safetensors').get('rope.inv_freq'));
      const got = ropeInvFreq(parseModelConfig(configOf(m)));
      expect(got.length).toBe(want.length);
      // torch computes base ** (2i/d) and its reciprocal in float32: a few f32 ulps (2^-23 ≈ 1.2e-7) from the exact value.
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `${m} i=${i}`).toBeLessThanOrEqual(3e-7 * want[i]);
    }
  });

  it('llama3 rope scaling: short wavelengths kept, long ones divided by factor, a smooth blend between', () => {
    const base = { ...configOf('llama'), head_dim: 64, num_attention_heads: 4, hidden_size: 256, rope_theta: 500000 };
    const scaling = { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
    const plain = ropeInvFreq(parseModelConfig(base));
    const scaled = ropeInvFreq(parseModelConfig({ ...base, rope_scaling: scaling }));
    expect(ropeInvFreq(parseModelConfig(toV5Layout({ ...base, rope_scaling: scaling })))).toEqual(scaled);
    let kept = 0;
    let divided = 0;
    let blended = 0;
    for (let i = 0; i < plain.length; i++) {
      const f = plain[i];
      // The number of full turns a frequency makes over the original context decides its treatment.
      const turns = (8192 * f) / (2 * Math.PI);
      const ratio = scaled[i] / f;
      if (turns > 4) {
        expect(ratio, `i=${i}`).toBe(1);
        kept++;
      } else if (turns < 1) {
        expect(ratio, `i=${i}`).toBeCloseTo(1 / 32, 14);
        divided++;
      } else {
        // Linear in the number of turns: 1/32 at one turn, 1 at four turns.
        const w = (turns - 1) / 3;
        expect(ratio, `i=${i}`).toBeCloseTo(1 / 32 + w * (1 - 1 / 32), 12);
        expect(ratio).toBeGreaterThan(1 / 32);
        expect(ratio).toBeLessThan(1);
        blended++;
      }
    }
    expect([kept > 0, divided > 0, blended > 0]).toEqual([true, true, true]);
    // Smooth: the ratio never increases with wavelength (i grows = wavelength grows).
    for (let i = 1; i < plain.length; i++) expect(scaled[i] / plain[i]).toBeLessThanOrEqual(scaled[i - 1] / plain[i - 1] + 1e-15);
  });

  it('linear scaling divides every frequency; dynamic leaves them plain within max_position_embeddings', () => {
    const c = configOf('llama');
    const plain = ropeInvFreq(parseModelConfig(c));
    expect(ropeInvFreq(parseModelConfig({ ...c, rope_scaling: { type: 'linear', factor: 4 } }))).toEqual(plain.map((f) => f / 4));
    expect(ropeInvFreq(parseModelConfig({ ...c, rope_scaling: { rope_type: 'dynamic', factor: 2 } }))).toEqual(plain);
  });

  it('fills transformers defaults for optional fields and accepts eos lists', () => {
    const { head_dim: _h, num_key_value_heads: _k, rms_norm_eps: _e, rope_theta: _r, tie_word_embeddings: _t, ...rest } = configOf('llama');
    const c = parseModelConfig({ ...rest, eos_token_id: [2, 0], pad_token_id: -1 });
    expect([c.headDim, c.numKvHeads, c.rmsNormEps, c.ropeTheta, c.tieWordEmbeddings, c.eosTokenIds, c.padTokenId]).toEqual([16, 4, 1e-6, 10000, false, [2, 0], null]);
  });

  it('generation_config.json', () => {
    const g = parseGenerationConfig({ ...fixtureJson<Record<string, unknown>>('llama', 'generation_config.json'), eos_token_id: [2, 7], temperature: 0.7, do_sample: true });
    expect([g.eosTokenIds, g.bosTokenId, g.padTokenId, g.temperature, g.doSample, g.topP]).toEqual([[2, 7], 1, 0, 0.7, true, null]);
    expect(() => parseGenerationConfig({ top_k: 'many' })).toThrow(/generation_config\.json: top_k: must be an integer/);
  });
});

describe('config.json bad input', () => {
  const llama = configOf('llama');
  const qwen2 = configOf('qwen2');
  const bad = (json: unknown, pattern: RegExp) => expect(() => parseModelConfig(json)).toThrow(pattern);

  it('unsupported architectures and types name the field', () => {
    bad({ ...llama, model_type: 'mistral', architectures: ['MistralForCausalLM'] }, /^config\.json: model_type: "mistral" \(MistralForCausalLM\) is not supported/);
    bad({ ...llama, architectures: ['LlamaForSequenceClassification'] }, /config\.json: architectures: LlamaForSequenceClassification is not a causal LM/);
    bad({ ...llama, torch_dtype: 'int8' }, /config\.json: torch_dtype: "int8" is not supported/);
    bad({ ...toV5Layout(llama), dtype: 'float8_e4m3fn' }, /config\.json: dtype: "float8_e4m3fn" is not supported/);
    bad({ ...llama, quantization_config: { quant_method: 'gptq' } }, /config\.json: quantization_config: quantized checkpoints are not supported/);
    bad({ ...llama, hidden_act: 'gelu' }, /config\.json: hidden_act: "gelu" is not supported/);
    const err = (() => {
      try {
        parseModelConfig({ ...llama, model_type: 'gpt2' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.name).toBe('ConfigError');
    expect(err?.message).toMatch(/Hint: Student Lab runs LlamaForCausalLM/);
  });

  it('missing or invalid fields', () => {
    const { hidden_size: _, ...noHidden } = llama;
    bad(noHidden, /config\.json: hidden_size: is missing/);
    bad({ ...llama, num_hidden_layers: 2.5 }, /num_hidden_layers: must be an integer, got 2\.5/);
    bad({ ...llama, vocab_size: '512' }, /vocab_size: must be a number, got "512"/);
    bad({ ...llama, num_key_value_heads: 3 }, /num_key_value_heads: 3 does not divide num_attention_heads \(4\)/);
    bad({ ...llama, head_dim: 15 }, /head_dim: must be even/);
    bad({ ...llama, eos_token_id: 600 }, /eos_token_id: 600 is outside the vocabulary \(vocab_size 512\)/);
    bad('nope', /config\.json: \(root\): is not a JSON object/);
  });

  it('unsupported rope types in either layout', () => {
    bad({ ...llama, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32768 } }, /config\.json: rope_scaling\.rope_type: RoPE type "yarn" is not supported/);
    bad({ ...llama, rope_scaling: { type: 'longrope', factor: 4 } }, /rope_scaling\.type: RoPE type "longrope" is not supported/);
    bad({ ...toV5Layout(llama), rope_parameters: { rope_type: 'yarn', rope_theta: 1e4, factor: 4 } }, /rope_parameters\.rope_type: RoPE type "yarn"/);
    bad({ ...llama, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4 } }, /rope_scaling\.original_max_position_embeddings: is missing/);
    bad({ ...llama, partial_rotary_factor: 0.5 }, /partial_rotary_factor: partial RoPE \(0\.5\) is not supported/);
  });

  it('a Qwen2 sliding window that would restrict attention is refused; an unused one is fine', () => {
    bad({ ...qwen2, layer_types: ['full_attention', 'sliding_attention'], sliding_window: 64 }, /config\.json: sliding_window: sliding-window attention \(window 64 < max_position_embeddings 256\) is not supported/);
    bad({ ...qwen2, layer_types: undefined, use_sliding_window: true, max_window_layers: 1, sliding_window: 128 }, /sliding-window attention \(window 128/);
    expect(parseModelConfig({ ...qwen2, layer_types: undefined, use_sliding_window: false, sliding_window: 32 }).slidingWindow).toBeNull();
    expect(parseModelConfig({ ...qwen2, layer_types: undefined, use_sliding_window: true, max_window_layers: 28, sliding_window: 32 }).slidingWindow).toBeNull();
  });
});

describe('checkTensors', () => {
  const c = parseModelConfig(configOf('llama'));
  const problemsOf = (tensors: Map<string, TensorDescription>, config = c) => {
    try {
      checkTensors(config, tensors, 'fixtures/llama');
      return '';
    } catch (err) {
      expect((err as Error).name).toBe('TensorMismatchError');
      return (err as Error).message;
    }
  };

  it('names a missing tensor with its expected shape', () => {
    const h = headerOf('llama');
    h.delete('model.layers.1.mlp.up_proj.weight');
    expect(problemsOf(h)).toMatch(/The weights of fixtures\/llama do not match config\.json:\n {2}missing tensor "model\.layers\.1\.mlp\.up_proj\.weight" \(expected shape \[172, 64\]\)/);
  });

  it('names a wrong shape with both shapes', () => {
    const h = headerOf('llama');
    h.set('model.layers.0.self_attn.k_proj.weight', { shape: [64, 64], dtype: 'F32' });
    expect(problemsOf(h)).toMatch(/tensor "model\.layers\.0\.self_attn\.k_proj\.weight" has shape \[64, 64\] but config\.json implies \[32, 64\]/);
    // A config that says more heads than the checkpoint has.
    expect(problemsOf(headerOf('llama'), parseModelConfig({ ...configOf('llama'), num_key_value_heads: 4 }))).toMatch(/k_proj\.weight" has shape \[32, 64\] but config\.json implies \[64, 64\]/);
  });

  it('unexpected tensors and dtypes are named; a tied model may carry lm_head.weight; rotary buffers are ignored', () => {
    const h = headerOf('llama');
    h.set('model.layers.2.mlp.up_proj.weight', { shape: [172, 64], dtype: 'F32' });
    h.set('model.norm.weight', { shape: [64], dtype: 'I64' });
    const message = problemsOf(h);
    expect(message).toMatch(/unexpected tensor "model\.layers\.2\.mlp\.up_proj\.weight" \[172, 64\] \(not part of this llama config with 2 layers\)/);
    expect(message).toMatch(/tensor "model\.norm\.weight" has dtype I64; weights must be F32, F16 or BF16/);
    const tied = headerOf('llama');
    tied.set('lm_head.weight', { shape: [512, 64], dtype: 'F32' });
    tied.set('model.layers.0.self_attn.rotary_emb.inv_freq', { shape: [8], dtype: 'F32' });
    expect(problemsOf(tied)).toBe('');
    const untied = headerOf('qwen2');
    untied.delete('lm_head.weight');
    expect(problemsOf(untied, parseModelConfig(configOf('qwen2')))).toMatch(/missing tensor "lm_head\.weight" \(expected shape \[512, 64\]\)/);
  });
});
