// The demo models and how they are built (npm run demo:build) and distilled (the page's one-click
// demo, npm run demo:measure). Pure data: the page, the build and the tests read the same numbers.
//
// Sizes were chosen for the time budget of the build (~1 hour) on this project's CPU-only machines
// (Mesa llvmpipe behind Dawn, 2 cores shared with other jobs; public/demo/models/build.json has the
// measured times): training runs at ~220–500 tokens/s for the student and ~200–270 for the teacher
// here, so the whole build sees ~1 M training tokens. Llama architecture, the demo tokenizer's 2048
// tokens, a 256-token context, tied embeddings, 2 attention heads (the attention kernels' cost grows
// with the number of heads at a fixed width, their FLOPs do not).
//
// Recipes, from short sweeps here (moving-average training loss over the first 200–600 steps):
//   - batches of 4 sequences (~530 tokens): at ~1 M tokens, many small steps learn more than few
//     large ones;
//   - initial weights ~N(0, (~1/√hidden)²) rather than Hugging Face's 0.02 (see initializerRange);
//   - peak lr by width: 1e-2 at width 128; at width 224, 1e-2 stalled ~0.6 nats above 4e-3
//     (loss 3.3 vs 2.5 after 200 steps);
//   - SFT from scratch with the loss on every token (see StageRecipe.loss);
//   - AdamW β₂ 0.95, cosine decay with a short warm-up, gradient clipping at 1.
import type { ScheduleKind } from '../../engine/optim/schedule.ts';
import { DEMO_CONTEXT, DEMO_SPECIALS, DEMO_VOCAB_SIZE } from '../data-files.ts';

/** Token ids of the demo tokenizer's specials (public/demo/tokenizer/tokenizer_config.json). */
export const DEMO_TOKEN_IDS = { pad: 0, bos: 1, eos: 2 } as const;
export { DEMO_SPECIALS };

export interface DemoModelShape {
  hiddenSize: number;
  intermediateSize: number;
  layers: number;
  heads: number;
  /**
   * Std of the initial weights (config.json initializer_range). Hugging Face's 0.02 is made for
   * wide models; at these widths it leaves a from-scratch model on the unigram plateau for
   * hundreds of steps (measured: loss ~4.8 after 200 steps), while ~1/√hidden gets past it within
   * ~20 steps.
   */
  initializerRange: number;
}

/** The config.json of a demo model (transformers-4 key layout, as the fixtures use). */
export function demoConfigJson(shape: DemoModelShape): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: DEMO_TOKEN_IDS.bos,
    eos_token_id: DEMO_TOKEN_IDS.eos,
    head_dim: shape.hiddenSize / shape.heads,
    hidden_act: 'silu',
    hidden_size: shape.hiddenSize,
    initializer_range: shape.initializerRange,
    intermediate_size: shape.intermediateSize,
    max_position_embeddings: DEMO_CONTEXT,
    mlp_bias: false,
    model_type: 'llama',
    num_attention_heads: shape.heads,
    num_hidden_layers: shape.layers,
    num_key_value_heads: shape.heads,
    pad_token_id: DEMO_TOKEN_IDS.pad,
    pretraining_tp: 1,
    rms_norm_eps: 1e-5,
    rope_scaling: null,
    rope_theta: 10000.0,
    tie_word_embeddings: true,
    torch_dtype: 'bfloat16',
    use_cache: true,
    vocab_size: DEMO_VOCAB_SIZE,
  };
}

export const DEMO_GENERATION_CONFIG = {
  bos_token_id: DEMO_TOKEN_IDS.bos,
  eos_token_id: DEMO_TOKEN_IDS.eos,
  pad_token_id: DEMO_TOKEN_IDS.pad,
  max_new_tokens: 64,
};

export const TEACHER_SHAPE: DemoModelShape = { hiddenSize: 224, intermediateSize: 608, layers: 4, heads: 2, initializerRange: 0.08 };
export const STUDENT_SHAPE: DemoModelShape = { hiddenSize: 128, intermediateSize: 352, layers: 4, heads: 2, initializerRange: 0.1 };

