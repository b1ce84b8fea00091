// One decoder for Llama, Qwen2 and Qwen3 (config flags: q/k/v bias, per-head q/k norm, tied head).
// Tensors are token-major: x [N = B·T, hidden]. The forward can keep what the backward pass needs
// (pass a `ForwardTrace`); without one, every intermediate goes back to the pool as soon as it is used.
import type { ModelConfig } from '../../formats/config.ts';
import { ropeInvFreq } from '../../formats/config.ts';
import type { Gpu } from '../gpu.ts';
import { ShapeError } from '../errors.ts';
import { attention } from '../kernels/attention/attention.ts';
import { add, dropout, siluMul } from '../kernels/elementwise/elementwise.ts';
import { gatherRows } from '../kernels/gather/gather.ts';
import { matmul } from '../kernels/matmul/matmul.ts';
import { rmsnorm } from '../kernels/rmsnorm/rmsnorm.ts';
import { rope, type RopeTablesOnGpu } from '../kernels/rope/rope.ts';
import { ropeTables } from '../kernels/rope/table.ts';
import { insertColumns } from '../kernels/columns/columns.ts';
import { decodeAttention, decodeAttentionBindings } from '../kernels/decode-attention/decode-attention.ts';
import { rowLinear, rowLinearBindings } from '../kernels/row-linear/row-linear.ts';
import { rowWindows } from '../windows.ts';
import { expectDType, expectShape, type Tensor } from '../tensor.ts';
import type { KvCache } from './kv-cache.ts';
import { weightTensors, type DecoderWeights, type LayerWeights, type Linear } from './weights.ts';
import { detachLora } from './lora.ts';

/** What one layer's backward needs from its forward. */
export interface LayerTrace {
  x: Tensor; // layer input (residual stream) [N, h]
  ln1: Tensor; // input_layernorm output [N, h]
  ln1Rstd: Tensor; // [N]
  qRaw: Tensor | null; // q before q_norm (Qwen3) [N, H·D]
  kRaw: Tensor | null;
  qNormRstd: Tensor | null; // [N·H]
  kNormRstd: Tensor | null;
  q: Tensor; // roped queries, N·H·D values ([N, H·D], or [N·H, D] after q_norm)
  k: Tensor; // roped keys, N·Hkv·D values
  v: Tensor; // [N, Hkv·D]
  probs: Tensor; // [B, H, T, T]
  attn: Tensor; // attention output, o_proj input [N, H·D]
  xMid: Tensor; // residual after attention [N, h]
  ln2: Tensor;
  ln2Rstd: Tensor;
  gate: Tensor; // [N, I]
  up: Tensor;
  act: Tensor; // silu(gate)·up, down_proj input
}

export interface ForwardTrace {
  /**
   * Activation recomputation: keep only each layer's input (`inputs`) and run the layer's forward
   * again in the backward pass, trading one more forward for most of the activation memory.
   */
  recompute: boolean;
  /** Everything each layer's backward needs (without recomputation). */
  layers: LayerTrace[];
  /** Each layer's input (with recomputation). */
  inputs: Tensor[];
  xFinal: Tensor | null; // residual stream before the final norm
  hidden: Tensor | null; // final norm output (LM head input)
  finalRstd: Tensor | null;
}

export function newTrace(recompute = false): ForwardTrace {
  return { recompute, layers: [], inputs: [], xFinal: null, hidden: null, finalRstd: null };
}

/** Free a layer's kept activations; its input `x` too unless `keepInput`. */
export function releaseLayerTrace(l: LayerTrace, keepInput = false): void {
  for (const [name, t] of Object.entries(l)) if (!(keepInput && name === 'x')) (t as Tensor | null)?.release();
}

export function releaseTrace(trace: ForwardTrace): void {
  for (const l of trace.layers) releaseLayerTrace(l);
  for (const x of trace.inputs) x.release();
  trace.xFinal?.release();
  trace.hidden?.release();
  trace.finalRstd?.release();
  trace.layers = [];
  trace.inputs = [];
}

