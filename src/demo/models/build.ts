// The demo models, trained with the lab's own engine (npm run demo:build), deterministic from the
// seeds in configs.ts, resumable stage by stage:
//   (a) teacher-sft  fresh init → SFT on sft.train.jsonl (both styles)        → models/teacher-sft
//                    kept as ADPA's reference model (the teacher before preference alignment)
//   (b) teacher      teacher-sft → SFT on the CHOSEN responses of pairs.train.jsonl → models/teacher
//   (c) student      fresh init → SFT on sft.train.jsonl (knows both styles, prefers neither)
//                    → models/student: the "before" student that the page distils
//   (d) caches       the teacher's top-K (f16) on the chosen and on the rejected responses of the
//                    demo subset (the first DEMO_SUBSET_PAIRS training pairs, written as
//                    caches/pairs.demo.jsonl) → caches/{chosen,rejected}.safetensors, so the page
//                    starts DCKD at once
//   (e) report       parameters, sizes, times and the held-out preference margins → models/build.json
//
// Why (b) is SFT on the chosen responses and not DPO: the trainer has no DPO objective (its losses
// are SFT, the cached-teacher KD family, DCKD and ADPA). What the demo needs from its teacher is a
// model that clearly prefers the good style over the bad one, and the SFT checkpoint it started
// from as the reference. Fine-tuning on the chosen responses alone raises their likelihood and,
// since the model has no rejected examples in that stage, lowers the bad style's share of the mass
// at the positions where the styles diverge: the held-out margin (build.json, teacherMargins) shows
// how clearly the teacher prefers the good style, compared with its SFT checkpoint.
//
// Work files (git-ignored): <work>/<stage>/checkpoint.safetensors (every few steps), timing.json,
// fingerprint.json and done.json. A stage whose recipe, shape and upstream did not change and whose
// output exists is skipped; a changed stage restarts from scratch, and so do the stages after it.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gpu } from '../../engine/gpu.ts';
import type { Decoder } from '../../engine/models/decoder.ts';
import { initDecoder } from '../../engine/models/init.ts';
import { weightTensors } from '../../engine/models/weights.ts';
import { buildTeacherCache } from '../../distill/cache/assemble.ts';
import { readPreferenceData, tokenizePairs, type TokenizedPair } from '../../distill/data/preference.ts';
import { tokenizeSft, type TokenizedExample } from '../../distill/data/sft.ts';
import { preferenceMargin, type MarginReport } from '../../distill/margin.ts';
import { parameterCount, parseModelConfig } from '../../formats/config.ts';
import { encodeTeacherCache } from '../../formats/teacher-cache.ts';
import type { Tokenizer } from '../../formats/tokenizer.ts';
import { DEMO_CONTEXT } from '../data-files.ts';
import { BUILD_ADAM_BETA2, DEMO_CACHE_K, DEMO_MODEL_NAMES, DEMO_SUBSET_PAIRS, DEMO_TOKEN_IDS, demoConfigJson, STAGES, STUDENT_SHAPE, TEACHER_SHAPE, type DemoModelName, type DemoModelShape, type StageRecipe } from './configs.ts';
import { BUILD_REPORT, CACHE_FILES, CACHES_DIR, demoText, loadDemoModel, loadDemoTokenizer, modelDir, SUBSET_FILE, writeAtomically, writeModelFolder } from './files.node.ts';
import { byLength } from './evaluate.ts';
import { LengthGroupedBatches } from './length-batches.ts';
import { formatDuration, trainStage, type StageTiming } from './stage.ts';

export const SHAPES: Record<'teacher' | 'student', DemoModelShape> = { teacher: TEACHER_SHAPE, student: STUDENT_SHAPE };
const CHECKPOINT_EVERY = 20;
const LOG_EVERY = 5;
/** Recorded in the caches' `model` field. */
export const CACHE_MODEL_NAME = 'student-lab demo teacher (public/demo/models/teacher)';

export interface DemoTrainingData {
  tok: Tokenizer;
  sft: TokenizedExample[];
  trainPairs: TokenizedPair[];
  heldoutPairs: TokenizedPair[];
}

