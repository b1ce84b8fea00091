// Paths of the reference fixtures (tests/fixtures/models; STUDENT_LAB_FIXTURES overrides).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES_DIR } from '../../helpers/fixtures.ts';

export const FIXTURES = FIXTURES_DIR;

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
