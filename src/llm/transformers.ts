// An ONNX causal LM through transformers.js behind the chat interface: the tokenizer's chat
// template renders the messages, `generate` streams through a TextStreamer, and an interruptable
// stopping criterion serves cancellation and stop strings. In Node transformers.js runs on
// onnxruntime-node (CPU); in the browser on onnxruntime-web (wasm or WebGPU).
import type { PreTrainedModel, PreTrainedTokenizer, ProgressCallback, Tensor } from '@huggingface/transformers';
import { LabError } from '../engine/errors.ts';
import type { ChatBackend, ChatMessage, ChatOptions, ChatResult } from './chat.ts';
import { throwIfAborted } from './errors.ts';
import { StopScanner } from './stop.ts';

export interface TransformersModelConfig {
  /** A hub repo id, or a folder name under `localModelPath` (it holds config.json, tokenizer files, onnx/model.onnx). */
  model: string;
  /** Serve models only from this folder (a Node path or a URL prefix in the browser); no hub access. */
  localModelPath?: string;
  /** Allow downloads from the hub (default: only when no localModelPath is given). */
  allowRemote?: boolean;
  /** Default: 'cpu' in Node, 'wasm' in the browser. */
  device?: 'cpu' | 'wasm' | 'webgpu';
  /** ONNX weight variant; default 'fp32' (onnx/model.onnx). */
  dtype?: 'fp32' | 'fp16' | 'q8' | 'q4' | 'q4f16';
  onProgress?: ProgressCallback;
}

export const DEFAULT_ONNX_MAX_TOKENS = 256;

export class TransformersModelError extends LabError {
  constructor(model: string, detail: string) {
    super(
      'TransformersModelError',
      `Could not load the ONNX model "${model}": ${detail}`,
      'The folder needs config.json, tokenizer.json, tokenizer_config.json (with a chat_template) and onnx/model.onnx.',
    );
  }
}

/** The prompt leaves no room for a reply in the model's context (max_position_embeddings). */
export class TransformersContextError extends LabError {
  constructor(model: string, promptTokens: number, context: number) {
    super(
      'TransformersContextError',
      `The prompt is ${promptTokens} tokens long, and the context of ${model} holds ${context} tokens (prompt and reply together).`,
      'Shorten the conversation or the system prompt (ProactiveEval: Prompts), or use a model with a longer context.',
    );
  }
}

/** The model's context in tokens (config.json's max_position_embeddings), Infinity when it does not say. */
function contextOf(model: PreTrainedModel): number {
  const n = (model.config as unknown as { max_position_embeddings?: unknown }).max_position_embeddings;
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : Infinity;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

/** Loads tokenizer and model. transformers.js settings (`env`) are global: the last load sets them. */
export async function loadTransformersChat(config: TransformersModelConfig): Promise<TransformersChat> {
  const tf = await import('@huggingface/transformers');
  const local = config.localModelPath !== undefined;
  tf.env.allowRemoteModels = config.allowRemote ?? !local;
  tf.env.allowLocalModels = local || tf.env.allowLocalModels;
  if (local) tf.env.localModelPath = config.localModelPath!.endsWith('/') ? config.localModelPath! : `${config.localModelPath}/`;
  try {
    const tokenizer = await tf.AutoTokenizer.from_pretrained(config.model, { progress_callback: config.onProgress });
    if (!tokenizer.chat_template) throw new Error('its tokenizer_config.json has no chat_template');
    const model = await tf.AutoModelForCausalLM.from_pretrained(config.model, {
      dtype: config.dtype ?? 'fp32',
      device: config.device ?? (isNode ? 'cpu' : 'wasm'),
      progress_callback: config.onProgress,
    });
    return new TransformersChat(tf, tokenizer, model, `${config.model} (ONNX)`);
  } catch (err) {
    throw new TransformersModelError(config.model, (err as Error).message);
  }
}

type TransformersModule = typeof import('@huggingface/transformers');

export class TransformersChat implements ChatBackend {
  /** One generation at a time per loaded model (one session, one KV cache). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly tf: TransformersModule,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly model: PreTrainedModel,
    readonly label: string,
  ) {}

  chat(messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<ChatResult> {
    const run = this.queue.then(() => this.generate(messages, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async generate(messages: readonly ChatMessage[], options: ChatOptions): Promise<ChatResult> {
    throwIfAborted(options.signal);
    const { TextStreamer, InterruptableStoppingCriteria } = this.tf;
    const inputs = this.tokenizer.apply_chat_template(
      messages.map((m) => ({ role: m.role, content: m.content })),
      { add_generation_prompt: true, return_dict: true },
    ) as { input_ids: Tensor; attention_mask: Tensor };
    const promptTokens = inputs.input_ids.dims[1];
    // As the engine does: the reply gets what the context leaves after the prompt, which must fit.
    const context = contextOf(this.model);
    if (promptTokens >= context) throw new TransformersContextError(this.label, promptTokens, context);
    const maxNewTokens = Math.min(options.maxTokens ?? DEFAULT_ONNX_MAX_TOKENS, context - promptTokens);
    const stopper = new InterruptableStoppingCriteria();
    const scanner = new StopScanner(options.stop ?? []);
    const streamer = new TextStreamer(this.tokenizer, {
      skip_prompt: true,
      skip_special_tokens: true,
      callback_function: (piece: string) => {
        const shown = scanner.push(piece);
        if (shown) options.onToken?.(shown);
        if (scanner.stopped) stopper.interrupt();
      },
    });
    const onAbort = (): void => stopper.interrupt();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const temperature = options.temperature ?? 0;
    let output: Tensor;
    try {
      output = (await this.model.generate({
        ...inputs,
        max_new_tokens: maxNewTokens,
        do_sample: temperature > 0,
        ...(temperature > 0 ? { temperature } : {}),
        streamer,
        stopping_criteria: [stopper],
      })) as Tensor;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    throwIfAborted(options.signal);
    const tail = scanner.finish();
    if (tail) options.onToken?.(tail);
    const tokenIds = Array.from(output.data as BigInt64Array, Number).slice(promptTokens);
    return {
      text: scanner.value,
      tokenIds,
      finishReason: scanner.stopped ? 'stop' : tokenIds.length >= maxNewTokens ? 'length' : 'stop',
      usage: { promptTokens, completionTokens: tokenIds.length, totalTokens: promptTokens + tokenIds.length },
    };
  }
}
