// Target planning: the model reads an environment and proposes a target with sub-targets; a
// judge compares the plan with the reference (1–10, a reason first).
import type { ChatBackend } from '../llm/chat.ts';
import { DOMAINS } from './domains.ts';
import { extractJsonObjects, pick, stripThinking } from './json-extract.ts';
import { numbered, renderPrompt, type PromptId, type PromptSet } from './prompts.ts';
import type { Scenario } from './schema.ts';
import { askStructured, parseScore, type Attempt, type AskOptions, type ScoreAnswer, type Structured } from './structured.ts';

export interface Plan {
  target: string;
  subTargets: string[];
  /** How it was read: a JSON object, "Target:" lines, a bare one-line target, or the raw text (unreadable). */
  format: 'json' | 'lines' | 'bare' | 'raw';
}

/** A judge's verdict, or its failure (every raw answer kept, no score). */
export interface JudgeOutcome {
  ok: boolean;
  score: number | null;
  /** The reason (planning) or thought (guidance) written before the score. */
  reason: string;
  attempts: Attempt[];
  error?: string;
}

export const PLANNING_PROMPTS: readonly PromptId[] = ['planning.model', 'planning.judge', 'judge.retry'];

function asList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map((v) => String(typeof v === 'object' && v !== null ? Object.values(v)[0] ?? '' : v).trim()).filter(Boolean);
  if (typeof value === 'string') return value.split(/\n|;/).map((s) => s.replace(/^\s*(?:[-*•]|\d+[.)])\s*/, '').trim()).filter(Boolean);
  return [];
}

const LABEL = /^\s*(?:[#>*_\-\s]*)(sub[-_ ]?targets?|steps?|target|goal)\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?\s*(.*)$/i;
const LIST_ITEM = /^\s*(?:[-*•]|\d+[.)])\s+(.*)$/;

/** Reads a plan from the model's reply, as forgivingly as possible. */
export function parsePlan(text: string): Plan {
  for (const obj of extractJsonObjects(text)) {
    const target = pick(obj, /^(target|goal)$/i);
    if (typeof target === 'string' && target.trim()) {
      return { target: target.trim(), subTargets: asList(pick(obj, /^(sub[-_ ]?targets?|subtargets?|steps)$/i)), format: 'json' };
    }
  }
  const visible = stripThinking(text);
  let target = '';
  const subTargets: string[] = [];
  let inSubs = false;
  for (const line of visible.split(/\r?\n/)) {
    const labelled = LABEL.exec(line);
    if (labelled) {
      const isSub = /^(sub|step)/i.test(labelled[1]);
      const rest = labelled[2].replace(/\*\*|__/g, '').trim();
      if (isSub) {
        inSubs = true;
        subTargets.push(...asList(rest));
      } else {
        inSubs = false;
        target ||= rest;
      }
      continue;
    }
    const item = LIST_ITEM.exec(line);
    if (inSubs && item) subTargets.push(item[1].replace(/\*\*|__/g, '').trim());
    else if (line.trim()) inSubs = false;
  }
  if (target) return { target, subTargets, format: 'lines' };
  const lines = visible.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (lines.length === 1 && lines[0].split(/\s+/).length <= 25) return { target: lines[0].replace(/^["'“]|["'”]$/g, ''), subTargets: [], format: 'bare' };
  // Unreadable: the judge sees what the model wrote (cut), and will score it as such.
  return { target: visible.slice(0, 400), subTargets: [], format: 'raw' };
}

export interface PlanningOptions extends AskOptions {
  model: ChatBackend;
  /** Without a judge the plan is recorded unscored. */
  judge?: ChatBackend;
  prompts: PromptSet;
  /** Retries of an unreadable judge answer. */
  judgeRetries?: number;
  /** Streams the model's reply. */
  onToken?: (delta: string) => void;
}

export interface PlanningResult {
  /** The model's raw reply. */
  output: string;
  plan: Plan;
  judge: JudgeOutcome | null;
}

/** The environment's variables shared by the planning and guidance prompts. */
export function situationVariables(scenario: Scenario): Record<string, string> {
  const domain = DOMAINS[scenario.domain];
  return {
    domain_name: domain.name,
    domain_description: domain.description,
    user_information: scenario.item.environment.user_information,
    trigger_factor: scenario.item.environment.trigger_factor,
  };
}

export async function runPlanning(scenario: Scenario, options: PlanningOptions): Promise<PlanningResult> {
  const vars = situationVariables(scenario);
  const reply = await options.model.chat([{ role: 'user', content: renderPrompt(options.prompts, 'planning.model', vars) }], {
    temperature: options.temperature ?? 0,
    maxTokens: options.maxTokens,
    signal: options.signal,
    onToken: options.onToken,
  });
  const plan = parsePlan(reply.text);
  if (!options.judge) return { output: reply.text, plan, judge: null };
  const judgePrompt = renderPrompt(options.prompts, 'planning.judge', {
    ...vars,
    reference_target: scenario.item.target,
    reference_sub_targets: numbered(scenario.item.sub_target),
    candidate_target: plan.target || '(none given)',
    candidate_sub_targets: numbered(plan.subTargets),
  });
  const verdict = await askStructured(options.judge, [{ role: 'user', content: judgePrompt }], (t) => parseScore(t, /^(reason|reasoning|explanation|rationale)$/i), options.prompts, {
    retries: options.judgeRetries,
    temperature: 0,
    signal: options.signal,
  });
  return { output: reply.text, plan, judge: toOutcome(verdict) };
}

export function toOutcome(verdict: Structured<ScoreAnswer>): JudgeOutcome {
  return verdict.ok
    ? { ok: true, score: verdict.value.score, reason: verdict.value.reason, attempts: verdict.attempts }
    : { ok: false, score: null, reason: '', attempts: verdict.attempts, error: verdict.error };
}
