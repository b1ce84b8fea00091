// Display formats of the Models panel and the chat: counts, rates, durations, relative times.
import { formatBytes } from '../../engine/allocator.ts';

const count = new Intl.NumberFormat('en-US');

/** 123712 → "123,712"; 134515008 → "134.5 M"; 1.2e9 → "1.20 B". */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  return count.format(n);
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

/** Seconds → "about 5 s", "about 3 min", "about 1 h 20 min". */
export function formatEta(seconds: number): string {
  if (seconds < 1) return 'less than a second';
  if (seconds < 60) return `about ${Math.ceil(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min`;
  return `about ${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

/** A past time relative to now: "just now", "5 minutes ago", "yesterday", "3 days ago". */
export function formatAgo(time: number, now = Date.now()): string {
  const seconds = Math.round((time - now) / 1000);
  if (seconds > -45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes > -60) return relative.format(minutes, 'minute');
  const hours = Math.round(minutes / 60);
  if (hours > -24) return relative.format(hours, 'hour');
  return relative.format(Math.round(hours / 24), 'day');
}

export { formatBytes };
