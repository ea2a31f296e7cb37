/**
 * Child process for bench/idle-connections.ts.
 *
 *   server SUBJECT EXPECTED     (run with --expose-gc) measure a baseline, print READY
 *                               <port>, accept connections; once EXPECTED arrived (or none
 *                               for QUIET_MS) and the parent sent SIGUSR1 (the clients are
 *                               done), collect garbage, measure again, print RESULT with
 *                               bytes per connection
 *   client PORT COUNT MODE      open COUNT connections; MODE `never-used`: they stay idle
 *                               from the start; `used`: each sends one 64 B u32be frame
 *                               and waits for its echo, then stays idle. Print CONNECTED
 *                               <n> <failed> when all are done, stay idle
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

/** Resolves on SIGUSR1: the parent's word that every client has finished its exchange. */
function clientsDone(): Promise<void> {
  return new Promise((resolve) => process.once('SIGUSR1', () => resolve()));
}

async function runServer(subject: string, expected: number): Promise<void> {
  // Listening for the signal before READY: the parent may send it as soon as it likes.
  const done = clientsDone();
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
  await done;
  // Settle: a used connection's last echo may still be leaving, and a server may put a
  // connection back to sleep a moment after its queues empty.
  await sleep(1000);
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

/** One 64 B u32be frame: what a used connection sends (and gets back) once. */
const MESSAGE = (() => {
  const frame = Buffer.alloc(4 + 64, 0x61);
  frame.writeUInt32BE(64, 0);
  return frame;
})();

/** Sends MESSAGE on `socket` and resolves when as many bytes came back (the echo). */
function exchangeOne(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received >= MESSAGE.length) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('closed before the echo')));
    socket.write(MESSAGE);
  });
}

async function runClient(port: number, count: number, mode: string): Promise<void> {
  if (mode !== 'never-used' && mode !== 'used') {
    throw new Error(`unknown client mode ${mode}`);
  }
  const sockets: net.Socket[] = [];
  const batch = 250;
  let failed = 0;
  for (let opened = 0; opened < count; opened += batch) {
    const wave: Promise<void>[] = [];
    for (let index = opened; index < Math.min(count, opened + batch); index += 1) {
      wave.push(
        new Promise<void>((resolve) => {
          const socket = net.connect({ host: '127.0.0.1', port });
          let settled = false;
          const settle = (ok: boolean): void => {
            if (settled) {
              return;
            }
            settled = true;
            if (ok) {
              sockets.push(socket);
            } else {
              failed += 1;
            }
            resolve();
          };
          socket.once('connect', () => {
            if (mode === 'never-used') {
              settle(true);
            } else {
              exchangeOne(socket).then(
                () => settle(true),
                () => settle(false),
              );
            }
          });
          // Kept for the socket's life: an idle socket's late error must not crash the client.
          socket.on('error', () => settle(false));
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
    await runClient(Number(rest[0]), Number(rest[1]), rest[2] ?? 'never-used');
  } else {
    throw new Error('usage: idle-child.ts server SUBJECT EXPECTED | client PORT COUNT MODE');
  }
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
