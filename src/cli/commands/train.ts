// `student-lab train`: fine-tune a model on the engine (full or LoRA), one JSON line of metrics per
// step, checkpoints in <out>/checkpoint.safetensors (resume with --resume), and the result exported
// into --out: a Hugging Face folder (full fine-tuning; LoRA merged with --merge) or a PEFT adapter.
import { mkdir, readFile, rename, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { attachLora, type LoraConfig } from '../../engine/models/lora.ts';
import { PROJECTIONS, type ProjectionName } from '../../engine/models/weights.ts';
import type { OptimizerConfig } from '../../engine/optim/optimizer.ts';
import type { ScheduleKind } from '../../engine/optim/schedule.ts';
import { Rng } from '../../engine/rng.ts';
import { loadPeftAdapter } from '../../formats/peft.ts';
import { NodeFolderSource } from '../../formats/source.node.ts';
import { tokenizeSft, type OverLength } from '../../distill/data/sft.ts';
import { SftBatches } from '../../distill/trainer/batches.ts';
import { decodeCheckpoint, restoreCheckpoint } from '../../distill/trainer/checkpoint.ts';
import { exportAdapter, exportModelFolder, initialFromAdapter, type FileWriter } from '../../distill/trainer/export.ts';
import { checkMemoryPlan } from '../../distill/trainer/memory.ts';
import { runTraining } from '../../distill/trainer/run.ts';
import { Trainer, type StepMetrics, type TrainConfig } from '../../distill/trainer/trainer.ts';
import { boolFlag, numberFlag, parseArgs, requireFlag, stringFlag, UsageError, type ParsedArgs } from '../args.ts';
import type { CliIo, Command } from '../command.ts';
import { loadModelArg } from '../model-arg.ts';

const USAGE = `student-lab train --model <dir|url|repo-id> --data <file.jsonl> --out <dir> [options]

  Fine-tunes the model on the lab's WebGPU engine. Prints one JSON line of metrics per step.

  --data FILE            SFT data: JSONL or a JSON array of {"prompt", "response"}, {"messages": [...]}
                         or pre-tokenised {"input_ids": [...], "labels": [...]} (−100 = no loss)
  --loss sft             the objective (distillation losses: see docs)
  --optimizer adamw|sgd  (default adamw)   --lr X (default 1e-4)   --weight-decay W (default 0)
  --momentum M           SGD momentum (default 0)
  --steps N | --epochs E optimiser steps, or passes over the data (default 1 epoch)
  --batch-size B         sequences per micro-batch (default 1)   --grad-accum G (default 1)
  --max-grad-norm C      clip the global gradient norm at C; 0 disables (default 1)
  --schedule constant|linear|cosine   --warmup F   (a fraction < 1 of the steps, or a step count)
  --max-length L         tokens per example (default 512)   --over-length truncate|skip (default truncate)
  --lora r=4,alpha=8,dropout=0,targets=q_proj,v_proj   train LoRA adapters instead of all weights
  --lora-init DIR        start from this PEFT adapter (its r/alpha/targets are used)
  --merge                with LoRA: export the merged model instead of the adapter
  --checkpoint-every N   write <out>/checkpoint.safetensors every N steps (default 50)
  --resume               continue from <out>/checkpoint.safetensors
  --budget-mib M         GPU memory budget for the pre-flight estimate (default 4096)
  --seed S               data order, LoRA init and dropout (default 0)`;

const VALUES = [
  'model', 'data', 'out', 'loss', 'optimizer', 'lr', 'weight-decay', 'momentum', 'steps', 'epochs', 'batch-size', 'grad-accum',
  'max-grad-norm', 'schedule', 'warmup', 'max-length', 'over-length', 'lora', 'lora-init', 'checkpoint-every', 'budget-mib', 'seed',
] as const;

function positiveInt(args: ParsedArgs, name: string, fallback: number): number {
  const v = numberFlag(args, name, fallback)!;
  if (!Number.isSafeInteger(v) || v < 1) throw new UsageError(`--${name} must be a whole number ≥ 1, got ${stringFlag(args, name)}.`);
  return v;
}

function oneOf<T extends string>(args: ParsedArgs, name: string, allowed: readonly T[], fallback: T): T {
  const v = stringFlag(args, name) ?? fallback;
  if (!allowed.includes(v as T)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${v}".`);
  return v as T;
}

/** `r=4,alpha=8,dropout=0,targets=q_proj,v_proj` (targets may list several, comma-separated). */
export function parseLoraSpec(spec: string): LoraConfig {
  const out: LoraConfig = { rank: 8, alpha: 16, dropout: 0, targets: ['q_proj', 'v_proj'] };
  const targets: ProjectionName[] = [];
  let inTargets = false;
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [key, value] = part.includes('=') ? part.split('=', 2) : [null, part];
    if (key === null) {
      if (!inTargets) throw new UsageError(`--lora: "${part}" is not key=value.`);
      targets.push(value as ProjectionName);
      continue;
    }
    inTargets = key === 'targets';
    const num = Number(value);
    if (key === 'r') out.rank = num;
    else if (key === 'alpha') out.alpha = num;
    else if (key === 'dropout') out.dropout = num;
    else if (key === 'targets') targets.push(value as ProjectionName);
    else if (key === 'rslora') out.useRslora = value === 'true' || value === '1';
    else throw new UsageError(`--lora: unknown key "${key}" (use r, alpha, dropout, targets, rslora).`);
    if (key !== 'targets' && key !== 'rslora' && !Number.isFinite(num)) throw new UsageError(`--lora: ${key} must be a number, got "${value}".`);
  }
  if (targets.length) out.targets = targets;
  for (const t of out.targets) if (!PROJECTIONS.includes(t)) throw new UsageError(`--lora: unknown target "${t}"; choose from ${PROJECTIONS.join(', ')}.`);
  return out;
}

async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  await writeFile(`${path}.partial`, bytes);
  await rename(`${path}.partial`, path);
}

