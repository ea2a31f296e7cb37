/**
 * Chat fan-out through HAProxy: 1 switchboard instance vs 2 instances sharing a
 * NATS bus (deploy/: the same nats.conf, haproxy.cfg and CLI flags the demo uses).
 *
 * A load generator (this file run as `fanout.ts load ...`, its own process) opens
 * CLIENTS line connections through HAProxy; SENDERS of them send 64 B lines, all of
 * them count the lines they receive. Flow control keeps the test honest (no queue
 * grows without bound): the senders stop while the slowest pure receiver is more
 * than WINDOW lines behind. The figure is deliveries per second: lines received,
 * summed over every client (each line is delivered to CLIENTS - 1 clients).
 *
 * Skipped with a note row when nats-server or haproxy is missing.
 */
import * as net from 'node:net';
import { pathToFileURL } from 'node:url';
import {
  ChildSet,
  findTool,
  type Instance,
  startHaproxy,
  startInstance,
  startNats,
} from '../deploy/stack.js';
import { exitWithParent, reportResult, withChildren } from './proc.js';
import type { BenchContext, BenchRow, Measurement, Scenario } from './types.js';

const CLIENTS = 16;
const SENDERS = 4;
const WINDOW = 256;
const SIZE = 64;
const WARMUP_MS = 500;

const ONE = '1 instance behind HAProxy (bus on)';
const TWO = '2 instances behind HAProxy + NATS bus';
const ONE_NO_BUS = '1 instance behind HAProxy (no bus)';

interface LoadResult {
  deliveries: number;
  sent: number;
  ms: number;
}

/** Starts nats-server, `instances` chat instances and HAProxy; measures; stops everything. */
async function measure(
  context: BenchContext,
  instances: number,
  bus: boolean,
): Promise<LoadResult> {
  const children = new ChildSet();
  try {
    const nats = await startNats(children);
    const started: Instance[] = [];
    for (let i = 1; i <= instances; i += 1) {
      started.push(
        await startInstance(children, `sb${i}`, [
          '--framing',
          'line',
          '--mode',
          'chat',
          '--proxy-protocol',
          ...(bus ? ['--bus', nats.url] : []),
        ]),
      );
    }
    const haproxy = await startHaproxy(children, {
      backends: started.map((instance) => ({ name: instance.name, address: instance.address })),
      balance: 'roundrobin',
    });
    const durationMs = Math.min(3000, Math.max(500, context.budgetMs));
    return await withChildren(async (start) => {
      const load = start('fanout.ts', [
        'load',
        String(haproxy.port),
        String(WARMUP_MS),
        String(durationMs),
      ]);
      return JSON.parse(await load.line('RESULT', 30_000 + durationMs * 3)) as LoadResult;
    });
  } finally {
    await children.stopAll(2000);
  }
}

export const scenario: Scenario = {
  name: 'fanout',
  async run(context) {
    const name = `chat fan-out, ${CLIENTS} clients (${SENDERS} sending ${SIZE} B lines), deliveries/s`;
    const missing = ['nats-server', 'haproxy'].filter((tool) => findTool(tool) === null);
    if (missing.length > 0) {
      return [
        {
          name,
          reference: ONE,
          measurements: [],
          note: `not measured: ${missing.join(' and ')} not installed (Debian packages nats-server, haproxy)`,
        },
      ];
    }
    const measurements: Measurement[] = [];
    const subjects: Array<[string, number, boolean]> = [
      [ONE, 1, true],
      [TWO, 2, true],
      [ONE_NO_BUS, 1, false],
    ];
    for (const [subject, instances, bus] of subjects) {
      context.log(`  fanout: ${subject}`);
      const result = await measure(context, instances, bus);
      measurements.push({
        subject,
        value: Math.round((result.deliveries / result.ms) * 1000),
        unit: 'msgs/s',
        extra: { 'sent/s': Math.round((result.sent / result.ms) * 1000) },
      });
    }
    const row: BenchRow = {
      name,
      reference: ONE,
      measurements,
      note:
        'Every process shares this machine: nats-server, HAProxy, the instances and the load ' +
        'generator, so a second instance mostly competes for the same cores (figures move ' +
        '±10% between runs; compare within one). Each line costs one NATS publish with the ' +
        'envelope headers (~2-3 µs of encoding). With a core or a machine per instance, each ' +
        'instance fans out to its own clients and NATS carries one copy per message per ' +
        'instance, so deliveries/s grow roughly with the instance count until nats-server ' +
        '(millions of small msgs/s per core) or the network saturates.',
    };
    return [row];
  },
};

/** The load generator (a child process): see the module comment. */
async function runLoad(port: number, warmupMs: number, durationMs: number): Promise<void> {
  exitWithParent();
  const received = new Array<number>(CLIENTS).fill(0);
  const sockets: net.Socket[] = [];
  for (let i = 0; i < CLIENTS; i += 1) {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.setNoDelay(true);
    const index = i;
    socket.on('data', (chunk: Buffer) => {
      let at = chunk.indexOf(10);
      while (at !== -1) {
        received[index] = (received[index] ?? 0) + 1;
        at = chunk.indexOf(10, at + 1);
      }
      pump();
    });
    sockets.push(socket);
  }
  const line = Buffer.from(`${'x'.repeat(SIZE - 1)}\n`);
  const batch = Buffer.concat(Array.from({ length: 16 }, () => line));
  let sent = 0;
  let running = false;
  // Lines sent before every receiver had joined never reach the late ones: a constant
  // lag that flow control must not count as "in flight".
  let lostLag = 0;
  const total = (): number => received.reduce((sum, value) => sum + value, 0);
  // Pure receivers (not senders) get every line: the slowest one paces the senders.
  const slowest = (): number => {
    let min = Number.POSITIVE_INFINITY;
    for (let i = SENDERS; i < CLIENTS; i += 1) {
      min = Math.min(min, received[i] ?? 0);
    }
    return min;
  };
  function pump(): void {
    while (running && sent - slowest() - lostLag < WINDOW) {
      for (let i = 0; i < SENDERS; i += 1) {
        sockets[i]?.write(batch);
      }
      sent += SENDERS * 16;
    }
  }
  // Members join after the PROXY header is read: wait until one line goes round.
  const joinDeadline = Date.now() + 10_000;
  while (slowest() === 0 && Date.now() < joinDeadline) {
    sockets[0]?.write(line);
    sent += 1;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // Let the join lines settle, then start the paced senders.
  let settled = -1;
  while (settled !== total()) {
    settled = total();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  lostLag = sent - slowest();
  running = true;
  pump();
  await new Promise((resolve) => setTimeout(resolve, warmupMs));
  const startDeliveries = total();
  const startSent = sent;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  const ms = performance.now() - started;
  const result: LoadResult = { deliveries: total() - startDeliveries, sent: sent - startSent, ms };
  running = false;
  for (const socket of sockets) {
    socket.destroy();
  }
  reportResult(result);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, port, warmup, duration] = process.argv.slice(2);
  if (mode === 'load') {
    void runLoad(Number(port), Number(warmup), Number(duration));
  }
}
