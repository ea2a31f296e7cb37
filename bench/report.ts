/**
 * Rendering and checking of benchmark results: BENCHMARKS.md, the `--check` verdicts,
 * and the `--json` document. Pure functions over the rows the scenarios return.
 */
import type { BenchRow, BenchTarget, Measurement } from './types.js';

/** The machine the run happened on. */
export interface MachineInfo {
  cores: number;
  cpuModel: string;
  node: string;
  platform: string;
  memoryGiB: number;
  /** 1-minute load average when the run started and when it ended (other work on the box). */
  loadAverage: { start: number; end: number };
}

/** All rows of one scenario. */
export interface ScenarioResult {
  scenario: string;
  file: string;
  rows: BenchRow[];
  seconds: number;
}

/** The outcome of one target. */
export interface TargetVerdict {
  scenario: string;
  row: string;
  target: BenchTarget;
  /** The measured ratio, or undefined when a subject was not measured. */
  ratio: number | undefined;
  /** The subject the ratio was computed against (the best of a list). */
  againstSubject: string | undefined;
  holds: boolean;
  /** The measured ratio (or difference) as text. */
  measured: string;
  /** The target alone, e.g. "switchboard Channel ≥ 0.9× raw node:net + hand decoder". */
  label: string;
  text: string;
}

/** A whole run. */
export interface RunReport {
  date: string;
  machine: MachineInfo;
  quick: boolean;
  budgetMs: number;
  scenarios: ScenarioResult[];
  verdicts: TargetVerdict[];
}

function find(row: BenchRow, subject: string): Measurement | undefined {
  return row.measurements.find((measurement) => measurement.subject === subject);
}

function usable(measurement: Measurement | undefined): measurement is Measurement {
  return measurement !== undefined && Number.isFinite(measurement.value) && measurement.value > 0;
}

/** `value / reference value`, or undefined when either is missing. */
export function ratioToReference(row: BenchRow, measurement: Measurement): number | undefined {
  const reference = find(row, row.reference);
  if (!usable(reference) || !Number.isFinite(measurement.value)) {
    return undefined;
  }
  return measurement.value / reference.value;
}

/** Evaluates one target of a row. */
export function evaluateTarget(
  scenario: string,
  row: BenchRow,
  target: BenchTarget,
): TargetVerdict {
  const subject = find(row, target.subject);
  const candidates = (Array.isArray(target.against) ? target.against : [target.against])
    .map((name) => find(row, name))
    .filter(usable);
  let against: Measurement | undefined;
  for (const candidate of candidates) {
    const better =
      against === undefined ||
      (row.lowerIsBetter === true
        ? candidate.value < against.value
        : candidate.value > against.value);
    if (better) {
      against = candidate;
    }
  }
  let bound: string;
  if (target.atMostAbove !== undefined) {
    bound = `≤ ${formatNumber(target.atMostAbove)} above`;
  } else if (target.atLeast !== undefined) {
    bound = `≥ ${target.atLeast}×`;
  } else {
    bound = `≤ ${target.atMost ?? Number.NaN}×`;
  }
  const againstLabel = Array.isArray(target.against)
    ? `best of ${target.against.join(', ')}`
    : target.against;
  const label = `${target.subject} ${bound} ${againstLabel}`;
  if (!usable(subject) || against === undefined) {
    return {
      scenario,
      row: row.name,
      target,
      ratio: undefined,
      againstSubject: against?.subject,
      holds: false,
      measured: 'not measured',
      label,
      text: `${label}: not measured`,
    };
  }
  const ratio = subject.value / against.value;
  let holds = true;
  if (target.atLeast !== undefined && ratio < target.atLeast) {
    holds = false;
  }
  if (target.atMost !== undefined && ratio > target.atMost) {
    holds = false;
  }
  const difference = subject.value - against.value;
  if (target.atMostAbove !== undefined && difference > target.atMostAbove) {
    holds = false;
  }
  const measured =
    target.atMostAbove !== undefined
      ? `${difference >= 0 ? '+' : ''}${formatNumber(difference)} (${ratio.toFixed(2)}×)`
      : `${ratio.toFixed(2)}×`;
  return {
    scenario,
    row: row.name,
    target,
    ratio,
    againstSubject: against.subject,
    holds,
    label,
    measured,
    text: `${label}${Array.isArray(target.against) ? ` (${against.subject})` : ''}: ${measured} — ${holds ? 'holds' : 'MISSED'}`,
  };
}

/** Every target of every row. */
export function evaluateAll(scenarios: ScenarioResult[]): TargetVerdict[] {
  const verdicts: TargetVerdict[] = [];
  for (const { scenario, rows } of scenarios) {
    for (const row of rows) {
      const targets = [...(row.target === undefined ? [] : [row.target]), ...(row.targets ?? [])];
      for (const target of targets) {
        verdicts.push(evaluateTarget(scenario, row, target));
      }
    }
  }
  return verdicts;
}

