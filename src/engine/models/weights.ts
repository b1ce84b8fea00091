// Decoder weights on the GPU, keyed by the Hugging Face tensor names of Llama / Qwen2 / Qwen3.
// Linear layers are `Linear` records so LoRA adapters attach beside the frozen base weight.
import { expectedTensors, type ModelConfig } from '../../formats/config.ts';
import type { Gpu } from '../gpu.ts';
import { ShapeError } from '../errors.ts';
import { shapeString, type Tensor } from '../tensor.ts';

/** A LoRA pair on one linear layer: y += scale · (x Aᵀ) Bᵀ, A [r, in], B [out, r]. */
export interface LoraPair {
  a: Tensor;
  b: Tensor;
  rank: number;
  scale: number;
  dropout: number;
}

export interface Linear {
  /** Hugging Face name without `.weight`, e.g. `model.layers.0.self_attn.q_proj`. */
  name: string;
  weight: Tensor; // [out, in]
  bias: Tensor | null; // [out]
  lora: LoraPair | null;
}

export type ProjectionName = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj';
export const PROJECTIONS: readonly ProjectionName[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

export interface LayerWeights {
  inputNorm: Tensor;
  postNorm: Tensor;
  /** Qwen3's per-head RMSNorm on queries and keys ([headDim]); null elsewhere. */
  qNorm: Tensor | null;
  kNorm: Tensor | null;
  proj: Record<ProjectionName, Linear>;
}

export interface DecoderWeights {
  embed: Tensor; // [vocab, hidden]
  layers: LayerWeights[];
  finalNorm: Tensor;
  /** [vocab, hidden]; the embedding itself when tied. */
  lmHead: Tensor;
  tied: boolean;
}

export function projectionModule(p: ProjectionName): 'self_attn' | 'mlp' {
  return p === 'gate_proj' || p === 'up_proj' || p === 'down_proj' ? 'mlp' : 'self_attn';
}

/** Assemble DecoderWeights from uploaded tensors keyed by Hugging Face name; checks names and shapes. */
export function assembleWeights(c: ModelConfig, tensors: ReadonlyMap<string, Tensor>): DecoderWeights {
  const shapes = expectedTensors(c);
  const get = (name: string): Tensor => {
    const t = tensors.get(name);
    const want = shapes.get(name);
    if (!t) throw new ShapeError(`The checkpoint has no tensor "${name}", which this ${c.architecture} config needs.`);
    if (want && shapeString(t.shape) !== shapeString(want)) {
      throw new ShapeError(`Tensor "${name}" has shape ${shapeString(t.shape)} but config.json implies ${shapeString(want)}.`);
    }
    return t;
  };
  const opt = (name: string): Tensor | null => (shapes.has(name) ? get(name) : null);
  const linear = (name: string): Linear => ({ name, weight: get(`${name}.weight`), bias: opt(`${name}.bias`), lora: null });
  const layers: LayerWeights[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`;
    const proj = {} as Record<ProjectionName, Linear>;
    for (const name of PROJECTIONS) proj[name] = linear(`${p}.${projectionModule(name)}.${name}`);
    layers.push({
      inputNorm: get(`${p}.input_layernorm.weight`),
      postNorm: get(`${p}.post_attention_layernorm.weight`),
      qNorm: opt(`${p}.self_attn.q_norm.weight`),
      kNorm: opt(`${p}.self_attn.k_norm.weight`),
      proj,
    });
  }
  const embed = get('model.embed_tokens.weight');
  return {
    embed,
    layers,
    finalNorm: get('model.norm.weight'),
    lmHead: c.tieWordEmbeddings ? embed : get('lm_head.weight'),
    tied: c.tieWordEmbeddings,
  };
}

/**
 * Uploads checkpoint tensors one at a time as they stream in (only one host copy of one tensor at a
 * time), then assembles the decoder. Tensors the architecture does not use are skipped; on any
 * failure `discard()` frees what was uploaded.
 */
export class WeightUploader {
  private readonly uploaded = new Map<string, Tensor>();
  private readonly shapes: Map<string, number[]>;

  constructor(
    private readonly gpu: Gpu,
    private readonly config: ModelConfig,
  ) {
    this.shapes = expectedTensors(config);
  }

  /** Accept one tensor (already converted to f32). Returns false when the model does not use it. */
  add(name: string, shape: readonly number[], data: Float32Array): boolean {
    const want = this.shapes.get(name);
    if (!want) return false;
    if (shapeString(shape) !== shapeString(want)) {
      throw new ShapeError(`Tensor "${name}" has shape ${shapeString(shape)} but config.json implies ${shapeString(want)}.`);
    }
    this.uploaded.get(name)?.release();
    // The vocabulary-sized tables may exceed one storage binding: kernels bind them in windows.
    const windowed = name === 'model.embed_tokens.weight' || name === 'lm_head.weight';
    this.uploaded.set(name, this.gpu.upload(data, shape, 'f32', name, { windowed }));
    return true;
  }

  finish(): DecoderWeights {
    return assembleWeights(this.config, this.uploaded);
  }

  discard(): void {
    for (const t of this.uploaded.values()) t.release();
    this.uploaded.clear();
  }
}

/** All distinct weight tensors (the tied head counted once). */
export function weightTensors(w: DecoderWeights): Tensor[] {
  const out: Tensor[] = [w.embed];
  for (const l of w.layers) {
    out.push(l.inputNorm, l.postNorm);
    if (l.qNorm) out.push(l.qNorm);
    if (l.kNorm) out.push(l.kNorm);
    for (const p of PROJECTIONS) {
      out.push(l.proj[p].weight);
      if (l.proj[p].bias) out.push(l.proj[p].bias!);
    }
  }
  out.push(w.finalNorm);
  if (!w.tied) out.push(w.lmHead);
  return out;
}
