// PEFT LoRA adapters: adapter_config.json + adapter_model.safetensors, as peft save_pretrained writes
// them and PeftModel.from_pretrained reads them.
//
//   readPeftAdapter(configJson, safetensorsBytes, model?)  -> LoraAdapter (validated; f32 values)
//   loadPeftAdapter(source, { model, signal })             -> the same, from a folder / URL source
//   writePeftAdapter(adapter, { baseModelNameOrPath })     -> { adapterConfig (text), adapterModel (bytes) }
//
// Tensor names: base_model.model.model.layers.{i}.{self_attn|mlp}.{module}.lora_A.weight [r, in]
// and ...lora_B.weight [out, r]; W x becomes W x + scaling * B (A x), scaling = lora_alpha / r
// (lora_alpha / sqrt(r) with use_rslora). Supported: plain LoRA on q/k/v/o/gate/up/down projections,
// bias "none", fan_in_fan_out false, no DoRA, no modules_to_save, no per-module rank/alpha patterns.
import type { ModelConfig } from './config.ts';
import { expectedTensors } from './model-tensors.ts';
import { tensorToFloat32, encodeFloat32 } from './dtypes.ts';
import { PeftAdapterError, SafetensorsError } from './errors.ts';
import { collectBytes, streamChunks } from './bytes.ts';
import { parseSafetensors } from './safetensors.ts';
import { writeSafetensors, type TensorToWrite } from './safetensors-writer.ts';
import type { ModelSource } from './source.ts';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

const BLOCK_OF: Record<LoraTarget, 'self_attn' | 'mlp'> = {
  q_proj: 'self_attn',
  k_proj: 'self_attn',
  v_proj: 'self_attn',
  o_proj: 'self_attn',
  gate_proj: 'mlp',
  up_proj: 'mlp',
  down_proj: 'mlp',
};

export interface LoraConfig {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  targetModules: LoraTarget[];
  useRslora: boolean;
  /** lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora. */
  scaling: number;
  baseModelNameOrPath: string | null;
  raw: Record<string, unknown>;
}

export interface LoraModule {
  layer: number;
  target: LoraTarget;
  /** The base weight's name without ".weight": model.layers.{i}.self_attn.q_proj. */
  baseName: string;
  inFeatures: number;
  outFeatures: number;
  /** [r, inFeatures], row-major. */
  a: Float32Array;
  /** [outFeatures, r], row-major. */
  b: Float32Array;
}

export interface LoraAdapter {
  config: LoraConfig;
  /** Sorted by layer, then in LORA_TARGETS order. */
  modules: LoraModule[];
}

export function moduleBaseName(layer: number, target: LoraTarget): string {
  return `model.layers.${layer}.${BLOCK_OF[target]}.${target}`;
}

export function peftTensorName(layer: number, target: LoraTarget, which: 'A' | 'B'): string {
  return `base_model.model.${moduleBaseName(layer, target)}.lora_${which}.weight`;
}

function isTarget(v: string): v is LoraTarget {
  return (LORA_TARGETS as readonly string[]).includes(v);
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === false || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && Object.keys(v as object).length === 0);
}