const TOKENIZE = { maxLength: DEMO_CONTEXT, overLength: 'skip' as const };

export async function loadTrainingData(): Promise<DemoTrainingData> {
  const tok = await loadDemoTokenizer();
  const sft = tokenizeSft(demoText('data/sft.train.jsonl'), 'sft.train.jsonl', tok, tok.vocabSize, TOKENIZE);
  const pairs = async (file: string) => tokenizePairs(await readPreferenceData(demoText(`data/${file}`), file), tok, TOKENIZE).pairs;
  return { tok, sft: sft.examples, trainPairs: await pairs('pairs.train.jsonl'), heldoutPairs: await pairs('pairs.heldout.jsonl') };
}

/** The model family (shape) a stage trains. */
export function shapeOf(recipe: StageRecipe): 'teacher' | 'student' {
  if ('init' in recipe.from) return recipe.from.init;
  const upstream = STAGES.find((s) => s.name === (recipe.from as { model: DemoModelName }).model)!;
  return shapeOf(upstream);
}

export function configJsonOf(name: DemoModelName): Record<string, unknown> {
  return demoConfigJson(SHAPES[shapeOf(STAGES.find((s) => s.name === name)!)]);
}

/** What decides a stage's result: its recipe, its shape and what it starts from. */
function fingerprint(recipe: StageRecipe, fingerprints: Map<string, string>): string {
  const upstream = 'model' in recipe.from ? fingerprints.get(recipe.from.model) : null;
  return JSON.stringify({ recipe, shape: SHAPES[shapeOf(recipe)], upstream });
}

function readJson<T>(path: string): T | null {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : null;
}

export function releaseDecoder(decoder: Decoder): void {
  decoder.release();
  for (const t of weightTensors(decoder.weights)) t.release();
}

interface StageDone {
  fingerprint: string;
  timing: StageTiming;
}

export interface BuildOptions {
  gpu: Gpu;
  workDir: string;
  log: (line: string) => void;
}

export interface ModelReport {
  shape: DemoModelShape;
  parameters: number;
  dtype: 'bfloat16';
  /** Bytes of model.safetensors. */
  weightBytes: number;
  /** Bytes of the whole folder. */
  folderBytes: number;
  recipe: StageRecipe;
  training: StageTiming;
}

export interface BuildReport {
  format: 'student-lab/demo-models';
  version: 1;
  regenerate: 'npm run demo:build';
  models: Record<DemoModelName, ModelReport>;
  caches: { pairs: number; k: number; dtype: 'F16'; positions: Record<'chosen' | 'rejected', number>; bytes: Record<'chosen' | 'rejected' | 'pairs', number>; datasetSha256: string; seconds: number };
  /** Held-out preference margins (mean per-token log-prob, chosen − rejected) of the built models. */
  margins: Record<DemoModelName, MarginReport>;
  /** Seconds of each part of the build, summed over resumed sessions. */
  seconds: { training: number; caches: number; margins: number; total: number };
}

