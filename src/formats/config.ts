// Hugging Face config.json -> ModelConfig for the three decoder families the engine runs
// (LlamaForCausalLM incl. SmolLM2 / TinyLlama / Llama 3.x, Qwen2ForCausalLM, Qwen3ForCausalLM).
//
//   parseModelConfig(json, file)   validated, normalised config; ConfigError naming file and field
//   ropeInvFreq(c)                 RoPE inverse frequencies after scaling          (./rope.ts)
//   expectedTensors(c), parameterCount(c), checkTensors(c, tensors)              (./model-tensors.ts)
//
// Both key layouts are read: transformers 4 (`rope_theta`, `rope_scaling`, `torch_dtype`) and
// transformers 5 (`rope_parameters: {rope_theta, rope_type, ...}`, `dtype`). Missing optional fields
// take transformers' defaults for that family; missing required sizes are an error.
// Per-family facts: Qwen2 always has q/k/v biases (never o_proj); Llama and Qwen3 have q/k/v/o
// biases only with `attention_bias`; only Llama has `mlp_bias`; only Qwen3 has per-head q/k RMSNorm.
import { ConfigError } from './errors.ts';

export type Architecture = 'llama' | 'qwen2' | 'qwen3';

export interface RopeScaling {
  type: 'default' | 'linear' | 'llama3' | 'dynamic' | 'yarn';
  factor: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositionEmbeddings?: number;
}

export interface ModelConfig {
  architecture: Architecture;
  modelType: string;
  architectures: string[];
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** null: plain RoPE. 'dynamic' (NTK) equals plain RoPE up to maxPositionEmbeddings: cap the context there. */
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections have biases (Qwen2 always; Llama and Qwen3 with attention_bias). */
  attentionBias: boolean;
  /** o_proj has a bias (Llama and Qwen3 with attention_bias; never Qwen2). */
  attentionOutputBias: boolean;
  mlpBias: boolean;
  /** Per-head RMSNorm on q and k before RoPE (Qwen3). */
  qkNorm: boolean;
  hiddenAct: 'silu';
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  /** Dtype the checkpoint was saved in (torch_dtype / dtype). */
  dtype: 'float32' | 'float16' | 'bfloat16';
  /** Always null: configs whose sliding window would change attention are refused. */
  slidingWindow: number | null;
  raw: Record<string, unknown>;
}

const CLASS_OF: Record<Architecture, string> = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' };

/** transformers' defaults where a family's config class has one. */
const DEFAULTS: Record<Architecture, { maxPositionEmbeddings: number; headDim: number | null; bosTokenId: number | null; eosTokenId: number | null }> = {
  llama: { maxPositionEmbeddings: 2048, headDim: null, bosTokenId: 1, eosTokenId: 2 },
  qwen2: { maxPositionEmbeddings: 32768, headDim: null, bosTokenId: null, eosTokenId: null },
  qwen3: { maxPositionEmbeddings: 32768, headDim: 128, bosTokenId: null, eosTokenId: null },
};

const SUPPORTED_HINT = 'Student Lab runs LlamaForCausalLM (incl. SmolLM2, TinyLlama, Llama 3.x), Qwen2ForCausalLM and Qwen3ForCausalLM checkpoints in float32, float16 or bfloat16.';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads fields of one JSON object with errors that name the file and the field path. */
class Fields {
  constructor(
    readonly file: string,
    readonly obj: Record<string, unknown>,
    readonly prefix = '',
  ) {}

