/**
 * Writes the generated parts of RELIABILITY.md: the bad-input catalog (from
 * test/reliability/bad-inputs.cases.ts) and the fault matrix (from
 * test/reliability/faults-matrix.ts), each with the results of a run.
 *
 *   npx tsx scripts/reliability-doc.ts                      # runs both test files, then writes
 *   npx tsx scripts/reliability-doc.ts --bad-inputs A.json --faults B.json   # reuse reports
 *
 * The reports are what the tests write to SB_RELIABILITY_REPORT / SB_FAULTS_REPORT.
 * Only the text between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` is
 * replaced; the prose around it is hand-written. test/reliability/reliability-doc.test.ts
 * fails when the document and the catalog or the matrix disagree.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BAD_INPUT_CASES, type BadInputCase } from '../test/reliability/bad-inputs.cases.js';
import {
  type CellOutcome,
  expectedCodes,
  FAULT_KINDS,
  MATRIX_ROWS,
  MESSAGES,
  rowLabel,
} from '../test/reliability/faults-matrix.js';

const ROOT = new URL('../', import.meta.url);
const DOC = new URL('RELIABILITY.md', ROOT);

/** One case as bad-inputs.test.ts reports it. */
interface CaseReport {
  name: string;
  expected: string | null;
  observed: (string | null)[];
  peakMiB: number;
  retainedMiB: number;
  goodEchoesDuring: number;
}

/** The group a case is listed under in the document. */
function catalogGroup(entry: BadInputCase): string {
  if (entry.tls === true) {
    return 'TLS';
  }
  if (entry.serverOptions?.proxyProtocol === true) {
    return 'PROXY protocol';
  }
  const limits = Object.keys(entry.serverOptions ?? {}).filter(
    (key) => key !== 'maxFrame' && key !== 'framing',
  );
  if (entry.fakeClock === true || limits.length > 0) {
    return 'Peers that stall, vanish, never read or flood';
  }
  return `Framing: ${entry.framing.split(/[: ]/)[0]}`;
}

/** The expected-code cell of a catalog row. */
function codeCell(code: string | null): string {
  return code === null ? 'valid, echoed' : `\`${code}\``;
}

const escapeCell = (text: string): string => text.replaceAll('|', '\\|');
const mib = (value: number): string => Math.max(0, value).toFixed(1);

/** Reads a constant such as `const PEAK_BOUND = 32 * 2 ** 20;` (MiB) from the test source. */
function boundMiB(source: string, name: string): number {
  const match = new RegExp(`const ${name} = (\\d+) \\* 2 \\*\\* 20;`).exec(source);
  if (match === null) {
    throw new Error(`reliability-doc: ${name} not found in bad-inputs.test.ts`);
  }
  return Number(match[1]);
}

function catalogSection(reports: CaseReport[]): string {
  const byName = new Map(reports.map((report) => [report.name, report]));
  const source = readFileSync(new URL('test/reliability/bad-inputs.test.ts', ROOT), 'utf8');
  const peakBound = boundMiB(source, 'PEAK_BOUND');
  const retainedBound = boundMiB(source, 'RETAINED_BOUND');
  const groups = new Map<string, BadInputCase[]>();
  for (const entry of BAD_INPUT_CASES) {
    const group = catalogGroup(entry);
    groups.set(group, [...(groups.get(group) ?? []), entry]);
  }
  const matching = BAD_INPUT_CASES.filter((entry) => {
    const report = byName.get(entry.name);
    return (
      report !== undefined &&
      report.observed.length > 0 &&
      report.observed.every((code) => code === entry.expectedCode)
    );
  });
  const peak = reports.reduce((top, report) => (report.peakMiB > top.peakMiB ? report : top));
  const retained = reports.reduce((top, report) =>
    report.retainedMiB > top.retainedMiB ? report : top,
  );
  const lines = [
    `${BAD_INPUT_CASES.length} cases (${BAD_INPUT_CASES.filter((entry) => entry.expectedCode === null).length} of them valid edge cases that must be echoed), in ${groups.size} groups. ` +
      `Last run: ${reports.length} ran, ${matching.length} reported exactly the expected code, ` +
      `${BAD_INPUT_CASES.length - reports.length} did not run.`,
    '',
    `Memory bounds per case (heap used + array buffers of the test process, which hosts the server): peak growth < ${peakBound} MiB, retained after a full GC < ${retainedBound} MiB.`,
    `Largest measured: peak growth ${mib(peak.peakMiB)} MiB (${escapeCell(peak.name)}), retained ${mib(retained.retainedMiB)} MiB (${escapeCell(retained.name)}).`,
  ];
  for (const [group, entries] of groups) {
    lines.push(
      '',
      `### ${group} (${entries.length})`,
      '',
      '| case | expected code | observed | peak MiB | retained MiB |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const entry of entries) {
      const report = byName.get(entry.name);
      const observed =
        report === undefined
          ? 'not run'
          : report.observed.every((code) => code === entry.expectedCode)
            ? `✓ ×${report.observed.length}`
            : report.observed.map((code) => `\`${code}\``).join(', ');
      lines.push(
        `| ${escapeCell(entry.name)} | ${codeCell(entry.expectedCode)} | ${observed} | ${report === undefined ? '—' : mib(report.peakMiB)} | ${report === undefined ? '—' : mib(report.retainedMiB)} |`,
      );
    }
  }
  return lines.join('\n');
}

