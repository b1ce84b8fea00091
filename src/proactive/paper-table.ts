// The paper's results table (ProactiveEval, Table 2: 28 rows, 22 models), shipped as a copy of
// the shared TSV, and our results laid out beside it.
import tsv from './proactiveeval-table2.tsv?raw';
import type { ModelSummary } from './aggregate.ts';
import { DOMAINS, DOMAIN_KEYS, type DomainKey } from './domains.ts';

export type Column = (typeof DOMAINS)[DomainKey]['column'];
export const COLUMNS: readonly Column[] = DOMAIN_KEYS.map((d) => DOMAINS[d].column);

/** avg plus one score per domain column (rec, per, ai, lf, sys, gas). */
export type ScoreRow = { avg: number } & Record<Column, number>;

export interface PaperRow {
  group: 'non-thinking' | 'thinking';
  model: string;
  planning: ScoreRow;
  guidance: ScoreRow;
}

export function parsePaperTable(text: string): PaperRow[] {
  const [header, ...lines] = text.trim().split(/\r?\n/);
  const names = header.split('\t');
  const col = (name: string): number => {
    const i = names.indexOf(name);
    if (i < 0) throw new Error(`paper table: no column ${name}`);
    return i;
  };
  const scores = (cells: string[], prefix: 'tp' | 'dg'): ScoreRow => {
    const row = { avg: Number(cells[col(`${prefix}_avg`)]) } as ScoreRow;
    for (const c of COLUMNS) row[c] = Number(cells[col(`${prefix}_${c}`)]);
    return row;
  };
  return lines.map((line) => {
    const cells = line.split('\t');
    return { group: cells[col('group')] as PaperRow['group'], model: cells[col('model')], planning: scores(cells, 'tp'), guidance: scores(cells, 'dg') };
  });
}

export const PAPER_ROWS: readonly PaperRow[] = parsePaperTable(tsv);

/** The overall score implied by domain scores under the paper's rule (weights = environments per domain). */
export function weightedAverage(row: Record<Column, number>): number {
  let sum = 0;
  let n = 0;
  for (const d of DOMAIN_KEYS) {
    sum += row[DOMAINS[d].column] * DOMAINS[d].paper.total;
    n += DOMAINS[d].paper.total;
  }
  return sum / n;
}

export interface LeaderboardRow {
  source: 'paper' | 'lab';
  /** The paper's group (non-thinking / thinking); absent for ours. */
  group?: PaperRow['group'];
  model: string;
  planning: Partial<ScoreRow> | null;
  guidance: Partial<ScoreRow> | null;
  /** Scored units behind our numbers (items for planning, environments for guidance). */
  n?: { planning: number; guidance: number };
}

function toRow(table: ModelSummary['planning']): Partial<ScoreRow> | null {
  if (!table) return null;
  const row: Partial<ScoreRow> = {};
  if (table.avg !== null) row.avg = table.avg;
  for (const d of DOMAIN_KEYS) {
    const v = table.byDomain[d];
    if (v !== null) row[DOMAINS[d].column] = v;
  }
  return row;
}

/** The paper's 28 rows followed by ours (a domain we did not score is left out of our row). */
export function leaderboard(summaries: readonly ModelSummary[]): LeaderboardRow[] {
  return [
    ...PAPER_ROWS.map((r): LeaderboardRow => ({ source: 'paper', group: r.group, model: r.model, planning: r.planning, guidance: r.guidance })),
    ...summaries.map(
      (s): LeaderboardRow => ({
        source: 'lab',
        model: s.label,
        planning: toRow(s.planning),
        guidance: toRow(s.guidance),
        n: { planning: s.planning?.n ?? 0, guidance: s.guidance?.n ?? 0 },
      }),
    ),
  ];
}
