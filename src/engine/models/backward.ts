// Backward pass of the decoder: the forward's ops in reverse, using what ForwardTrace kept.
// Convention (as llm.c): parameter gradients ACCUMULATE into the tensors of `grads` (so micro-
// batches add up); activation gradients are written fresh and released as soon as they are used.
// A parameter without an entry in `grads` is frozen: its gradient is not computed, but gradients
// still flow through it to earlier layers (LoRA training).
import type { Gpu } from '../gpu.ts';
import { ShapeError } from '../errors.ts';
import { add, dropout, siluMulBackward } from '../kernels/elementwise/elementwise.ts';
import { attentionBackward } from '../kernels/attention/attention.ts';
import { matmul } from '../kernels/matmul/matmul.ts';
import { rmsnormBackward } from '../kernels/rmsnorm/rmsnorm.ts';
import { rope } from '../kernels/rope/rope.ts';
import { scatterAddRows } from '../kernels/scatter/scatter.ts';
import { extractColumns } from '../kernels/columns/columns.ts';
import { rowWindows } from '../windows.ts';
import type { Tensor } from '../tensor.ts';
import { projectionSeed, releaseLayerTrace, type Decoder, type ForwardInput, type ForwardTrace, type LayerTrace } from './decoder.ts';
import { loraParamNames } from './lora.ts';
import { PROJECTIONS, type Linear, type ProjectionName } from './weights.ts';

/** Gradient accumulators by parameter name (LoRA: `<linear>.lora_A.weight`, `<linear>.lora_B.weight`). */
export type GradMap = ReadonlyMap<string, Tensor>;

class BackwardContext {
  private ones: Tensor | null = null;

  constructor(
    readonly gpu: Gpu,
    readonly grads: GradMap,
    readonly rows: number,
  ) {}

  grad(name: string): Tensor | undefined {
    return this.grads.get(name);
  }

  /** A [1, rows] vector of ones, for bias gradients as a matmul (Σ over rows = 1ᵀ · dy). */
  onesRow(): Tensor {
    if (!this.ones) this.ones = this.gpu.upload(new Float32Array(this.rows).fill(1), [1, this.rows], 'f32', 'ones');
    return this.ones;
  }

  /**
   * Backward of y = x Wᵀ + b (+ LoRA): accumulates the trained parameters' gradients and returns dx.
   * `seed` is the forward's dropout seed for this projection (undefined: no dropout was applied).
   */
  linear(lin: Linear, x: Tensor, dy: Tensor, seed: number | undefined): Tensor {
    const { gpu } = this;
    const gw = this.grad(`${lin.name}.weight`);
    if (gw) matmul(gpu, dy, x, { transA: true, out: gw, accumulate: true });
    const gb = lin.bias ? this.grad(`${lin.name}.bias`) : undefined;
    if (gb) matmul(gpu, this.onesRow(), dy, { out: gb.reshape([1, gb.numel]), accumulate: true });
    const dx = matmul(gpu, dy, lin.weight);
    if (lin.lora) {
      const { a, b, scale } = lin.lora;
      const names = loraParamNames(lin);
      const useDropout = seed !== undefined && lin.lora.dropout > 0;
      const xd = useDropout ? dropout(gpu, x, lin.lora.dropout, seed) : x;
      const u = matmul(gpu, xd, a, { transB: true }); // [N, r]
      const gB = this.grad(names.b);
      if (gB) matmul(gpu, dy, u, { transA: true, alpha: scale, out: gB, accumulate: true });
      const du = matmul(gpu, dy, b, { alpha: scale }); // [N, r]
      const gA = this.grad(names.a);
      if (gA) matmul(gpu, du, xd, { transA: true, out: gA, accumulate: true });
      const dxd = matmul(gpu, du, a); // [N, in]
      const dxl = useDropout ? dropout(gpu, dxd, lin.lora.dropout, seed) : dxd;
      const sum = add(gpu, dx, dxl);
      for (const t of [u, du, dxd, dx]) t.release();
      if (useDropout) {
        xd.release();
        dxl.release();
      }
      return sum;
    }
    return dx;
  }

  release(): void {
    this.ones?.release();
  }
}

/**
 * Gradients of the loss given dLogits [N, vocab] (already ∂loss/∂logits, e.g. written in place by
 * the loss kernel) for the batch that produced `trace`.
 */
export function decoderBackward(decoder: Decoder, input: ForwardInput, trace: ForwardTrace, dLogits: Tensor, grads: GradMap): void {
  const { gpu, config: c, weights: w } = decoder;
  const N = input.B * input.T;
  const kept = trace.recompute ? trace.inputs.length : trace.layers.length;
  if (!trace.hidden || !trace.xFinal || !trace.finalRstd || kept !== c.numLayers) {
    throw new ShapeError('decoderBackward: the forward was not traced (pass a ForwardTrace to forward()).');
  }
  if (dLogits.numel !== N * c.vocabSize) throw new ShapeError(`decoderBackward: dLogits must be [${N}, ${c.vocabSize}].`);
  const ctx = new BackwardContext(gpu, grads, N);
  try {
    // LM head (tied: its gradient lands in the embedding's accumulator).
    const headName = w.tied ? 'model.embed_tokens.weight' : 'lm_head.weight';
    const dHidden = lmHeadBackward(gpu, w.lmHead, trace.hidden, dLogits, ctx.grad(headName));
    let dx = rmsnormBackward(gpu, dHidden, trace.xFinal, w.finalNorm, trace.finalRstd, ctx.grad('model.norm.weight') ?? null);
    dHidden.release();
    for (let i = c.numLayers - 1; i >= 0; i--) {
      const layer = trace.recompute ? decoder.recomputeLayer(i, trace.inputs[i], input) : trace.layers[i];
      const next = layerBackward(decoder, ctx, i, layer, input, dx);
      if (trace.recompute) releaseLayerTrace(layer, true);
      dx.release();
      dx = next;
    }
    const gEmbed = ctx.grad('model.embed_tokens.weight');
    if (gEmbed) for (const win of rowWindows(gpu, gEmbed)) scatterAddRows(gpu, win.view, dx, input.ids, win.start);
    dx.release();
  } finally {
    ctx.release();
  }
}

