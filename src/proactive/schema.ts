// The official ProactiveEval item schema and its validation. Problems are reported per file,
// item index and field. Structural problems (missing or mistyped fields, empty text) are errors
// and the item is skipped; the paper's size limits (target and sub-targets at most 10 words,
// 2–4 sub-targets) are warnings: imported official or user files are still usable when one of
// their items runs a word over, and the lab's own scenarios are tested to have no warnings.
import type { DomainKey, Tier } from './domains.ts';
import { fingerprint } from './hash.ts';
import { countWords } from './text.ts';

export interface EnvironmentItem {
  environment: { user_information: string; trigger_factor: string };
  target: string;
  sub_target: string[];
  topic: string;
}

/** An environment placed in its domain and tier, as the tasks and the runner use it. */
export interface Scenario {
  /** `<domain>/<tier or "all">/<index>`: stable within a dataset. */
  key: string;
  domain: DomainKey;
  /** null when the file did not say (a domain's eval.json alone, a single file without tiers). */
  tier: Tier | null;
  /** Position in its file. */
  index: number;
  /** The file it came from, as the loader names it. */
  source: string;
  /** Fingerprint of the item's content: a stored result is reused only for the same content. */
  fingerprint: string;
  item: EnvironmentItem;
}

export interface ScenarioIssue {
  severity: 'error' | 'warning';
  file: string;
  index?: number;
  field?: string;
  message: string;
}

export const ITEM_LIMITS = { targetWords: 10, subTargetWords: 10, minSubTargets: 2, maxSubTargets: 4 } as const;

export function formatIssue(issue: ScenarioIssue): string {
  const where = [issue.file, issue.index !== undefined ? `item ${issue.index}` : '', issue.field ? `field "${issue.field}"` : '']
    .filter(Boolean)
    .join(', ');
  return `${issue.severity}: ${where}: ${issue.message}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`.slice(0, 60);
}

/** Validates one raw item; returns it normalised (text lists joined by line breaks) when it has no errors. */
export function validateItem(raw: unknown, file: string, index: number): { item?: EnvironmentItem; issues: ScenarioIssue[] } {
  const issues: ScenarioIssue[] = [];
  const error = (field: string | undefined, message: string): void => void issues.push({ severity: 'error', file, index, field, message });
  const warn = (field: string, message: string): void => void issues.push({ severity: 'warning', file, index, field, message });

  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    error(undefined, `an item must be an object with "environment", "target", "sub_target" and "topic", got ${describe(raw)}`);
    return { issues };
  }
  const obj = raw as Record<string, unknown>;
  /** Text: a non-empty string, or a list of strings (a behaviour log) joined by line breaks. */
  const text = (value: unknown, field: string): string | undefined => {
    if (value === undefined) return void error(field, 'is missing');
    const joined = Array.isArray(value) && value.every((v) => typeof v === 'string') ? value.join('\n') : value;
    if (typeof joined !== 'string') return void error(field, `must be text (a string or a list of strings), got ${describe(value)}`);
    if (joined.trim() === '') return void error(field, 'is empty');
    return joined.trim();
  };

  const env = obj.environment;
  let userInformation: string | undefined;
  let triggerFactor: string | undefined;
  if (env === undefined) error('environment', 'is missing');
  else if (typeof env !== 'object' || env === null || Array.isArray(env)) error('environment', `must be an object with "user_information" and "trigger_factor", got ${describe(env)}`);
  else {
    userInformation = text((env as Record<string, unknown>).user_information, 'environment.user_information');
    triggerFactor = text((env as Record<string, unknown>).trigger_factor, 'environment.trigger_factor');
  }

  const target = text(obj.target, 'target');
  if (target !== undefined && countWords(target) > ITEM_LIMITS.targetWords) {
    warn('target', `has ${countWords(target)} words; the paper's limit is ${ITEM_LIMITS.targetWords}`);
  }

  let subTargets: string[] | undefined;
  const rawSubs = obj.sub_target;
  if (rawSubs === undefined) error('sub_target', 'is missing');
  else if (typeof rawSubs === 'string' && rawSubs.trim()) {
    warn('sub_target', 'should be a list of strings; read as a list of one');
    subTargets = [rawSubs.trim()];
  } else if (!Array.isArray(rawSubs)) error('sub_target', `must be a list of strings, got ${describe(rawSubs)}`);
  else {
    subTargets = [];
    rawSubs.forEach((s, i) => {
      if (typeof s !== 'string') error(`sub_target[${i}]`, `must be a string, got ${describe(s)}`);
      else if (s.trim() === '') error(`sub_target[${i}]`, 'is empty');
      else {
        subTargets!.push(s.trim());
        if (countWords(s) > ITEM_LIMITS.subTargetWords) warn(`sub_target[${i}]`, `has ${countWords(s)} words; the paper's limit is ${ITEM_LIMITS.subTargetWords}`);
      }
    });
    if (rawSubs.length === 0) error('sub_target', 'is an empty list');
    else if (rawSubs.length < ITEM_LIMITS.minSubTargets || rawSubs.length > ITEM_LIMITS.maxSubTargets) {
      warn('sub_target', `has ${rawSubs.length} entries; the paper uses ${ITEM_LIMITS.minSubTargets}–${ITEM_LIMITS.maxSubTargets}`);
    }
  }

  const topic = obj.topic === undefined ? (warn('topic', 'is missing; left empty'), '') : text(obj.topic, 'topic');

  if (issues.some((i) => i.severity === 'error')) return { issues };
  return {
    item: {
      environment: { user_information: userInformation!, trigger_factor: triggerFactor! },
      target: target!,
      sub_target: subTargets!,
      topic: topic ?? '',
    },
    issues,
  };
}

export function makeScenario(item: EnvironmentItem, domain: DomainKey, tier: Tier | null, index: number, source: string): Scenario {
  return {
    key: `${domain}/${tier ?? 'all'}/${index}`,
    domain,
    tier,
    index,
    source,
    fingerprint: fingerprint(JSON.stringify(item)),
    item,
  };
}

