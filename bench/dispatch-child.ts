/**
 * Child process for bench/dispatch.ts.
 *
 *   server raw|loop|threads|processes     start a u32be echo server, print READY <port>
 *   load PORT CONNECTIONS DEPTH SIZE WARMUP_MS DURATION_MS
 *                                         keep DEPTH frames in flight on each connection,
 *                                         count echoes in the window, print RESULT
 */
import net from 'node:net';
import { exitWithParent, reportReady, reportResult } from './proc.js';
import { RawLengthPrefixDecoder } from './raw-length-prefix.js';
import { switchboardDispatchServer } from './switchboard-adapter.js';

async function rawServer(): Promise<number> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    const decoder = new RawLengthPrefixDecoder((frame) => {
      const out = Buffer.allocUnsafe(4 + frame.length);
      out.writeUInt32BE(frame.length, 0);
      out.set(frame, 4);
      socket.write(out);
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  });
  await new Promise<void>((resolve) =>
    server.listen({ host: '127.0.0.1', port: 0, backlog: 1024 }, resolve),
  );
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

async function load(
  port: number,
  connections: number,
  depth: number,
  size: number,
  warmupMs: number,
  durationMs: number,
): Promise<void> {
  const frame = Buffer.alloc(4 + size, 0x61);
  frame.writeUInt32BE(size, 0);
  let echoes = 0;
  const sockets: net.Socket[] = [];
  await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<void>((resolve, reject) => {
          const socket = net.connect({ host: '127.0.0.1', port });
          socket.setNoDelay(true);
          socket.once('error', reject);
          socket.once('connect', () => {
            sockets.push(socket);
            resolve();
          });
        }),
    ),
  );
  for (const socket of sockets) {
    socket.on('error', (error) => {
      process.stderr.write(`load: ${error.message}\n`);
      process.exit(1);
    });
    // Each echo sends the next frame: DEPTH frames stay in flight per connection.
    const decoder = new RawLengthPrefixDecoder(() => {
      echoes += 1;
      socket.write(frame);
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    for (let index = 0; index < depth; index += 1) {
      socket.write(frame);
    }
  }
  await new Promise((resolve) => setTimeout(resolve, warmupMs));
  const startEchoes = echoes;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  reportResult({ msgs: echoes - startEchoes, ms: performance.now() - started });
  process.exit(0);
}

exitWithParent();

const [role, ...rest] = process.argv.slice(2);
try {
  if (role === 'server') {
    const mode = rest[0]!;
    reportReady(mode === 'raw' ? await rawServer() : await switchboardDispatchServer(mode));
  } else if (role === 'load') {
    const [port, connections, depth, size, warmupMs, durationMs] = rest.map(Number);
    await load(port!, connections!, depth!, size!, warmupMs!, durationMs!);
  } else {
    throw new Error(
      'usage: dispatch-child.ts server MODE | load PORT CONNECTIONS DEPTH SIZE WARMUP_MS DURATION_MS',
    );
  }
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
