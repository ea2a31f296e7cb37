/**
 * Child process for bench/chat-fanout.ts.
 *
 *   server raw|switchboard      start a line chat server, print READY <port>
 *   load PORT RECEIVERS SIZE WARMUP_MS DURATION_MS
 *                               1 sender + RECEIVERS receivers; count deliveries in the
 *                               window, print RESULT
 */
import net from 'node:net';
import { loadLibraryForEveryone } from './library.js';
import { exitWithParent, reportReady, reportResult } from './proc.js';
import { switchboardChatServer } from './switchboard-adapter.js';

const LF = 0x0a;
/** Lines the slowest receiver may lag behind the sender. */
const WINDOW = 8192;
/** Lines per sender write. */
const BATCH = 256;

/**
 * The careful raw broadcast: each chunk's complete lines go to every other client in
 * one write (a partial last line waits for the rest).
 */
async function rawServer(): Promise<number> {
  const clients = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    clients.add(socket);
    let carry: Buffer | null = null;
    socket.on('data', (chunk: Buffer) => {
      const data = carry === null ? chunk : Buffer.concat([carry, chunk]);
      const last = data.lastIndexOf(LF);
      if (last < 0) {
        carry = data;
        return;
      }
      const complete = last === data.length - 1 ? data : data.subarray(0, last + 1);
      carry = last === data.length - 1 ? null : Buffer.from(data.subarray(last + 1));
      for (const other of clients) {
        if (other !== socket) {
          other.write(complete);
        }
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => clients.delete(socket));
  });
  await new Promise<void>((resolve) =>
    server.listen({ host: '127.0.0.1', port: 0, backlog: 1024 }, resolve),
  );
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    socket.once('error', reject);
    socket.once('connect', () => resolve(socket));
  });
}

async function load(
  port: number,
  receivers: number,
  size: number,
  warmupMs: number,
  durationMs: number,
): Promise<void> {
  const received = new Array<number>(receivers).fill(0);
  const receivedBytes = new Array<number>(receivers).fill(0);
  const sockets: net.Socket[] = [];
  for (let index = 0; index < receivers; index += 1) {
    const socket = await connect(port);
    // Every line is SIZE bytes: bytes / SIZE counts lines without scanning them, so the
    // load generator is not what limits the figure.
    socket.on('data', (chunk: Buffer) => {
      receivedBytes[index] = (receivedBytes[index] ?? 0) + chunk.length;
      received[index] = Math.floor(receivedBytes[index]! / size);
      pump();
    });
    socket.on('error', (error) => {
      process.stderr.write(`load: ${error.message}\n`);
      process.exit(1);
    });
    sockets.push(socket);
  }
  const sender = await connect(port);
  sender.on('data', () => {});
  const line = Buffer.from(`${'x'.repeat(size - 1)}\n`);
  const batch = Buffer.concat(Array.from({ length: BATCH }, () => line));
  let sent = 0;
  let running = false;
  const slowest = (): number => {
    let min = Number.POSITIVE_INFINITY;
    for (const count of received) {
      min = Math.min(min, count);
    }
    return min;
  };
  const total = (): number => received.reduce((sum, value) => sum + value, 0);
  function pump(): void {
    while (running && sent - slowest() < WINDOW) {
      sender.write(batch);
      sent += BATCH;
    }
  }
  // Everyone is in the room once one line reaches every receiver.
  const joinDeadline = Date.now() + 10_000;
  while (slowest() === 0 && Date.now() < joinDeadline) {
    sender.write(line);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  let settled = -1;
  while (settled !== total()) {
    settled = total();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // From here on every receiver has the same count (all join lines reached all).
  sent = slowest();
  running = true;
  pump();
  await new Promise((resolve) => setTimeout(resolve, warmupMs));
  const startDeliveries = total();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  reportResult({ deliveries: total() - startDeliveries, ms: performance.now() - started });
  process.exit(0);
}

exitWithParent();
// Every subject in a process of the same heap (see loadLibraryForEveryone).
await loadLibraryForEveryone();

const [role, ...rest] = process.argv.slice(2);
try {
  if (role === 'server') {
    reportReady(rest[0] === 'raw' ? await rawServer() : await switchboardChatServer());
  } else if (role === 'load') {
    const [port, receivers, size, warmupMs, durationMs] = rest.map(Number);
    await load(port!, receivers!, size!, warmupMs!, durationMs!);
  } else {
    throw new Error(
      'usage: chat-fanout-child.ts server raw|switchboard | load PORT RECEIVERS SIZE WARMUP_MS DURATION_MS',
    );
  }
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
