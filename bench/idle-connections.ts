/**
 * Memory per idle connection at 10,000 connections: heap and RSS of a server process,
 * measured before and after the connections arrive, divided by the number of
 * connections. The server (bench/idle-server.mjs) runs under plain node, not tsx, and
 * samples once it has settled (full GCs until the young generation is back to its
 * starting size and RSS has stopped falling): see that file for why both matter. The
 * same for every subject. The clients (bench/idle-child.ts) live in another process. Two cases: the
 * connections never send anything, and the connections each exchange one message (a
 * 64 B frame and its echo) and then go idle, which is what a server mostly holds.
 *
 * Subjects: a raw node:net server (reference; tracks its sockets, echoes data), the
 * switchboard server (createServer, loop dispatch), and listen() + one Channel per
 * connection awaiting its first message.
 */
import { execFileSync } from 'node:child_process';
import { benchFile, withChildren } from './proc.js';
import type { BenchRow, Measurement, Scenario } from './types.js';

const RAW = 'raw node:net server';
const SERVER = 'switchboard server (loop)';
const CHANNEL = 'switchboard listen() + Channel per connection';
const WANTED = 10_000;
/** Descriptors kept free for the process itself (stdio, listener, modules, pipes). */
const FD_MARGIN = 200;

interface IdleResult {
  connections: number;
  heapPerConnection: number;
  rssPerConnection: number;
  externalPerConnection: number;
  /** How long the baseline and the final sample waited to settle (ms). */
  settleMs: [number, number];
  /** False when a sample gave up settling (SETTLE_MAX_MS in idle-server.mjs). */
  settled: boolean;
}

/** The descriptor limit children get: raise it when allowed, report what we got. */
function fileLimit(): number {
  try {
    const text = execFileSync('bash', ['-c', 'ulimit -n 65536 2>/dev/null; ulimit -n'], {
      encoding: 'utf8',
    });
    const limit = text.trim() === 'unlimited' ? 1_000_000 : Number(text.trim());
    return Number.isFinite(limit) ? limit : 1024;
  } catch {
    return 1024;
  }
}

type Use = 'never-used' | 'used';

async function measure(subject: string, count: number, use: Use): Promise<IdleResult> {
  return withChildren(async (start) => {
    const server = start(process.execPath, ['--expose-gc', benchFile('idle-server.mjs'), subject], {
      fileLimit: 65536,
    });
    const port = await server.line('READY', 30_000);
    const client = start('idle-child.ts', ['client', port, String(count), use], {
      fileLimit: 65536,
    });
    await client.line('CONNECTED', 120_000);
    // Every connection is open (and, when used, has had its echo): the server may measure.
    server.process.kill('SIGUSR1');
    return JSON.parse(await server.line('RESULT', 120_000)) as IdleResult;
  });
}

const USES: { use: Use; label: string }[] = [
  { use: 'never-used', label: 'never used' },
  { use: 'used', label: 'used then idle (one 64 B message echoed on each)' },
];

export const scenario: Scenario = {
  name: 'idle-connections',
  async run(context) {
    const limit = fileLimit();
    const limitNotes: string[] = [];
    // 10,000 connections take seconds, not minutes: --quick measures the real figure too.
    let count = WANTED;
    if (limit - FD_MARGIN < count) {
      count = Math.max(100, limit - FD_MARGIN);
      limitNotes.push(
        `descriptor limit ${limit}: measured at ${count} connections instead of ${WANTED}`,
      );
    }
    const rows: BenchRow[] = [];
    for (const { use, label: useLabel } of USES) {
      const notes = [...limitNotes];
      const heap: Measurement[] = [];
      const rss: Measurement[] = [];
      for (const [subject, label] of [
        ['raw', RAW],
        ['server', SERVER],
        ['channel', CHANNEL],
      ] as const) {
        context.log(`  idle connections, ${useLabel}: ${label} (${count})`);
        try {
          const result = await measure(subject, count, use);
          if (result.connections < count) {
            notes.push(`${label}: only ${result.connections} of ${count} connections arrived`);
          }
          if (!result.settled) {
            notes.push(`${label}: memory had not settled when sampled`);
          }
          heap.push({
            subject: label,
            value: result.heapPerConnection,
            unit: 'heap bytes/conn',
            extra: { connections: result.connections },
          });
          rss.push({
            subject: label,
            value: result.rssPerConnection,
            unit: 'RSS bytes/conn',
            extra: {
              'external bytes/conn': result.externalPerConnection,
              connections: result.connections,
            },
          });
        } catch (error) {
          notes.push(
            `${label} not measured: ${error instanceof Error ? error.message.slice(0, 200) : String(error)}`,
          );
        }
      }
      const note = notes.length > 0 ? { note: notes.join('; ') } : {};
      rows.push(
        {
          name: `memory per idle connection, ${useLabel} (heap), ${count} connections`,
          reference: RAW,
          lowerIsBetter: true,
          measurements: heap,
          target: { subject: SERVER, against: RAW, atMostAbove: 1024 },
          ...note,
        },
        {
          name: `memory per idle connection, ${useLabel} (RSS), ${count} connections`,
          reference: RAW,
          lowerIsBetter: true,
          measurements: rss,
          target: { subject: SERVER, against: RAW, atMostAbove: 1024 },
          ...note,
        },
      );
    }
    return rows;
  },
};
