// `student-lab loss`: one loss and its gradient on dumped logits, for parity checks against other
// implementations (the fused WebGPU kernel by default, the f64 reference with --reference).
import { readFile, writeFile } from 'node:fs/promises';
import { planLoss, totalLoss } from '../../distill/losses/batch.ts';
import { computeLossOnHost, releaseTeacher, uploadTeacher } from '../../distill/losses/compute.ts';
import { assembleDumped, type DumpedBatch, type DumpedPart } from '../../distill/losses/dumped.ts';
import type { LossOptions } from '../../distill/losses/definitions.ts';
import { lossReference } from '../../distill/losses/reference.ts';
import { LOSS_NAMES, binModeOf, cacheKindOf, isLossName, parseWeights, termsOf, type LossName } from '../../distill/losses/recipes.ts';
import { createNodeGpu } from '../../engine/node-gpu.ts';
import { tensorToFloat32, tensorToInt32 } from '../../formats/dtypes.ts';
import { parseSafetensors } from '../../formats/safetensors.ts';
import { writeSafetensors, type TensorToWrite } from '../../formats/safetensors-writer.ts';
import { checkCacheMatches, decodeTeacherCache, type TeacherCache } from '../../formats/teacher-cache.ts';
import { boolFlag, numberFlag, parseArgs, requireFlag, stringFlag, UsageError } from '../args.ts';
import type { CliIo, Command } from '../command.ts';

const USAGE = `student-lab loss --loss <name> --logits <f> --labels <f> [--cache <f>] --out <grads.safetensors> [options]

  Evaluates one loss and its gradient ∂loss/∂logits on dumped logits, writes the gradient, and
  prints {"loss": <number>, <term>: <number>, ...} as one JSON line (terms unweighted; the loss is
  Σ weight·term). Definitions: docs/distillation.md.

  Inputs (safetensors):
    --logits <f>   tensor "logits" F32 [T, V] or [B, T, V]
    --labels <f>   tensor "labels" I32/I64 [T] or [B, T]: labels[i] is the target of logits row i
                   (the shift already applied); -100 marks ignored positions (prompt, padding).
                   Each row of [B, T] labels is one sequence; with [T] labels the cache's examples
                   are the sequences (one sequence without a cache).
    --cache <f>    teacher cache (distillation.md format). Its positions map, in order, onto the
                   labels that are not -100, and its tokens must equal them.

  Losses and their weights (--weights name=value,... overrides the defaults in brackets):
    sft                  CE on the labelled tokens                                  sft [1]
    kd rkl skew-fkl      K+1-bin forward KL / reverse KL / skew KLs / generalised   kd [1], sft [0]
    skew-rkl jsd tvd     JSD / total variation to the --cache probabilities
                         (--lambda λ of the skew KLs [0.1], --beta β of jsd [0.5])
    dckd                 --logits/--labels/--cache hold the chosen response y_w (CE + KL); the
                         rejected response y_l comes as --logits-rejected --labels-rejected
                         --cache-rejected (KL only)                       sft [1], kd [1], c [0.1], r [0.1]
                         L = sft·CE(y_w) + kd·(c·KL(y_w) + r·KL(y_l)), each a token mean per
                         sequence, then a mean over the sequences
    adpa                 --logits/--labels hold the student's response ŷ, --cache its advantage
                         cache; the SFT term on y_w comes from --logits-chosen --labels-chosen
                         (needed unless sft=0)                                   sft [1], adpa [1.6]
                         --signed-advantage [--advantage-beta β]: β·Â without the parity clamp
                         (departs from the reference implementation)

  --gpu (default)   the fused WebGPU kernel        --reference   the f64 reference
  Output: --out gets "grad" F32 shaped like --logits (zero rows at ignored positions), and
  "grad_rejected" (dckd) or "grad_chosen" (adpa) for the second set of sequences.`;

interface Loaded {
  logits: Float32Array;
  logitsShape: number[];
  labels: Int32Array;
  labelsShape: number[];
}

async function loadDump(logitsFile: string, labelsFile: string): Promise<Loaded> {
  const lf = parseSafetensors(new Uint8Array(await readFile(logitsFile)), logitsFile);
  const logits = lf.get('logits');
  if (logits.dtype !== 'F32') throw new UsageError(`${logitsFile}: tensor "logits" is ${logits.dtype}, expected F32.`);
  const yf = parseSafetensors(new Uint8Array(await readFile(labelsFile)), labelsFile);
  const labels = yf.get('labels');
  if (labels.dtype !== 'I32' && labels.dtype !== 'I64') throw new UsageError(`${labelsFile}: tensor "labels" is ${labels.dtype}, expected I32 or I64.`);
  return { logits: tensorToFloat32(logits).slice(), logitsShape: logits.shape, labels: tensorToInt32(labels).slice(), labelsShape: labels.shape };
}

async function loadCache(file: string, loss: LossName, io: CliIo, vocab: number): Promise<TeacherCache> {
  const cache = decodeTeacherCache(new Uint8Array(await readFile(file)), file);
  const kind = cacheKindOf(loss);
  checkCacheMatches(cache, { kind: kind ?? undefined }, file);
  if (cache.meta.vocabSize !== vocab) io.err(`note: ${file} has vocab_size ${cache.meta.vocabSize}, the logits ${vocab} columns; cached ids >= ${vocab} count in the rest bin.`);
  return cache;
}

async function runGpu(d: DumpedBatch, loss: LossName, options: LossOptions): Promise<{ terms: number[]; loss: number; grad: Float32Array }> {
  const gpu = await createNodeGpu();
  try {
    const teacher = d.teacher ? uploadTeacher(gpu, d.teacher) : undefined;
    const r = await computeLossOnHost(gpu, { logits: d.logits, plan: planLoss(d.batch), teacher, divergence: binModeOf(loss), options });
    if (teacher) releaseTeacher(teacher);
    return { terms: r.values, loss: r.loss, grad: r.grad };
  } finally {
    await gpu.destroy();
  }
}

