/**
 * Child process for bench/idle-connections.ts.
 *
 *   server SUBJECT EXPECTED     (run with --expose-gc) measure a baseline, print READY
 *                               <port>, accept connections; once EXPECTED arrived (or none
 *                               for QUIET_MS), collect garbage, measure again, print RESULT
 *                               with bytes per connection
 *   client PORT COUNT           open COUNT idle connections, print CONNECTED <n>, stay idle
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { exitWithParent, reportReady, reportResult } from './proc.js';
import { switchboardIdleServer } from './switchboard-adapter.js';

const QUIET_MS = 1500;

interface MemorySample {
  heap: number;
  rss: number;
  external: number;
}

async function sample(): Promise<MemorySample> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    throw new Error('run with --expose-gc');
  }
  // Several full collections with pauses between, so finalizers and weak callbacks settle.
  for (let pass = 0; pass < 4; pass += 1) {
    gc();
    await sleep(50);
  }
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, rss: usage.rss, external: usage.external };
}

/** Starts the subject's server; returns its port and a live connection count. */
type StartServer = () => Promise<{ port: number; connections: () => number }>;

const rawServer: StartServer = async () => {
  // A minimal but real server: tracks its sockets and listens for data, errors and close.
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  server.maxConnections = 100_000;
  await new Promise<void>((resolve) =>
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve),
  );
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    connections: () => sockets.size,
  };
};

async function runServer(subject: string, expected: number): Promise<void> {
  let start: StartServer;
  if (subject === 'raw') {
    start = rawServer;
  } else {
    start = () => switchboardIdleServer(subject);
  }
  // Start (and so load the subject's code) before the baseline, so code is not counted.
  const server = await start();
  const before = await sample();
  reportReady(server.port);
  let last = -1;
  let quietSince = performance.now();
  for (;;) {
    await sleep(100);
    const count = server.connections();
    if (count !== last) {
      last = count;
      quietSince = performance.now();
    }
    if (count >= expected || (count > 0 && performance.now() - quietSince > QUIET_MS)) {
      break;
    }
  }
  await sleep(300);
  const after = await sample();
  const count = server.connections();
  reportResult({
    connections: count,
    heapPerConnection: (after.heap - before.heap) / count,
    rssPerConnection: (after.rss - before.rss) / count,
    externalPerConnection: (after.external - before.external) / count,
  });
  process.exit(0);
}

async function runClient(port: number, count: number): Promise<void> {
  const sockets: net.Socket[] = [];
  const batch = 250;
  let failed = 0;
  for (let opened = 0; opened < count; opened += batch) {
    const wave: Promise<void>[] = [];
    for (let index = opened; index < Math.min(count, opened + batch); index += 1) {
      wave.push(
        new Promise<void>((resolve) => {
          const socket = net.connect({ host: '127.0.0.1', port });
          socket.once('connect', () => {
            sockets.push(socket);
            resolve();
          });
          socket.once('error', () => {
            failed += 1;
            resolve();
          });
        }),
      );
    }
    await Promise.all(wave);
  }
  process.stdout.write(`CONNECTED ${sockets.length} ${failed}\n`);
  // Stay idle until the parent kills us.
  setInterval(() => {}, 60_000);
}

exitWithParent();

const [role, ...rest] = process.argv.slice(2);
try {
  if (role === 'server') {
    await runServer(rest[0]!, Number(rest[1]));
  } else if (role === 'client') {
    await runClient(Number(rest[0]), Number(rest[1]));
  } else {
    throw new Error('usage: idle-child.ts server SUBJECT EXPECTED | client PORT COUNT');
  }
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
