/**
 * Child process for bench/pingpong.ts: an echo server or a ping-pong client.
 *
 *   server SUBJECT                            listen on 127.0.0.1:0, print READY <port>
 *   client SUBJECT PORT SIZE WARMUP_MS DURATION_MS MAX_ROUNDS
 *                                             one frame out, wait for its echo, repeat;
 *                                             print RESULT {rounds, medianUs, p99Us, ...}
 *
 * Frames are u32be length-prefixed. One round = one frame each way, strictly in turn.
 */
import net from 'node:net';
import { loadLibraryForEveryone } from './library.js';
import { exitWithParent, percentile, reportReady, reportResult } from './proc.js';
import { RawLengthPrefixDecoder } from './raw-length-prefix.js';
import { switchboardEchoServer, switchboardPingClient } from './switchboard-adapter.js';

function rawServer(): void {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    const header = Buffer.allocUnsafe(4);
    const decoder = new RawLengthPrefixDecoder((frame) => {
      header.writeUInt32BE(frame.length, 0);
      // One write per frame: cork so header and body leave in one segment.
      socket.cork();
      socket.write(Buffer.from(header));
      socket.write(Buffer.from(frame));
      socket.uncork();
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    reportReady(typeof address === 'object' && address !== null ? address.port : 0);
  });
}

/** The ping function a client subject provides: send one frame, resolve on its echo. */
export type Ping = () => Promise<void>;

async function rawClient(port: number, size: number): Promise<Ping> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const frame = Buffer.alloc(4 + size, 0x61);
  frame.writeUInt32BE(size, 0);
  let waiting: (() => void) | undefined;
  const decoder = new RawLengthPrefixDecoder(() => {
    const resolve = waiting;
    waiting = undefined;
    resolve?.();
  });
  socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  return () =>
    new Promise<void>((resolve) => {
      waiting = resolve;
      socket.write(frame);
    });
}

async function runClient(
  ping: Ping,
  warmupMs: number,
  durationMs: number,
  maxRounds: number,
): Promise<void> {
  const warmupEnd = performance.now() + warmupMs;
  while (performance.now() < warmupEnd) {
    await ping();
  }
  const samples: number[] = [];
  const end = performance.now() + durationMs;
  let now = performance.now();
  while (now < end && samples.length < maxRounds) {
    const started = now;
    await ping();
    now = performance.now();
    samples.push((now - started) * 1000);
  }
  samples.sort((a, b) => a - b);
  reportResult({
    rounds: samples.length,
    medianUs: percentile(samples, 50),
    p99Us: percentile(samples, 99),
    minUs: samples[0],
  });
  process.exit(0);
}

exitWithParent();
// Every subject in a process of the same heap (see loadLibraryForEveryone).
await loadLibraryForEveryone();

const [role, subject, ...rest] = process.argv.slice(2);
try {
  if (role === 'server') {
    if (subject === 'raw') {
      rawServer();
    } else if (subject === 'switchboard') {
      reportReady(await switchboardEchoServer());
    } else {
      throw new Error(`unknown server ${subject}`);
    }
  } else if (role === 'client') {
    const [portText, sizeText, warmupText, durationText, maxRoundsText] = rest;
    const port = Number(portText);
    const size = Number(sizeText);
    let ping: Ping;
    if (subject === 'raw') {
      ping = await rawClient(port, size);
    } else if (subject === 'switchboard') {
      ping = await switchboardPingClient(port, size);
    } else {
      throw new Error(`unknown client ${subject}`);
    }
    await runClient(ping, Number(warmupText), Number(durationText), Number(maxRoundsText));
  } else {
    throw new Error('usage: pingpong-child.ts server|client SUBJECT ...');
  }
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