export const command: Command = {
  name: 'loss',
  summary: 'evaluate one distillation loss and its gradient on dumped logits (parity checks)',
  usage: USAGE,
  async run(argv, io) {
    const args = parseArgs(argv, {
      values: ['loss', 'logits', 'labels', 'cache', 'logits-rejected', 'labels-rejected', 'cache-rejected', 'logits-chosen', 'labels-chosen', 'weights', 'lambda', 'beta', 'advantage-beta', 'out'],
      booleans: ['gpu', 'reference', 'signed-advantage'],
    });
    if (args.positionals.length) throw new UsageError(`Unexpected argument "${args.positionals[0]}".`);
    const name = requireFlag(args, 'loss');
    if (!isLossName(name)) throw new UsageError(`--loss "${name}" is not a loss.`, `Losses: ${LOSS_NAMES.join(', ')}.`);
    const loss: LossName = name;
    if (boolFlag(args, 'gpu') && boolFlag(args, 'reference')) throw new UsageError('Choose one of --gpu and --reference.');
    const out = requireFlag(args, 'out');
    const weights = parseWeights(loss, stringFlag(args, 'weights'));
    const { terms, ce, teacher, rejected } = termsOf(loss, weights);
    const signed = boolFlag(args, 'signed-advantage');
    if (!signed && stringFlag(args, 'advantage-beta') !== undefined) throw new UsageError('--advantage-beta goes with --signed-advantage.');
    const options: LossOptions = {
      skewLambda: numberFlag(args, 'lambda'),
      jsdBeta: numberFlag(args, 'beta'),
      advantage: signed ? { mode: 'signed', beta: numberFlag(args, 'advantage-beta', 1) } : { mode: 'parity' },
    };
    const allowed: Record<string, LossName[]> = {
      cache: ['kd', 'rkl', 'skew-fkl', 'skew-rkl', 'jsd', 'tvd', 'dckd', 'adpa'],
      'logits-rejected': ['dckd'],
      'labels-rejected': ['dckd'],
      'cache-rejected': ['dckd'],
      'logits-chosen': ['adpa'],
      'labels-chosen': ['adpa'],
      lambda: ['skew-fkl', 'skew-rkl'],
      beta: ['jsd'],
      'signed-advantage': ['adpa'],
    };
    for (const [flag, losses] of Object.entries(allowed)) {
      if (args.flags.has(flag) && !losses.includes(loss)) throw new UsageError(`--${flag} does not apply to --loss ${loss}.`);
    }

    const primary = await loadDump(requireFlag(args, 'logits'), requireFlag(args, 'labels'));
    const V = primary.logitsShape[primary.logitsShape.length - 1];
    const parts: (DumpedPart & { output: string })[] = [];
    const cacheFile = cacheKindOf(loss) ? requireFlag(args, 'cache') : undefined;
    const cache = cacheFile ? await loadCache(cacheFile, loss, io, V) : undefined;
    const labelsFile = requireFlag(args, 'labels');
    if (loss === 'adpa') {
      parts.push({ output: 'grad', file: labelsFile, ...primary, cache, cacheFile, teacher });
      const chosenLogits = stringFlag(args, 'logits-chosen');
      const chosenLabels = stringFlag(args, 'labels-chosen');
      if ((chosenLogits === undefined) !== (chosenLabels === undefined)) throw new UsageError('--logits-chosen and --labels-chosen go together.');
      if (chosenLogits && chosenLabels) parts.push({ output: 'grad_chosen', file: chosenLabels, ...(await loadDump(chosenLogits, chosenLabels)), ce });
      else if ((weights.sft ?? 0) !== 0) throw new UsageError('adpa: the SFT term on the chosen response needs --logits-chosen and --labels-chosen (or --weights sft=0).');
    } else {
      parts.push({ output: 'grad', file: labelsFile, ...primary, cache, cacheFile, ce, teacher });
      if (loss === 'dckd') {
        const rejectedLabels = requireFlag(args, 'labels-rejected');
        const rejectedCache = requireFlag(args, 'cache-rejected');
        const dump = await loadDump(requireFlag(args, 'logits-rejected'), rejectedLabels);
        parts.push({ output: 'grad_rejected', file: rejectedLabels, ...dump, cache: await loadCache(rejectedCache, loss, io, V), cacheFile: rejectedCache, teacher: rejected });
      }
    }

    const d = assembleDumped(parts, terms);
    let result: { terms: number[]; loss: number; grad: Float32Array | Float64Array };
    if (boolFlag(args, 'reference')) {
      const r = lossReference({ logits: d.logits, batch: d.batch, teacher: d.teacher, divergence: binModeOf(loss), options });
      result = { terms: Array.from(r.terms), loss: totalLoss(terms.map((t) => t.coefficient), r.terms), grad: r.grad };
    } else {
      result = await runGpu(d, loss, options);
    }

    const tensors: TensorToWrite[] = parts.map((p, i) => {
      const start = d.rowOffsets[i] * V;
      return { name: p.output, dtype: 'F32', shape: p.logitsShape, data: Float32Array.from(result.grad.subarray(start, start + p.logits.length)) };
    });
    await writeFile(out, writeSafetensors(tensors, { loss, mode: boolFlag(args, 'reference') ? 'reference-f64' : 'gpu-f32' }));
    const line: Record<string, number> = { loss: result.loss };
    terms.forEach((t, i) => (line[t.name] = result.terms[i]));
    io.out(JSON.stringify(line));
    return 0;
  },
};
