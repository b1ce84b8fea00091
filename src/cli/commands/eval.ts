// `student-lab eval`: a ProactiveEval batch from the command line (target planning, dialogue
// guidance or both) with the model under test behind an OpenAI-compatible endpoint, in the lab's
// engine (a local model folder or hub repo id) or in transformers.js (an ONNX folder), and the
// results in one JSON file that a rerun with the same --out continues.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONTEXT } from '../../engine/api.ts';
import type { ChatBackend } from '../../llm/chat.ts';
import { inProcessGenerator, LocalEngineChat, type EngineGenerate } from '../../llm/local-engine.ts';
import { OpenAiChat } from '../../llm/openai.ts';
import { loadTransformersChat } from '../../llm/transformers.ts';
import { summarize } from '../../proactive/aggregate.ts';
import { DOMAIN_KEYS, DOMAINS, type DomainKey, type Tier } from '../../proactive/domains.ts';
import { AGREEABLENESS, MAX_TURNS, type Agreeableness } from '../../proactive/guidance.ts';
import { JsonFileStore } from '../../proactive/json-file-store.ts';
import { loadScenariosFrom } from '../../proactive/loader-node.ts';
import { requireScenarios } from '../../proactive/loader.ts';
import { PROMPT_IDS, promptSet, type PromptId, type PromptSet } from '../../proactive/prompts.ts';
import type { ModelRef, Task } from '../../proactive/records.ts';
import { defaultRunSettings, runBatch, type RunProgress } from '../../proactive/runner.ts';
import { formatIssue } from '../../proactive/schema.ts';
import { numberFlag, parseArgs, requireFlag, stringFlag, boolFlag, UsageError, type ParsedArgs } from '../args.ts';
import type { CliIo, Command } from '../command.ts';

const USAGE = `student-lab eval --task planning|guidance|both --model <endpoint URL> --model-name <name> --out results.json [options]

  Runs ProactiveEval: target planning (the model plans a target; a judge scores it 1-10 against
  the reference) and/or dialogue guidance (the model leads a simulated user, at most ${MAX_TURNS} turns; a
  judge scores the dialogue 1-10). Results go to --out after every item; rerunning with the same
  --out continues the run without redoing finished items (Ctrl-C stops cleanly).

  --model <URL|dir|repo>   OpenAI-compatible endpoint (with or without /v1), or a local model:
                           a folder (or hub repo id) with safetensors runs in the lab's engine
                           (WebGPU), a folder with only onnx/model.onnx in transformers.js (CPU)
  --model-name <name>      the model name at that endpoint
  --backend engine|onnx    for a folder that has both kinds of weights (default: engine)
  --judge <URL>            judge endpoint; it also runs the goal check after each turn that ends
                           a dialogue early. Without it: no scores (local rule checks only), no
                           early end: every dialogue runs the full ${MAX_TURNS} turns
  --judge-model <name>
  --user <URL>             simulated-user endpoint (required for guidance)
  --user-model <name>
  --api-key-env <VAR>      environment variable holding the API key for all endpoints
  --model-api-key-env, --judge-api-key-env, --user-api-key-env <VAR>   per-endpoint keys
  --envs <dir|file|URL>    environments: dataset layout folder, one JSON/JSONL file, or a URL of
                           either
                           (default: the bundled scenarios)
  --domains a,b            ${DOMAIN_KEYS.join(', ')} (or rec, per, ai, lf, sys, gas)
  --tiers fair,hard        default: all
  --agreeableness low,medium,high   default: all three
  --concurrency N          items in parallel (default 2)
  --limit N                at most N environments per domain
  --judge-retries N        retries of an unreadable judge answer (default 2)
  --max-tokens N           new tokens per reply of the model under test (default: the endpoint's;
                           512 in the engine)
  --timeout S              seconds without a reply before a request is retried (default 120)
  --no-stream              ask endpoints for whole replies instead of streams
  --no-density             skip the judge's per-message target-density count
  --prompts <file.json>    edited prompt templates, {"<prompt id>": "<text>", …} (ids: ${PROMPT_IDS.join(', ')});
                           e.g. shorter model prompts for a small context. A resumed run keeps its
                           own prompts`;