export interface ForwardInput {
  B: number;
  T: number;
  ids: Tensor; // i32 [B·T]
  positions: Tensor; // i32 [B·T]
  /** Without a cache: key mask [B, T] (1 = real token). With a cache, its mask is used. */
  mask?: Tensor;
  /** With a cache, the validity of the new tokens [B·T] (written into the cache's mask). */
  newMask?: Float32Array;
  /** Highest position id in `positions` (the RoPE table grows to cover it). */
  maxPosition: number;
  /** Training: seed of this step's LoRA dropout masks (absent: no dropout, as in evaluation). */
  dropoutSeed?: number;
}

/** The dropout seed of one projection in one step (the backward pass derives the same). */
export function projectionSeed(stepSeed: number, layer: number, projection: number): number {
  return (Math.imul(stepSeed ^ 0x5bd1e995, 31) + layer * 7 + projection + 1) >>> 0;
}

export class Decoder {
  private ropeGpu: RopeTablesOnGpu | null = null;
  /** [2, length, half]: the cos table then the sin table (ropeGpu's tensors are views of it). */
  private ropeBoth: Tensor | null = null;
  /** Attention probabilities of cached steps, sized for the cache so decode steps reuse it. */
  private probsScratch: Tensor | null = null;
  private ropeLength = 0;
  private readonly invFreq: Float64Array;

  constructor(
    readonly gpu: Gpu,
    readonly config: ModelConfig,
    readonly weights: DecoderWeights,
  ) {
    this.invFreq = ropeInvFreq(config);
  }

  /** Make sure the RoPE tables cover positions 0 … maxPosition (grown by doubling). */
  ropeTables(maxPosition: number): RopeTablesOnGpu {
    if (!this.ropeGpu || maxPosition >= this.ropeLength) {
      const length = Math.max(256, 2 ** Math.ceil(Math.log2(maxPosition + 1)));
      const t = ropeTables(this.invFreq, length);
      // One buffer, so the fused decode attention binds both tables at once; the sin view starts at
      // length·half·4 bytes, a multiple of 1024 (length ≥ 256), so both views are bindable.
      const both = new Float32Array(2 * t.cos.length);
      both.set(t.cos);
      both.set(t.sin, t.cos.length);
      this.ropeBoth?.release();
      this.ropeBoth = this.gpu.upload(both, [2, length, t.half], 'f32', 'rope.tables');
      this.ropeGpu = {
        cos: this.ropeBoth.view([length, t.half], 0, 'rope.cos'),
        sin: this.ropeBoth.view([length, t.half], t.cos.length, 'rope.sin'),
      };
      this.ropeLength = length;
    }
    return this.ropeGpu;
  }

  /** Run the decoder stack; returns the final-norm hidden states [B·T, hidden]. */
  forward(input: ForwardInput, cache?: KvCache, trace?: ForwardTrace): Tensor {
    const { gpu, config: c, weights: w } = this;
    const N = input.B * input.T;
    expectDType('decoder', 'ids', input.ids, 'i32');
    expectShape('decoder', 'ids', input.ids, [N]);
    expectShape('decoder', 'positions', input.positions, [N]);
    if (cache) {
      if (cache.batch !== input.B) throw new ShapeError(`decoder: batch ${input.B} does not match the cache's ${cache.batch}.`);
      cache.reserve(input.T);
      cache.writeMask(input.newMask ?? new Float32Array(N).fill(1), input.T);
    } else if (!input.mask) {
      throw new ShapeError('decoder: a forward without a KV cache needs a key mask [B, T].');
    }
    const tables = this.ropeTables(input.maxPosition);
    let x = embed(gpu, w.embed, input.ids);
    for (let i = 0; i < c.numLayers; i++) {
      const next = this.layer(i, w.layers[i], x, input, tables, cache, trace);
      if (trace?.recompute) {
        // Keep the layer's input only; the backward pass runs the layer again (recomputeLayer).
        releaseLayerTrace(trace.layers[i], true);
        trace.inputs[i] = x;
        delete trace.layers[i];
      } else if (!trace) x.release();
      x = next;
    }
    if (trace?.recompute) trace.layers = [];
    if (cache) cache.length += input.T;
    const { y, rstd } = rmsnorm(gpu, x, w.finalNorm, c.rmsNormEps);
    if (trace) {
      trace.xFinal = x;
      trace.hidden = y;
      trace.finalRstd = rstd;
    } else {
      x.release();
      rstd.release();
    }
    return y;
  }

