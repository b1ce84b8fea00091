// The bench runner: finds every suite (bench/suites/<name>/suite.ts exporting `suite`), runs the
// chosen ones in order, prints their tables and writes bench/results/latest.json.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatTable } from './table.ts';
import type { Suite, SuiteContext, SuiteReport } from './types.ts';

const BENCH = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const RESULTS_FILE = join(BENCH, 'results/latest.json');

/** Every suite, by name, loaded on demand. */
export async function findSuites(): Promise<Map<string, () => Promise<Suite>>> {
  const dir = join(BENCH, 'suites');
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'suite.ts')))
    .map((d) => d.name)
    .sort();
  return new Map(
    names.map((name) => [
      name,
      async () => {
        const mod = (await import(pathToFileURL(join(dir, name, 'suite.ts')).href)) as { suite?: Suite };
        if (!mod.suite) throw new Error(`bench/suites/${name}/suite.ts does not export \`suite\`.`);
        return mod.suite;
      },
    ]),
  );
}

export interface RunOptions {
  /** Suite names; empty = all. */
  suites: string[];
  quick: boolean;
  out: (line: string) => void;
  log: (line: string) => void;
}

export async function runBench(opts: RunOptions): Promise<SuiteReport[]> {
  const all = await findSuites();
  const chosen = opts.suites.length ? opts.suites : [...all.keys()];
  const ctx: SuiteContext = { quick: opts.quick, log: opts.log };
  const reports: SuiteReport[] = [];
  const started = new Date();
  for (const name of chosen) {
    const load = all.get(name);
    if (!load) throw new Error(`bench: no suite "${name}" (have ${[...all.keys()].join(', ')}).`);
    const suite = await load();
    opts.log(`suite ${suite.name}: ${suite.summary}`);
    const t0 = performance.now();
    const r = await suite.run(ctx);
    opts.log(`suite ${suite.name} took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    reports.push(r);
    opts.out(`\n${r.title}\n${formatTable(r.table)}`);
    for (const note of r.notes) opts.out(`  ${note}`);
  }
  await mkdir(dirname(RESULTS_FILE), { recursive: true });
  const record = { started: started.toISOString(), quick: opts.quick, node: process.version, suites: reports };
  await writeFile(RESULTS_FILE, `${JSON.stringify(record, null, 2)}\n`);
  opts.out(`\nWrote ${RESULTS_FILE}`);
  return reports;
}