  error(key: string, message: string, hint?: string): ConfigError {
    return new ConfigError(this.file, this.prefix + key, message, hint);
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  number(key: string, fallback?: number, check: { integer?: boolean; positive?: boolean } = {}): number {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (fallback === undefined) throw this.error(key, 'is missing.', 'Use the config.json published with the model.');
      return fallback;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.error(key, `must be a number, got ${JSON.stringify(v)}.`);
    if (check.integer && !Number.isSafeInteger(v)) throw this.error(key, `must be an integer, got ${v}.`);
    if (check.positive && !(v > 0)) throw this.error(key, `must be positive, got ${v}.`);
    return v;
  }

  size(key: string, fallback?: number): number {
    return this.number(key, fallback, { integer: true, positive: true });
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw this.error(key, `must be true or false, got ${JSON.stringify(v)}.`);
    return v;
  }

  tokenId(key: string, fallback: number | null): number | null {
    const v = this.obj[key];
    if (v === undefined) return fallback;
    if (v === null) return null;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw this.error(key, `must be a token id (an integer), got ${JSON.stringify(v)}.`);
    return v < 0 ? null : v; // some configs write -1 for "none"
  }

  tokenIds(key: string, fallback: number | null): number[] {
    const v = this.obj[key];
    if (Array.isArray(v)) {
      return v.map((id, i) => {
        if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw this.error(`${key}[${i}]`, `must be a token id (a non-negative integer), got ${JSON.stringify(id)}.`);
        return id;
      });
    }
    const one = this.tokenId(key, fallback);
    return one === null ? [] : [one];
  }
}

function parseArchitecture(f: Fields): { architecture: Architecture; modelType: string; architectures: string[] } {
  const modelType = f.obj.model_type;
  if (typeof modelType !== 'string') throw f.error('model_type', 'is missing.', SUPPORTED_HINT);
  const rawArchitectures = f.obj.architectures ?? [];
  if (!Array.isArray(rawArchitectures) || !rawArchitectures.every((a) => typeof a === 'string')) {
    throw f.error('architectures', `must be a list of class names, got ${JSON.stringify(rawArchitectures)}.`);
  }
  const architectures = rawArchitectures as string[];
  if (!(modelType in CLASS_OF)) {
    throw f.error('model_type', `"${modelType}"${architectures.length ? ` (${architectures.join(', ')})` : ''} is not supported.`, SUPPORTED_HINT);
  }
  const architecture = modelType as Architecture;
  if (architectures.length > 0 && !architectures.includes(CLASS_OF[architecture])) {
    throw f.error('architectures', `${architectures.join(', ')} is not a causal LM of model_type "${modelType}" (expected ${CLASS_OF[architecture]}).`, SUPPORTED_HINT);
  }
  return { architecture, modelType, architectures };
}

function parseDtype(f: Fields): ModelConfig['dtype'] {
  const key = f.has('dtype') ? 'dtype' : 'torch_dtype';
  const v = f.obj[key];
  if (v === undefined || v === null) return 'float32';
  const name = typeof v === 'string' ? v.replace(/^torch\./, '') : v;
  if (name === 'float32' || name === 'float16' || name === 'bfloat16') return name;
  throw f.error(key, `${JSON.stringify(v)} is not supported.`, 'Use a float32, float16 or bfloat16 checkpoint (not a quantized one).');
}

/** rope_theta and scaling from either layout. */
function parseRope(f: Fields): { ropeTheta: number; ropeScaling: RopeScaling | null } {
  const params = f.obj.rope_parameters;
  let scaling: Fields | null = null;
  let ropeTheta: number;
  if (params !== undefined && params !== null) {
    if (!isRecord(params)) throw f.error('rope_parameters', 'must be an object.');
    scaling = new Fields(f.file, params, 'rope_parameters.');
    ropeTheta = scaling.has('rope_theta') ? scaling.number('rope_theta', undefined, { positive: true }) : f.number('rope_theta', 10000, { positive: true });
  } else {
    ropeTheta = f.number('rope_theta', 10000, { positive: true });
    const rs = f.obj.rope_scaling;
    if (rs !== undefined && rs !== null) {
      if (!isRecord(rs)) throw f.error('rope_scaling', 'must be an object or null.');
      scaling = new Fields(f.file, rs, 'rope_scaling.');
    }
  }
  if (!scaling) return { ropeTheta, ropeScaling: null };
  const typeKey = scaling.has('rope_type') ? 'rope_type' : 'type';
  const type = scaling.obj[typeKey] ?? 'default';
  if (type === 'default') return { ropeTheta, ropeScaling: null };
  if (type === 'linear' || type === 'dynamic') {
    return { ropeTheta, ropeScaling: { type, factor: scaling.number('factor', undefined, { positive: true }) } };
  }
  if (type === 'llama3') {
    const lowFreqFactor = scaling.number('low_freq_factor', undefined, { positive: true });
    const highFreqFactor = scaling.number('high_freq_factor', undefined, { positive: true });
    if (!(highFreqFactor > lowFreqFactor)) throw scaling.error('high_freq_factor', `must exceed low_freq_factor (${lowFreqFactor}), got ${highFreqFactor}.`);
    return {
      ropeTheta,
      ropeScaling: {
        type,
        factor: scaling.number('factor', undefined, { positive: true }),
        lowFreqFactor,
        highFreqFactor,
        originalMaxPositionEmbeddings: scaling.size('original_max_position_embeddings'),
      },
    };
  }
  throw scaling.error(typeKey, `RoPE type ${JSON.stringify(type)} is not supported.`, 'Supported RoPE types: default, linear, dynamic, llama3. Use a checkpoint without long-context (e.g. yarn) scaling.');
}

/** Refuses a Qwen sliding window that would actually restrict attention within the context. */
function checkSlidingWindow(f: Fields, numLayers: number, maxPositionEmbeddings: number): void {
  const layerTypes = f.obj.layer_types;
  let sliding: boolean;
  if (layerTypes !== undefined && layerTypes !== null) {
    if (!Array.isArray(layerTypes) || layerTypes.length !== numLayers) throw f.error('layer_types', `must list one attention type per layer (${numLayers}).`);
    layerTypes.forEach((t, i) => {
      if (t !== 'full_attention' && t !== 'sliding_attention') throw f.error(`layer_types[${i}]`, `${JSON.stringify(t)} is not supported.`);
    });
    sliding = layerTypes.includes('sliding_attention');
  } else {
    sliding = f.boolean('use_sliding_window', false) && f.size('max_window_layers', 28) < numLayers;
  }
  if (!sliding) return;
  const window = f.has('sliding_window') ? f.size('sliding_window') : 4096;
  if (window < maxPositionEmbeddings) {
    throw f.error('sliding_window', `sliding-window attention (window ${window} < max_position_embeddings ${maxPositionEmbeddings}) is not supported.`, 'Use the checkpoint with use_sliding_window false, as Qwen publishes it.');
  }
}

export function parseModelConfig(json: unknown, file = 'config.json'): ModelConfig {
  if (!isRecord(json)) throw new ConfigError(file, '(root)', 'is not a JSON object.');
  const f = new Fields(file, json);
  const { architecture, modelType, architectures } = parseArchitecture(f);
  if (f.has('quantization_config')) throw f.error('quantization_config', 'quantized checkpoints are not supported.', SUPPORTED_HINT);
  const d = DEFAULTS[architecture];

  const hiddenAct = f.obj.hidden_act ?? 'silu';
  if (hiddenAct !== 'silu') throw f.error('hidden_act', `${JSON.stringify(hiddenAct)} is not supported (only silu).`, SUPPORTED_HINT);
  const partialRotary = f.number('partial_rotary_factor', 1);
  if (partialRotary !== 1) throw f.error('partial_rotary_factor', `partial RoPE (${partialRotary}) is not supported.`);

  const vocabSize = f.size('vocab_size');
  const hiddenSize = f.size('hidden_size');
  const intermediateSize = f.size('intermediate_size');
  const numLayers = f.size('num_hidden_layers');
  const numHeads = f.size('num_attention_heads');
  const numKvHeads = f.size('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) throw f.error('num_key_value_heads', `${numKvHeads} does not divide num_attention_heads (${numHeads}).`);
  let headDim: number;
  if (f.has('head_dim')) headDim = f.size('head_dim');
  else if (d.headDim !== null) headDim = d.headDim;
  else {
    if (hiddenSize % numHeads !== 0) throw f.error('head_dim', `is missing and hidden_size (${hiddenSize}) is not a multiple of num_attention_heads (${numHeads}).`);
    headDim = hiddenSize / numHeads;
  }
  if (headDim % 2 !== 0) throw f.error('head_dim', `must be even for rotary embeddings, got ${headDim}.`);
  const maxPositionEmbeddings = f.size('max_position_embeddings', d.maxPositionEmbeddings);
  const { ropeTheta, ropeScaling } = parseRope(f);
  if (architecture !== 'llama') checkSlidingWindow(f, numLayers, maxPositionEmbeddings);

  const attentionFlag = f.boolean('attention_bias', false);
  const bosTokenId = f.tokenId('bos_token_id', d.bosTokenId);
  const eosTokenIds = f.tokenIds('eos_token_id', d.eosTokenId);
  const padTokenId = f.tokenId('pad_token_id', null);
  for (const [key, id] of [['bos_token_id', bosTokenId], ['pad_token_id', padTokenId], ...eosTokenIds.map((id) => ['eos_token_id', id] as const)] as const) {
    if (id !== null && id >= vocabSize) throw f.error(key, `${id} is outside the vocabulary (vocab_size ${vocabSize}).`);
  }

  return {
    architecture,
    modelType,
    architectures,
    vocabSize,
    hiddenSize,
    intermediateSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: f.number('rms_norm_eps', 1e-6, { positive: true }),
    ropeTheta,
    ropeScaling,
    maxPositionEmbeddings,
    tieWordEmbeddings: f.boolean('tie_word_embeddings', false),
    attentionBias: architecture === 'qwen2' ? true : attentionFlag,
    attentionOutputBias: architecture === 'qwen2' ? false : attentionFlag,
    mlpBias: architecture === 'llama' ? f.boolean('mlp_bias', false) : false,
    qkNorm: architecture === 'qwen3',
    hiddenAct: 'silu',
    bosTokenId,
    eosTokenIds,
    padTokenId,
    dtype: parseDtype(f),
    slidingWindow: null,
    raw: json,
  };
}

export { ropeInvFreq } from './rope.ts';
export { checkTensors, expectedTensors, isIgnoredTensor, parameterCount } from './model-tensors.ts';