/** The three folders under public/demo/models/. */
export const DEMO_MODEL_NAMES = ['teacher-sft', 'teacher', 'student'] as const;
export type DemoModelName = (typeof DEMO_MODEL_NAMES)[number];

/** AdamW's β₂ in the build: 0.95 keeps the high learning rates of from-scratch training stable. */
export const BUILD_ADAM_BETA2 = 0.95;

/** One training stage of the build: AdamW (β 0.9/0.95, no weight decay), cosine with warm-up, clip 1. */
export interface StageRecipe {
  name: DemoModelName;
  /** What the stage trains on: the SFT set (both styles) or the chosen responses of the training pairs. */
  data: 'sft' | 'chosen';
  /**
   * Which tokens carry the loss: every token of the conversation (a model trained from scratch
   * learns the language from the prompts too: ~4× the supervised tokens per step), or only the
   * response (the usual SFT; the alignment stage, which is about the responses alone).
   */
  loss: 'all' | 'response';
  /** Start from a fresh init (seeded) or from another stage's exported model. */
  from: { init: 'teacher' | 'student'; seed: number } | { model: DemoModelName };
  steps: number;
  /** Sequences per optimiser step. */
  batchSize: number;
  lr: number;
  /** Warm-up fraction of the steps. */
  warmup: number;
  /** Data order seed. */
  seed: number;
}

export const STAGES: readonly StageRecipe[] = [
  { name: 'teacher-sft', data: 'sft', loss: 'all', from: { init: 'teacher', seed: 11 }, steps: 800, batchSize: 4, lr: 4e-3, warmup: 0.02, seed: 1 },
  { name: 'teacher', data: 'chosen', loss: 'response', from: { model: 'teacher-sft' }, steps: 100, batchSize: 8, lr: 1e-3, warmup: 0.1, seed: 2 },
  { name: 'student', data: 'sft', loss: 'all', from: { init: 'student', seed: 13 }, steps: 700, batchSize: 4, lr: 1e-2, warmup: 0.03, seed: 3 },
];

/** The demo distillation subset: the first N training pairs (their order is already shuffled). */
export const DEMO_SUBSET_PAIRS = 320;
/** Top-K of the committed teacher caches (f16 values). */
export const DEMO_CACHE_K = 16;

export interface DistillSettings {
  loss: 'dckd';
  /** "name=value,…" over DCKD's reference weights; undefined keeps them (w_sft 1, w_kd 1, w_c 0.1, w_r 0.1). */
  weights: string | undefined;
  steps: number;
  /** Preference pairs per optimiser step (each gives two rows: chosen and rejected). */
  batchSize: number;
  lr: number;
  schedule: ScheduleKind;
  /** Warm-up fraction of the steps. */
  warmup: number;
  maxGradNorm: number;
  seed: number;
}

/** The one-click demo: DCKD on the demo student with the committed caches. */
export const DEMO_DISTILL: DistillSettings = {
  loss: 'dckd',
  weights: undefined,
  steps: 40,
  batchSize: 4,
  lr: 3e-3,
  schedule: 'cosine',
  warmup: 0.1,
  maxGradNorm: 1,
  seed: 0,
};

/** ADPA+'s second stage (ADPA from the DCKD student), measured by npm run demo:measure -- --adpa. */
export const DEMO_ADPA: Omit<DistillSettings, 'loss'> = {
  /** ADPA's reference weights: w_sft 1, w_adpa 1.6. */
  weights: undefined,
  steps: 20,
  batchSize: 4,
  lr: 1e-3,
  schedule: 'cosine',
  warmup: 0.1,
  maxGradNorm: 1,
  seed: 0,
};

/** Replies in the measurements: new tokens per reply (the good style needs ≤ ~46, the bad up to ~110). */
export const MEASURE_MAX_NEW_TOKENS = 64;
/** Seed of the sampled replies in the measurements (prompt i uses seed + i). */
export const MEASURE_SAMPLING_SEED = 1234;
