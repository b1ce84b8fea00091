// The plain records of an evaluation run, as persisted (IndexedDB `runs` + `evalItems` in the
// page, one JSON file in the CLI) and exported. No live objects: everything here is JSON.
import type { DomainKey, Tier } from './domains.ts';
import type { Agreeableness, Dialogue, GuidanceScores } from './guidance.ts';
import type { PlanningResult } from './planning.ts';
import type { PromptId, PromptSnapshot } from './prompts.ts';

export type Task = 'planning' | 'guidance';

export interface ModelRef {
  /** Stable id used in item keys (e.g. "qwen2.5:7b@localhost:11434"). */
  id: string;
  label: string;
}

export interface RunSettings {
  tasks: Task[];
  models: ModelRef[];
  domains: DomainKey[];
  /** null: all items, including files without a fair/hard split. */
  tiers: Tier[] | null;
  agreeableness: Agreeableness[];
  /** Labels of the backends (filled in by the runner from the backends it is given). */
  judge: string | null;
  user: string | null;
  checker: string | null;
  concurrency: number;
  /** At most this many environments per domain (the first ones of each domain), null = all. */
  limitPerDomain: number | null;
  maxTurns: number;
  memoryTurns: number;
  /** Temperature of the model under test (judges, checks and the simulated user always use 0). */
  temperature: number;
  maxTokens: number | null;
  judgeRetries: number;
  judgeDensity: boolean;
  /** Where the environments came from (for the record). */
  scenarioSource: string;
}

export type RunStatus = 'running' | 'finished' | 'stopped' | 'failed';

export interface RunRecord {
  id: string;
  kind: 'proactive-eval';
  name: string;
  createdAt: number;
  updatedAt: number;
  settings: RunSettings;
  /** The prompt texts the run uses (a resumed run keeps its own, even if the templates were edited since). */
  prompts: PromptSnapshot[];
  status: RunStatus;
  /** Why the run stopped, when it failed. */
  error?: string;
}

/**
 * done: finished (score = the judge's, or null when no judge was configured);
 * judge-failed: finished, but the judge's answers were unusable after its retries (no score, kept as is);
 * error: an endpoint or other failure; redone when the run resumes.
 */
export type ItemStatus = 'done' | 'judge-failed' | 'error';

export interface EvalItemRecord {
  runId: string;
  itemKey: string;
  task: Task;
  modelId: string;
  modelLabel: string;
  scenarioKey: string;
  fingerprint: string;
  domain: DomainKey;
  tier: Tier | null;
  topic: string;
  agreeableness: Agreeableness | null;
  status: ItemStatus;
  score: number | null;
  planning?: PlanningResult;
  guidance?: { target: string; subTargets: string[]; dialogue: Dialogue; scores: GuidanceScores };
  /** The prompt templates (id + version) this item used; the texts are in the run's `prompts`. */
  prompts: { id: PromptId; version: string }[];
  error?: { name: string; message: string };
  startedAt: number;
  finishedAt: number;
}

/** Where a run and its items are kept. */
export interface ResultStore {
  getRun(id: string): Promise<RunRecord | undefined>;
  putRun(run: RunRecord): Promise<void>;
  getItems(runId: string): Promise<EvalItemRecord[]>;
  putItem(item: EvalItemRecord): Promise<void>;
}
