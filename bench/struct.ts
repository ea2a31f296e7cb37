/**
 * Struct pack/unpack throughput (SPEC §10): switchboard's compiled `Struct` and its
 * free functions (`pack(fmt, ...)`, which look the format up in a small cache) against
 * the npm `python-struct` package, on two typical header formats:
 *
 * - `'!HHIq'`: a 16-byte network-order header (version, type, length, 64-bit id);
 * - `'<10sIhd'`: a 24-byte little-endian record with a fixed-size name and a double.
 *
 * Every subject does the same work per op (pack 4 values into a fresh buffer, or unpack
 * one buffer into values). python-struct takes strings for `s` and returns `Long`
 * objects for `q` — its own API; switchboard takes Uint8Array and returns bigint.
 * Every result is kept (see {@link retain}), as an application would keep it; otherwise
 * V8 may inline a subject's whole call and drop the allocations whose results are never
 * read, which only the subjects it can inline would profit from.
 * Subjects are measured in interleaved rounds and the median round is reported, so a
 * GC pause or a JIT tier-up lands on one round rather than on one subject. Rates are
 * per second of this process's CPU time (process.cpuUsage), not wall time: the work is
 * pure CPU, and on a shared machine wall time mostly measures who else was scheduled.
 *
 * Run alone with `npx tsx bench/struct.ts [budgetMs]`.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { Struct as CompiledStruct, StructValue } from '../src/index.js';
import { loadLibrary } from './library.js';
import type { BenchContext, BenchRow, Measurement, Scenario } from './types.js';

const { pack, Struct, unpack } = await loadLibrary();

/** The part of python-struct's API used here (it ships no types). */
interface PythonStruct {
  pack(format: string, values: unknown[]): Buffer;
  unpack(format: string, data: Buffer): unknown[];
  sizeOf(format: string): number;
}

const pythonStruct = createRequire(import.meta.url)('python-struct') as PythonStruct;

/**
 * One thing measured. `run(iterations)` does the operation `iterations` times in its own
 * loop and returns a number folded from the results (so no work can be optimised away).
 * Each subject has its own loop on purpose: one shared loop calling `op()` would be a
 * polymorphic call site whose overhead is the same for every subject and would pull
 * every ratio towards 1.
 */
interface Subject {
  name: string;
  run: (iterations: number) => number;
}

/**
 * The latest result of any loop. Storing each result here makes it escape, so escape
 * analysis cannot remove the allocation of an unpacked array (or its bigints) when V8
 * inlines a subject into its loop; every subject pays the same store. One slot, not a
 * ring: results kept alive across young-generation collections get promoted, and the
 * old-generation collections that follow would be timed as part of the subjects that
 * allocate fastest (an application's results usually die young).
 */
let lastResult: unknown;

function retain<T>(result: T, _index: number): T {
  lastResult = result;
  return result;
}

const ROUNDS = 5;
/** Iterations per batch in the warm-up, which also sizes the timed batches. */
const WARM_UP_BATCH = 2000;
/**
 * CPU time per timed batch. Reading the CPU clock is a getrusage call (about 0.5 µs,
 * several µs on a busy machine) and is paid once per batch; with a fixed number of
 * iterations per batch it weighed ten times more on a subject ten times faster, and
 * pulled every ratio towards 1. Sized in time, it stays well under 1% for every subject.
 */
const BATCH_MS = 2;

/** CPU time (user + system) this process has used, in ms. */
function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/**
 * Runs `run` in batches of `batch` iterations for about `durationMs` of CPU time and
 * returns ops per CPU second.
 */
function measureOnce(
  run: (iterations: number) => number,
  durationMs: number,
  batch: number,
): { opsPerSecond: number; sink: number } {
  let sink = 0;
  let operations = 0;
  const started = cpuMs();
  const deadline = started + durationMs;
  let now = started;
  // Bounded: each batch is finite and the loop ends at the deadline.
  while (now < deadline) {
    sink += run(batch);
    operations += batch;
    now = cpuMs();
  }
  return { opsPerSecond: (operations / (now - started)) * 1000, sink };
}

