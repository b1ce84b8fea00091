// The committed demo files (public/demo/), read for the tests.
import { readFileSync } from 'node:fs';
import type { PreferenceRecord, SftRecord } from '../../../src/demo/corpus.ts';

export const DEMO_ROOT = new URL('../../../public/demo/', import.meta.url);

export function demoText(path: string): string {
  return readFileSync(new URL(path, DEMO_ROOT), 'utf8');
}

export function demoBytes(path: string): Uint8Array {
  return readFileSync(new URL(path, DEMO_ROOT));
}

export function demoJsonl<T>(path: string): T[] {
  return demoText(path).trimEnd().split('\n').map((line) => JSON.parse(line) as T);
}

export const trainPairs = () => demoJsonl<PreferenceRecord>('data/pairs.train.jsonl');
export const heldoutPairs = () => demoJsonl<PreferenceRecord>('data/pairs.heldout.jsonl');
export const sftRecords = () => demoJsonl<SftRecord>('data/sft.train.jsonl');

export const demoTokenizerFiles = () => ({
  tokenizerJson: demoBytes('tokenizer/tokenizer.json'),
  tokenizerConfig: demoBytes('tokenizer/tokenizer_config.json'),
  specialTokensMap: demoBytes('tokenizer/special_tokens_map.json'),
});
