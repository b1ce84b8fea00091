// ADPA's advantage cache from a DPO-teacher cache and a reference-model cache on the same responses
// (docs/distillation.md). For the DPO teacher's top-K ids S_t at each position:
//   Â(k) = ln max(p_dpo(k), 1e-7) − ln p̃_ref(k)
//   p̃_ref(k) = max(p_ref(k), 1e-7)                if k is in the reference model's top-K there,
//            = max(min_{j ∈ S_t} p_dpo(j), 1e-7)   otherwise (imputed: such tokens get Â ≥ 0).
// The slots are then ordered by descending advantage (ties keep the DPO order).
import {
  TeacherCacheMismatchError,
  probsAsFloat32,
  type TeacherCache,
} from '../../formats/teacher-cache.ts';

export const ADVANTAGE_FLOOR = 1e-7;

/** First index where a and b differ (−1 when equal). */
function firstDifference<T>(a: ArrayLike<T>, b: ArrayLike<T>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

export function advantageCache(dpo: TeacherCache, ref: TeacherCache, names = { dpo: 'DPO cache', ref: 'reference cache' }): TeacherCache {
  const mismatch = (message: string) => new TeacherCacheMismatchError(names.ref, message, 'Build both caches on the same responses (the student\'s greedy ŷ) with the same tokenizer.');
  if (dpo.kind !== 'probs') throw new TeacherCacheMismatchError(names.dpo, `is a "${dpo.kind}" cache; the advantage needs the DPO teacher's probabilities.`);
  if (ref.kind !== 'probs') throw mismatch(`is a "${ref.kind}" cache; the advantage needs the reference model's probabilities.`);
  if (ref.meta.tokenizerSha256 !== dpo.meta.tokenizerSha256) throw mismatch(`was made with another tokenizer than ${names.dpo} (tokenizer_sha256 differs).`);
  if (ref.meta.response !== dpo.meta.response) throw mismatch(`covers "${ref.meta.response}" responses, ${names.dpo} "${dpo.meta.response}".`);
  const idAt = firstDifference(dpo.meta.exampleIds, ref.meta.exampleIds);
  if (idAt >= 0) throw mismatch(`lists other examples than ${names.dpo} (first difference at example ${idAt}: "${ref.meta.exampleIds[idAt] ?? '(none)'}" vs "${dpo.meta.exampleIds[idAt] ?? '(none)'}").`);
  const offAt = firstDifference(dpo.exampleOffsets, ref.exampleOffsets);
  if (offAt >= 0) throw mismatch(`has other example lengths than ${names.dpo} (example_offsets differ at ${offAt}).`);
  const tokAt = firstDifference(dpo.tokens, ref.tokens);
  if (tokAt >= 0) throw mismatch(`has other response tokens than ${names.dpo} (position ${tokAt}: ${ref.tokens[tokAt]} vs ${dpo.tokens[tokAt]}).`);

  const P = dpo.tokens.length;
  const K = dpo.meta.k;
  const Kr = ref.meta.k;
  const pd = probsAsFloat32(dpo.probs);
  const pr = probsAsFloat32(ref.probs);
  const indices = new Int32Array(P * K);
  const advantage = new Float32Array(P * K);
  const refProb = new Map<number, number>();
  const slots = Array.from({ length: K }, (_, k) => ({ id: 0, a: 0, k }));
  for (let t = 0; t < P; t++) {
    refProb.clear();
    for (let k = 0; k < Kr; k++) refProb.set(ref.indices[t * Kr + k], pr[t * Kr + k]);
    let minDpo = Infinity;
    for (let k = 0; k < K; k++) minDpo = Math.min(minDpo, pd[t * K + k]);
    const imputed = Math.max(minDpo, ADVANTAGE_FLOOR);
    for (let k = 0; k < K; k++) {
      const id = dpo.indices[t * K + k];
      const r = refProb.get(id);
      const pRef = r === undefined ? imputed : Math.max(r, ADVANTAGE_FLOOR);
      slots[k].id = id;
      slots[k].a = Math.log(Math.max(pd[t * K + k], ADVANTAGE_FLOOR)) - Math.log(pRef);
      slots[k].k = k;
    }
    slots.sort((x, y) => y.a - x.a || x.k - y.k);
    slots.forEach((s, k) => {
      indices[t * K + k] = s.id;
      advantage[t * K + k] = s.a;
    });
  }
  return {
    kind: 'advantage',
    meta: { ...dpo.meta, model: `advantage(${dpo.meta.model} | ${ref.meta.model})` },
    exampleOffsets: dpo.exampleOffsets.slice(),
    tokens: dpo.tokens.slice(),
    indices,
    advantage,
  };
}
