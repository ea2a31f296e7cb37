/**
 * Zero-byte frames (varint 0x00, an empty line, length 0) cost a frame object each but
 * no payload bytes, and the inbound queue was bounded in payload bytes only: a peer that
 * sent 1 MiB of 0x00 to a varint server whose handler was busy queued 1,048,576 frames
 * (~58 MB of heap) on that one connection, and the server's input budget counted 0 of
 * it; about 30 such connections exhausted the heap. The queue now also stops at a frame
 * count derived from its byte limit (maxQueuedInput / 64, at least 1024), and each
 * queued frame counts 64 bytes in the server's input budget.
 * Loopback, event-driven: the waits are bounded loops of event-loop turns, no sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Channel, openChannel } from '../../src/net/channel.js';
import { FRAMES_PER_TURN } from '../../src/net/channel-input.js';
import { FRAME_OVERHEAD_BYTES } from '../../src/net/frame-queue.js';
import { Socket } from '../../src/net/socket.js';
import { DEFAULTS } from '../../src/options.js';
import { Loopback } from '../helpers/loopback.js';
import { data, eof, ScriptedTransport } from '../helpers/scripted-socket.js';

const loop = new Loopback();
afterEach(async () => {
  await loop.cleanup();
});

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** 256 Ki zero-byte frames: 16 times the bound at the default maxQueuedInput (1 MiB). */
const INPUT = 256 * 1024;

describe('a peer sending only zero-byte frames', () => {
  for (const [framing, byte] of [
    ['varint', 0x00],
    ['line', 0x0a],
  ] as const) {
    it(`${framing}: an unread channel queues a bounded number of them`, async () => {
      const port = await loop.rawServer((socket) => {
        socket.on('error', () => undefined);
        socket.write(Buffer.alloc(INPUT, byte));
      });
      const channel = loop.track(
        await openChannel(`127.0.0.1:${port}`, { framing, trackLeaks: false }),
      );
      // Bounded: until the pump has stopped growing the queue for 20 turns in a row.
      let last = -1;
      let still = 0;
      for (let index = 0; index < 10_000 && still < 20; index++) {
        await turn();
        still = channel.queuedFrames === last && last > 0 ? still + 1 : 0;
        last = channel.queuedFrames;
      }
      const maxFrames = Math.max(1024, Math.ceil(DEFAULTS.readBufferLimit / FRAME_OVERHEAD_BYTES));
      expect(channel.queuedFrames).toBeGreaterThan(0);
      expect(channel.queuedFrames).toBeLessThanOrEqual(maxFrames);
      // And every frame still arrives once read.
      let received = 0;
      let nonEmpty = 0;
      for await (const frames of channel.batches()) {
        for (const frame of frames) {
          nonEmpty += frame.length === 0 ? 0 : 1;
        }
        received += frames.length;
        if (received >= INPUT) {
          break;
        }
      }
      expect(received).toBe(INPUT);
      expect(nonEmpty).toBe(0);
    });
  }

  // A reader taking queued frames back to back runs in one microtask chain; the queue
  // refilled from inside it, so a peer's 256 Ki empty frames were decoded and handled
  // without the event loop getting a turn (~0.5 s per MiB: every other connection,
  // timer and accept waited). A queue paused on its frame count now refills from
  // setImmediate.
  it('a reader draining a stream of empty frames lets the event loop turn in between', async () => {
    const transport = new ScriptedTransport([data(new Uint8Array(INPUT)), eof()]);
    const socket = Socket.from(transport, { trackLeaks: false, readBufferLimit: 2 * INPUT });
    const channel = new Channel(socket, { framing: 'varint' });
    let takenWhenTurned = -1;
    let taken = 0;
    setImmediate(() => {
      takenWhenTurned = taken;
    });
    for (;;) {
      const frame = channel.tryReceive() ?? (await channel.receive());
      if (frame === null) {
        break;
      }
      taken += 1;
    }
    expect(taken).toBe(INPUT);
    expect(takenWhenTurned).toBeGreaterThanOrEqual(0);
    expect(takenWhenTurned).toBeLessThan(INPUT);
    channel.destroy();
  });

  // One read of 4 Ki + 5 empty frames was decoded whole in one go, before any other
  // callback of that event-loop turn (flood-fairness.test.ts has the server's view).
  it('the read loop takes at most FRAMES_PER_TURN of them per event-loop turn', async () => {
    const total = 4 * FRAMES_PER_TURN + 5;
    const transport = new ScriptedTransport([data(new Uint8Array(total))]);
    const socket = Socket.from(transport, { trackLeaks: false });
    const channel = new Channel(socket, { framing: 'varint' });
    const queued: number[] = [];
    for (let index = 0; index < 20 && queued.at(-1) !== total; index++) {
      await turn();
      queued.push(channel.queuedFrames);
    }
    expect(queued).toEqual([1, 2, 3, 4].map((n) => n * FRAMES_PER_TURN).concat(total));
    channel.destroy();
  });
});
