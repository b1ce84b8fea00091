// LoRA adapters on the decoder's projections (PEFT semantics): W x + (alpha / r) · B (A x), with A
// [r, in] initialised as PEFT does (Kaiming-uniform with a = √5, i.e. U(−1/√in, 1/√in)) and B [out, r]
// zeros, so training starts from the base model. rsLoRA scales by alpha / √r instead.
import type { Gpu } from '../gpu.ts';
import { ShapeError } from '../errors.ts';
import type { Rng } from '../rng.ts';
import { matmul } from '../kernels/matmul/matmul.ts';
import type { Tensor } from '../tensor.ts';
import { PROJECTIONS, type DecoderWeights, type Linear, type ProjectionName } from './weights.ts';

export interface LoraConfig {
  rank: number;
  alpha: number;
  dropout: number;
  targets: readonly ProjectionName[];
  useRslora?: boolean;
}

export function loraScale(c: LoraConfig): number {
  return c.useRslora ? c.alpha / Math.sqrt(c.rank) : c.alpha / c.rank;
}

export function validateLora(c: LoraConfig): void {
  if (!Number.isInteger(c.rank) || c.rank < 1) throw new ShapeError(`LoRA rank must be a whole number ≥ 1, got ${c.rank}.`);
  if (!(c.alpha > 0)) throw new ShapeError(`LoRA alpha must be > 0, got ${c.alpha}.`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new ShapeError(`LoRA dropout must be in [0, 1), got ${c.dropout}.`);
  if (c.targets.length === 0) throw new ShapeError('LoRA needs at least one target projection.');
  for (const t of c.targets) {
    if (!PROJECTIONS.includes(t)) throw new ShapeError(`Unknown LoRA target "${t}"; choose from ${PROJECTIONS.join(', ')}.`);
  }
}

/** Every linear layer a LoRA config targets, in model order. */
export function targetedLinears(w: DecoderWeights, targets: readonly ProjectionName[]): Linear[] {
  return w.layers.flatMap((l) => targets.map((t) => l.proj[t]));
}

/** Initial A/B values for one projection (host arrays, PEFT initialisation). */
export function initLoraPair(lin: Linear, rank: number, rng: Rng): { a: Float32Array; b: Float32Array } {
  const [out, inFeatures] = lin.weight.shape;
  const bound = 1 / Math.sqrt(inFeatures);
  const a = Float32Array.from({ length: rank * inFeatures }, () => (rng.next() * 2 - 1) * bound);
  return { a, b: new Float32Array(out * rank) };
}

/**
 * Attach adapters to the targeted projections. `initial` supplies A/B by linear name (an imported
 * PEFT adapter); missing pairs are initialised fresh.
 */
export function attachLora(
  gpu: Gpu,
  w: DecoderWeights,
  c: LoraConfig,
  rng: Rng,
  initial?: ReadonlyMap<string, { a: Float32Array; b: Float32Array }>,
): void {
  validateLora(c);
  const scale = loraScale(c);
  for (const lin of targetedLinears(w, c.targets)) {
    const [out, inFeatures] = lin.weight.shape;
    const values = initial?.get(lin.name) ?? initLoraPair(lin, c.rank, rng);
    if (values.a.length !== c.rank * inFeatures || values.b.length !== out * c.rank) {
      throw new ShapeError(`LoRA weights for "${lin.name}" do not fit rank ${c.rank} (A must be [${c.rank}, ${inFeatures}], B [${out}, ${c.rank}]).`);
    }
    lin.lora?.a.release();
    lin.lora?.b.release();
    lin.lora = {
      a: gpu.upload(values.a, [c.rank, inFeatures], 'f32', `${lin.name}.lora_A`),
      b: gpu.upload(values.b, [out, c.rank], 'f32', `${lin.name}.lora_B`),
      rank: c.rank,
      scale,
      dropout: c.dropout,
    };
  }
}

/** Remove every adapter (freeing its tensors). */
export function detachLora(w: DecoderWeights): void {
  for (const l of w.layers) {
    for (const p of PROJECTIONS) {
      const lin = l.proj[p];
      lin.lora?.a.release();
      lin.lora?.b.release();
      lin.lora = null;
    }
  }
}

/** W ← W + scale · B A for every adapter, then detach (for export as a plain model). */
export function mergeLora(gpu: Gpu, w: DecoderWeights): void {
  for (const l of w.layers) {
    for (const p of PROJECTIONS) {
      const lin = l.proj[p];
      if (!lin.lora) continue;
      matmul(gpu, lin.lora.b, lin.lora.a, { alpha: lin.lora.scale, out: lin.weight, accumulate: true });
    }
  }
  detachLora(w);
}

/** Parameter names of a projection's adapter (PEFT's, without the `base_model.model.` prefix). */
export function loraParamNames(lin: Linear): { a: string; b: string } {
  return { a: `${lin.name}.lora_A.weight`, b: `${lin.name}.lora_B.weight` };
}

/** The adapter tensors by parameter name (see loraParamNames). */
export function loraTensors(w: DecoderWeights): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const l of w.layers) {
    for (const p of PROJECTIONS) {
      const lin = l.proj[p];
      if (!lin.lora) continue;
      const names = loraParamNames(lin);
      out.set(names.a, lin.lora.a);
      out.set(names.b, lin.lora.b);
    }
  }
  return out;
}
