/**
 * Fairness under floods of tiny frames. A 64 KiB read of empty `length:u32` frames
 * (4-byte headers of 0) is 16 Ki frames, and the server decoded and handled a read's
 * worth (up to the queue's frame bound, 16 Ki) for one connection before any other
 * connection, timer or IPC message ran: with a hundred such peers the event loop
 * lagged ~0.4 s, a well-behaved client waited seconds for one echo, and a `processes`
 * worker missed its heartbeats and was killed with every good connection on it. The
 * read loop now yields to the event loop after FRAMES_PER_TURN frames
 * (net/channel-input.ts). Under `threads` the wait was in the pool too (each flooder
 * kept 64 frames ahead of a good client's); busy connections now share
 * POOL_FRAMES_PER_WORKER (dispatch/threads.ts).
 *
 * Count-based, no timing: how many flood frames are handled between two event-loop
 * turns (a setImmediate probe, in the process that handles them), and how many were
 * handled between the flooder's first answer and a good client's, and how many
 * frames the pool holds at once. Every wait is an event or a bounded loop; loopback
 * on port 0.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseFraming } from '../../src/codec/spec.js';
import { FRAMES_PER_TURN } from '../../src/net/channel-input.js';
import { ConnectionSet } from '../../src/server/connection-set.js';
import {
  MAX_FRAMES_IN_FLIGHT,
  POOL_FRAMES_PER_WORKER,
  poolBody,
  ThreadPool,
} from '../../src/server/dispatch/threads.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { Tracker } from '../server/helpers.js';

const tracker = new Tracker();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await tracker.cleanup();
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

const HANDLER = new URL('./fixtures/turn-counting-handler.ts', import.meta.url).pathname;
const FRAME_HANDLER = new URL('./fixtures/turn-counting-frame-handler.ts', import.meta.url)
  .pathname;

/** One `length:u32` frame. */
function frame(text: string): Buffer {
  const body = Buffer.from(text);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

/** `start`, then `count` empty frames, then `end`: one write. */
function floodBytes(count: number): Buffer {
  return Buffer.concat([frame('start'), Buffer.alloc(4 * count), frame('end')]);
}

/** The `length:u32` replies on a raw socket, and a promise for the n-th (1-based). */
function replies(socket: net.Socket): { nth(n: number): Promise<string> } {
  const received: string[] = [];
  const waiters = new Map<number, (text: string) => void>();
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
      const length = pending.readUInt32BE(0);
      received.push(pending.subarray(4, 4 + length).toString());
      pending = pending.subarray(4 + length);
      waiters.get(received.length)?.(received.at(-1)!);
    }
  });
  return {
    nth: (n) =>
      n <= received.length
        ? Promise.resolve(received[n - 1]!)
        : new Promise((resolve) => waiters.set(n, resolve)),
  };
}

interface Counts {
  flood: number;
  maxPerTurn: number;
}

