/**
 * Fairness under floods of tiny frames. A 64 KiB read of empty `length:u32` frames
 * (4-byte headers of 0) is 16 Ki frames, and the server decoded and handled a read's
 * worth (up to the queue's frame bound, 16 Ki) for one connection before any other
 * connection, timer or IPC message ran: with a hundred such peers the event loop
 * lagged ~0.4 s, a well-behaved client waited seconds for one echo, and a `processes`
 * worker missed its heartbeats and was killed with every good connection on it. The
 * read loop now yields to the event loop after FRAMES_PER_TURN frames
 * (net/channel-input.ts).
 *
 * Count-based, no timing: how many flood frames are handled between two event-loop
 * turns (a setImmediate probe, in the process that handles them), and how many were
 * handled between the flooder's first answer and a good client's. Every wait is an
 * event or a bounded loop; loopback on port 0.
 */
import type * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FRAMES_PER_TURN } from '../../src/net/channel-input.js';
import { Tracker } from '../server/helpers.js';

const tracker = new Tracker();
afterEach(async () => {
  await tracker.cleanup();
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
});
