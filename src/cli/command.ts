// The shape of one CLI command module (src/cli/commands/<name>.ts).

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Text without a line break (streamed output); commands fall back to `out` when absent. */
  write?: (text: string) => void;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Returns the process exit code. */
  run(argv: string[], io: CliIo): Promise<number>;
}