describe('a flood of empty frames', () => {
  // 1 Mi empty frames: 64 reads' worth, each 16 Ki frames, 16 times FRAMES_PER_TURN.
  const FLOOD = 1024 * 1024;

  for (const dispatch of ['loop', 'processes'] as const) {
    it(`${dispatch}: the flooder's frames are handled at most a few turns' budget per event-loop turn`, async () => {
      const server = await tracker.server({
        listen: '127.0.0.1:0',
        framing: 'length:u32',
        handler: HANDLER,
        dispatch,
        workers: 1,
      });
      const good = await tracker.channel(server.address, 'length:u32');
      const flooder = await tracker.socket(server.address);
      const answers = replies(flooder);
      flooder.write(floodBytes(FLOOD));
      // Event-driven, not polled: the good client asks as soon as the flooder's first
      // answer arrives, while the flood is being handled.
      const start = JSON.parse(await answers.nth(1)) as Counts;
      await good.send('ping');
      const answer = await good.receive();
      expect(answer).not.toBeNull();
      const goodCounts = JSON.parse(new TextDecoder().decode(answer!)) as Counts;
      const end = JSON.parse(await answers.nth(2)) as Counts;
      // Every flood frame was handled, none lost to the yields.
      expect(end.flood - start.flood).toBe(FLOOD);
      // Before: a read's 16 Ki frames in one go (maxPerTurn 16384).
      expect(end.maxPerTurn).toBeLessThanOrEqual(4 * FRAMES_PER_TURN);
      if (dispatch === 'loop') {
        // Same process, so turns are comparable: the good client's one round trip
        // took a few turns, during which the flooder had a few turns' budget (before:
        // the flooder's first read alone was 16 Ki frames).
        expect(goodCounts.flood - start.flood).toBeLessThan(8 * FRAMES_PER_TURN);
      }
      expect(server.metrics.errors).toEqual({});
    });
  }

  it("threads: the main thread decodes at most a few turns' budget of them per event-loop turn", async () => {
    // 64 Ki frames: every one is a job in the pool.
    const flood = 64 * 1024;
    const server = await tracker.server({
      listen: '127.0.0.1:0',
      framing: 'length:u32',
      handler: FRAME_HANDLER,
      dispatch: 'threads',
      workers: 1,
    });
    const good = await tracker.channel(server.address, 'length:u32');
    const flooder = await tracker.socket(server.address);
    const answers = replies(flooder);
    // Frames decoded on the main thread (this process) between two turns of its loop.
    let done = false;
    let maxPerTurn = 0;
    const probe = (async () => {
      let last = server.metrics.framesIn;
      for (let turn = 0; turn < 10_000_000 && !done; turn++) {
        await new Promise((resolve) => setImmediate(resolve));
        const now = server.metrics.framesIn;
        maxPerTurn = Math.max(maxPerTurn, now - last);
        last = now;
      }
    })();
    flooder.write(floodBytes(flood));
    const start = Number(await answers.nth(1));
    await good.send('ping');
    const answer = await good.receive();
    expect(answer).not.toBeNull();
    const end = Number(await answers.nth(2));
    done = true;
    await probe;
    expect(end - start).toBe(flood);
    // Before: a read's 16 Ki frames in one turn.
    expect(maxPerTurn).toBeGreaterThan(0);
    expect(maxPerTurn).toBeLessThanOrEqual(4 * FRAMES_PER_TURN);
  });

  it('threads: the pool holds a share of POOL_FRAMES_PER_WORKER per flooder, not 64 each', async () => {
    // A worker takes its jobs in order: every frame in the pool is one a newcomer's
    // frame waits behind. Before, each of 32 flooders kept MAX_FRAMES_IN_FLIGHT (64)
    // there: 2,048 at once. Now each busy connection may add frames only up to its share
    // (POOL_FRAMES_PER_WORKER / busy connections). What it took under a larger share it
    // keeps, so the pool may hold more than 256, but at most the sum below: sort the
    // connections holding frames by their last submission; the k-th one was submitted
    // while the k - 1 before it were busy already, under a share of at most 256 / k.
    // For 32 connections that is 751.
    const flooders = 32;
    const perFlooder = 4 * 1024;
    const pool = await ThreadPool.start(1, { module: FRAME_HANDLER });
    cleanups.push(() => pool.close());
    const metrics = new ServerMetrics();
    const set = new ConnectionSet(
      {
        serverId: 1,
        framing: parseFraming('length:u32'),
        limits: {
          idleTimeout: 0,
          frameTimeout: 0,
          writeTimeout: 30_000,
          maxQueuedOutput: 1 << 20,
          maxBufferedInputTotal: Number.POSITIVE_INFINITY,
          maxBufferedOutputTotal: Number.POSITIVE_INFINITY,
        },
        tls: null,
        metrics,
      },
      poolBody(pool, metrics),
    );
    let nextId = 0;
    const listener = net.createServer((raw) => {
      raw.on('error', () => undefined);
      nextId += 1;
      set.serveWith(raw, nextId, null, () => undefined, '');
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      await set.destroyAll(new Error('test over') as never);
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    });
    const { port } = listener.address() as net.AddressInfo;
    const sockets = await Promise.all(
      Array.from({ length: flooders }, () => tracker.socket(`tcp://127.0.0.1:${port}`)),
    );
    for (const socket of sockets) {
      socket.write(Buffer.alloc(4 * perFlooder));
    }
    let maxPending = 0;
    let maxBusy = 0;
    const total = flooders * perFlooder;
    for (let turn = 0; turn < 10_000_000; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      maxPending = Math.max(maxPending, pool.pending);
      maxBusy = Math.max(maxBusy, pool.busyConnections);
      if (set.liveStats().framesIn === total && pool.pending === 0) {
        break;
      }
    }
    expect(set.liveStats().framesIn).toBe(total);
    expect(pool.busyConnections).toBe(0);
    // The flood did overlap (else the bound below would say nothing).
    expect(maxBusy).toBeGreaterThan(POOL_FRAMES_PER_WORKER / MAX_FRAMES_IN_FLIGHT);
    let bound = 0;
    for (let k = 1; k <= flooders; k++) {
      bound += Math.min(MAX_FRAMES_IN_FLIGHT, Math.floor(POOL_FRAMES_PER_WORKER / k));
    }
    expect(maxPending).toBeGreaterThan(0);
    expect(maxPending).toBeLessThanOrEqual(bound);
  });

  it('threads: the share is 64 for up to 4 busy connections per worker, then 256 / busy, at least 1', async () => {
    const pool = await ThreadPool.start(2, { builtin: 'discard' });
    cleanups.push(() => pool.close());
    const limits: number[] = [];
    for (const busy of [0, 1, 8, 9, 100, 600]) {
      while (pool.busyConnections < busy) {
        pool.connectionBusy(1);
      }
      limits.push(pool.frameLimit());
    }
    expect(limits).toEqual([64, 64, 64, 56, 5, 1]);
    while (pool.busyConnections > 0) {
      pool.connectionBusy(-1);
    }
  });
});