export function parseAdapterConfig(json: unknown, file = ADAPTER_CONFIG_FILE): LoraConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new PeftAdapterError(file, 'is not a JSON object.');
  const raw = json as Record<string, unknown>;
  const fail = (field: string, message: string) => new PeftAdapterError(file, `${field}: ${message}`);
  if (raw.peft_type !== undefined && raw.peft_type !== 'LORA') throw fail('peft_type', `${JSON.stringify(raw.peft_type)} is not supported (only LORA).`);
  if (raw.task_type !== undefined && raw.task_type !== null && raw.task_type !== 'CAUSAL_LM') throw fail('task_type', `${JSON.stringify(raw.task_type)} is not supported (only CAUSAL_LM).`);
  const r = raw.r;
  if (typeof r !== 'number' || !Number.isSafeInteger(r) || r <= 0) throw fail('r', `must be a positive integer, got ${JSON.stringify(r)}.`);
  const loraAlpha = raw.lora_alpha ?? 8;
  if (typeof loraAlpha !== 'number' || !(loraAlpha > 0)) throw fail('lora_alpha', `must be a positive number, got ${JSON.stringify(loraAlpha)}.`);
  const loraDropout = raw.lora_dropout ?? 0;
  if (typeof loraDropout !== 'number' || !(loraDropout >= 0 && loraDropout < 1)) throw fail('lora_dropout', `must be in [0, 1), got ${JSON.stringify(loraDropout)}.`);
  if ((raw.bias ?? 'none') !== 'none') throw fail('bias', `${JSON.stringify(raw.bias)} is not supported (only "none").`);
  for (const field of ['fan_in_fan_out', 'use_dora', 'lora_bias', 'modules_to_save', 'layers_to_transform', 'rank_pattern', 'alpha_pattern', 'target_parameters', 'trainable_token_indices', 'use_qalora', 'layer_replication', 'exclude_modules']) {
    if (!isEmpty(raw[field])) throw fail(field, `${JSON.stringify(raw[field])} is not supported.`);
  }
  const useRslora = raw.use_rslora === true;
  const modules = raw.target_modules;
  if (!Array.isArray(modules) || modules.length === 0 || !modules.every((m) => typeof m === 'string')) {
    throw fail('target_modules', `must be a non-empty list of module names, got ${JSON.stringify(modules)}.`);
  }
  // PEFT matches a module when its name equals the entry or ends with "." + entry.
  const targets = (modules as string[]).map((m) => {
    const last = m.split('.').pop()!;
    if (!isTarget(last)) throw fail('target_modules', `"${m}" is not a supported module (${LORA_TARGETS.join(', ')}).`);
    return last;
  });
  const targetModules = LORA_TARGETS.filter((t) => targets.includes(t));
  const base = raw.base_model_name_or_path;
  return {
    r,
    loraAlpha,
    loraDropout,
    targetModules,
    useRslora,
    scaling: useRslora ? loraAlpha / Math.sqrt(r) : loraAlpha / r,
    baseModelNameOrPath: typeof base === 'string' ? base : null,
    raw,
  };
}

const KEY_RE = /^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.([a-z_]+)\.lora_([AB])\.weight$/;

/**
 * Validates an adapter: every tensor is a lora_A/lora_B of a targeted module, each module has both,
 * ranks equal r, and (with `model`) layers and feature sizes fit the base model and every targeted
 * module of every layer has an adapter.
 */
export function readPeftAdapter(configJson: unknown, weights: Uint8Array, model?: ModelConfig): LoraAdapter {
  const config = parseAdapterConfig(configJson);
  const file = ADAPTER_WEIGHTS_FILE;
  const st = parseSafetensors(weights, file);
  const pairs = new Map<string, { layer: number; target: LoraTarget; A?: string; B?: string }>();
  for (const e of st.header.entries) {
    const m = KEY_RE.exec(e.name);
    if (!m || !isTarget(m[3]) || BLOCK_OF[m[3]] !== m[2]) throw new PeftAdapterError(file, `tensor "${e.name}" is not a LoRA A/B weight of a supported module.`);
    const target = m[3];
    if (!config.targetModules.includes(target)) throw new PeftAdapterError(file, `tensor "${e.name}" adapts ${target}, which target_modules (${config.targetModules.join(', ')}) does not list.`);
    const layer = Number(m[1]);
    const key = moduleBaseName(layer, target);
    const pair = pairs.get(key) ?? { layer, target };
    pair[m[4] as 'A' | 'B'] = e.name;
    pairs.set(key, pair);
  }
  if (pairs.size === 0) throw new PeftAdapterError(file, 'holds no LoRA tensors.');
  const expected = model ? expectedTensors(model) : null;
  const modules: LoraModule[] = [];
  for (const [baseName, pair] of pairs) {
    if (!pair.A || !pair.B) {
      throw new PeftAdapterError(file, `module ${baseName} has lora_${pair.A ? 'A' : 'B'} but no ${peftTensorName(pair.layer, pair.target, pair.A ? 'B' : 'A')}.`);
    }
    const A = st.get(pair.A);
    const B = st.get(pair.B);
    if (A.shape.length !== 2 || B.shape.length !== 2) throw new PeftAdapterError(file, `module ${baseName}: lora_A [${A.shape.join(', ')}] and lora_B [${B.shape.join(', ')}] must be matrices.`);
    const [rA, inFeatures] = A.shape;
    const [outFeatures, rB] = B.shape;
    if (rA !== config.r || rB !== config.r) {
      throw new PeftAdapterError(file, `module ${baseName}: rank mismatch: lora_A [${A.shape.join(', ')}] and lora_B [${B.shape.join(', ')}] but r = ${config.r} in ${ADAPTER_CONFIG_FILE}.`);
    }
    if (expected) {
      const baseShape = expected.get(`${baseName}.weight`);
      if (!baseShape) throw new PeftAdapterError(file, `module ${baseName} does not exist in the base model (${model!.numLayers} layers).`, 'The adapter was trained for another base model.');
      if (baseShape[0] !== outFeatures || baseShape[1] !== inFeatures) {
        throw new PeftAdapterError(file, `module ${baseName}: adapter maps ${inFeatures} -> ${outFeatures} features but the base weight is [${baseShape.join(', ')}].`, 'The adapter was trained for another base model.');
      }
    }
    let a: Float32Array;
    let b: Float32Array;
    try {
      a = tensorToFloat32(A).slice();
      b = tensorToFloat32(B).slice();
    } catch (err) {
      if (err instanceof SafetensorsError) throw new PeftAdapterError(file, err.message.split('\n')[0]);
      throw err;
    }
    modules.push({ layer: pair.layer, target: pair.target, baseName, inFeatures, outFeatures, a, b });
  }
  if (model) {
    for (let i = 0; i < model.numLayers; i++) {
      for (const t of config.targetModules) {
        if (!pairs.has(moduleBaseName(i, t))) throw new PeftAdapterError(file, `has no adapter for ${moduleBaseName(i, t)} although target_modules lists ${t}.`);
      }
    }
  }
  modules.sort((x, y) => x.layer - y.layer || LORA_TARGETS.indexOf(x.target) - LORA_TARGETS.indexOf(y.target));
  return { config, modules };
}