function list<T extends string>(args: ParsedArgs, flag: string, allowed: readonly T[], aliases: Record<string, T> = {}): T[] | undefined {
  const raw = stringFlag(args, flag);
  if (raw === undefined) return undefined;
  const out = raw.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const value = (allowed as readonly string[]).includes(s) ? (s as T) : aliases[s];
    if (!value) throw new UsageError(`--${flag}: unknown value "${s}".`, `Use ${allowed.join(', ')}.`);
    return value;
  });
  if (out.length === 0) throw new UsageError(`--${flag} is empty.`);
  return [...new Set(out)];
}

/** The built-in templates with the edits of a --prompts file (every id and placeholder checked). */
function promptsFrom(path: string | undefined): PromptSet {
  if (path === undefined) return promptSet();
  let edits: unknown;
  try {
    edits = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`--prompts ${path}: ${err instanceof Error ? err.message : String(err)}`, 'Give a JSON file: {"<prompt id>": "<text>", …}.');
  }
  if (typeof edits !== 'object' || edits === null || Array.isArray(edits)) throw new UsageError(`--prompts ${path}: not a JSON object.`, 'Give {"<prompt id>": "<text>", …}.');
  for (const [id, text] of Object.entries(edits)) {
    if (!(PROMPT_IDS as readonly string[]).includes(id)) throw new UsageError(`--prompts ${path}: unknown prompt id "${id}".`, `Prompt ids: ${PROMPT_IDS.join(', ')}.`);
    if (typeof text !== 'string') throw new UsageError(`--prompts ${path}: "${id}" must be a string.`);
  }
  try {
    return promptSet(edits as Partial<Record<PromptId, string>>);
  } catch (err) {
    // The template check's message names the prompt, the placeholder and (as its hint) the allowed ones.
    throw new UsageError(`--prompts ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function apiKey(args: ParsedArgs, role: 'model' | 'judge' | 'user'): string | undefined {
  const variable = stringFlag(args, `${role}-api-key-env`) ?? stringFlag(args, 'api-key-env');
  if (variable === undefined) return undefined;
  const key = process.env[variable];
  if (!key) throw new UsageError(`The environment variable ${variable} (named by --${stringFlag(args, `${role}-api-key-env`) ? `${role}-` : ''}api-key-env) is not set.`);
  return key;
}

function endpoint(args: ParsedArgs, urlFlag: string, nameFlag: string, role: 'model' | 'judge' | 'user'): OpenAiChat | undefined {
  const url = stringFlag(args, urlFlag);
  if (url === undefined) {
    if (stringFlag(args, nameFlag) !== undefined) throw new UsageError(`--${nameFlag} needs --${urlFlag}.`);
    return undefined;
  }
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--${urlFlag} must be an http(s) URL, got "${url}".`);
  return new OpenAiChat({
    baseUrl: url,
    model: requireFlag(args, nameFlag),
    apiKey: apiKey(args, role),
    stream: !boolFlag(args, 'no-stream'),
    timeoutMs: (numberFlag(args, 'timeout', 120) ?? 120) * 1000,
  });
}

interface ModelUnderTest {
  ref: ModelRef;
  backend: ChatBackend;
  /** Frees the GPU of an engine model. */
  release: () => Promise<void>;
}

/** The lab's engine on this machine's GPU: one generation session, one request at a time. */
async function engineModel(spec: string, io: CliIo): Promise<ModelUnderTest> {
  // Loaded on demand: endpoint-only runs never start a GPU.
  const [{ loadModelArg }, { GenerationSession }, { generateText }] = await Promise.all([
    import('../model-arg.ts'),
    import('../../engine/models/generate.ts'),
    import('../../engine/models/text-generation.ts'),
  ]);
  const { gpu, model } = await loadModelArg(spec, io);
  const { tokenizer, stopTokenIds, config } = model.files;
  const session = new GenerationSession(model.decoder, Math.min(config.maxPositionEmbeddings, DEFAULT_CONTEXT));
  let queue: Promise<unknown> = Promise.resolve();
  const generate: EngineGenerate = (request, onEvent, signal) => {
    const run = queue.then(() =>
      generateText(session, tokenizer, { messages: request.messages }, { ...request.sampling, maxNewTokens: request.maxNewTokens, stop: request.stop, eosTokenIds: stopTokenIds, signal, onEvent }),
    );
    queue = run.catch(() => undefined);
    return run;
  };
  const name = existsSync(spec) ? basename(resolve(spec)) : spec;
  const backend = new LocalEngineChat(inProcessGenerator(generate), `${name} (engine)`);
  return {
    ref: { id: `engine:${existsSync(spec) ? resolve(spec) : spec}`, label: backend.label },
    backend,
    release: async () => {
      session.release();
      await gpu.destroy();
    },
  };
}