  /**
   * Run layer `index` again from its kept input (activation recomputation) and return what its
   * backward needs. Dropout masks come from the same seeds, so the result is the first forward's.
   */
  recomputeLayer(index: number, x: Tensor, input: ForwardInput): LayerTrace {
    const scratch = newTrace();
    const out = this.layer(index, this.weights.layers[index], x, input, this.ropeTables(input.maxPosition), undefined, scratch);
    out.release();
    return scratch.layers[index];
  }

  /** Logits [rows, vocab] from final hidden states [rows, hidden] (window by window for a large head). */
  logits(hidden: Tensor, out?: Tensor): Tensor {
    const { gpu } = this;
    const windows = rowWindows(gpu, this.weights.lmHead);
    if (windows.length === 1) return matmul(gpu, hidden, this.weights.lmHead, { transB: true, out });
    const rows = hidden.shape[0];
    const y = out ?? gpu.empty([rows, this.config.vocabSize], 'f32', 'logits');
    for (const w of windows) {
      if (rows === 1) {
        // One row: the window's logits are a contiguous, aligned slice (windows start at multiples of 64).
        matmul(gpu, hidden, w.view, { transB: true, out: y.view([1, w.rows], w.start) });
      } else {
        const part = matmul(gpu, hidden, w.view, { transB: true });
        insertColumns(gpu, part, y, w.start);
        part.release();
      }
    }
    return y;
  }

  /**
   * Whether decodeStep can run this model on this device: no LoRA adapter attached (the fused
   * kernels have no LoRA path), vec4-aligned sizes, and enough storage buffers per shader stage.
   */
  get canDecodeFused(): boolean {
    const c = this.config;
    const layers = this.weights.layers;
    if (layers.some((l) => Object.values(l.proj).some((p) => p.lora))) return false;
    if ([c.hiddenSize, c.numHeads * c.headDim, c.intermediateSize].some((k) => k % 4 !== 0)) return false;
    if (c.headDim % 8 !== 0 || c.headDim > 256) return false;
    const bindings = Math.max(
      rowLinearBindings(true, 3, c.attentionBias),
      rowLinearBindings(true, 2, c.mlpBias),
      decodeAttentionBindings(Boolean(layers[0].qNorm)),
    );
    return bindings <= this.gpu.limits.maxStorageBuffersPerShaderStage;
  }

