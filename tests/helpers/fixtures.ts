// Access to the reference fixtures: tiny Hugging Face models with logits, generations, gradients and
// optimiser steps computed by transformers/PyTorch. A copy of the project's shared fixtures lives in
// tests/fixtures/models (see its README), so a clone tests on its own; STUDENT_LAB_FIXTURES overrides.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tensorToFloat32, tensorToInt32 } from '../../src/formats/dtypes.ts';
import { parseSafetensors, type SafetensorsBuffer } from '../../src/formats/safetensors.ts';

export const FIXTURES_DIR = resolve(process.env.STUDENT_LAB_FIXTURES ?? join(import.meta.dirname, '../fixtures/models'));
export const FIXTURE_MODELS = ['llama', 'llama-bf16', 'qwen2', 'qwen3'] as const;
export type FixtureModel = (typeof FIXTURE_MODELS)[number];

export interface Fixture {
  name: FixtureModel;
  dir: string;
  /** reference.json */
  info: Record<string, any>;
  config: Record<string, unknown>;
  reference: SafetensorsBuffer;
  weights: SafetensorsBuffer;
  f32(name: string): Float32Array;
  i32(name: string): Int32Array;
  weight(name: string): Float32Array;
}

const cache = new Map<string, Fixture>();

export function fixture(name: FixtureModel): Fixture {
  let f = cache.get(name);
  if (f) return f;
  const dir = join(FIXTURES_DIR, name);
  const reference = parseSafetensors(readFileSync(join(dir, 'reference.safetensors')), `${name}/reference.safetensors`);
  const weights = parseSafetensors(readFileSync(join(dir, 'model.safetensors')), `${name}/model.safetensors`);
  f = {
    name,
    dir,
    info: JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')),
    config: JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')),
    reference,
    weights,
    f32: (n) => Float32Array.from(tensorToFloat32(reference.get(n))),
    i32: (n) => tensorToInt32(reference.get(n)),
    weight: (n) => Float32Array.from(tensorToFloat32(weights.get(n))),
  };
  cache.set(name, f);
  return f;
}
