// `student-lab generate`: text generation with the engine (KV cache, greedy or sampled), from a
// plain prompt or a chat file rendered with the model's chat template.
import { readFile } from 'node:fs/promises';
import { GenerationSession } from '../../engine/models/generate.ts';
import type { SamplingOptions } from '../../engine/models/sampling.ts';
import { generateText, promptIds, type TextRequest } from '../../engine/models/text-generation.ts';
import type { ChatMessage } from '../../formats/tokenizer.ts';
import { boolFlag, numberFlag, parseArgs, requireFlag, stringFlag, UsageError, type ParsedArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { loadModelArg } from '../model-arg.ts';

const USAGE = `student-lab generate --model <dir|url|repo-id> (--prompt TEXT | --chat FILE.json) [options]

  Generates text with the lab's WebGPU engine (the same code as the page).

  --model <dir|url|repo-id>   model folder, http(s) URL of one, or Hugging Face repo id (org/name[@rev]);
                              remote files are cached in $STUDENT_LAB_CACHE (default ~/.cache/student-lab)
  --prompt TEXT               plain-text prompt (tokenized with the model's special tokens)
  --chat FILE.json            a JSON array of {"role", "content"} messages, rendered with the model's
                              chat template and the assistant generation prompt
  --max-new-tokens N          at most N new tokens (default 128)
  --greedy                    always the most likely token (the default without sampling options)
  --temperature T             sample at temperature T (> 0)
  --top-k K  --top-p P        restrict sampling to the K most likely tokens / the nucleus of mass P
  --repetition-penalty R      divide the logits of tokens already seen by R (> 1 discourages repeats)
  --seed S                    sampling seed (default: random, printed to stderr)
  --stop TEXT                 end before this text
  --json                      print one line {"ids": [new token ids], "text": "..."} instead of streaming`;

const SAMPLING_FLAGS = ['temperature', 'top-k', 'top-p', 'repetition-penalty', 'seed'] as const;

function integerFlag(args: ParsedArgs, name: string, min: number): number | undefined {
  const v = numberFlag(args, name);
  if (v !== undefined && !(Number.isSafeInteger(v) && v >= min)) throw new UsageError(`--${name} must be a whole number ≥ ${min}, got ${stringFlag(args, name)}.`);
  return v;
}

export function samplingFromArgs(args: ParsedArgs): SamplingOptions {
  const given = SAMPLING_FLAGS.filter((f) => args.flags.has(f));
  if (boolFlag(args, 'greedy')) {
    const conflicting = given.filter((f) => f !== 'seed' && f !== 'repetition-penalty');
    if (conflicting.length) throw new UsageError(`--greedy cannot be combined with --${conflicting.join(', --')}.`);
  }
  const temperature = numberFlag(args, 'temperature');
  if (temperature !== undefined && !(temperature > 0)) throw new UsageError(`--temperature must be > 0, got ${temperature} (use --greedy for the most likely token).`);
  const topP = numberFlag(args, 'top-p');
  if (topP !== undefined && !(topP > 0 && topP <= 1)) throw new UsageError(`--top-p must be in (0, 1], got ${topP}.`);
  const repetitionPenalty = numberFlag(args, 'repetition-penalty');
  if (repetitionPenalty !== undefined && !(repetitionPenalty > 0)) throw new UsageError(`--repetition-penalty must be > 0, got ${repetitionPenalty}.`);
  const sampled = temperature !== undefined || args.flags.has('top-k') || topP !== undefined;
  return {
    greedy: !sampled,
    temperature: sampled ? (temperature ?? 1) : undefined,
    topK: integerFlag(args, 'top-k', 0),
    topP,
    repetitionPenalty,
    seed: integerFlag(args, 'seed', 0),
  };
}

/** A chat file: a JSON array of {role, content} with string fields. */
export function parseChatFile(path: string, text: string): ChatMessage[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--chat ${path}: not valid JSON (${(err as Error).message}).`);
  }
  if (!Array.isArray(data) || data.length === 0) throw new UsageError(`--chat ${path}: expected a non-empty JSON array of {"role", "content"} messages.`);
  return data.map((m: unknown, i) => {
    const r = m as { role?: unknown; content?: unknown } | null;
    if (typeof r?.role !== 'string' || typeof r.content !== 'string') {
      throw new UsageError(`--chat ${path}: message ${i} must be {"role": string, "content": string}, got ${JSON.stringify(m)}.`);
    }
    return { role: r.role, content: r.content };
  });
}

async function textRequest(args: ParsedArgs): Promise<TextRequest> {
  const prompt = stringFlag(args, 'prompt');
  const chat = stringFlag(args, 'chat');
  if ((prompt === undefined) === (chat === undefined)) throw new UsageError('Give exactly one of --prompt TEXT and --chat FILE.json.');
  if (prompt !== undefined) return { prompt };
  const text = await readFile(chat!, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`--chat ${chat}: cannot read the file (${err.code ?? err.message}).`);
  });
  return { messages: parseChatFile(chat!, text) };
}

export const command: Command = {
  name: 'generate',
  summary: 'generate text from a prompt or a chat (greedy or sampled)',
  usage: USAGE,
  async run(argv, io) {
    const args = parseArgs(argv, {
      values: ['model', 'prompt', 'chat', 'max-new-tokens', ...SAMPLING_FLAGS, 'stop'],
      booleans: ['greedy', 'json'],
    });
    if (args.positionals.length) throw new UsageError(`Unexpected argument "${args.positionals[0]}".`, 'Quote a prompt with spaces: --prompt "…".');
    const modelArg = requireFlag(args, 'model');
    const request = await textRequest(args);
    const maxNewTokens = integerFlag(args, 'max-new-tokens', 1) ?? 128;
    const sampling = samplingFromArgs(args);
    const stop = stringFlag(args, 'stop');
    const json = boolFlag(args, 'json');

    const { gpu, model } = await loadModelArg(modelArg, io);
    try {
      const { tokenizer, stopTokenIds, config } = model.files;
      const promptLength = promptIds(tokenizer, request).length;
      const capacity = promptLength + maxNewTokens;
      if (capacity > config.maxPositionEmbeddings) {
        throw new UsageError(
          `${promptLength} prompt tokens + ${maxNewTokens} new tokens exceed the model's context of ${config.maxPositionEmbeddings} tokens.`,
          'Lower --max-new-tokens or shorten the prompt.',
        );
      }
      const session = new GenerationSession(model.decoder, capacity);
      let streamed = '';
      const write = io.write;
      const result = await generateText(session, tokenizer, request, {
        ...sampling,
        maxNewTokens,
        stop: stop === undefined ? undefined : [stop],
        eosTokenIds: stopTokenIds,
        onEvent: (e) => {
          if (json || !e.text) return;
          streamed += e.text;
          write?.(e.text);
        },
      });
      if (json) io.out(JSON.stringify({ ids: result.ids, text: result.text }));
      else if (write) write('\n');
      else io.out(streamed);
      const rate = result.tokensPerSecond.toFixed(1);
      const seed = sampling.greedy ? '' : `, seed ${result.seed}`;
      io.err(`${result.ids.length} tokens, ${rate} tok/s, stop: ${result.stop}; prompt ${result.promptTokens} tokens in ${result.prefillMs.toFixed(0)} ms${seed}`);
      session.release();
      return 0;
    } finally {
      await gpu.destroy();
    }
  },
};