function folderBytes(dir: string): number {
  return ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'].reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

async function runModelStage(o: BuildOptions, data: DemoTrainingData, recipe: StageRecipe, print: string, index: number): Promise<StageTiming> {
  const dir = join(o.workDir, recipe.name);
  const fpFile = join(dir, 'fingerprint.json');
  if (readJson<{ fingerprint: string }>(fpFile)?.fingerprint !== print) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(fpFile, JSON.stringify({ fingerprint: print }));
  const config = parseModelConfig(configJsonOf(recipe.name), `${recipe.name}/config.json`);
  const decoder =
    'init' in recipe.from ? initDecoder(o.gpu, config, recipe.from.seed, SHAPES[recipe.from.init].initializerRange) : (await loadDemoModel(o.gpu, modelDir(recipe.from.model))).decoder;
  try {
    const responses = recipe.data === 'sft' ? data.sft : data.trainPairs.map((p) => p.chosen);
    const examples = recipe.loss === 'all' ? responses.map((e) => ({ ...e, labels: e.ids.slice() })) : responses;
    const meanLength = examples.reduce((n, e) => n + e.ids.length, 0) / examples.length;
    o.log(
      `[${recipe.name}] stage ${index + 1}/${STAGES.length}: ${parameterCount(config).toLocaleString('en')} parameters, ${recipe.steps} steps × ${recipe.batchSize} of ${examples.length} ` +
        `${recipe.data === 'sft' ? 'SFT examples' : 'chosen responses'}, loss on ${recipe.loss === 'all' ? 'every token' : 'the responses'} (${((recipe.steps * recipe.batchSize) / examples.length).toFixed(2)} epochs, ~${Math.round(meanLength)} tokens each), lr ${recipe.lr}`,
    );
    const timing = await trainStage({
      gpu: o.gpu,
      decoder,
      source: new LengthGroupedBatches(examples, recipe.batchSize, config.vocabSize, DEMO_TOKEN_IDS.pad, recipe.seed),
      config: { mode: 'full', optimizer: { kind: 'adamw', weightDecay: 0, beta2: BUILD_ADAM_BETA2 }, lr: recipe.lr, schedule: 'cosine', warmup: recipe.warmup, steps: recipe.steps, gradAccum: 1, maxGradNorm: 1, seed: recipe.seed },
      dir,
      label: recipe.name,
      checkpointEvery: CHECKPOINT_EVERY,
      logEvery: LOG_EVERY,
      log: o.log,
    });
    await writeModelFolder(decoder, configJsonOf(recipe.name), modelDir(recipe.name));
    return timing;
  } finally {
    releaseDecoder(decoder);
  }
}

/** The demo subset: the first DEMO_SUBSET_PAIRS lines of pairs.train.jsonl, byte for byte. */
export function subsetText(): string {
  const lines = demoText('data/pairs.train.jsonl').split('\n').filter((l) => l.trim() !== '');
  if (lines.length < DEMO_SUBSET_PAIRS) throw new RangeError(`pairs.train.jsonl has ${lines.length} pairs; the demo subset needs ${DEMO_SUBSET_PAIRS}.`);
  return `${lines.slice(0, DEMO_SUBSET_PAIRS).join('\n')}\n`;
}

async function buildCaches(o: BuildOptions, tok: Tokenizer): Promise<BuildReport['caches']> {
  const t0 = performance.now();
  const text = subsetText();
  mkdirSync(CACHES_DIR, { recursive: true });
  writeAtomically(SUBSET_FILE, text);
  const set = await readPreferenceData(text, 'pairs.demo.jsonl');
  const report = tokenizePairs(set, tok, TOKENIZE);
  if (report.skipped) throw new RangeError(`${report.skipped} demo pairs do not fit the ${DEMO_CONTEXT}-token context.`);
  const teacher = (await loadDemoModel(o.gpu, modelDir('teacher'))).decoder;
  const positions = { chosen: 0, rejected: 0 };
  try {
    for (const response of ['chosen', 'rejected'] as const) {
      let last = 0;
      const cache = await buildTeacherCache({
        teacher,
        model: CACHE_MODEL_NAME,
        tokenizerSha256: tok.tokenizerSha256,
        datasetSha256: set.sha256,
        pairs: report.pairs,
        response,
        k: DEMO_CACHE_K,
        valueDType: 'F16',
        batchSize: 8,
        onProgress: (done, total) => {
          if (done - last >= 64 || done === total) {
            last = done;
            o.log(`[caches] ${response} ${done}/${total} (${formatDuration((performance.now() - t0) / 1000)})`);
          }
        },
      });
      positions[response] = cache.tokens.length;
      writeAtomically(CACHE_FILES[response], encodeTeacherCache(cache, CACHE_FILES[response]));
    }
  } finally {
    releaseDecoder(teacher);
  }
  return {
    pairs: report.pairs.length,
    k: DEMO_CACHE_K,
    dtype: 'F16',
    positions,
    bytes: { chosen: statSync(CACHE_FILES.chosen).size, rejected: statSync(CACHE_FILES.rejected).size, pairs: statSync(SUBSET_FILE).size },
    datasetSha256: set.sha256,
    seconds: (performance.now() - t0) / 1000,
  };
}

export async function buildDemoModels(o: BuildOptions): Promise<BuildReport> {
  const started = performance.now();
  const data = await loadTrainingData();
  const fingerprints = new Map<string, string>();
  const timings = new Map<DemoModelName, StageTiming>();
  let rebuilt = false;
  for (const [index, recipe] of STAGES.entries()) {
    const print = fingerprint(recipe, fingerprints);
    fingerprints.set(recipe.name, print);
    const doneFile = join(o.workDir, recipe.name, 'done.json');
    const done = readJson<StageDone>(doneFile);
    if (done?.fingerprint === print && existsSync(join(modelDir(recipe.name), 'model.safetensors'))) {
      o.log(`[${recipe.name}] up to date (trained in ${formatDuration(done.timing.seconds)}), skipped`);
      timings.set(recipe.name, done.timing);
      continue;
    }
    rebuilt = true;
    const timing = await runModelStage(o, data, recipe, print, index);
    writeAtomically(doneFile, JSON.stringify({ fingerprint: print, timing } satisfies StageDone));
    timings.set(recipe.name, timing);
    o.log(`[${recipe.name}] done in ${formatDuration(timing.seconds)}; build so far ${formatDuration((performance.now() - started) / 1000)}`);
  }

  // Caches: rebuilt when the teacher or the cache settings changed (or a file is missing).
  const cachePrint = JSON.stringify({ teacher: fingerprints.get('teacher'), k: DEMO_CACHE_K, pairs: DEMO_SUBSET_PAIRS });
  const cacheDone = join(o.workDir, 'caches', 'done.json');
  let caches = readJson<{ fingerprint: string; caches: BuildReport['caches'] }>(cacheDone);
  if (rebuilt || caches?.fingerprint !== cachePrint || ![SUBSET_FILE, CACHE_FILES.chosen, CACHE_FILES.rejected].every(existsSync)) {
    mkdirSync(join(o.workDir, 'caches'), { recursive: true });
    caches = { fingerprint: cachePrint, caches: await buildCaches(o, data.tok) };
    writeAtomically(cacheDone, JSON.stringify(caches));
    o.log(`[caches] ${caches.caches.positions.chosen} + ${caches.caches.positions.rejected} positions in ${formatDuration(caches.caches.seconds)}`);
  } else o.log('[caches] up to date, skipped');

  const t0 = performance.now();
  const margins = {} as Record<DemoModelName, MarginReport>;
  const models = {} as Record<DemoModelName, ModelReport>;
  for (const name of DEMO_MODEL_NAMES) {
    const loaded = await loadDemoModel(o.gpu, modelDir(name));
    try {
      margins[name] = await preferenceMargin(loaded.decoder, byLength(data.heldoutPairs));
    } finally {
      releaseDecoder(loaded.decoder);
    }
    const recipe = STAGES.find((s) => s.name === name)!;
    models[name] = {
      shape: SHAPES[shapeOf(recipe)],
      parameters: loaded.parameters,
      dtype: 'bfloat16',
      weightBytes: statSync(join(modelDir(name), 'model.safetensors')).size,
      folderBytes: folderBytes(modelDir(name)),
      recipe,
      training: timings.get(name)!,
    };
    o.log(`[margins] ${name}: chosen ${margins[name].chosen.toFixed(3)}, rejected ${margins[name].rejected.toFixed(3)}, margin ${margins[name].margin.toFixed(3)}, accuracy ${(margins[name].accuracy * 100).toFixed(1)} %`);
  }
  const marginSeconds = (performance.now() - t0) / 1000;
  const training = [...timings.values()].reduce((n, t) => n + t.seconds, 0);
  const report: BuildReport = {
    format: 'student-lab/demo-models',
    version: 1,
    regenerate: 'npm run demo:build',
    models,
    caches: caches.caches,
    margins,
    seconds: { training, caches: caches.caches.seconds, margins: marginSeconds, total: training + caches.caches.seconds + marginSeconds },
  };
  writeAtomically(BUILD_REPORT, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
