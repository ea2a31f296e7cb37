/**
 * Under a test framework's fake timers (`vi.useFakeTimers()`, which fakes
 * setImmediate; jest's also fakes process.nextTick), bytes still flow: the channel's
 * yields (the read loop's per-turn budget, a queue resumed after a frame-count pause,
 * the batched write flush) are scheduling, not time, and use the real primitives, as
 * node's own streams do. Deadlines still follow the faked clock (clock.ts).
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Channel } from '../../src/net/channel.js';
import { FRAMES_PER_TURN } from '../../src/net/channel-input.js';
import { Loopback } from '../helpers/loopback.js';

const loop = new Loopback();
// Captured before any test fakes them: the watchdog must run on real time.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

afterEach(async () => {
  vi.useRealTimers();
  await loop.cleanup();
});

/** `work`, or a rejection after 5 s of real time (a hang under fake timers fails here). */
async function withinRealSeconds<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = realSetTimeout(() => reject(new Error(`${what}: stalled under fake timers`)), 5000);
  });
  try {
    return await Promise.race([work, watchdog]);
  } finally {
    realClearTimeout(timer);
  }
}

/** A channel on the accepted side and a raw node socket as its peer. */
async function channelWithRawPeer(options: ConstructorParameters<typeof Channel>[1]) {
  const listener = await loop.listen('127.0.0.1:0', { trackLeaks: false });
  const accepting = listener.accept({ timeout: 5000 });
  const address = listener.address;
  if (address.kind !== 'tcp') {
    throw new Error('expected a TCP listener');
  }
  const peer = net.connect({ host: '127.0.0.1', port: address.port });
  peer.on('error', () => {});
  const channel = loop.track(new Channel(loop.track(await accepting), options));
  return { channel, peer, listener };
}

describe('channels under vi.useFakeTimers()', () => {
  it('receive a run of empty frames longer than a turn without advancing timers', async () => {
    const { channel, peer } = await channelWithRawPeer({ framing: 'length:u32be' });
    const count = FRAMES_PER_TURN * 4;
    vi.useFakeTimers();
    peer.write(Buffer.alloc(4 * count));
    const received = withinRealSeconds(
      (async () => {
        let frames = 0;
        while (frames < count) {
          const frame = await channel.receive();
          expect(frame?.length).toBe(0);
          frames += 1;
        }
        return frames;
      })(),
      'receive',
    );
    expect(await received).toBe(count);
    peer.destroy();
  });

  it('resume reading after a frame-count pause, and flush sends, without advancing timers', async () => {
    const { channel, peer } = await channelWithRawPeer({
      framing: 'length:u32be',
      maxQueuedInput: 4096,
    });
    vi.useFakeTimers();
    const count = 20_000;
    peer.write(Buffer.alloc(4 * count));
    const echoed = new Promise<number>((resolve) => {
      let bytes = 0;
      peer.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes >= 4 * count) {
          resolve(bytes);
        }
      });
    });
    const work = (async () => {
      for (let index = 0; index < count; index += 1) {
        const frame = await channel.receive();
        if (frame === null) {
          throw new Error(`ended after ${index} frames`);
        }
        await channel.send(frame);
      }
      return echoed;
    })();
    expect(await withinRealSeconds(work, 'echo')).toBe(4 * count);
    peer.destroy();
  });

  it('flush sends while process.nextTick is faked, as jest fake timers do', async () => {
    const { channel, peer } = await channelWithRawPeer({ framing: 'length:u32be' });
    const echoed = new Promise<Buffer>((resolve) => peer.once('data', resolve));
    // jest's fake process.nextTick queues callbacks until the test runs them; vitest
    // cannot fake it in a child process, so stand in with one that never runs them.
    const faked: unknown[] = [];
    const nextTick = vi.spyOn(process, 'nextTick').mockImplementation((...args: unknown[]) => {
      faked.push(args);
    });
    try {
      await channel.send(Buffer.from('hi'));
      expect(await withinRealSeconds(echoed, 'send')).toEqual(
        Buffer.from([0, 0, 0, 2, 0x68, 0x69]),
      );
    } finally {
      nextTick.mockRestore();
    }
    peer.destroy();
  });

  it('close a listener without advancing timers', async () => {
    const listener = await loop.listen('127.0.0.1:0', { trackLeaks: false });
    vi.useFakeTimers();
    await withinRealSeconds(listener.close(), 'listener.close()');
  });
});