function folderWriter(dir: string): FileWriter {
  const started = new Set<string>();
  return async (path, bytes) => {
    const full = join(dir, path);
    if (started.has(path)) await appendFile(full, bytes);
    else {
      started.add(path);
      await writeFile(full, bytes);
    }
  };
}

function metricsLine(m: StepMetrics): string {
  return JSON.stringify({
    step: m.step,
    loss: m.loss,
    ...m.terms,
    grad_norm: m.gradNorm,
    lr: m.lr,
    tokens: m.tokens,
    tokens_per_s: Math.round(m.tokensPerSecond),
    ms: Math.round(m.ms),
    gpu_bytes: m.memory.liveBytes,
    ...(m.skipped ? { skipped: true } : {}),
  });
}

export const command: Command = {
  name: 'train',
  summary: 'fine-tune a model (full or LoRA) and export it',
  usage: USAGE,
  async run(argv, io: CliIo) {
    const args = parseArgs(argv, { values: VALUES, booleans: ['resume', 'merge'] });
    const out = requireFlag(args, 'out');
    const dataFile = requireFlag(args, 'data');
    oneOf(args, 'loss', ['sft'], 'sft');
    const optimizer: OptimizerConfig = {
      kind: oneOf(args, 'optimizer', ['adamw', 'sgd'], 'adamw'),
      weightDecay: numberFlag(args, 'weight-decay', 0),
      momentum: numberFlag(args, 'momentum', 0),
    };
    const batchSize = positiveInt(args, 'batch-size', 1);
    const gradAccum = positiveInt(args, 'grad-accum', 1);
    const maxLength = positiveInt(args, 'max-length', 512);
    const seed = numberFlag(args, 'seed', 0)!;
    let lora: LoraConfig | null = stringFlag(args, 'lora') ? parseLoraSpec(stringFlag(args, 'lora')!) : null;
    const { gpu, model } = await loadModelArg(requireFlag(args, 'model'), io);
    try {
      const { decoder, files } = model;
      const text = await readFile(dataFile, 'utf8').catch(() => {
        throw new UsageError(`--data: cannot read ${dataFile}.`);
      });
      const data = tokenizeSft(text, dataFile, files.tokenizer, decoder.config.vocabSize, { maxLength, overLength: oneOf<OverLength>(args, 'over-length', ['truncate', 'skip'], 'truncate') });
      if (data.examples.length === 0) throw new UsageError(`--data: ${dataFile} has no usable examples (${data.skipped} too long, ${data.empty} without response tokens).`);
      if (data.truncated || data.skipped || data.empty) io.err(`data: ${data.examples.length} examples; ${data.truncated} truncated, ${data.skipped} skipped as too long, ${data.empty} without response tokens`);
      const perEpoch = Math.ceil(data.examples.length / (batchSize * gradAccum));
      const steps = args.flags.has('steps') ? positiveInt(args, 'steps', 1) : perEpoch * positiveInt(args, 'epochs', 1);
      const initDir = stringFlag(args, 'lora-init');
      let initial;
      if (initDir) {
        const adapter = initialFromAdapter(await loadPeftAdapter(new NodeFolderSource(initDir), { model: decoder.config }));
        lora = adapter.config;
        initial = adapter.initial;
      }
      const seqLen = Math.max(...data.examples.map((e) => e.ids.length));
      checkMemoryPlan(decoder.config, { mode: lora ? 'lora' : 'full', loraRank: lora?.rank, loraTargets: lora?.targets, batchSize, seqLen, optimizer }, {
        maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize,
        budgetBytes: numberFlag(args, 'budget-mib', 4096)! * 2 ** 20,
      });
      if (lora) attachLora(gpu, decoder.weights, lora, Rng.fromSeed(seed), initial);
      const config: TrainConfig = {
        mode: lora ? 'lora' : 'full',
        optimizer,
        lr: numberFlag(args, 'lr', 1e-4)!,
        schedule: oneOf<ScheduleKind>(args, 'schedule', ['constant', 'linear', 'cosine'], 'constant'),
        warmup: numberFlag(args, 'warmup', 0)!,
        steps,
        gradAccum,
        maxGradNorm: numberFlag(args, 'max-grad-norm', 1)!,
        seed,
      };
      const padId = files.tokenizer.padTokenId ?? files.tokenizer.eosTokenIds[0] ?? 0;
      const trainer = new Trainer(gpu, decoder, new SftBatches(data.examples, batchSize, decoder.config.vocabSize, padId, seed), config);
      await mkdir(out, { recursive: true });
      const checkpointPath = join(out, 'checkpoint.safetensors');
      if (boolFlag(args, 'resume')) {
        const bytes = await readFile(checkpointPath).catch(() => {
          throw new UsageError(`--resume: no checkpoint at ${checkpointPath}.`);
        });
        restoreCheckpoint(trainer, decodeCheckpoint(bytes, checkpointPath));
        io.err(`resumed at step ${trainer.step} of ${steps}`);
      }
      await runTraining(trainer, {
        runId: out,
        checkpointEvery: numberFlag(args, 'checkpoint-every', 50)!,
        sink: { save: (_run, _step, bytes) => writeAtomically(checkpointPath, bytes) },
        hooks: { onMetrics: (m) => io.out(metricsLine(m)) },
      });
      const write = folderWriter(out);
      if (lora && !boolFlag(args, 'merge')) await exportAdapter(decoder, lora, write, requireFlag(args, 'model'));
      else await exportModelFolder(decoder, files, write);
      io.err(`exported ${lora && !boolFlag(args, 'merge') ? 'PEFT adapter' : 'model'} to ${out}`);
      trainer.release();
      return 0;
    } finally {
      await gpu.destroy();
    }
  },
};
