// Shared by the CLI's distillation commands: read and tokenise a preference file, and read teacher
// caches checked against the student's tokenizer and the data.
import { readFile } from 'node:fs/promises';
import { readPreferenceData, responseTokens, tokenizePairs, type PreferenceSet, type TokenizedPair } from '../distill/data/preference.ts';
import type { OverLength } from '../distill/data/sft.ts';
import { checkCacheMatches, decodeTeacherCache, type CacheKind, type CacheResponse, type TeacherCache } from '../formats/teacher-cache.ts';
import type { Tokenizer } from '../formats/tokenizer.ts';
import { UsageError } from './args.ts';
import type { CliIo } from './command.ts';

export interface LoadedPairs {
  set: PreferenceSet;
  pairs: TokenizedPair[];
}

export async function loadPairs(file: string, tok: Tokenizer, o: { maxLength: number; overLength: OverLength }, io: CliIo): Promise<LoadedPairs> {
  const text = await readFile(file, 'utf8').catch(() => {
    throw new UsageError(`--data: cannot read ${file}.`);
  });
  const set = await readPreferenceData(text, file);
  const report = tokenizePairs(set, tok, o);
  if (report.truncated || report.skipped) io.err(`data: ${report.pairs.length} pairs; ${report.truncated} truncated, ${report.skipped} skipped as too long`);
  if (report.pairs.length === 0) throw new UsageError(`--data: ${file} has no usable pairs.`);
  return { set, pairs: report.pairs };
}

export async function loadCache(
  file: string,
  expect: { tok: Tokenizer; vocabSize: number; data: LoadedPairs; kind: CacheKind; response: CacheResponse },
): Promise<TeacherCache> {
  const bytes = await readFile(file).catch(() => {
    throw new UsageError(`cannot read the teacher cache ${file}.`);
  });
  const cache = decodeTeacherCache(new Uint8Array(bytes), file);
  const ids = expect.data.pairs.map((p) => p.id);
  const byId = new Map(expect.data.pairs.map((p) => [p.id, p]));
  checkCacheMatches(
    cache,
    {
      kind: expect.kind,
      response: expect.response,
      tokenizerSha256: expect.tok.tokenizerSha256,
      vocabSize: expect.vocabSize,
      tokenizerVocabSize: expect.tok.vocabSize,
      datasetSha256: expect.data.set.sha256,
      exampleIds: ids,
      // Student responses are not in the data: their tokens are checked when ŷ is rebuilt from the cache.
      tokens: expect.response === 'student' ? undefined : (e) => responseTokens(expect.response === 'chosen' ? byId.get(ids[e])!.chosen : byId.get(ids[e])!.rejected),
    },
    file,
  );
  return cache;
}