  /**
   * One decode step of batch 1 with the fused kernels (see canDecodeFused): the token id in `ids`
   * (i32 [1], which the previous step's argmax may have written on the GPU) at `position` goes into
   * the cache's next slot, and its logits into `logits` [1, vocab]. Records five dispatches per layer
   * (q/k/v with the input norm; attention with q/k norm, RoPE and the cache write; o_proj into the
   * residual; gate/up with the post-attention norm and SwiGLU; down_proj into the residual), plus the
   * embedding lookup and the final norm with the LM head. Nothing is written from the host.
   */
  decodeStep(ids: Tensor, position: number, cache: KvCache, logits: Tensor): void {
    const { gpu, config: c, weights: w } = this;
    if (cache.batch !== 1) throw new ShapeError(`decodeStep: the cache holds a batch of ${cache.batch}; decode steps run batch 1.`);
    expectDType('decodeStep', 'ids', ids, 'i32');
    expectShape('decodeStep', 'ids', ids, [1]);
    expectShape('decodeStep', 'logits', logits, [1, c.vocabSize]);
    cache.reserve(1);
    this.ropeTables(position);
    const H = c.numHeads;
    const D = c.headDim;
    const eps = c.rmsNormEps;
    const biases = (...lins: Linear[]) => (lins[0].bias ? lins.map((l) => l.bias!) : undefined);
    const x = embed(gpu, w.embed, ids);
    const qkv = gpu.empty([(H + 2 * c.numKvHeads) * D], 'f32', 'decode.qkv');
    const att = gpu.empty([H * D], 'f32', 'decode.attention');
    const act = gpu.empty([c.intermediateSize], 'f32', 'decode.mlp');
    w.layers.forEach((l, i) => {
      const { q_proj: q, k_proj: k, v_proj: v, o_proj: o, gate_proj: gate, up_proj: up, down_proj: down } = l.proj;
      rowLinear(gpu, { x, norm: { weight: l.inputNorm, eps }, weights: [q.weight, k.weight, v.weight], biases: biases(q, k, v), mode: 'concat', out: qkv });
      const lc = cache.layers[i];
      decodeAttention(gpu, {
        qkv,
        rope: this.ropeBoth!,
        qkNorm: l.qNorm && l.kNorm ? { q: l.qNorm, k: l.kNorm, eps } : undefined,
        k: lc.k,
        v: lc.v,
        mask: cache.mask,
        slot: cache.length,
        position,
        heads: H,
        scale: 1 / Math.sqrt(D),
        out: att,
      });
      rowLinear(gpu, { x: att, weights: [o.weight], biases: biases(o), mode: 'residual', out: x });
      rowLinear(gpu, { x, norm: { weight: l.postNorm, eps }, weights: [gate.weight, up.weight], biases: biases(gate, up), mode: 'swiglu', out: act });
      rowLinear(gpu, { x: act, weights: [down.weight], biases: biases(down), mode: 'residual', out: x });
    });
    cache.length += 1;
    for (const win of rowWindows(gpu, w.lmHead)) {
      rowLinear(gpu, { x, norm: { weight: w.finalNorm, eps }, weights: [win.view], mode: 'concat', out: logits.view([win.rows], win.start) });
    }
    for (const t of [x, qkv, att, act]) t.release();
  }

