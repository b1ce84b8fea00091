// `student-lab bench [--quick] [--suite name[,name]] [--list]`: the benchmark suites of bench/.
import { boolFlag, parseArgs, stringFlag, UsageError } from '../args.ts';
import type { Command } from '../command.ts';

export const command: Command = {
  name: 'bench',
  summary: 'run the benchmarks (matmul vs onnxruntime-web, ...) and print their tables',
  usage: [
    'student-lab bench [--quick] [--suite name[,name]] [--list]',
    '  Runs every suite of bench/suites (or the named ones), prints a table per suite and writes',
    '  bench/results/latest.json. --quick: smaller sizes, fewer repetitions. --list: suite names.',
    '  Browser parts use Chromium at /usr/bin/chromium (CHROMIUM_PATH to change).',
  ].join('\n'),
  async run(argv, io) {
    const args = parseArgs(argv, { values: ['suite'], booleans: ['quick', 'list'] });
    const { findSuites, runBench } = await import('../../../bench/lib/runner.ts');
    const all = await findSuites();
    if (boolFlag(args, 'list')) {
      for (const [name, load] of all) io.out(`${name.padEnd(12)} ${(await load()).summary}`);
      return 0;
    }
    const suites = (stringFlag(args, 'suite') ?? '').split(',').filter(Boolean);
    const unknown = suites.filter((s) => !all.has(s));
    if (unknown.length) throw new UsageError(`Unknown suite ${unknown.join(', ')}.`, `Suites: ${[...all.keys()].join(', ')}.`);
    await runBench({ suites, quick: boolFlag(args, 'quick'), out: io.out, log: io.err });
    return 0;
  },
};
