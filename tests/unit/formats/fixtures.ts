// Paths of the shared reference fixtures (../shared/fixtures beside the repository; FIXTURES overrides).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = process.env.FIXTURES ?? resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../shared/fixtures');

export const MODELS = ['llama', 'llama-bf16', 'qwen2', 'qwen3'] as const;
export type FixtureModel = (typeof MODELS)[number];

export function fixturePath(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}

export function fixtureBytes(...parts: string[]): Uint8Array {
  const b = readFileSync(fixturePath(...parts));
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function fixtureJson<T = Record<string, unknown>>(...parts: string[]): T {
  return JSON.parse(readFileSync(fixturePath(...parts), 'utf8')) as T;
}
