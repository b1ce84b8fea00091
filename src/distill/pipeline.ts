// The ADPA data pipeline of docs/distillation.md, shared by the CLI and the page's worker:
//   1. ŷ: the student's greedy response to every prompt (ADPA+: the DCKD student's)
//   2. the DPO teacher's and the reference model's caches on ŷ
//   3. the advantage cache from the two
// Models are passed as loaders so a host with one GPU holds one teacher at a time.
import type { Decoder } from '../engine/models/decoder.ts';
import type { TeacherCache } from '../formats/teacher-cache.ts';
import { buildTeacherCache } from './cache/assemble.ts';
import { generateStudentResponses } from './cache/student-responses.ts';
import type { TokenizedPair } from './data/preference.ts';
import { IGNORE, type TokenizedExample } from './data/sft.ts';
import { advantageCache } from './losses/advantage.ts';

export interface ScoringModel {
  decoder: Decoder;
  /** Id or name recorded in the caches. */
  name: string;
  /** Free the model (its GPU memory) once its cache is built. */
  release(): Promise<void>;
}

export interface AdpaDataArgs {
  student: Decoder;
  eosTokenIds: readonly number[];
  loadTeacher: () => Promise<ScoringModel>;
  loadReference: () => Promise<ScoringModel>;
  pairs: readonly TokenizedPair[];
  tokenizerSha256: string;
  datasetSha256: string;
  k: number;
  valueDType: 'F16' | 'F32';
  maxNewTokens: number;
  signal?: AbortSignal;
  onProgress?: (stage: 'responses' | 'teacher' | 'reference', done: number, total: number) => void;
}

export interface AdpaData {
  student: Map<string, TokenizedExample>;
  dpo: TeacherCache;
  reference: TeacherCache;
  advantage: TeacherCache;
}

export async function prepareAdpaData(a: AdpaDataArgs): Promise<AdpaData> {
  const student = await generateStudentResponses(a.student, a.pairs, {
    maxNewTokens: a.maxNewTokens,
    eosTokenIds: a.eosTokenIds,
    signal: a.signal,
    onProgress: (d, n) => a.onProgress?.('responses', d, n),
  });
  const score = async (load: () => Promise<ScoringModel>, stage: 'teacher' | 'reference') => {
    const m = await load();
    try {
      return await buildTeacherCache({
        teacher: m.decoder,
        model: m.name,
        tokenizerSha256: a.tokenizerSha256,
        datasetSha256: a.datasetSha256,
        pairs: a.pairs,
        response: 'student',
        student,
        k: a.k,
        valueDType: a.valueDType,
        signal: a.signal,
        onProgress: (d, n) => a.onProgress?.(stage, d, n),
      });
    } finally {
      await m.release();
    }
  };
  const dpo = await score(a.loadTeacher, 'teacher');
  const reference = await score(a.loadReference, 'reference');
  return { student, dpo, reference, advantage: advantageCache(dpo, reference) };
}

/** ŷ sequences rebuilt from a cache on the student's responses (its tokens are ŷ). */
export function studentResponsesFromCache(pairs: readonly TokenizedPair[], cache: TeacherCache): Map<string, TokenizedExample> {
  const byId = new Map(cache.meta.exampleIds.map((id, e) => [id, e]));
  const out = new Map<string, TokenizedExample>();
  for (const p of pairs) {
    const e = byId.get(p.id);
    if (e === undefined) continue;
    const y = Array.from(cache.tokens.subarray(cache.exampleOffsets[e], cache.exampleOffsets[e + 1]));
    out.set(p.id, { ids: [...p.promptIds, ...y], labels: [...p.promptIds.map(() => IGNORE), ...y], where: `student response to example "${p.id}"` });
  }
  return out;
}