/**
 * Backward of logits = hidden · headᵀ: returns dHidden and accumulates gHead += dLogitsᵀ · hidden,
 * vocabulary window by window when the head is larger than one storage binding.
 */
function lmHeadBackward(gpu: Gpu, head: Tensor, hidden: Tensor, dLogits: Tensor, gHead: Tensor | undefined): Tensor {
  const windows = rowWindows(gpu, head);
  if (windows.length === 1) {
    if (gHead) matmul(gpu, dLogits, hidden, { transA: true, out: gHead, accumulate: true });
    return matmul(gpu, dLogits, head);
  }
  const dHidden = gpu.zeros(hidden.shape, 'f32', 'dHidden');
  const gWindows = gHead ? rowWindows(gpu, gHead) : [];
  windows.forEach((w, i) => {
    const cols = extractColumns(gpu, dLogits, w.start, w.rows);
    matmul(gpu, cols, w.view, { out: dHidden, accumulate: true });
    if (gHead) matmul(gpu, cols, hidden, { transA: true, out: gWindows[i].view, accumulate: true });
    cols.release();
  });
  return dHidden;
}

function layerBackward(decoder: Decoder, ctx: BackwardContext, index: number, t: LayerTrace, input: ForwardInput, dOut: Tensor): Tensor {
  const { gpu, config: c } = decoder;
  const l = decoder.weights.layers[index];
  const p = `model.layers.${index}`;
  const { B, T } = input;
  const N = B * T;
  const H = c.numHeads;
  const Hkv = c.numKvHeads;
  const D = c.headDim;
  const seed = (proj: ProjectionName) =>
    input.dropoutSeed === undefined ? undefined : projectionSeed(input.dropoutSeed, index, PROJECTIONS.indexOf(proj));

  // MLP: out = xMid + down(silu(gate) · up)
  const dAct = ctx.linear(l.proj.down_proj, t.act, dOut, seed('down_proj'));
  const { dgate, dup } = siluMulBackward(gpu, dAct, t.gate, t.up);
  dAct.release();
  const dLn2g = ctx.linear(l.proj.gate_proj, t.ln2, dgate, seed('gate_proj'));
  const dLn2u = ctx.linear(l.proj.up_proj, t.ln2, dup, seed('up_proj'));
  const dLn2 = add(gpu, dLn2g, dLn2u);
  for (const x of [dgate, dup, dLn2g, dLn2u]) x.release();
  const dNorm2 = rmsnormBackward(gpu, dLn2, t.xMid, l.postNorm, t.ln2Rstd, ctx.grad(`${p}.post_attention_layernorm.weight`) ?? null);
  dLn2.release();
  const dMid = add(gpu, dOut, dNorm2);
  dNorm2.release();

  // Attention: xMid = x + o_proj(attention(rope(norm?(q)), rope(norm?(k)), v))
  const dAttn = ctx.linear(l.proj.o_proj, t.attn, dMid, seed('o_proj'));
  const g = attentionBackward(gpu, { dOut: dAttn, q: t.q, k: t.k, v: t.v, probs: t.probs, B, T, H, Hkv, D, scale: 1 / Math.sqrt(D) });
  dAttn.release();
  const tables = decoder.ropeTables(input.maxPosition);
  rope(gpu, g.dq.reshape([N, H, D]), input.positions, tables, -1);
  rope(gpu, g.dk.reshape([N, Hkv, D]), input.positions, tables, -1);
  let dq = g.dq;
  let dk = g.dk;
  if (l.qNorm && l.kNorm && t.qRaw && t.kRaw && t.qNormRstd && t.kNormRstd) {
    const dqRaw = rmsnormBackward(gpu, dq.reshape([N * H, D]), t.qRaw.reshape([N * H, D]), l.qNorm, t.qNormRstd, ctx.grad(`${p}.self_attn.q_norm.weight`) ?? null);
    const dkRaw = rmsnormBackward(gpu, dk.reshape([N * Hkv, D]), t.kRaw.reshape([N * Hkv, D]), l.kNorm, t.kNormRstd, ctx.grad(`${p}.self_attn.k_norm.weight`) ?? null);
    dq.release();
    dk.release();
    dq = dqRaw;
    dk = dkRaw;
  }
  const x1 = ctx.linear(l.proj.q_proj, t.ln1, dq.reshape([N, H * D]), seed('q_proj'));
  const x2 = ctx.linear(l.proj.k_proj, t.ln1, dk.reshape([N, Hkv * D]), seed('k_proj'));
  const x3 = ctx.linear(l.proj.v_proj, t.ln1, g.dv, seed('v_proj'));
  for (const x of [dq, dk, g.dv]) x.release();
  const x12 = add(gpu, x1, x2);
  const dLn1 = add(gpu, x12, x3);
  for (const x of [x1, x2, x3, x12]) x.release();
  const dNorm1 = rmsnormBackward(gpu, dLn1, t.x, l.inputNorm, t.ln1Rstd, ctx.grad(`${p}.input_layernorm.weight`) ?? null);
  dLn1.release();
  const dx = add(gpu, dMid, dNorm1);
  dMid.release();
  dNorm1.release();
  return dx;
}
