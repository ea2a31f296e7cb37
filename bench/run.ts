/**
 * `npm run bench`: runs every scenario in bench/ in one run and rewrites BENCHMARKS.md.
 *
 * Flags:
 *   --quick        short measurements (a smoke run; still real figures)
 *   --only NAME    run only scenarios whose name or file contains NAME (repeatable;
 *                  prints the tables instead of rewriting BENCHMARKS.md)
 *   --check        evaluate each row's targets; exit 1 when one falls short
 *   --json         print the whole report as JSON on stdout
 *   --budget MS    time per measurement (default 2000, quick 400)
 *
 * Every run builds dist/ first (`npm run build`): switchboard is measured as built.
 *
 * A scenario file is any bench/*.ts that exports `scenario` (see bench/types.ts), other
 * than this runner, its helpers (report.ts, proc.ts, types.ts), the raw baselines
 * (raw-*.ts) and child-process entry points (*-child.ts). A scenario that throws becomes
 * a note row; the run goes on.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  evaluateAll,
  type MachineInfo,
  type RunReport,
  renderMarkdown,
  renderRow,
  type ScenarioResult,
} from './report.js';
import type { BenchContext, Scenario } from './types.js';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const NOT_SCENARIOS = new Set(['run.ts', 'types.ts', 'report.ts', 'proc.ts', 'library.ts']);

interface Flags {
  quick: boolean;
  only: string[];
  check: boolean;
  json: boolean;
  budgetMs: number | undefined;
}

function usage(message: string): never {
  process.stderr.write(
    `bench: ${message}\nusage: npm run bench -- [--quick] [--only NAME]... [--check] [--json] [--budget MS]\n`,
  );
  process.exit(2);
}

function parseFlags(argv: string[]): Flags {
  const flags: Flags = { quick: false, only: [], check: false, json: false, budgetMs: undefined };
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index]!;
    switch (arg) {
      case '--quick':
        flags.quick = true;
        break;
      case '--check':
        flags.check = true;
        break;
      case '--json':
        flags.json = true;
        break;
      case '--only': {
        const name = argv[index + 1];
        if (name === undefined) {
          usage('--only needs a scenario name');
        }
        flags.only.push(name);
        index += 1;
        break;
      }
      case '--budget': {
        const value = Number(argv[index + 1]);
        if (!Number.isInteger(value) || value <= 0) {
          usage('--budget needs a positive number of ms');
        }
        flags.budgetMs = value;
        index += 1;
        break;
      }
      case '--help':
      case '-h':
        usage('help');
        break;
      default:
        usage(`unknown flag ${arg}`);
    }
  }
  return flags;
}

function machineInfo(loadAtStart: number): MachineInfo {
  const cpus = os.cpus();
  return {
    loadAverage: { start: loadAtStart, end: os.loadavg()[0] ?? 0 },
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown CPU',
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
  };
}

function scenarioFiles(): string[] {
  return readdirSync(BENCH_DIR)
    .filter(
      (name) =>
        name.endsWith('.ts') &&
        !name.endsWith('.d.ts') &&
        !NOT_SCENARIOS.has(name) &&
        !name.startsWith('raw-') &&
        !name.startsWith('_') &&
        !name.endsWith('-child.ts'),
    )
    .sort();
}

function isScenario(value: unknown): value is Scenario {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Scenario).name === 'string' &&
    typeof (value as Scenario).run === 'function'
  );
}

/**
 * Builds dist/ first: the switchboard subjects load the built package (bench/library.ts),
 * so a run never measures a stale build of other sources.
 */
function build(): void {
  const result = spawnSync('npm', ['run', '--silent', 'build'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (result.status !== 0) {
    usage('npm run build failed; the benchmarks measure the built package');
  }
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  build();
  const loadAtStart = os.loadavg()[0] ?? 0;
  const budgetMs = flags.budgetMs ?? (flags.quick ? 400 : 2000);
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const context: BenchContext = { budgetMs, quick: flags.quick, log };
  const results: ScenarioResult[] = [];

  for (const file of scenarioFiles()) {
    const started = performance.now();
    let scenario: Scenario | undefined;
    try {
      const module: Record<string, unknown> = await import(
        pathToFileURL(`${BENCH_DIR}${file}`).href
      );
      if (!isScenario(module.scenario)) {
        continue;
      }
      scenario = module.scenario;
    } catch (error) {
      results.push({
        scenario: file.replace(/\.ts$/, ''),
        file: `bench/${file}`,
        rows: [
          {
            name: `${file} could not be loaded`,
            reference: '-',
            measurements: [],
            note: `import failed: ${error instanceof Error ? error.message : String(error)}`,
          },
        ],
        seconds: (performance.now() - started) / 1000,
      });
      continue;
    }
    if (
      flags.only.length > 0 &&
      !flags.only.some((name) => scenario.name.includes(name) || file.includes(name))
    ) {
      continue;
    }
    log(`bench: ${scenario.name} (bench/${file})`);
    let result: ScenarioResult;
    try {
      const rows = await scenario.run(context);
      result = {
        scenario: scenario.name,
        file: `bench/${file}`,
        rows,
        seconds: (performance.now() - started) / 1000,
      };
    } catch (error) {
      result = {
        scenario: scenario.name,
        file: `bench/${file}`,
        rows: [
          {
            name: `${scenario.name} failed`,
            reference: '-',
            measurements: [],
            note: `the scenario threw: ${error instanceof Error ? error.message : String(error)}`,
          },
        ],
        seconds: (performance.now() - started) / 1000,
      };
    }
    results.push(result);
    for (const row of result.rows) {
      log(renderRow(result.scenario, row));
    }
  }

  const report: RunReport = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: machineInfo(loadAtStart),
    quick: flags.quick,
    budgetMs,
    scenarios: results,
    verdicts: evaluateAll(results),
  };
  const markdown = renderMarkdown(report);
  if (flags.only.length === 0) {
    writeFileSync(new URL('../BENCHMARKS.md', import.meta.url), markdown);
    log('bench: BENCHMARKS.md rewritten');
  } else if (!flags.json) {
    process.stdout.write(markdown);
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  }
  if (flags.check) {
    const failed = report.verdicts.filter((verdict) => !verdict.holds);
    for (const verdict of report.verdicts) {
      log(`check: ${verdict.scenario} / ${verdict.row}: ${verdict.text}`);
    }
    log(`check: ${report.verdicts.length - failed.length}/${report.verdicts.length} targets hold`);
    if (failed.length > 0) {
      process.exitCode = 1;
    }
  }
}

await main();
