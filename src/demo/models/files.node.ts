// The demo kit on disk (Node: the build, the measurements, the tests): where its files live, the
// demo tokenizer and data, writing a model as a Hugging Face folder, and loading a committed
// folder through the product's loader (loadModelFiles + NodeFolderSource + loadDecoder), so the
// build and the measurements see exactly what the page will load.
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Gpu } from '../../engine/gpu.ts';
import type { Decoder } from '../../engine/models/decoder.ts';
import { loadDecoder, type LoadedModel } from '../../engine/models/load.ts';
import { weightsByName } from '../../distill/trainer/trainer.ts';
import { expectedTensors } from '../../formats/config.ts';
import { encodeFloat32 } from '../../formats/dtypes.ts';
import { loadModelFiles } from '../../formats/model-files.ts';
import { writeSafetensors } from '../../formats/safetensors-writer.ts';
import { NodeFolderSource } from '../../formats/source.node.ts';
import { checkCacheMatches, decodeTeacherCache, type TeacherCache } from '../../formats/teacher-cache.ts';
import { loadTokenizer, type Tokenizer } from '../../formats/tokenizer.ts';
import { readPreferenceData, responseTokens, tokenizePairs, type PreferenceSet, type TokenizedPair } from '../../distill/data/preference.ts';
import { DEMO_CONTEXT } from '../data-files.ts';
import { DEMO_GENERATION_CONFIG, type DemoModelName } from './configs.ts';

/** public/demo of this checkout (found from this module, so any working directory works). */
export const DEMO_ROOT = fileURLToPath(new URL('../../../public/demo', import.meta.url));
export const TOKENIZER_DIR = join(DEMO_ROOT, 'tokenizer');
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;
export const DATA_DIR = join(DEMO_ROOT, 'data');
export const MODELS_DIR = join(DEMO_ROOT, 'models');
export const CACHES_DIR = join(DEMO_ROOT, 'caches');
/** The distillation subset of the training pairs; the caches' dataset_sha256 is the SHA-256 of this file. */
export const SUBSET_FILE = join(CACHES_DIR, 'pairs.demo.jsonl');
export const CACHE_FILES = { chosen: join(CACHES_DIR, 'chosen.safetensors'), rejected: join(CACHES_DIR, 'rejected.safetensors') } as const;
/** What the build reports about the models (configs, parameters, sizes, times, teacher margins). */
export const BUILD_REPORT = join(MODELS_DIR, 'build.json');
export const MEASUREMENTS_FILE = join(DEMO_ROOT, 'measurements.json');

export function modelDir(name: DemoModelName): string {
  return join(MODELS_DIR, name);
}

export function demoText(path: string): string {
  return readFileSync(join(DEMO_ROOT, path), 'utf8');
}

export async function loadDemoTokenizer(): Promise<Tokenizer> {
  const read = (f: string) => readFileSync(join(TOKENIZER_DIR, f));
  return loadTokenizer({ tokenizerJson: read('tokenizer.json'), tokenizerConfig: read('tokenizer_config.json'), specialTokensMap: read('special_tokens_map.json') });
}

/** Write a file atomically (a crash leaves the old file or none, never half a file). */
export function writeAtomically(path: string, bytes: Uint8Array | string): void {
  writeFileSync(`${path}.partial`, bytes);
  renameSync(`${path}.partial`, path);
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/**
 * Write the decoder as a Hugging Face folder: config.json (the given JSON), generation_config.json,
 * the demo tokenizer files, and model.safetensors with the Hugging Face tensor names in bf16 (the
 * dtype config.json declares). The folder is written next to its place and renamed into it.
 */
export async function writeModelFolder(decoder: Decoder, configJson: Record<string, unknown>, dir: string): Promise<void> {
  const tmp = `${dir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'config.json'), json(configJson));
  writeFileSync(join(tmp, 'generation_config.json'), json(DEMO_GENERATION_CONFIG));
  for (const f of TOKENIZER_FILES) copyFileSync(join(TOKENIZER_DIR, f), join(tmp, f));
  writeFileSync(join(tmp, 'model.safetensors'), await modelSafetensors(decoder));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

async function modelSafetensors(decoder: Decoder): Promise<Uint8Array> {
  const byName = weightsByName(decoder);
  const tensors = [];
  for (const [name, shape] of expectedTensors(decoder.config)) {
    tensors.push({ name, dtype: 'BF16' as const, shape, data: encodeFloat32(await decoder.gpu.readF32(byName.get(name)!), 'BF16') });
  }
  return writeSafetensors(tensors, { format: 'pt' });
}

/** A committed demo model through the product's loader. */
export async function loadDemoModel(gpu: Gpu, dir: string): Promise<LoadedModel> {
  return loadDecoder(gpu, await loadModelFiles(new NodeFolderSource(dir)));
}

export interface DemoDistillData {
  set: PreferenceSet;
  pairs: TokenizedPair[];
  chosen: TeacherCache;
  rejected: TeacherCache;
}

/**
 * The committed demo subset and its two teacher caches, each checked against the demo tokenizer,
 * the student's vocabulary and the subset's tokenisation (as the page checks an imported cache).
 */
export async function loadDemoDistillData(tok: Tokenizer, vocabSize: number): Promise<DemoDistillData> {
  const set = await readPreferenceData(readFileSync(SUBSET_FILE, 'utf8'), SUBSET_FILE);
  const pairs = tokenizePairs(set, tok, { maxLength: DEMO_CONTEXT, overLength: 'skip' }).pairs;
  const load = (response: 'chosen' | 'rejected') => {
    const file = CACHE_FILES[response];
    const cache = decodeTeacherCache(new Uint8Array(readFileSync(file)), file);
    checkCacheMatches(
      cache,
      {
        kind: 'probs',
        response,
        tokenizerSha256: tok.tokenizerSha256,
        vocabSize,
        tokenizerVocabSize: tok.vocabSize,
        datasetSha256: set.sha256,
        exampleIds: pairs.map((p) => p.id),
        tokens: (e) => responseTokens(pairs[e][response]),
      },
      file,
    );
    return cache;
  };
  return { set, pairs, chosen: load('chosen'), rejected: load('rejected') };
}
