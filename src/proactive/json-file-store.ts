// The CLI's result store: one JSON results document (the same shape as the JSON export), written
// again after every finished item to a temporary file that then replaces the old one, so a kill at
// any moment leaves either the previous or the new complete file. Node only.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { LabError } from '../engine/errors.ts';
import { RESULTS_FORMAT, resultsDocument, type ResultsDocument } from './export.ts';
import type { EvalItemRecord, ResultStore, RunRecord } from './records.ts';

export class ResultsFileError extends LabError {
  constructor(message: string, hint?: string) {
    super('ResultsFileError', message, hint);
  }
}

export class JsonFileStore implements ResultStore {
  private run: RunRecord | undefined;
  private readonly items = new Map<string, EvalItemRecord>();
  private writing: Promise<void> = Promise.resolve();

  private constructor(readonly path: string) {}

  /** Opens (or prepares) the results file; an existing file must be a results document. */
  static async open(path: string): Promise<JsonFileStore> {
    const store = new JsonFileStore(path);
    let text: string | null = null;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== null) {
      let doc: Partial<ResultsDocument>;
      try {
        doc = JSON.parse(text) as Partial<ResultsDocument>;
      } catch (err) {
        throw new ResultsFileError(`${path} is not valid JSON (${(err as Error).message}); it was left untouched.`, 'Give another --out file, or move this one away.');
      }
      if (doc.format !== RESULTS_FORMAT || !doc.run || !Array.isArray(doc.items)) {
        throw new ResultsFileError(`${path} is not a Student Lab results file; it was left untouched.`, 'Give another --out file.');
      }
      store.run = doc.run;
      for (const item of doc.items) store.items.set(item.itemKey, item);
    }
    return store;
  }

  /** The run held in the file, if any (its id is what the CLI resumes). */
  get storedRun(): RunRecord | undefined {
    return this.run;
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    return this.run?.id === id ? this.run : undefined;
  }

  async putRun(run: RunRecord): Promise<void> {
    if (this.run && this.run.id !== run.id) throw new ResultsFileError(`${this.path} holds run "${this.run.id}", not "${run.id}".`);
    this.run = run;
    await this.flush();
  }

  async getItems(runId: string): Promise<EvalItemRecord[]> {
    return [...this.items.values()].filter((i) => i.runId === runId);
  }

  async putItem(item: EvalItemRecord): Promise<void> {
    this.items.set(item.itemKey, item);
    await this.flush();
  }

  /** Writes are queued: concurrent items never interleave two writers on the temporary file. */
  private flush(): Promise<void> {
    const next = this.writing.then(async () => {
      if (!this.run) return;
      const temp = `${this.path}.tmp`;
      await writeFile(temp, `${JSON.stringify(resultsDocument(this.run, [...this.items.values()]), null, 1)}\n`);
      await rename(temp, this.path);
    });
    this.writing = next.catch(() => undefined);
    return next;
  }
}
