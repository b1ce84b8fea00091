// A captured CliIo for running `main()` in tests: every line and streamed piece, in order.
import type { CliIo } from '../../../src/cli/command.ts';

export interface CapturedIo extends CliIo {
  stdout: string;
  stderr: string;
}

export function captureIo(streaming = true): CapturedIo {
  const io: CapturedIo = {
    stdout: '',
    stderr: '',
    out: (line) => void (io.stdout += `${line}\n`),
    err: (line) => void (io.stderr += `${line}\n`),
  };
  if (streaming) io.write = (text) => void (io.stdout += text);
  return io;
}
