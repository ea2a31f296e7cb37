/**
 * Child process for bench/throughput.ts: one side of a one-way stream.
 *
 *   recv SUBJECT SIZE WARMUP_MS DURATION_MS   listen on 127.0.0.1:0, print READY <port>,
 *                                             decode with SUBJECT, print RESULT, exit
 *   send MODE SIZE PORT                       connect and write frames until the peer goes
 *
 * The receiver counts frames between two timer ticks (after a warm-up), so the hot
 * path carries no clock reads: the count is a plain integer increment per frame.
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import type { Transform } from 'node:stream';
import { loadLibraryForEveryone } from './library.js';
import { exitWithParent, reportReady, reportResult } from './proc.js';
import {
  encodeFramesU32,
  encodeFramesVarint,
  RawFrameIterator,
  RawFrameWriter,
  RawLengthPrefixDecoder,
} from './raw-length-prefix.js';
import {
  switchboardBatchReceiver,
  switchboardReceiver,
  switchboardSender,
} from './switchboard-adapter.js';

const require = createRequire(import.meta.url);

let frames = 0;
let bytes = 0;
/** Starts the measurement clock at the first frame; cleared after one call. */
let onFirstFrame: (() => void) | undefined;

function countFrame(length: number): void {
  frames += 1;
  bytes += length;
  if (onFirstFrame !== undefined) {
    const start = onFirstFrame;
    onFirstFrame = undefined;
    start();
  }
}

type Receiver = (socket: net.Socket, size: number) => void | Promise<void>;

const RECEIVERS: Record<string, Receiver> = {
  raw: (socket) => {
    const decoder = new RawLengthPrefixDecoder(
      (frame) => countFrame(frame.length),
      64 * 1024 * 1024,
    );
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  },
  'raw-for-await': async (socket) => {
    const frames = new RawFrameIterator();
    const decoder = new RawLengthPrefixDecoder(frames.push, 64 * 1024 * 1024);
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    for await (const frame of frames) {
      countFrame(frame.length);
    }
  },
  'raw-bulk': (socket, size) => {
    // Bulk TCP has no frames: count bytes, and "frames" as bytes / size for comparison.
    let carried = 0;
    socket.on('data', (chunk: Buffer) => {
      carried += chunk.length;
      while (carried >= size) {
        carried -= size;
        countFrame(size);
      }
    });
  },
  'it-length-prefixed': async (socket) => {
    const { decode } = await import('it-length-prefixed');
    for await (const frame of decode(socket, { maxDataLength: 64 * 1024 * 1024 })) {
      // it-length-prefixed yields a Uint8ArrayList (a list of views); subarray() makes it
      // the contiguous bytes the other subjects hand out (a copy only when it spans chunks).
      countFrame(frame.subarray().length);
    }
  },
  'length-prefixed-stream': (socket) => {
    const lps = require('length-prefixed-stream') as { decode(): Transform };
    socket.pipe(lps.decode()).on('data', (frame: Buffer) => countFrame(frame.length));
  },
  'frame-stream': (socket) => {
    const frameStream = require('frame-stream') as { decode(options?: object): Transform };
    socket
      .pipe(frameStream.decode({ maxSize: 64 * 1024 * 1024 }))
      .on('data', (frame: Buffer) => countFrame(frame.length));
  },
  switchboard: async (socket) => {
    await switchboardReceiver(socket, countFrame);
  },
  'switchboard-batches': async (socket) => {
    await switchboardBatchReceiver(socket, countFrame);
  },
};

function drain(writable: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => writable.once('drain', resolve));
}

type Sender = (socket: net.Socket, payload: Buffer) => Promise<void>;

/** Writes a pre-encoded buffer as fast as the socket takes it. */
function blast(block: Buffer): Sender {
  return async (socket) => {
    for (;;) {
      if (!socket.write(block)) {
        await drain(socket);
      }
    }
  };
}

