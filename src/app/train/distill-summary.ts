// A distillation run in words, for its status in Train and its record in Runs: the objective with its
// stages, each stage's loss weights (and the settings its loss reads), and the teacher caches it read.
import { OBJECTIVE_LABELS, type CacheRole, type DistillRunInfo, type LossSettings, type StageInfo } from '../../engine/train-api.ts';

/** "DCKD"; "ADPA+: DCKD (16 steps), then ADPA (16 steps)"; "SFT" for a run that distils nothing. */
export function objectiveLine(distill: DistillRunInfo | undefined): string {
  if (!distill) return OBJECTIVE_LABELS.sft;
  const label = OBJECTIVE_LABELS[distill.objective];
  if (distill.stages.length < 2) return label;
  return `${label}: ${distill.stages.map((s) => `${OBJECTIVE_LABELS[s.loss]} (${s.steps} steps)`).join(', then ')}`;
}

/** One line per stage: "w_sft 1 · w_kd 1 · w_c 0.1 · w_r 0.1", prefixed by the stage's loss when there are several. */
export function weightLines(distill: DistillRunInfo, settings: LossSettings): string[] {
  return distill.stages.map((s) => (distill.stages.length > 1 ? `${OBJECTIVE_LABELS[s.loss]}: ` : '') + stageWeights(s, settings));
}

function stageWeights({ loss }: StageInfo, s: LossSettings): string {
  const { kd, dckd, adpa } = s.weights;
  if (loss === 'dckd') return named({ w_sft: dckd.sft, w_kd: dckd.kd, w_c: dckd.c, w_r: dckd.r });
  if (loss === 'adpa') return `${named({ w_sft: adpa.sft, w_adpa: adpa.adpa })} · ${s.advantage === 'signed' ? `signed advantage β ${s.advantageBeta}` : 'parity clamp c(Â)'}`;
  if (loss === 'sft') return named({ w_sft: 1 });
  const extra = loss === 'jsd' ? ` · β ${s.jsdBeta}` : loss === 'skew-fkl' || loss === 'skew-rkl' ? ` · λ ${s.skewLambda}` : '';
  return named({ w_sft: kd.sft, w_kd: kd.kd }) + extra;
}

function named(weights: Record<string, number>): string {
  return Object.entries(weights)
    .map(([name, value]) => `${name} ${value}`)
    .join(' · ');
}

/**
 * The caches the run's stages read, one line each: "chosen: <name>"; an ADPA stage's advantage cache
 * either picked or built by the run (from the teacher's and the reference's scores of the student's ŷ).
 * `nameOf` gives a stored cache's name (null when it was deleted since).
 */
export function cacheLines(distill: DistillRunInfo, nameOf: (id: string) => string | null): string[] {
  const used = new Map<CacheRole, string>();
  const cache = (id: string) => nameOf(id) ?? `${id} (deleted since)`;
  for (const stage of distill.stages) {
    if (stage.loss === 'sft') continue;
    if (stage.loss !== 'adpa') {
      for (const role of stage.loss === 'dckd' ? (['chosen', 'rejected'] as const) : (['chosen'] as const)) {
        const id = distill.caches[role];
        if (id) used.set(role, cache(id));
      }
    } else if (distill.caches.advantage && distill.objective === 'adpa') {
      used.set('advantage', cache(distill.caches.advantage));
    } else {
      const scorers = [distill.teacher, distill.reference].flatMap((m) => (m ? [m.name] : [])).join(' and ');
      const by = scorers ? `, scored by ${scorers}` : '';
      used.set('advantage', stage.advantageCacheId ? `${cache(stage.advantageCacheId)} (built by the run${by})` : `to be built when the ADPA stage begins${by}`);
    }
  }
  return [...used].map(([role, text]) => `${role}: ${text}`);
}