/** Formats a figure with 3 significant digits and thousands separators. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) {
    return 'n/a';
  }
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) {
    return Math.round(value).toLocaleString('en-US');
  }
  if (magnitude >= 100) {
    return value.toFixed(0);
  }
  if (magnitude >= 10) {
    return value.toFixed(1);
  }
  return value.toFixed(2);
}

function formatExtra(extra: Measurement['extra']): string {
  if (extra === undefined) {
    return '';
  }
  return Object.entries(extra)
    .map(([key, value]) => `${key} ${typeof value === 'number' ? formatNumber(value) : value}`)
    .join(', ');
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** Renders one row as a markdown table (plus its note and targets). */
export function renderRow(scenario: string, row: BenchRow): string {
  const out: string[] = [];
  const better = row.lowerIsBetter === true ? 'lower is better' : 'higher is better';
  out.push(`### ${row.name}`, '');
  out.push(`Reference: **${row.reference}** = 1.00× (${better}).`, '');
  if (row.measurements.length > 0) {
    out.push('| subject | value | unit | ratio | details |', '|---|---:|---|---:|---|');
    for (const measurement of row.measurements) {
      const ratio = ratioToReference(row, measurement);
      out.push(
        `| ${escapeCell(measurement.subject)} | ${formatNumber(measurement.value)} | ${measurement.unit} | ${
          ratio === undefined ? 'n/a' : `${ratio.toFixed(2)}×`
        } | ${escapeCell(formatExtra(measurement.extra))} |`,
      );
    }
    out.push('');
  }
  if (row.note !== undefined) {
    out.push(`> Note: ${escapeCell(row.note)}`, '');
  }
  const targets = [...(row.target === undefined ? [] : [row.target]), ...(row.targets ?? [])];
  for (const target of targets) {
    out.push(`- Target: ${evaluateTarget(scenario, row, target).text}`);
  }
  if (targets.length > 0) {
    out.push('');
  }
  return out.join('\n');
}

/** Renders BENCHMARKS.md. */
export function renderMarkdown(report: RunReport): string {
  const { machine } = report;
  const out: string[] = [
    '# Benchmarks',
    '',
    '<!-- Generated by `npm run bench` (bench/run.ts). Do not edit by hand. -->',
    '',
    `Run on ${report.date} — ${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB RAM, ` +
      `Node ${machine.node}, ${machine.platform}. Mode: ${report.quick ? '`--quick` (short measurements)' : 'full'}, ` +
      `about ${report.budgetMs} ms per measurement.`,
    '',
    `Load average (1 min) ${machine.loadAverage.start.toFixed(1)} at the start, ${machine.loadAverage.end.toFixed(1)} at the end` +
      // The run itself keeps about two processes busy: only load beyond that is someone else's.
      (machine.loadAverage.start > machine.cores || machine.loadAverage.end > machine.cores + 2
        ? ': the machine was busy with other work, so figures are noisy; compare ratios, and re-run before acting on one.'
        : '.'),
    '',
    'All traffic is over loopback. Every ratio compares figures from this one run; each row',
    'names its reference (1.00×). Sender and receiver (or client and server) run in separate',
    'processes. Absolute figures depend on the machine; the ratios are what the targets check.',
    'switchboard is measured as built (`dist/`, what users run), not from `src/` through tsx.',
    '',
    'Regenerate with `npm run bench` (`-- --quick` for short measurements; `-- --only NAME` prints',
    'one scenario without rewriting this file; `-- --check` exits 1 when a target is missed;',
    '`-- --json` prints the whole report as JSON). Scenarios live in `bench/*.ts`.',
    '',
  ];
  if (report.verdicts.length > 0) {
    out.push('## Targets', '', '| scenario | row | target | result |', '|---|---|---|---|');
    for (const verdict of report.verdicts) {
      out.push(
        `| ${verdict.scenario} | ${escapeCell(verdict.row)} | ${escapeCell(verdict.label)} | ${
          verdict.ratio === undefined
            ? 'not measured'
            : `${verdict.measured} ${verdict.holds ? 'holds' : '**missed**'}`
        } |`,
      );
    }
    out.push('');
  }
  for (const scenario of report.scenarios) {
    out.push(
      `## ${scenario.scenario}`,
      '',
      `From \`${scenario.file}\` (${scenario.seconds.toFixed(1)} s).`,
      '',
    );
    for (const row of scenario.rows) {
      out.push(renderRow(scenario.scenario, row));
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}
