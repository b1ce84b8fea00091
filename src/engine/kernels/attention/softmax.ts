// The row kernels between attention's matmuls: the masked softmax of the scores (forward) and its
// backward (probabilities' gradient → scores' gradient). Both work in place on [B, H, T, S].
import type { Gpu, KernelSource } from '../../gpu.ts';
import { Params } from '../../gpu.ts';
import { ShapeError } from '../../errors.ts';
import { expectDType, expectShape, shapeString, type Tensor } from '../../tensor.ts';
import softmaxCode from './attention_softmax.wgsl?raw';
import softmaxBackwardCode from './attention_softmax_backward.wgsl?raw';

const SOFTMAX: KernelSource = { name: 'attention_softmax', code: softmaxCode };
const SOFTMAX_BACKWARD: KernelSource = { name: 'attention_softmax_backward', code: softmaxBackwardCode };

/**
 * Invocations per row. llvmpipe runs a workgroup as 8-wide SIMD slices switched at every barrier,
 * so one slice per row is fastest there (1024 rows of 256: 2.0 ms at 8, 5.3 ms at 64); GPUs want
 * fuller workgroups.
 */
export function rowWorkgroup(gpu: Gpu): number {
  return gpu.isSoftware ? 8 : 64;
}

export interface RowOptions {
  /** Invocations per row, a power of two ≤ 256 (default rowWorkgroup(gpu)). */
  wg?: number;
}

function workgroupSize(op: string, gpu: Gpu, opts: RowOptions): number {
  const wg = opts.wg ?? rowWorkgroup(gpu);
  if (!Number.isInteger(Math.log2(wg)) || wg > 256) throw new ShapeError(`${op}: workgroup size ${wg} must be a power of two ≤ 256.`);
  return wg;
}

/**
 * scores [B, H, T, S] (raw q·k, query t at slot past + t) → probabilities, in place: softmax of
 * scale · score with future slots and slots where mask [B, cap] ≤ 0.5 left out.
 */
export function attentionSoftmax(gpu: Gpu, scores: Tensor, mask: Tensor, past: number, scale: number, opts: RowOptions = {}): void {
  expectDType('attentionSoftmax', 'scores', scores, 'f32');
  expectDType('attentionSoftmax', 'mask', mask, 'f32');
  if (scores.rank !== 4 || mask.rank !== 2) {
    throw new ShapeError(`attentionSoftmax: scores ${shapeString(scores.shape)} must be rank 4 and mask ${shapeString(mask.shape)} rank 2.`);
  }
  const [B, H, T, S] = scores.shape;
  const cap = mask.shape[1];
  expectShape('attentionSoftmax', 'mask', mask, [B, cap]);
  if (S !== past + T || S > cap) {
    throw new ShapeError(`attentionSoftmax: scores ${shapeString(scores.shape)} need ${past} past + ${T} new = ${S} slots within the mask's ${cap}.`);
  }
  const WG = workgroupSize('attentionSoftmax', gpu, opts);
  if (scores.numel === 0) return;
  gpu.run({
    kernel: SOFTMAX,
    constants: { WG },
    bindings: [mask, scores],
    params: new Params().u32(B, H, T, S, cap, past).f32(scale),
    workgroups: gpu.grid(B * H * T),
  });
}

/** grad: dP → dS = scale · P ∘ (dP − Σ_s P·dP) per row, in place; probs the forward's, same shape. */
export function attentionSoftmaxBackward(gpu: Gpu, grad: Tensor, probs: Tensor, scale: number, opts: RowOptions = {}): void {
  expectDType('attentionSoftmaxBackward', 'grad', grad, 'f32');
  expectDType('attentionSoftmaxBackward', 'probs', probs, 'f32');
  expectShape('attentionSoftmaxBackward', 'grad', grad, probs.shape);
  if (grad.rank < 1) throw new ShapeError(`attentionSoftmaxBackward: probs "${probs.label}" needs a row axis.`);
  if (grad.buffer === probs.buffer) throw new ShapeError(`attentionSoftmaxBackward: grad "${grad.label}" must not share a buffer with probs "${probs.label}".`);
  const WG = workgroupSize('attentionSoftmaxBackward', gpu, opts);
  const S = grad.shape[grad.rank - 1];
  if (grad.numel === 0) return;
  gpu.run({
    kernel: SOFTMAX_BACKWARD,
    constants: { WG },
    bindings: [probs, grad],
    params: new Params().u32(grad.numel / S, S).f32(scale),
    workgroups: gpu.grid(grad.numel / S),
  });
}