function matrixSection(outcomes: CellOutcome[]): string {
  const find = (row: string, fault: string): CellOutcome | undefined =>
    outcomes.find((outcome) => outcome.row === row && outcome.fault === fault);
  const cells = MATRIX_ROWS.length * FAULT_KINDS.length;
  const slowest = outcomes.reduce((top, outcome) =>
    outcome.elapsedMs > top.elapsedMs ? outcome : top,
  );
  const lines = [
    '| fault | what the proxy does | detected by | expected codes |',
    '| --- | --- | --- | --- |',
    ...FAULT_KINDS.map((kind) => {
      const codes = kind.transparent
        ? `none: all ${MESSAGES} echoed`
        : [...new Set([...kind.codes, ...(kind.sbpCodes ?? [])])]
            .map((code) => `\`${code}\``)
            .join(', ');
      return `| ${kind.name} | ${escapeCell(kind.fault)} | ${escapeCell(kind.detector)} | ${codes} |`;
    }),
    '',
    `Last run: ${outcomes.length} of ${cells} cells passed; each cell shows the echoes acknowledged before the error and the code the client saw. ` +
      `Slowest cell ${slowest.elapsedMs} ms (${slowest.row} × ${slowest.fault}).`,
    '',
    `| framing | ${FAULT_KINDS.map((kind) => kind.name).join(' | ')} |`,
    `| --- |${FAULT_KINDS.map(() => ' --- |').join('')}`,
  ];
  for (const row of MATRIX_ROWS) {
    const label = rowLabel(row);
    const cellsOfRow = FAULT_KINDS.map((kind) => {
      const outcome = find(label, kind.name);
      if (outcome === undefined) {
        return 'not run';
      }
      if (outcome.code === null) {
        return `${outcome.acknowledged}/${MESSAGES} ✓`;
      }
      const expected = expectedCodes(row.framing, kind).includes(outcome.code) ? '✓' : '✗';
      const recovered =
        outcome.acknowledgedAfterRecovery === undefined
          ? ''
          : `, then ${outcome.acknowledgedAfterRecovery}/${MESSAGES} once removed`;
      return `${outcome.acknowledged} acked, \`${outcome.code}\` ${expected}${recovered}`;
    });
    lines.push(`| ${label} | ${cellsOfRow.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Replaces the text between the markers of `name` in `doc`. */
function replaceGenerated(doc: string, name: string, body: string): string {
  const start = `<!-- generated:${name} -->`;
  const end = `<!-- /generated:${name} -->`;
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  if (from === -1 || to === -1 || to < from) {
    throw new Error(`reliability-doc: RELIABILITY.md lacks the ${start} ... ${end} markers`);
  }
  return `${doc.slice(0, from + start.length)}\n${body}\n${doc.slice(to)}`;
}

/** Runs one test file with its report variable set; returns the parsed report. */
function runForReport<T>(testFile: string, variable: string, directory: string): T {
  const path = join(directory, `${variable}.json`);
  const run = spawnSync('npx', ['vitest', 'run', testFile], {
    cwd: ROOT,
    env: { ...process.env, [variable]: path },
    stdio: 'inherit',
  });
  if (run.status !== 0) {
    throw new Error(`reliability-doc: ${testFile} failed (exit ${run.status}); nothing written`);
  }
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

function main(): void {
  const { values } = parseArgs({
    options: { 'bad-inputs': { type: 'string' }, faults: { type: 'string' } },
  });
  const directory = mkdtempSync(join(tmpdir(), 'reliability-doc-'));
  try {
    const reports =
      values['bad-inputs'] === undefined
        ? runForReport<CaseReport[]>(
            'test/reliability/bad-inputs.test.ts',
            'SB_RELIABILITY_REPORT',
            directory,
          )
        : (JSON.parse(readFileSync(values['bad-inputs'], 'utf8')) as CaseReport[]);
    const outcomes =
      values.faults === undefined
        ? runForReport<CellOutcome[]>(
            'test/reliability/faults.test.ts',
            'SB_FAULTS_REPORT',
            directory,
          )
        : (JSON.parse(readFileSync(values.faults, 'utf8')) as CellOutcome[]);
    let doc = readFileSync(DOC, 'utf8');
    doc = replaceGenerated(doc, 'catalog', catalogSection(reports));
    doc = replaceGenerated(doc, 'matrix', matrixSection(outcomes));
    writeFileSync(DOC, doc);
    console.log(
      `RELIABILITY.md: ${BAD_INPUT_CASES.length} catalog cases, ${outcomes.length} matrix cells`,
    );
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

main();
