/**
 * The contract between bench/run.ts and the scenario files.
 *
 * Each scenario file `bench/<name>.ts` exports `scenario: Scenario`. run.ts runs every
 * scenario in one run (one process tree), collects the rows, and rewrites BENCHMARKS.md
 * with absolute figures and ratios to each row's reference. A scenario bounds its own time.
 */

/** One measured subject, e.g. "switchboard length:u32be" or "raw node:net". */
export interface Measurement {
  /** What was measured, e.g. "switchboard Channel". */
  subject: string;
  /** The headline figure (higher is better unless `lowerIsBetter`). */
  value: number;
  /** Unit of `value`, e.g. "msgs/s", "MB/s", "ops/s", "µs", "bytes/conn". */
  unit: string;
  /** Other figures worth printing, e.g. { p99: 120 }. */
  extra?: Record<string, number | string>;
}

/** A comparison: several measurements of one task, one of them the reference. */
export interface BenchRow {
  /** Scenario row name, e.g. "decode 64 B frames, 64 KiB chunks". */
  name: string;
  /** Subject name of the reference measurement the ratios are computed against. */
  reference: string;
  /** True for latencies and memory (ratio < 1 is better). */
  lowerIsBetter?: boolean;
  measurements: Measurement[];
  /** Optional target, checked by `npm run bench -- --check`. */
  target?: BenchTarget;
  /** More targets for the same row (e.g. "≥ 0.9× raw" and "≥ 2× the best npm peer"). */
  targets?: BenchTarget[];
  /** Free-text note (e.g. a peer that could not be measured, and why). */
  note?: string;
}

/**
 * A ratio target: `subject`'s value divided by `against`'s value must be `atLeast` (or
 * `atMost`); or a difference target (`atMostAbove`). When `against` is a list, the best of those subjects that were measured is
 * used (highest value, or lowest when the row is `lowerIsBetter`).
 */
export interface BenchTarget {
  subject: string;
  against: string | string[];
  atLeast?: number;
  atMost?: number;
  /** A difference target: `subject` may exceed `against` by at most this, in the row's unit. */
  atMostAbove?: number;
}

/** Settings run.ts passes to every scenario. */
export interface BenchContext {
  /** Rough time budget per measurement in ms (scenarios may scale their loops by it). */
  budgetMs: number;
  /** True for a quick smoke run (`--quick`). */
  quick: boolean;
  log(line: string): void;
}

export interface Scenario {
  name: string;
  run(context: BenchContext): Promise<BenchRow[]>;
}