async function modelUnderTest(args: ParsedArgs, io: CliIo): Promise<ModelUnderTest> {
  const spec = requireFlag(args, 'model');
  const none = async (): Promise<void> => undefined;
  if (/^https?:\/\//.test(spec)) {
    const backend = endpoint(args, 'model', 'model-name', 'model')!;
    return { ref: { id: backend.label, label: backend.label }, backend, release: none };
  }
  if (stringFlag(args, 'model-name') !== undefined) throw new UsageError('--model-name is for endpoint URLs; a local model is named by its folder.');
  const choice = stringFlag(args, 'backend');
  if (choice !== undefined && choice !== 'engine' && choice !== 'onnx') throw new UsageError(`--backend must be engine or onnx, got "${choice}".`);
  const dir = resolve(spec);
  const isDir = existsSync(dir) && statSync(dir).isDirectory();
  const hasOnnx = isDir && existsSync(join(dir, 'onnx', 'model.onnx'));
  const hasSafetensors = isDir && readdirSync(dir).some((f) => f.endsWith('.safetensors'));
  if (choice === 'onnx' || (choice === undefined && hasOnnx && !hasSafetensors)) {
    if (!hasOnnx) throw new UsageError(`--backend onnx needs a folder with onnx/model.onnx; ${spec} has none.`);
    const backend = await loadTransformersChat({ model: basename(dir), localModelPath: dirname(dir) });
    return { ref: { id: `onnx:${dir}`, label: backend.label }, backend, release: none };
  }
  return engineModel(spec, io);
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function progressLine(p: RunProgress): string {
  const last = p.last;
  const what = last ? `${last.task} ${last.scenarioKey}${last.agreeableness ? ` ${last.agreeableness}` : ''}` : '';
  const result = !last ? '' : last.status === 'error' ? `error: ${last.error?.message.split('\n')[0]}` : last.status === 'judge-failed' ? 'judge failed' : last.score === null ? 'unjudged' : `score ${last.score}`;
  const eta = p.etaMs === null ? '' : `, ETA ${formatDuration(p.etaMs)}`;
  return `[${p.done}/${p.total}${p.errors ? `, ${p.errors} errors` : ''}${eta}] ${what} ${result}`.trimEnd();
}

function printSummary(io: CliIo, items: Parameters<typeof summarize>[0]): void {
  const f = (v: number | null | undefined): string => (v === null || v === undefined ? '  -  ' : v.toFixed(2).padStart(5));
  const cols = DOMAIN_KEYS.map((d) => DOMAINS[d].column.padStart(5)).join(' ');
  io.out(`\n${'model'.padEnd(36)} task       avg  ${cols}     n`);
  for (const s of summarize(items)) {
    for (const [task, table] of [['planning', s.planning], ['guidance', s.guidance]] as const) {
      if (!table) continue;
      io.out(`${s.label.slice(0, 35).padEnd(36)} ${task.padEnd(9)} ${f(table.avg)}  ${DOMAIN_KEYS.map((d) => f(table.byDomain[d])).join(' ')} ${String(table.n).padStart(5)}`);
    }
    const c = s.counts;
    const unscored = c.planning.unjudged + c.guidance.unjudged;
    if (unscored > 0) io.out(`  ${unscored} items without a judge: local rule checks only (Engagement ${f(s.localRules.engagement)}, Naturalness ${f(s.localRules.naturalness)}, Tone ${f(s.localRules.tone)} of messages pass)`);
    const failed = c.planning.judgeFailed + c.guidance.judgeFailed;
    if (failed > 0) io.out(`  ${failed} items where the judge's answer stayed unreadable (no score)`);
  }
}

export const command: Command = {
  name: 'eval',
  summary: 'run ProactiveEval (target planning, dialogue guidance) against endpoints',
  usage: USAGE,
  async run(argv, io) {
    const args = parseArgs(argv, {
      values: [
        'task', 'model', 'model-name', 'judge', 'judge-model', 'user', 'user-model', 'api-key-env', 'model-api-key-env', 'judge-api-key-env',
        'user-api-key-env', 'envs', 'domains', 'tiers', 'agreeableness', 'concurrency', 'limit', 'judge-retries', 'timeout', 'out', 'backend',
        'max-tokens', 'prompts',
      ],
      booleans: ['no-stream', 'no-density'],
    });
    const taskFlag = requireFlag(args, 'task');
    const tasks: Task[] = taskFlag === 'both' ? ['planning', 'guidance'] : taskFlag === 'planning' || taskFlag === 'guidance' ? [taskFlag] : [];
    if (tasks.length === 0) throw new UsageError(`--task must be planning, guidance or both, got "${taskFlag}".`);
    const out = resolve(requireFlag(args, 'out'));
    const aliases = Object.fromEntries(DOMAIN_KEYS.map((d) => [DOMAINS[d].column, d])) as Record<string, DomainKey>;
    const domains = list(args, 'domains', DOMAIN_KEYS, aliases) ?? [...DOMAIN_KEYS];
    const tiers = list<Tier>(args, 'tiers', ['fair', 'hard']) ?? null;
    const agreeableness = list<Agreeableness>(args, 'agreeableness', AGREEABLENESS) ?? [...AGREEABLENESS];
    const concurrency = numberFlag(args, 'concurrency', 2)!;
    const limit = numberFlag(args, 'limit');
    const judgeRetries = numberFlag(args, 'judge-retries', 2)!;
    const maxTokens = numberFlag(args, 'max-tokens');
    for (const [name, v] of [['concurrency', concurrency], ['limit', limit ?? 1], ['judge-retries', judgeRetries + 1], ['max-tokens', maxTokens ?? 1]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new UsageError(`--${name} must be a whole number${name === 'judge-retries' ? ' ≥ 0' : ' ≥ 1'}.`);
    }

    const prompts = promptsFrom(stringFlag(args, 'prompts'));
    const judge = endpoint(args, 'judge', 'judge-model', 'judge');
    const user = endpoint(args, 'user', 'user-model', 'user');
    if (tasks.includes('guidance') && !user) throw new UsageError('Dialogue guidance needs a simulated user: --user <URL> --user-model <name>.');
    if (!judge) io.err(`No --judge: items are recorded without scores (guidance gets the local rule checks, labelled partial), and dialogues run the full ${MAX_TURNS} turns (no goal check ends them early).`);

    const envs = stringFlag(args, 'envs') ?? fileURLToPath(new URL('../../../public/scenarios', import.meta.url));
    const loaded = await loadScenariosFrom(envs, { domains, tiers: tiers ?? undefined });
    const errors = loaded.issues.filter((i) => i.severity === 'error');
    for (const issue of errors.slice(0, 20)) io.err(formatIssue(issue));
    if (errors.length > 20) io.err(`… and ${errors.length - 20} more errors`);
    const warnings = loaded.issues.length - errors.length;
    if (warnings > 0) io.err(`${warnings} warnings in the environment files (e.g. ${formatIssue(loaded.issues.find((i) => i.severity === 'warning')!)})`);
    const scenarios = requireScenarios(loaded, envs);

    const store = await JsonFileStore.open(out);
    const { ref, backend, release } = await modelUnderTest(args, io);
    const runId = store.storedRun?.id ?? `eval-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    if (store.storedRun) io.err(`Continuing run ${runId} from ${out}.`);

    const controller = new AbortController();
    const onSigint = (): void => {
      io.err('Stopping after the items in progress are cancelled; rerun with the same --out to continue.');
      controller.abort();
    };
    process.once('SIGINT', onSigint);
    let outcome;
    try {
      outcome = await runBatch({
        runId,
        settings: defaultRunSettings({
          tasks,
          models: [ref],
          domains,
          tiers,
          agreeableness,
          concurrency,
          limitPerDomain: limit ?? null,
          judgeRetries,
          maxTokens: maxTokens ?? null,
          judgeDensity: !boolFlag(args, 'no-density'),
          scenarioSource: envs,
        }),
        scenarios,
        backends: { models: { [ref.id]: backend }, judge, user },
        store,
        prompts,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.last) io.err(progressLine(p));
          else io.err(`${p.total} items, ${p.resumed} already done${p.resumed ? ' (resumed)' : ''}.`);
        },
      });
    } finally {
      process.removeListener('SIGINT', onSigint);
      await release();
    }
    printSummary(io, outcome.items);
    io.out(`\nResults: ${out}`);
    const itemErrors = outcome.items.filter((i) => i.status === 'error').length;
    if (outcome.run.status === 'failed') {
      io.err(`The run stopped: ${outcome.run.error}`);
      return 1;
    }
    if (outcome.run.status === 'stopped') return 130;
    if (itemErrors > 0) {
      io.err(`${itemErrors} items failed; rerun the same command to retry them.`);
      return 1;
    }
    return 0;
  },
};