function median(values: number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function measureRow(subjects: Subject[], budgetMs: number): Measurement[] {
  const perRound = budgetMs / ROUNDS;
  const figures = new Map<string, number[]>(subjects.map((subject) => [subject.name, []]));
  const batches = new Map<string, number>();
  let sink = 0;
  for (const subject of subjects) {
    // Warm-up, so the first round does not time the interpreter; its rate sizes the
    // subject's batches to about BATCH_MS each.
    const warmUp = measureOnce(subject.run, Math.min(100, perRound), WARM_UP_BATCH);
    sink += warmUp.sink;
    const batch = Math.round((warmUp.opsPerSecond * BATCH_MS) / 1000);
    batches.set(subject.name, Math.max(WARM_UP_BATCH, batch));
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const subject of subjects) {
      const result = measureOnce(subject.run, perRound, batches.get(subject.name)!);
      sink += result.sink;
      figures.get(subject.name)!.push(result.opsPerSecond);
    }
  }
  if (Number.isNaN(sink) || lastResult === sink) {
    // Never true (a result is never a number); keeps the sink and the latest result
    // observable so no work is optimised away.
    throw new Error('bench/struct: sink is NaN');
  }
  return subjects.map((subject) => {
    const rounds = figures.get(subject.name)!;
    return {
      subject: subject.name,
      value: Math.round(median(rounds)),
      unit: 'ops/s',
      extra: { best: Math.round(Math.max(...rounds)), worst: Math.round(Math.min(...rounds)) },
    };
  });
}

const COMPILED = 'switchboard Struct';
const FREE = 'switchboard pack(fmt, ...)';
const FREE_UNPACK = 'switchboard unpack(fmt, bytes)';
const PEER = 'python-struct';
const RATE_NOTE = 'ops per second of bench-process CPU time; median of 5 interleaved rounds';

function targets(subjects: string[]): BenchRow['targets'] {
  return subjects.map((subject) => ({ subject, against: PEER, atLeast: 5 }));
}

interface HeaderCase {
  format: string;
  label: string;
  /** Sample values for switchboard. */
  ours: StructValue[];
  /** The same values as python-struct takes them (a string for `s`). */
  theirs: unknown[];
  /** The bytes every subject must produce, checked before timing. */
  expectedHex: string;
  /** Pack loops, written with literal arguments as application code would call them. */
  packCompiled(compiled: CompiledStruct, iterations: number): number;
  packFree(iterations: number): number;
  packPeer(iterations: number): number;
}

const NAME = new TextEncoder().encode('sensor-42');

const CASES: HeaderCase[] = [
  {
    format: '!HHIq',
    label: "'!HHIq' (16 B network-order header)",
    ours: [1, 7, 1_048_576, 1_234_567_890_123n],
    theirs: [1, 7, 1_048_576, 1_234_567_890_123],
    expectedHex: '00010007001000000000011f71fb04cb', // CPython struct.pack
    packCompiled(compiled, iterations) {
      let sink = 0;
      for (let index = 0; index < iterations; index++) {
        sink += retain(compiled.pack(1, 7, 1_048_576, 1_234_567_890_123n), index)[15]!;
      }
      return sink;
    },
    packFree(iterations) {
      let sink = 0;
      for (let index = 0; index < iterations; index++) {
        sink += retain(pack('!HHIq', 1, 7, 1_048_576, 1_234_567_890_123n), index)[15]!;
      }
      return sink;
    },
    packPeer(iterations) {
      let sink = 0;
      for (let index = 0; index < iterations; index++) {
        sink += retain(
          pythonStruct.pack('!HHIq', [1, 7, 1_048_576, 1_234_567_890_123]),
          index,
        )[15]!;
      }
      return sink;
    },
  },
  {
    format: '<10sIhd',
    label: "'<10sIhd' (24 B record: name, u32, i16, double)",
    ours: [NAME, 4_000_000_000, -1234, 21.5],
    theirs: ['sensor-42', 4_000_000_000, -1234, 21.5],
    expectedHex: '73656e736f722d34320000286bee2efb0000000000803540', // CPython struct.pack
    packCompiled(compiled, iterations) {
      let sink = 0;
      for (let index = 0; index < iterations; index++) {
        sink += retain(compiled.pack(NAME, 4_000_000_000, -1234, 21.5), index)[23]!;
      }
      return sink;
    },
    packFree(iterations) {
      let sink = 0;
      for (let index = 0; index < iterations; index++) {
        sink += retain(pack('<10sIhd', NAME, 4_000_000_000, -1234, 21.5), index)[23]!;
      }
      return sink;
    },
    packPeer(iterations) {
      let sink = 0;
      for (let index = 0; index < iterations; index++) {
        sink += retain(
          pythonStruct.pack('<10sIhd', ['sensor-42', 4_000_000_000, -1234, 21.5]),
          index,
        )[23]!;
      }
      return sink;
    },
  },
];