async function readWhole(source: ModelSource, path: string, signal?: AbortSignal): Promise<Uint8Array> {
  const opened = await source.open(path, { signal });
  return collectBytes(streamChunks(opened.stream, signal));
}

export async function loadPeftAdapter(source: ModelSource, options: { model?: ModelConfig; signal?: AbortSignal } = {}): Promise<LoraAdapter> {
  const configBytes = await readWhole(source, ADAPTER_CONFIG_FILE, options.signal);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(configBytes));
  } catch (err) {
    throw new PeftAdapterError(ADAPTER_CONFIG_FILE, `is not valid JSON (${(err as Error).message}).`);
  }
  return readPeftAdapter(json, await readWhole(source, ADAPTER_WEIGHTS_FILE, options.signal), options.model);
}

export interface WrittenAdapter {
  /** adapter_config.json text. */
  adapterConfig: string;
  /** adapter_model.safetensors bytes. */
  adapterModel: Uint8Array;
}

/** The adapter in PEFT's format (tensors as F32 unless `dtype` says otherwise). */
export function writePeftAdapter(adapter: LoraAdapter, options: { baseModelNameOrPath?: string | null; dtype?: 'F32' | 'F16' | 'BF16' } = {}): WrittenAdapter {
  const { config } = adapter;
  const dtype = options.dtype ?? 'F32';
  const tensors: TensorToWrite[] = [];
  for (const m of adapter.modules) {
    if (m.a.length !== config.r * m.inFeatures || m.b.length !== m.outFeatures * config.r) {
      throw new PeftAdapterError(ADAPTER_WEIGHTS_FILE, `module ${m.baseName}: A has ${m.a.length} values and B ${m.b.length}, which do not fit r = ${config.r}, ${m.inFeatures} -> ${m.outFeatures}.`);
    }
    tensors.push({ name: peftTensorName(m.layer, m.target, 'A'), dtype, shape: [config.r, m.inFeatures], data: encodeFloat32(m.a, dtype) });
    tensors.push({ name: peftTensorName(m.layer, m.target, 'B'), dtype, shape: [m.outFeatures, config.r], data: encodeFloat32(m.b, dtype) });
  }
  const json = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: options.baseModelNameOrPath ?? config.baseModelNameOrPath,
    r: config.r,
    lora_alpha: config.loraAlpha,
    lora_dropout: config.loraDropout,
    target_modules: [...config.targetModules].sort(),
    bias: 'none',
    fan_in_fan_out: false,
    use_rslora: config.useRslora,
    use_dora: false,
    modules_to_save: null,
    layers_to_transform: null,
    rank_pattern: {},
    alpha_pattern: {},
    init_lora_weights: true,
    inference_mode: true,
    revision: null,
  };
  return { adapterConfig: `${JSON.stringify(json, null, 2)}\n`, adapterModel: writeSafetensors(tensors, { format: 'pt' }) };
}
