// The contract between the bench runner and its suites (bench/suites/<name>/suite.ts).

export interface SuiteContext {
  /** Smaller sizes and fewer repetitions (`--quick`). */
  quick: boolean;
  /** Progress lines for the terminal. */
  log(line: string): void;
}

/** One measured quantity, kept raw in bench/results/latest.json. */
export interface Measurement {
  /** e.g. "512x512x512" */
  case: string;
  /** where it ran, e.g. "node (Dawn)" or "chromium" */
  host: string;
  /** what ran, e.g. "ours:blocked" or "ort:webgpu" */
  impl: string;
  /** the headline number and its unit, e.g. 14.2 "GFLOP/s" */
  value: number;
  unit: string;
  /** per-operation times of the timed repetitions, in ms */
  samplesMs: number[];
  /** operations recorded per submit (or per session run) */
  opsPerSubmit: number;
  /** output spot check against a float64 reference */
  check: string;
  /** the device or backend, as reported */
  device?: string;
}

export interface SuiteReport {
  title: string;
  /** A table: the first row is the header. */
  table: string[][];
  notes: string[];
  measurements: Measurement[];
}

export interface Suite {
  name: string;
  summary: string;
  run(ctx: SuiteContext): Promise<SuiteReport>;
}
