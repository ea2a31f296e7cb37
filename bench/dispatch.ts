/**
 * Echo throughput with 100 connections for each dispatch model of the switchboard
 * server: `loop` (one event loop), `threads` (handlers in a worker_threads pool) and
 * `processes` (worker processes). A raw node:net echo server in one process is shown
 * for scale. The load generator (another process) keeps 8 frames of 64 B in flight on
 * every connection and counts echoes.
 */
import { withChildren } from './proc.js';
import type { BenchContext, BenchRow, Measurement, Scenario } from './types.js';

const CONNECTIONS = 100;
const DEPTH = 8;
const SIZE = 64;

const SUBJECTS = [
  ['loop', 'switchboard dispatch: loop'],
  ['threads', 'switchboard dispatch: threads'],
  ['processes', 'switchboard dispatch: processes'],
  ['raw', 'raw node:net echo (one process)'],
] as const;

interface LoadResult {
  msgs: number;
  ms: number;
}

async function measure(context: BenchContext, mode: string): Promise<LoadResult> {
  // Worker threads and processes start after createServer resolves (and load TypeScript
  // through tsx): give every model the same generous warm-up before counting.
  const warmupMs = 2_000;
  return withChildren(async (start) => {
    const server = start('dispatch-child.ts', ['server', mode]);
    const port = await server.line('READY', 30_000);
    const load = start('dispatch-child.ts', [
      'load',
      port,
      String(CONNECTIONS),
      String(DEPTH),
      String(SIZE),
      String(warmupMs),
      String(context.budgetMs),
    ]);
    return JSON.parse(
      await load.line('RESULT', 30_000 + warmupMs + context.budgetMs * 3),
    ) as LoadResult;
  });
}

export const scenario: Scenario = {
  name: 'dispatch',
  async run(context) {
    const best = new Map<string, LoadResult>();
    const failures = new Map<string, string>();
    const repeats = context.quick ? 1 : 2;
    for (let round = 0; round < repeats; round += 1) {
      for (const [mode, label] of SUBJECTS) {
        if (failures.has(label)) {
          continue;
        }
        context.log(`  dispatch: ${label} (round ${round + 1}/${repeats})`);
        try {
          const result = await measure(context, mode);
          const previous = best.get(label);
          if (previous === undefined || result.msgs / result.ms > previous.msgs / previous.ms) {
            best.set(label, result);
          }
        } catch (error) {
          failures.set(label, error instanceof Error ? error.message.slice(0, 200) : String(error));
        }
      }
    }
    const measurements: Measurement[] = [];
    const notes: string[] = [];
    for (const [, label] of SUBJECTS) {
      const result = best.get(label);
      if (result === undefined) {
        notes.push(`${label} not measured: ${failures.get(label) ?? 'no result'}`);
        continue;
      }
      measurements.push({
        subject: label,
        value: (result.msgs / result.ms) * 1000,
        unit: 'echoes/s',
      });
    }
    const row: BenchRow = {
      name: `echo, ${CONNECTIONS} connections × ${DEPTH} in flight, ${SIZE} B frames`,
      reference: SUBJECTS[0][1],
      measurements,
      ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
    };
    return [row];
  },
};
