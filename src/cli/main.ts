// `student-lab` CLI: the same engine as the page, in Node through the `webgpu` package.
import type { CliIo, Command } from './command.ts';

/** Every command, loaded on demand so `student-lab info` does not load the trainer. */
const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  info: () => import('./commands/info.ts'),
  generate: () => import('./commands/generate.ts'),
  forward: () => import('./commands/forward.ts'),
  eval: () => import('./commands/eval.ts'),
  loss: () => import('./commands/loss.ts'),
  train: () => import('./commands/train.ts'),
  'teacher-cache': () => import('./commands/teacher-cache.ts'),
  advantage: () => import('./commands/advantage.ts'),
  bench: () => import('./commands/bench.ts'),
};

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  write: (text) => process.stdout.write(text),
};

async function help(io: CliIo): Promise<void> {
  io.out('student-lab: distil and evaluate small language models on WebGPU (same engine as the page).\n');
  io.out('Commands:');
  for (const load of Object.values(COMMANDS)) {
    const { command } = await load();
    io.out(`  ${command.name.padEnd(14)} ${command.summary}`);
  }
  io.out('\nRun `student-lab <command> --help` for its options.');
}

export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    await help(io);
    return name ? 0 : 1;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.err(`Unknown command "${name}". Commands: ${Object.keys(COMMANDS).join(', ')}.`);
    return 2;
  }
  const { command } = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.usage);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    const e = err as Error;
    io.err(`${e.name === 'Error' ? 'error' : e.name}: ${e.message}`);
    if (process.env.STUDENT_LAB_DEBUG) io.err(e.stack ?? '');
    return e.name === 'UsageError' ? 2 : 1;
  }
}