function rowsFor(header: HeaderCase, budgetMs: number, log: (line: string) => void): BenchRow[] {
  const compiled = new Struct(header.format);
  const { format } = header;
  const packed = compiled.pack(...header.ours);
  const packedBuffer = Buffer.from(packed);
  // Every subject must produce the same bytes, or the comparison means nothing.
  const outputs = [
    Buffer.from(pack(format, ...header.ours)).toString('hex'),
    packedBuffer.toString('hex'),
    pythonStruct.pack(format, header.theirs).toString('hex'),
  ];
  if (outputs.some((hex) => hex !== header.expectedHex)) {
    throw new Error(`bench/struct: subjects pack ${format} differently: ${outputs.join(' ')}`);
  }
  log(`  ${format}: ${compiled.size} bytes, outputs agree`);

  const packRow: BenchRow = {
    name: `pack ${header.label}`,
    reference: PEER,
    measurements: measureRow(
      [
        { name: COMPILED, run: (iterations) => header.packCompiled(compiled, iterations) },
        { name: FREE, run: (iterations) => header.packFree(iterations) },
        { name: PEER, run: (iterations) => header.packPeer(iterations) },
      ],
      budgetMs,
    ),
    targets: targets([COMPILED, FREE]),
    note: RATE_NOTE,
  };
  const unpackRow: BenchRow = {
    name: `unpack ${header.label}`,
    reference: PEER,
    measurements: measureRow(
      [
        {
          name: COMPILED,
          run(iterations) {
            let sink = 0;
            for (let index = 0; index < iterations; index++) {
              sink += retain(compiled.unpack(packed), index).length;
            }
            return sink;
          },
        },
        {
          name: FREE_UNPACK,
          run(iterations) {
            let sink = 0;
            for (let index = 0; index < iterations; index++) {
              sink += retain(unpack(format, packed), index).length;
            }
            return sink;
          },
        },
        {
          name: PEER,
          run(iterations) {
            let sink = 0;
            for (let index = 0; index < iterations; index++) {
              sink += retain(pythonStruct.unpack(format, packedBuffer), index).length;
            }
            return sink;
          },
        },
      ],
      budgetMs,
    ),
    targets: targets([COMPILED, FREE_UNPACK]),
    note: RATE_NOTE,
  };
  return [packRow, unpackRow];
}

/** The struct scenario for bench/run.ts. */
export const scenario: Scenario = {
  name: 'struct',
  async run(context: BenchContext): Promise<BenchRow[]> {
    return CASES.flatMap((header) => rowsFor(header, context.budgetMs, context.log));
  },
};

function formatRow(row: BenchRow): string {
  const reference = row.measurements.find((measurement) => measurement.subject === row.reference);
  const lines = row.measurements.map((measurement) => {
    const ratio =
      reference === undefined ? '' : ` (${(measurement.value / reference.value).toFixed(1)}x)`;
    return `  ${measurement.subject.padEnd(32)} ${measurement.value.toLocaleString('en-US').padStart(12)} ops/s${ratio}`;
  });
  return [row.name, ...lines].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const budgetMs = Number(process.argv[2] ?? 2000);
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const rows = await scenario.run({ budgetMs, quick: false, log });
  for (const row of rows) {
    process.stdout.write(`${formatRow(row)}\n`);
  }
}
