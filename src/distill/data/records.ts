// Reading training data files: a JSON array or JSON Lines, each record with the line (JSONL) or
// index (array) it came from, so every later error can point at it.
import { LabError } from '../../engine/errors.ts';

export class DataError extends LabError {
  constructor(file: string, where: string, message: string, hint?: string) {
    super('DataError', `${file}${where ? ` ${where}` : ''}: ${message}`, hint);
  }
}

export interface SourcedRecord {
  value: unknown;
  /** "line 12" (JSONL) or "item 3" (JSON array), for messages. */
  where: string;
}

/** Parse a JSON array or JSONL text; blank lines are skipped; a bad line is an error naming it. */
export function readRecords(text: string, file: string): SourcedRecord[] {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new DataError(file, '', `is not valid JSON (${(err as Error).message}).`, 'Use a JSON array of records or one JSON object per line (JSONL).');
    }
    return (parsed as unknown[]).map((value, i) => ({ value, where: `item ${i}` }));
  }
  const out: SourcedRecord[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push({ value: JSON.parse(line), where: `line ${i + 1}` });
    } catch (err) {
      throw new DataError(file, `line ${i + 1}`, `is not valid JSON (${(err as Error).message}).`);
    }
  });
  if (out.length === 0) throw new DataError(file, '', 'holds no records.');
  return out;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
