// Exports of a run: one JSON document with the settings, the prompts (ids, versions, texts),
// every item with its transcript and judge answers, our summary and the paper's table beside it;
// and CSV tables (one row per item with the transcript, and the leaderboard).
import { summarize } from './aggregate.ts';
import { transcript } from './guidance.ts';
import { COLUMNS, leaderboard, type LeaderboardRow } from './paper-table.ts';
import type { EvalItemRecord, RunRecord } from './records.ts';

export const RESULTS_FORMAT = 'student-lab/proactive-eval-results';
export const RESULTS_VERSION = 1;

export interface ResultsDocument {
  format: typeof RESULTS_FORMAT;
  version: typeof RESULTS_VERSION;
  exportedAt: string;
  run: RunRecord;
  summary: ReturnType<typeof summarize>;
  leaderboard: LeaderboardRow[];
  items: EvalItemRecord[];
}

/** Items sorted so that exports are stable: model, task, scenario, agreeableness. */
function sorted(items: readonly EvalItemRecord[]): EvalItemRecord[] {
  return [...items].sort((a, b) => (a.itemKey < b.itemKey ? -1 : a.itemKey > b.itemKey ? 1 : 0));
}

export function resultsDocument(run: RunRecord, items: readonly EvalItemRecord[], exportedAt = new Date()): ResultsDocument {
  const summary = summarize(sorted(items));
  return {
    format: RESULTS_FORMAT,
    version: RESULTS_VERSION,
    exportedAt: exportedAt.toISOString(),
    run,
    summary,
    leaderboard: leaderboard(summary),
    items: sorted(items),
  };
}

/**
 * One CSV cell. Quoted when needed; text that a spreadsheet would run as a formula (= + - @ at
 * the start) gets a leading apostrophe, since model replies end up in these cells.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return [header, ...rows].map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

const ITEM_COLUMNS = [
  'run_id', 'task', 'model', 'domain', 'tier', 'scenario', 'topic', 'agreeableness', 'status', 'score', 'judge_reason',
  'planned_target', 'planned_sub_targets', 'target', 'sub_targets', 'turns', 'ended_by', 'density_per_message', 'density_method',
  'rule_engagement', 'rule_naturalness', 'rule_tone', 'transcript', 'model_output', 'error',
] as const;

/** One row per item, transcripts included. */
export function itemsCsv(items: readonly EvalItemRecord[]): string {
  const rows = sorted(items).map((i) => {
    const g = i.guidance;
    const p = i.planning;
    const local = g?.scores.local;
    return [
      i.runId, i.task, i.modelLabel, i.domain, i.tier ?? '', i.scenarioKey, i.topic, i.agreeableness ?? '', i.status, i.score,
      p?.judge?.reason ?? g?.scores.judge?.reason ?? '',
      p?.plan.target ?? '', p ? p.plan.subTargets.join(' | ') : '',
      g?.target ?? '', g ? g.subTargets.join(' | ') : '',
      g ? g.dialogue.turns.length : '', g?.dialogue.endedBy ?? '',
      g ? g.scores.density.touched.map((t) => t.length).join(' ') : '', g?.scores.density.method ?? '',
      local ? `${local.engagement.passed}/${local.engagement.total}` : '',
      local ? `${local.naturalness.passed}/${local.naturalness.total}` : '',
      local ? `${local.tone.passed}/${local.tone.total}` : '',
      g ? transcript(g.dialogue.turns) : '', p?.output ?? '',
      i.error ? `${i.error.name}: ${i.error.message}` : '',
    ];
  });
  return toCsv(ITEM_COLUMNS, rows);
}

/** The paper's rows and ours, one line each, planning then guidance columns (scores rounded to 2 decimals). */
export function leaderboardCsv(rows: readonly LeaderboardRow[]): string {
  const header = ['source', 'group', 'model', 'tp_avg', ...COLUMNS.map((c) => `tp_${c}`), 'dg_avg', ...COLUMNS.map((c) => `dg_${c}`), 'n_tp', 'n_dg'];
  const round = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 100) / 100);
  const cells = (r: LeaderboardRow['planning']): (number | undefined)[] => [round(r?.avg), ...COLUMNS.map((c) => round(r?.[c]))];
  return toCsv(
    header,
    rows.map((r) => [r.source, r.group ?? '', r.model, ...cells(r.planning), ...cells(r.guidance), r.n?.planning, r.n?.guidance]),
  );
}

