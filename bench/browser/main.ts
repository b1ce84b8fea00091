// Entry of the benchmark page: exposes window.benchRun(name, input), which runs the `run` export
// of bench/suites/<name>/page.ts. Progress goes to the console with a "[bench]" prefix.
import type { BenchWindow } from '../lib/browser.ts';

type PageModule = { run(input: unknown): Promise<unknown> };
const pages = import.meta.glob<PageModule>('../suites/*/page.ts');

const benchRun: BenchWindow['benchRun'] = async (name, input) => {
  const load = pages[`../suites/${name}/page.ts`];
  if (!load) throw new Error(`No benchmark page bench/suites/${name}/page.ts (have: ${Object.keys(pages).join(', ')}).`);
  const page = await load();
  return page.run(input);
};

(window as unknown as BenchWindow).benchRun = benchRun;
