// ADPA's ŷ: the student's own greedy response to every prompt, made once before training (for
// ADPA+, by the DCKD student). The sequence is prompt + ŷ, with labels on ŷ (including the EOS
// token when the student produced one), ready for the teacher caches and the advantage term.
import { CancelledError } from '../../engine/errors.ts';
import type { Decoder } from '../../engine/models/decoder.ts';
import { GenerationSession } from '../../engine/models/generate.ts';
import type { TokenizedPair } from '../data/preference.ts';
import { IGNORE, type TokenizedExample } from '../data/sft.ts';

export interface StudentResponseOptions {
  maxNewTokens: number;
  eosTokenIds: readonly number[];
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export async function generateStudentResponses(student: Decoder, pairs: readonly TokenizedPair[], o: StudentResponseOptions): Promise<Map<string, TokenizedExample>> {
  const capacity = Math.max(...pairs.map((p) => p.promptIds.length)) + o.maxNewTokens;
  const session = new GenerationSession(student, capacity);
  const out = new Map<string, TokenizedExample>();
  try {
    for (const p of pairs) {
      if (o.signal?.aborted) throw new CancelledError('Generating the student responses was cancelled.');
      session.reset();
      const r = await session.generate(p.promptIds, { maxNewTokens: o.maxNewTokens, greedy: true, eosTokenIds: o.eosTokenIds, signal: o.signal });
      out.set(p.id, {
        ids: [...p.promptIds, ...r.ids],
        labels: [...p.promptIds.map(() => IGNORE), ...r.ids],
        where: `student response to example "${p.id}"`,
      });
      o.onProgress?.(out.size, pairs.length);
    }
  } finally {
    session.release();
  }
  return out;
}