const SENDERS: Record<string, (payload: Buffer) => Sender> = {
  'blast-u32': (payload) =>
    blast(encodeFramesU32(payload, Math.max(4, Math.ceil((256 * 1024) / (payload.length + 4))))),
  'blast-varint': (payload) =>
    blast(encodeFramesVarint(payload, Math.max(4, Math.ceil((256 * 1024) / (payload.length + 4))))),
  bulk: (payload) => blast(payload),
  raw: () => async (socket, payload) => {
    const writer = new RawFrameWriter(socket);
    for (;;) {
      if (!writer.send(payload)) {
        await drain(socket);
      }
    }
  },
  'it-length-prefixed': () => async (socket, payload) => {
    const { encode } = await import('it-length-prefixed');
    for (;;) {
      if (!socket.write(encode.single(payload).subarray())) {
        await drain(socket);
      }
    }
  },
  'length-prefixed-stream': () => async (socket, payload) => {
    const lps = require('length-prefixed-stream') as { encode(): Transform };
    const encoder = lps.encode();
    encoder.pipe(socket);
    for (;;) {
      if (!encoder.write(payload)) {
        await drain(encoder);
      }
    }
  },
  'frame-stream': () => async (socket, payload) => {
    const frameStream = require('frame-stream') as { encode(): Transform };
    const encoder = frameStream.encode();
    encoder.pipe(socket);
    for (;;) {
      if (!encoder.write(payload)) {
        await drain(encoder);
      }
    }
  },
  switchboard: () => async (socket, payload) => {
    await switchboardSender(socket, payload);
  },
};

async function receive(
  subject: string,
  size: number,
  warmupMs: number,
  durationMs: number,
): Promise<void> {
  const receiver = RECEIVERS[subject];
  if (receiver === undefined) {
    throw new Error(`unknown receiver ${subject}`);
  }
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let startFrames = 0;
    let startBytes = 0;
    let startedAt = 0;
    // Timing starts at the first frame plus the warm-up, and ends DURATION_MS later. (No
    // extra 'data' listener here: it would steal chunks from async-iterator receivers.)
    onFirstFrame = () => {
      setTimeout(() => {
        startFrames = frames;
        startBytes = bytes;
        startedAt = performance.now();
        const cpuAtStart = process.cpuUsage();
        setTimeout(() => {
          const ms = performance.now() - startedAt;
          // The receiver's own CPU time (user + system): shows whether it was the
          // bottleneck (≈ ms) and what a frame costs it, which other load on the
          // machine disturbs far less than the rate does.
          const cpu = process.cpuUsage(cpuAtStart);
          const cpuMs = (cpu.user + cpu.system) / 1000;
          reportResult({ frames: frames - startFrames, bytes: bytes - startBytes, ms, cpuMs });
          process.exit(0);
        }, durationMs);
      }, warmupMs);
    };
    Promise.resolve(receiver(socket, size)).catch((error: unknown) => {
      process.stderr.write(
        `receiver failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exit(1);
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    reportReady(typeof address === 'object' && address !== null ? address.port : 0);
  });
}

async function send(mode: string, size: number, port: number): Promise<void> {
  const factory = SENDERS[mode];
  if (factory === undefined) {
    throw new Error(`unknown sender ${mode}`);
  }
  const payload = Buffer.alloc(size, 0x61);
  const sender = factory(payload);
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  // The receiver exits when it has its figures; that ends the sender too.
  socket.on('error', () => process.exit(0));
  socket.on('close', () => process.exit(0));
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  await sender(socket, payload);
}

exitWithParent();
// Every subject in a process of the same heap (see loadLibraryForEveryone).
await loadLibraryForEveryone();

const [role, name, sizeText, ...rest] = process.argv.slice(2);
const size = Number(sizeText);
try {
  if (role === 'recv') {
    await receive(name!, size, Number(rest[0]), Number(rest[1]));
  } else if (role === 'send') {
    await send(name!, size, Number(rest[0]));
  } else {
    throw new Error('usage: throughput-child.ts recv|send ...');
  }
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
