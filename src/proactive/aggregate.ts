// Scores per model, per domain and overall, exactly as the paper aggregates them:
// - target planning: a domain's score is the mean over its items; "Avg" is the mean over ALL
//   items (so domains weigh by their size), not the mean of the domain means;
// - dialogue guidance: each environment's score is first the mean over its agreeableness runs;
//   then the same two rules apply to those environment scores.
// Only judged items (status done with a score) count; the rest are counted separately.
import { DOMAIN_KEYS, type DomainKey } from './domains.ts';
import { AGREEABLENESS, type Agreeableness } from './guidance.ts';
import type { EvalItemRecord, Task } from './records.ts';

export interface DomainTable {
  /** Mean over all scored units (items for planning, environments for guidance); null when none. */
  avg: number | null;
  byDomain: Record<DomainKey, number | null>;
  /** Scored units per domain and in total. */
  n: number;
  nByDomain: Record<DomainKey, number>;
}

export interface TaskCounts {
  /** Items recorded for this task. */
  items: number;
  scored: number;
  /** Finished without a judge configured (local checks only). */
  unjudged: number;
  judgeFailed: number;
  errors: number;
}

export interface ModelSummary {
  modelId: string;
  label: string;
  planning: DomainTable | null;
  guidance: DomainTable | null;
  /** Mean guidance score of the dialogues at each agreeableness level. */
  guidanceByAgreeableness: Record<Agreeableness, number | null>;
  /** Mean number of sub-targets touched by the first assistant message, and by any assistant message. */
  density: { first: number | null; perMessage: number | null; method: 'judge' | 'local-word-overlap' | 'mixed' | null };
  /** Share of assistant messages passing each local rule (all dialogues of the model). */
  localRules: { engagement: number | null; naturalness: number | null; tone: number | null };
  counts: Record<Task, TaskCounts>;
}

function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Domain means and the overall mean over all units, from (domain, score) units. */
export function domainTable(units: readonly { domain: DomainKey; score: number }[]): DomainTable | null {
  if (units.length === 0) return null;
  const byDomain = {} as Record<DomainKey, number | null>;
  const nByDomain = {} as Record<DomainKey, number>;
  for (const d of DOMAIN_KEYS) {
    const scores = units.filter((u) => u.domain === d).map((u) => u.score);
    byDomain[d] = mean(scores);
    nByDomain[d] = scores.length;
  }
  return { avg: mean(units.map((u) => u.score)), byDomain, n: units.length, nByDomain };
}

function counts(items: readonly EvalItemRecord[]): TaskCounts {
  return {
    items: items.length,
    scored: items.filter((i) => i.status === 'done' && i.score !== null).length,
    unjudged: items.filter((i) => i.status === 'done' && i.score === null).length,
    judgeFailed: items.filter((i) => i.status === 'judge-failed').length,
    errors: items.filter((i) => i.status === 'error').length,
  };
}

const scored = (i: EvalItemRecord): i is EvalItemRecord & { score: number } => i.status === 'done' && i.score !== null;

export function summarizeModel(items: readonly EvalItemRecord[]): Omit<ModelSummary, 'modelId' | 'label'> {
  const planningItems = items.filter((i) => i.task === 'planning');
  const guidanceItems = items.filter((i) => i.task === 'guidance');

  const planning = domainTable(planningItems.filter(scored).map((i) => ({ domain: i.domain, score: i.score })));

  // Guidance: mean over the agreeableness runs of each environment first.
  const perEnvironment = new Map<string, { domain: DomainKey; scores: number[] }>();
  for (const item of guidanceItems.filter(scored)) {
    const key = `${item.scenarioKey}@${item.fingerprint}`;
    const entry = perEnvironment.get(key) ?? { domain: item.domain, scores: [] };
    entry.scores.push(item.score);
    perEnvironment.set(key, entry);
  }
  const guidance = domainTable([...perEnvironment.values()].map((e) => ({ domain: e.domain, score: mean(e.scores)! })));

  const guidanceByAgreeableness = {} as Record<Agreeableness, number | null>;
  for (const a of AGREEABLENESS) guidanceByAgreeableness[a] = mean(guidanceItems.filter(scored).filter((i) => i.agreeableness === a).map((i) => i.score));

  const finishedDialogues = guidanceItems.filter((i) => i.guidance && i.status !== 'error');
  const densities = finishedDialogues.map((i) => i.guidance!.scores.density);
  const methods = new Set(densities.map((d) => d.method));
  const localMessages = finishedDialogues.flatMap((i) => i.guidance!.scores.local.messages);
  const share = (pass: (m: (typeof localMessages)[number]) => boolean): number | null =>
    localMessages.length === 0 ? null : localMessages.filter(pass).length / localMessages.length;

  return {
    planning,
    guidance,
    guidanceByAgreeableness,
    density: {
      first: mean(densities.filter((d) => d.touched.length > 0).map((d) => d.touched[0].length)),
      perMessage: mean(densities.flatMap((d) => d.touched.map((t) => t.length))),
      method: methods.size === 0 ? null : methods.size > 1 ? 'mixed' : [...methods][0],
    },
    localRules: {
      engagement: share((m) => m.engagement.pass),
      naturalness: share((m) => m.naturalness.pass),
      tone: share((m) => m.tone.pass),
    },
    counts: { planning: counts(planningItems), guidance: counts(guidanceItems) },
  };
}

/** One summary per model, in the order the models first appear. */
export function summarize(items: readonly EvalItemRecord[]): ModelSummary[] {
  const byModel = new Map<string, EvalItemRecord[]>();
  for (const item of items) byModel.set(item.modelId, [...(byModel.get(item.modelId) ?? []), item]);
  return [...byModel.entries()].map(([modelId, list]) => ({ modelId, label: list[0].modelLabel, ...summarizeModel(list) }));
}
