// The tensors a ModelConfig implies, under their Hugging Face names, and the check of a checkpoint
// against them. Shapes are PyTorch's: Linear weights are [out_features, in_features].
//
//   model.embed_tokens.weight                      [vocab, hidden]
//   model.layers.{i}.input_layernorm.weight        [hidden]
//   model.layers.{i}.self_attn.{q,k,v}_proj.weight [heads|kvHeads * headDim, hidden]  (+ .bias when attentionBias)
//   model.layers.{i}.self_attn.o_proj.weight       [hidden, heads * headDim]          (+ .bias when attentionOutputBias)
//   model.layers.{i}.self_attn.{q,k}_norm.weight   [headDim]                          (qkNorm only)
//   model.layers.{i}.post_attention_layernorm.weight [hidden]
//   model.layers.{i}.mlp.{gate,up}_proj.weight     [intermediate, hidden]             (+ .bias when mlpBias)
//   model.layers.{i}.mlp.down_proj.weight          [hidden, intermediate]             (+ .bias when mlpBias)
//   model.norm.weight                              [hidden]
//   lm_head.weight                                 [vocab, hidden]                    (untied only)
import type { ModelConfig } from './config.ts';
import type { SafetensorsDType } from './dtypes.ts';
import { TensorMismatchError } from './errors.ts';

export function expectedTensors(c: ModelConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const h = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  m.set('model.embed_tokens.weight', [c.vocabSize, h]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    m.set(`${p}input_layernorm.weight`, [h]);
    for (const [name, out] of [['q_proj', q], ['k_proj', kv], ['v_proj', kv]] as const) {
      m.set(`${p}self_attn.${name}.weight`, [out, h]);
      if (c.attentionBias) m.set(`${p}self_attn.${name}.bias`, [out]);
    }
    m.set(`${p}self_attn.o_proj.weight`, [h, q]);
    if (c.attentionOutputBias) m.set(`${p}self_attn.o_proj.bias`, [h]);
    if (c.qkNorm) {
      m.set(`${p}self_attn.q_norm.weight`, [c.headDim]);
      m.set(`${p}self_attn.k_norm.weight`, [c.headDim]);
    }
    m.set(`${p}post_attention_layernorm.weight`, [h]);
    for (const [name, shape] of [['gate_proj', [c.intermediateSize, h]], ['up_proj', [c.intermediateSize, h]], ['down_proj', [h, c.intermediateSize]]] as const) {
      m.set(`${p}mlp.${name}.weight`, [...shape]);
      if (c.mlpBias) m.set(`${p}mlp.${name}.bias`, [shape[0]]);
    }
  }
  m.set('model.norm.weight', [h]);
  if (!c.tieWordEmbeddings) m.set('lm_head.weight', [c.vocabSize, h]);
  return m;
}

export function parameterCount(c: ModelConfig): number {
  let n = 0;
  for (const shape of expectedTensors(c).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** Buffers some checkpoints carry that are not parameters (recomputed from the config). */
export function isIgnoredTensor(name: string): boolean {
  return /(^|\.)rotary_emb\.inv_freq$/.test(name);
}

export interface TensorDescription {
  shape: readonly number[];
  dtype?: SafetensorsDType;
}

const WEIGHT_DTYPES: readonly SafetensorsDType[] = ['F32', 'F16', 'BF16'];
const MAX_LISTED = 20;

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Throws a TensorMismatchError listing every problem: a missing tensor, a shape that disagrees
 * with config.json (both shapes named), a weight dtype other than F32/F16/BF16, an unexpected
 * tensor. A tied model may still carry lm_head.weight (it is ignored: the embedding is used).
 */
export function checkTensors(c: ModelConfig, tensors: ReadonlyMap<string, TensorDescription>, source = 'the checkpoint'): void {
  const expected = expectedTensors(c);
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t) problems.push(`missing tensor "${name}" (expected shape ${shapeText(shape)})`);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      problems.push(`tensor "${name}" has shape ${shapeText(t.shape)} but config.json implies ${shapeText(shape)}`);
    }
  }
  for (const [name, t] of tensors) {
    const tiedHead = name === 'lm_head.weight' && c.tieWordEmbeddings;
    if (!expected.has(name) && !isIgnoredTensor(name) && !tiedHead) problems.push(`unexpected tensor "${name}" ${shapeText(t.shape)} (not part of this ${c.architecture} config with ${c.numLayers} layers)`);
    if (tiedHead && (t.shape.length !== 2 || t.shape[0] !== c.vocabSize || t.shape[1] !== c.hiddenSize)) {
      problems.push(`tensor "lm_head.weight" has shape ${shapeText(t.shape)} but config.json implies ${shapeText([c.vocabSize, c.hiddenSize])}`);
    }
    if (t.dtype && !isIgnoredTensor(name) && !WEIGHT_DTYPES.includes(t.dtype)) problems.push(`tensor "${name}" has dtype ${t.dtype}; weights must be F32, F16 or BF16`);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, MAX_LISTED);
    if (problems.length > MAX_LISTED) shown.push(`... and ${problems.length - MAX_LISTED} more`);
    throw new TensorMismatchError(shown, source);
  }
}
