// `student-lab train`: fine-tune or distil a model on the engine (full or LoRA; SFT, the KD zoo,
// DCKD, ADPA, ADPA+ as two stages), one JSON line of metrics per step, checkpoints in <out>/checkpoint.safetensors (resume with --resume), and the result exported
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
import type { LossOptions } from '../../distill/losses/definitions.ts';
import { isLossName, LOSS_NAMES, parseWeights, type LossName } from '../../distill/losses/recipes.ts';
import { prepareAdpaData, studentResponsesFromCache, type ScoringModel } from '../../distill/pipeline.ts';
import { SftBatches, type BatchSource } from '../../distill/trainer/batches.ts';
import { DistillBatches, type DistillData } from '../../distill/trainer/preference-batches.ts';
import { encodeTeacherCache } from '../../formats/teacher-cache.ts';
import { decodeCheckpoint, restoreCheckpoint } from '../../distill/trainer/checkpoint.ts';
import { exportAdapter, exportModelFolder, initialFromAdapter, type FileWriter } from '../../distill/trainer/export.ts';
import { checkMemoryPlan } from '../../distill/trainer/memory.ts';
import { runTraining } from '../../distill/trainer/run.ts';
import { Trainer, type StepMetrics, type TrainConfig } from '../../distill/trainer/trainer.ts';
import { boolFlag, numberFlag, parseArgs, requireFlag, stringFlag, UsageError, type ParsedArgs } from '../args.ts';
import type { CliIo, Command } from '../command.ts';
import { loadModelArg } from '../model-arg.ts';
import { loadCache, loadPairs } from '../preference-arg.ts';

const USAGE = `student-lab train --model <dir|url|repo-id> --data <file.jsonl> --out <dir> [options]

  Fine-tunes the model on the lab's WebGPU engine. Prints one JSON line of metrics per step.

  --data FILE            sft: JSONL or a JSON array of {"prompt", "response"}, {"messages": [...]} or
                         pre-tokenised {"input_ids": [...], "labels": [...]} (−100 = no loss);
                         every other loss: preference pairs {"prompt", "chosen", "rejected"}
  --loss NAME            sft | kd rkl skew-fkl skew-rkl jsd tvd (on --teacher-chosen) |
                         dckd (--teacher-chosen, --teacher-rejected) |
                         adpa (--advantage, or --teacher and --reference to build it) |
                         adpa+ (DCKD, then ADPA from the DCKD student: the caches of both)
  --teacher-chosen F     teacher cache on the chosen responses    --teacher-rejected F   on the rejected
  --advantage F          ADPA advantage cache on the student's responses (student-lab advantage)
  --teacher M --reference M   the DPO teacher and the reference model (ADPA without a cache; ADPA+)
  --weights a=1,b=2      loss weights (sft, kd, c, r, adpa; defaults in docs/distillation.md)
  --lambda λ --beta β    skew-KL λ (0.1) and generalised-JSD β (0.5)
  --signed-advantage [--advantage-beta β]   β·Â without the parity clamp (departs from the reference)
  --stage-steps N1,N2    ADPA+: steps of the DCKD and the ADPA stage (default: --steps or --epochs each)
  --k K --max-new-tokens N    top-K of caches built here (50) and the length of ŷ (128)
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
  --recompute            activation recomputation: keep only layer inputs, run each layer again in
                         the backward pass (less memory, about a third more compute)
  --checkpoint-every N   write <out>/checkpoint.safetensors every N steps (default 50)
  --resume               continue from <out>/checkpoint.safetensors
  --budget-mib M         GPU memory budget for the pre-flight estimate (default 4096)
  --seed S               data order, LoRA init and dropout (default 0)`;

