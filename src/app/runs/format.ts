// Display formats of the Runs panel (the Models panel's counts, durations and times are reused).
export { formatAgo, formatBytes, formatCount, formatEta } from '../models/format.ts';

/** A score as the paper prints it: two decimals; '–' when there is none. */
export function formatScore(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(2);
}

/** A share 0..1 as a whole percentage. */
export function formatShare(value: number | null): string {
  return value === null ? '–' : `${Math.round(value * 100)} %`;
}

/** Milliseconds → "42 s", "3 min 10 s", "1 h 5 min". */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

const dateTime = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short' });

export function formatDate(time: number): string {
  return dateTime.format(time);
}