  private layer(
    index: number,
    l: LayerWeights,
    x: Tensor,
    input: ForwardInput,
    tables: RopeTablesOnGpu,
    cache: KvCache | undefined,
    trace: ForwardTrace | undefined,
  ): Tensor {
    const { gpu, config: c } = this;
    const { B, T } = input;
    const N = B * T;
    const H = c.numHeads;
    const Hkv = c.numKvHeads;
    const D = c.headDim;

    const seed = (projection: number) => (input.dropoutSeed === undefined ? undefined : projectionSeed(input.dropoutSeed, index, projection));
    const ln1 = rmsnorm(gpu, x, l.inputNorm, c.rmsNormEps);
    let q = linear(gpu, l.proj.q_proj, ln1.y, seed(0));
    let k = linear(gpu, l.proj.k_proj, ln1.y, seed(1));
    const v = linear(gpu, l.proj.v_proj, ln1.y, seed(2));
    let qRaw: Tensor | null = null;
    let kRaw: Tensor | null = null;
    let qNormRstd: Tensor | null = null;
    let kNormRstd: Tensor | null = null;
    if (l.qNorm && l.kNorm) {
      qRaw = q;
      kRaw = k;
      const qn = rmsnorm(gpu, q.reshape([N * H, D]), l.qNorm, c.rmsNormEps);
      const kn = rmsnorm(gpu, k.reshape([N * Hkv, D]), l.kNorm, c.rmsNormEps);
      q = qn.y; // [N·H, D]; call sites reshape as they need
      k = kn.y;
      qNormRstd = qn.rstd;
      kNormRstd = kn.rstd;
    }
    rope(gpu, q.reshape([N, H, D]), input.positions, tables);
    rope(gpu, k.reshape([N, Hkv, D]), input.positions, tables);

    let att;
    const scale = 1 / Math.sqrt(D);
    if (cache) {
      cache.store(index, k, v, T);
      const lc = cache.layers[index];
      const probs = trace ? undefined : this.scratch(B * H * T * cache.capacity).view([B, H, T, cache.length + T], 0);
      att = attention(gpu, { q: q.reshape([B, T, H, D]), k: lc.k, v: lc.v, mask: cache.mask, past: cache.length, scale, probs });
    } else {
      const kv = [B, T, Hkv, D];
      att = attention(gpu, { q: q.reshape([B, T, H, D]), k: k.reshape(kv), v: v.reshape(kv), mask: input.mask!, past: 0, scale });
    }
    const o = linear(gpu, l.proj.o_proj, att.out, seed(3));
    const xMid = add(gpu, x, o);
    o.release();

    const ln2 = rmsnorm(gpu, xMid, l.postNorm, c.rmsNormEps);
    const gate = linear(gpu, l.proj.gate_proj, ln2.y, seed(4));
    const up = linear(gpu, l.proj.up_proj, ln2.y, seed(5));
    const act = siluMul(gpu, gate, up);
    const down = linear(gpu, l.proj.down_proj, act, seed(6));
    const out = add(gpu, xMid, down);
    down.release();

    if (trace) {
      trace.layers[index] = {
        x,
        ln1: ln1.y,
        ln1Rstd: ln1.rstd,
        qRaw,
        kRaw,
        qNormRstd,
        kNormRstd,
        q,
        k,
        v,
        probs: att.probs,
        attn: att.out,
        xMid,
        ln2: ln2.y,
        ln2Rstd: ln2.rstd,
        gate,
        up,
        act,
      };
    } else {
      for (const t of [ln1.y, ln1.rstd, qRaw, kRaw, qNormRstd, kNormRstd, q, k, v, att.probs, att.out, xMid, ln2.y, ln2.rstd, gate, up, act]) {
        // (att.probs may be a view of the scratch buffer: releasing a view does not free it.)
        t?.release();
      }
    }
    return out;
  }

  private scratch(elements: number): Tensor {
    if (!this.probsScratch || this.probsScratch.numel < elements) {
      this.probsScratch?.release();
      this.probsScratch = this.gpu.empty([elements], 'f32', 'attention.probs.scratch');
    }
    return this.probsScratch;
  }

  /** Free everything the decoder holds: its weights, any LoRA adapters and its scratch buffers. */
  release(): void {
    for (const t of weightTensors(this.weights)) t.release();
    detachLora(this.weights);
    this.probsScratch?.release();
    this.probsScratch = null;
    this.ropeBoth?.release();
    this.ropeBoth = null;
    this.ropeGpu = null;
  }
}

/** Embedding lookup, window by window when the table is larger than one storage binding. */
export function embed(gpu: Gpu, table: Tensor, ids: Tensor): Tensor {
  const windows = rowWindows(gpu, table);
  let x: Tensor | undefined;
  for (const w of windows) x = gatherRows(gpu, w.view, ids, { out: x, rowOffset: w.start });
  return x!;
}

/**
 * y = x Wᵀ + b, plus the LoRA path scale · (dropout(x) Aᵀ) Bᵀ when an adapter is attached. Dropout
 * applies only when a seed is given (training); the seed makes the mask reproducible for backward.
 */
export function linear(gpu: Gpu, lin: Linear, x: Tensor, dropoutSeed?: number): Tensor {
  const y = matmul(gpu, x, lin.weight, { transB: true, bias: lin.bias ?? undefined });
  if (lin.lora) {
    const useDropout = dropoutSeed !== undefined && lin.lora.dropout > 0;
    const xd = useDropout ? dropout(gpu, x, lin.lora.dropout, dropoutSeed) : x;
    const xa = matmul(gpu, xd, lin.lora.a, { transB: true });
    matmul(gpu, xa, lin.lora.b, { transB: true, alpha: lin.lora.scale, out: y, accumulate: true });
    xa.release();
    if (useDropout) xd.release();
  }
  return y;
}