const VALUES = [
  'model', 'data', 'out', 'loss', 'optimizer', 'lr', 'weight-decay', 'momentum', 'steps', 'epochs', 'batch-size', 'grad-accum',
  'max-grad-norm', 'schedule', 'warmup', 'max-length', 'over-length', 'lora', 'lora-init', 'checkpoint-every', 'budget-mib', 'seed',
  'teacher-chosen', 'teacher-rejected', 'advantage', 'teacher', 'reference', 'weights', 'lambda', 'beta', 'advantage-beta', 'stage-steps',
  'k', 'max-new-tokens',
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

function metricsLine(m: StepMetrics, stage?: string): string {
  return JSON.stringify({
    ...(stage ? { stage } : {}),
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

interface Stage {
  name: string;
  steps: number;
  /** Sequences per micro-batch row set (DCKD and ADPA lay out two per pair). */
  rowsPerExample: number;
  source: () => Promise<BatchSource>;
}

export const command: Command = {
  name: 'train',
  summary: 'fine-tune or distil a model (full or LoRA) and export it',
  usage: USAGE,
  async run(argv, io: CliIo) {
    const args = parseArgs(argv, { values: VALUES, booleans: ['resume', 'merge', 'signed-advantage', 'recompute'] });
    const out = requireFlag(args, 'out');
    const dataFile = requireFlag(args, 'data');
    const lossArg = stringFlag(args, 'loss') ?? 'sft';
    if (!isLossName(lossArg) && lossArg !== 'adpa+') throw new UsageError(`--loss must be one of ${LOSS_NAMES.join(', ')}, adpa+; got "${lossArg}".`);
    const optimizer: OptimizerConfig = {
      kind: oneOf(args, 'optimizer', ['adamw', 'sgd'], 'adamw'),
      weightDecay: numberFlag(args, 'weight-decay', 0),
      momentum: numberFlag(args, 'momentum', 0),
    };
    const batchSize = positiveInt(args, 'batch-size', 1);
    const gradAccum = positiveInt(args, 'grad-accum', 1);
    const maxLength = positiveInt(args, 'max-length', 512);
    const overLength = oneOf<OverLength>(args, 'over-length', ['truncate', 'skip'], 'truncate');
    const seed = numberFlag(args, 'seed', 0)!;
    const lossOptions: LossOptions = {
      skewLambda: numberFlag(args, 'lambda'),
      jsdBeta: numberFlag(args, 'beta'),
      advantage: boolFlag(args, 'signed-advantage') ? { mode: 'signed', beta: numberFlag(args, 'advantage-beta', 1) } : { mode: 'parity' },
    };
    let lora: LoraConfig | null = stringFlag(args, 'lora') ? parseLoraSpec(stringFlag(args, 'lora')!) : null;
    const modelArg = requireFlag(args, 'model');
    const { gpu, model } = await loadModelArg(modelArg, io);
    try {
      const { decoder, files } = model;
      const tok = files.tokenizer;
      const vocab = decoder.config.vocabSize;
      const padId = tok.padTokenId ?? tok.eosTokenIds[0] ?? 0;
      const stepsFor = (examples: number) => (args.flags.has('steps') ? positiveInt(args, 'steps', 1) : Math.ceil(examples / (batchSize * gradAccum)) * positiveInt(args, 'epochs', 1));
      const stages: Stage[] = [];
      let seqLen: number;
      if (lossArg === 'sft') {
        const text = await readFile(dataFile, 'utf8').catch(() => {
          throw new UsageError(`--data: cannot read ${dataFile}.`);
        });
        const data = tokenizeSft(text, dataFile, tok, vocab, { maxLength, overLength });
        if (data.examples.length === 0) throw new UsageError(`--data: ${dataFile} has no usable examples (${data.skipped} too long, ${data.empty} without response tokens).`);
        if (data.truncated || data.skipped || data.empty) io.err(`data: ${data.examples.length} examples; ${data.truncated} truncated, ${data.skipped} skipped as too long, ${data.empty} without response tokens`);
        seqLen = Math.max(...data.examples.map((e) => e.ids.length));
        stages.push({ name: 'sft', steps: stepsFor(data.examples.length), rowsPerExample: 1, source: async () => new SftBatches(data.examples, batchSize, vocab, padId, seed) });
      } else {
        const data = await loadPairs(dataFile, tok, { maxLength, overLength }, io);
        seqLen = Math.max(...data.pairs.flatMap((p) => [p.chosen.ids.length, p.rejected.ids.length]), ...data.pairs.map((p) => p.promptIds.length + numberFlag(args, 'max-new-tokens', 128)!));
        const cache = (flag: string, kind: 'probs' | 'advantage', response: 'chosen' | 'rejected' | 'student') => {
          const file = stringFlag(args, flag);
          if (!file) throw new UsageError(`--loss ${lossArg} needs --${flag}.`);
          return loadCache(file, { tok, vocabSize: vocab, data, kind, response });
        };
        const distill = (loss: LossName, d: DistillData) => new DistillBatches(data.pairs, loss, parseWeights(loss, stringFlag(args, 'weights')), d, batchSize, vocab, padId, seed, lossOptions);
        const adpaData = async (): Promise<DistillData> => {
          const advFile = stringFlag(args, 'advantage');
          if (advFile && lossArg === 'adpa') {
            const advantage = await cache('advantage', 'advantage', 'student');
            return { advantage, student: studentResponsesFromCache(data.pairs, advantage) };
          }
          const scoring = (flag: 'teacher' | 'reference') => async (): Promise<ScoringModel> => {
            const arg = stringFlag(args, flag);
            if (!arg) throw new UsageError(`--loss ${lossArg} needs --${flag} <model> to build the advantage cache (or --advantage <cache>).`);
            const m = await loadModelArg(arg, io);
            if (m.model.files.tokenizer.tokenizerSha256 !== tok.tokenizerSha256) {
              await m.gpu.destroy();
              throw new UsageError(`--${flag} ${arg} has another tokenizer than the student; the caches need a shared tokenizer.`);
            }
            return { decoder: m.model.decoder, name: arg, release: () => m.gpu.destroy() };
          };
          const prepared = await prepareAdpaData({
            student: decoder,
            eosTokenIds: files.stopTokenIds,
            loadTeacher: scoring('teacher'),
            loadReference: scoring('reference'),
            pairs: data.pairs,
            tokenizerSha256: tok.tokenizerSha256,
            datasetSha256: data.set.sha256,
            k: numberFlag(args, 'k', 50)!,
            valueDType: 'F16',
            maxNewTokens: numberFlag(args, 'max-new-tokens', 128)!,
            onProgress: (stage, d, n) => {
              if (d === n) io.err(`adpa data: ${stage} ${d}/${n}`);
            },
          });
          await writeFile(join(out, 'advantage.safetensors'), encodeTeacherCache(prepared.advantage));
          return { advantage: prepared.advantage, student: prepared.student };
        };
        const stageSteps = stringFlag(args, 'stage-steps')?.split(',').map(Number);
        if (lossArg === 'adpa+') {
          if (stageSteps && (stageSteps.length !== 2 || !stageSteps.every((n) => Number.isSafeInteger(n) && n >= 1))) throw new UsageError('--stage-steps must be two whole numbers, e.g. 100,100.');
          const dckd = { chosen: await cache('teacher-chosen', 'probs', 'chosen'), rejected: await cache('teacher-rejected', 'probs', 'rejected') };
          stages.push({ name: 'dckd', steps: stageSteps?.[0] ?? stepsFor(data.pairs.length), rowsPerExample: 2, source: async () => distill('dckd', dckd) });
          stages.push({ name: 'adpa', steps: stageSteps?.[1] ?? stepsFor(data.pairs.length), rowsPerExample: 2, source: async () => distill('adpa', await adpaData()) });
        } else {
          const loss = lossArg as LossName;
          const d: DistillData = {};
          if (loss === 'dckd') {
            d.chosen = await cache('teacher-chosen', 'probs', 'chosen');
            d.rejected = await cache('teacher-rejected', 'probs', 'rejected');
          } else if (loss !== 'adpa') d.chosen = await cache('teacher-chosen', 'probs', 'chosen');
          stages.push({ name: loss, steps: stepsFor(data.pairs.length), rowsPerExample: loss === 'dckd' || loss === 'adpa' ? 2 : 1, source: async () => distill(loss, loss === 'adpa' ? await adpaData() : d) });
        }
      }
      const initDir = stringFlag(args, 'lora-init');
      let initial;
      if (initDir) {
        const adapter = initialFromAdapter(await loadPeftAdapter(new NodeFolderSource(initDir), { model: decoder.config }));
        lora = adapter.config;
        initial = adapter.initial;
      }
      checkMemoryPlan(
        decoder.config,
        { mode: lora ? 'lora' : 'full', loraRank: lora?.rank, loraTargets: lora?.targets, batchSize: batchSize * Math.max(...stages.map((s) => s.rowsPerExample)), seqLen, optimizer, recompute: boolFlag(args, 'recompute') },
        { maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize, maxBufferSize: gpu.limits.maxBufferSize, budgetBytes: numberFlag(args, 'budget-mib', 4096)! * 2 ** 20 },
      );
      if (lora) attachLora(gpu, decoder.weights, lora, Rng.fromSeed(seed), initial);
      await mkdir(out, { recursive: true });
      for (const stage of stages) {
        const done = join(out, `stage-${stage.name}.done`);
        const finishedSteps = Number((await readFile(done, 'utf8').catch(() => '0')).trim());
        if (boolFlag(args, 'resume') && finishedSteps >= stage.steps) {
          io.err(`stage ${stage.name}: already finished (${finishedSteps} steps)`);
          continue;
        }
        const config: TrainConfig = {
          mode: lora ? 'lora' : 'full',
          optimizer,
          lr: numberFlag(args, 'lr', 1e-4)!,
          schedule: oneOf<ScheduleKind>(args, 'schedule', ['constant', 'linear', 'cosine'], 'constant'),
          warmup: numberFlag(args, 'warmup', 0)!,
          steps: stage.steps,
          gradAccum,
          maxGradNorm: numberFlag(args, 'max-grad-norm', 1)!,
          seed,
          recompute: boolFlag(args, 'recompute'),
        };
        const trainer = new Trainer(gpu, decoder, await stage.source(), config);
        const checkpointPath = join(out, stages.length > 1 ? `checkpoint-${stage.name}.safetensors` : 'checkpoint.safetensors');
        if (boolFlag(args, 'resume')) {
          const bytes = await readFile(checkpointPath).catch(() => null);
          if (bytes) {
            restoreCheckpoint(trainer, decodeCheckpoint(bytes, checkpointPath));
            io.err(`${stage.name}: resumed at step ${trainer.step} of ${stage.steps}`);
          } else if (stage === stages[0]) throw new UsageError(`--resume: no checkpoint at ${checkpointPath}.`);
        }
        await runTraining(trainer, {
          runId: `${out}#${stage.name}`,
          checkpointEvery: numberFlag(args, 'checkpoint-every', 50)!,
          sink: { save: (_run, _step, bytes) => writeAtomically(checkpointPath, bytes) },
          hooks: { onMetrics: (m) => io.out(metricsLine(m, stages.length > 1 ? stage.name : undefined)) },
        });
        trainer.release();
        await writeFile(done, `${stage.steps}\n`);
      }
      const write = folderWriter(out);
      if (lora && !boolFlag(args, 'merge')) await exportAdapter(decoder, lora, write, modelArg);
      else await exportModelFolder(decoder, files, write);
      io.err(`exported ${lora && !boolFlag(args, 'merge') ? 'PEFT adapter' : 'model'} to ${out}`);
      return 0;
    } finally {
      await gpu.destroy();
    }
  },
};
