/**
 * Channel.batches() and Channel.tryReceive() (issue #15 item 1): ordering, end of input,
 * errors (sticky), backpressure with a bounded queue, and interleaving with receive() /
 * for await. Scripted transport first, then one real loopback exchange.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeEnvelope, SbpType } from '../../src/codec/sbp.js';
import { Channel, type ChannelOptions, type InputAccount } from '../../src/net/channel.js';
import { FRAME_OVERHEAD_BYTES } from '../../src/net/frame-queue.js';
import { Socket } from '../../src/net/socket.js';
import { Loopback } from '../helpers/loopback.js';
import {
  bytewise,
  data,
  eof,
  error,
  pending,
  ScriptedTransport,
  type Step,
  settle,
} from '../helpers/scripted-socket.js';

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

function channelOver(steps: Step[], options: ChannelOptions, readBufferLimit?: number) {
  const transport = new ScriptedTransport(steps);
  const socket = Socket.from(transport, {
    trackLeaks: false,
    ...(readBufferLimit === undefined ? {} : { readBufferLimit }),
  });
  const channel = new Channel(socket, options);
  return { transport, socket, channel };
}

/** Every batch as text, until the end of input (bounded by the script's length). */
async function collectBatches(channel: Channel): Promise<string[][]> {
  const batches: string[][] = [];
  for await (const frames of channel.batches()) {
    batches.push(frames.map(text));
    if (batches.length > 10_000) {
      throw new Error('runaway');
    }
  }
  return batches;
}

const loop = new Loopback();
afterEach(async () => {
  await loop.cleanup();
});

describe('Channel.batches()', () => {
  it('yields every frame queued at that moment as one array, in order, then ends at EOF', async () => {
    const { channel, transport } = channelOver(
      [data('a\nb\nc\n'), pending(), data('d\ne\nf'), pending(), data('\n'), pending(), eof()],
      { framing: 'line' },
    );
    await settle();
    const iterator = channel.batches()[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    expect((first.value as Uint8Array[]).map(text)).toEqual(['a', 'b', 'c']);
    // Nothing queued: the next batch waits for data (parked), then holds d and e.
    const waiting = iterator.next();
    transport.release();
    const second = await waiting;
    expect((second.value as Uint8Array[]).map(text)).toEqual(['d', 'e']);
    await settle();
    transport.release();
    expect(((await iterator.next()).value as Uint8Array[]).map(text)).toEqual(['f']);
    const ending = iterator.next();
    await settle();
    transport.release();
    expect((await ending).done).toBe(true);
    expect((await iterator.next()).done).toBe(true);
  });

  it('never yields an empty batch and loses nothing, whole or byte by byte', async () => {
    const input = 'one\ntwo\n\nthree\nfour\n';
    for (const steps of [[data(input)], bytewise(input)]) {
      const { channel } = channelOver([...steps, eof()], { framing: 'line' });
      const batches = await collectBatches(channel);
      for (const batch of batches) {
        expect(batch.length).toBeGreaterThan(0);
      }
      expect(batches.flat()).toEqual(['one', 'two', '', 'three', 'four']);
    }
  });

  it('yields the complete frames, then throws SB_UNEXPECTED_EOF for a partial one', async () => {
    const { channel } = channelOver([data('x\ny\npart'), eof()], { framing: 'line' });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const frames of channel.batches()) {
          seen.push(...frames.map(text));
        }
      })(),
    ).rejects.toMatchObject({ code: 'SB_UNEXPECTED_EOF' });
    expect(seen).toEqual(['x', 'y']);
  });

  it('throws the sticky FrameError on every later call, and a reset as SB_CONNECTION_RESET', async () => {
    const bad = channelOver([data('x'.repeat(20)), pending()], { framing: 'line', maxFrame: 8 });
    const iterator = bad.channel.batches()[Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toMatchObject({ code: 'SB_FRAME_TOO_LARGE' });
    await expect(iterator.next()).rejects.toMatchObject({ code: 'SB_FRAME_TOO_LARGE' });
    expect(bad.transport.destroyed).toBe(true);

    const reset = channelOver([data('\u0000\u0000\u0000\u0010half'), error('ECONNRESET')], {
      framing: 'length:u32be',
    });
    await expect(collectBatches(reset.channel)).rejects.toMatchObject({
      code: 'SB_CONNECTION_RESET',
    });
  });

  it('bounds the queue: reading pauses while nobody pulls; each batch holds ~maxQueuedInput', async () => {
    const steps = Array.from({ length: 20 }, () => data('0123456789\n'));
    const { channel, transport } = channelOver(
      [...steps, eof()],
      {
        framing: 'line',
        maxQueuedInput: 20,
      },
      11,
    );
    await settle(50);
    expect(channel.queuedFrames).toBe(2);
    expect(transport.paused).toBe(true);
    const leftWhilePaused = transport.remaining;
    expect(leftWhilePaused).toBeGreaterThan(10);
    await settle(50);
    // Still paused: nothing was pulled, nothing more was read.
    expect(transport.remaining).toBe(leftWhilePaused);
    let total = 0;
    let batchCount = 0;
    for await (const frames of channel.batches()) {
      batchCount += 1;
      // The pump stops once the queue holds maxQueuedInput (20) bytes: 2 frames of 10.
      expect(frames.length).toBeGreaterThan(0);
      expect(frames.length).toBeLessThanOrEqual(2);
      for (const frame of frames) {
        expect(text(frame)).toBe('0123456789');
      }
      total += frames.length;
      await settle(2); // a slow consumer
    }
    expect(total).toBe(20);
    expect(batchCount).toBeGreaterThanOrEqual(10);
    expect(transport.pauseCount).toBeGreaterThan(1);
  });

  it('reports an empty queue to the input budget once a batch is taken', async () => {
    const { channel, transport } = channelOver([data('a\nb\nc\n'), pending(), eof()], {
      framing: 'line',
    });
    const reported: number[] = [];
    const account: InputAccount = {
      update: (held) => reported.push(held),
      close: () => reported.push(-1),
    };
    await settle();
    channel.setInputAccount(account);
    // Three 1-byte frames queued: their bytes plus each frame's overhead.
    expect(reported.at(-1)).toBe(3 + 3 * FRAME_OVERHEAD_BYTES);
    const iterator = channel.batches()[Symbol.asyncIterator]();
    expect(((await iterator.next()).value as Uint8Array[]).length).toBe(3);
    expect(reported.at(-1)).toBe(0);
    transport.release();
    expect((await iterator.next()).done).toBe(true);
  });

  it('ends once close() is called (after the queued frames) and rejects after destroy()', async () => {
    const closing = channelOver([data('a\nb\n'), pending()], { framing: 'line' });
    await settle();
    const iterator = closing.channel.batches()[Symbol.asyncIterator]();
    const closed = closing.channel.close();
    expect(((await iterator.next()).value as Uint8Array[]).map(text)).toEqual(['a', 'b']);
    expect((await iterator.next()).done).toBe(true);
    closing.channel.destroy(); // the scripted peer never closes its side
    await closed;

    const destroyed = channelOver([pending()], { framing: 'line' });
    const parked = destroyed.channel.batches()[Symbol.asyncIterator]().next();
    destroyed.channel.destroy();
    await expect(parked).rejects.toMatchObject({ code: 'SB_CONNECTION_CLOSED' });
  });

  it('in sbp mode yields DATA bodies and still answers PING', async () => {
    const wire = Buffer.concat([
      ...encodeEnvelope(SbpType.DATA, 0, Buffer.from('one')),
      ...encodeEnvelope(SbpType.PING, 7, Buffer.from('p')),
      ...encodeEnvelope(SbpType.DATA, 0, Buffer.from('two')),
      ...encodeEnvelope(SbpType.CLOSE, 0, new Uint8Array(0)),
    ]);
    const { channel, transport } = channelOver([data(wire), pending()], { framing: 'sbp' });
    expect((await collectBatches(channel)).flat()).toEqual(['one', 'two']);
    await settle();
    expect(transport.written.length).toBeGreaterThan(0); // the PONG
  });
});

describe('Channel.tryReceive()', () => {
  it('returns queued frames synchronously, undefined when none is queued, null at a clean end', async () => {
    const { channel, transport } = channelOver([pending(), data('a\nb\n'), pending(), eof()], {
      framing: 'line',
    });
    await settle();
    expect(channel.tryReceive()).toBeUndefined();
    transport.release();
    await settle();
    expect(text(channel.tryReceive()!)).toBe('a');
    expect(text(channel.tryReceive()!)).toBe('b');
    expect(channel.tryReceive()).toBeUndefined();
    transport.release();
    await settle();
    expect(channel.tryReceive()).toBeNull();
    expect(channel.tryReceive()).toBeNull();
    expect(await channel.receive()).toBeNull();
  });

  it('after a failure returns the frames queued before it, then throws the same error every time', async () => {
    const { channel } = channelOver([data(`ok\n${'x'.repeat(20)}`), pending()], {
      framing: 'line',
      maxFrame: 8,
    });
    await settle();
    expect(text(channel.tryReceive()!)).toBe('ok');
    let first: unknown;
    try {
      channel.tryReceive();
    } catch (caught) {
      first = caught;
    }
    expect(first).toMatchObject({ code: 'SB_FRAME_TOO_LARGE' });
    expect(() => channel.tryReceive()).toThrow(first as Error);
    await expect(channel.receive()).rejects.toBe(first);
  });

  it('throws a reset, and SB_CONNECTION_CLOSED after destroy(); returns null after close()', async () => {
    const reset = channelOver([data('par'), error('ECONNRESET')], { framing: 'line' });
    await settle();
    expect(() => reset.channel.tryReceive()).toThrow(
      expect.objectContaining({ code: 'SB_CONNECTION_RESET' }),
    );

    const destroyed = channelOver([data('a\n'), pending()], { framing: 'line' });
    await settle();
    destroyed.channel.destroy();
    expect(() => destroyed.channel.tryReceive()).toThrow(
      expect.objectContaining({ code: 'SB_CONNECTION_CLOSED' }),
    );

    const closed = channelOver([data('a\n'), pending()], { framing: 'line' });
    await settle();
    const closing = closed.channel.close();
    expect(text(closed.channel.tryReceive()!)).toBe('a');
    expect(closed.channel.tryReceive()).toBeNull();
    closed.channel.destroy(); // the scripted peer never closes its side
    await closing;
  });

  it('restarts a paused read loop as receive() does', async () => {
    const steps = Array.from({ length: 6 }, () => data('0123456789\n'));
    const { channel, transport } = channelOver(
      [...steps, eof()],
      {
        framing: 'line',
        maxQueuedInput: 20,
      },
      11,
    );
    await settle(50);
    expect(transport.paused).toBe(true);
    let count = 0;
    for (let round = 0; round < 100 && count < 6; round += 1) {
      const frame = channel.tryReceive();
      if (frame === undefined) {
        await settle(2);
      } else if (frame !== null) {
        count += 1;
      }
    }
    expect(count).toBe(6);
    await settle();
    expect(channel.tryReceive()).toBeNull();
  });
});

describe('interleaving batches(), tryReceive(), receive() and for await', () => {
  it('each frame goes to exactly one reader, in order', async () => {
    const lines = Array.from({ length: 40 }, (_, index) => `m${index}`);
    const chunks: Step[] = [];
    for (let index = 0; index < lines.length; index += 4) {
      chunks.push(data(`${lines.slice(index, index + 4).join('\n')}\n`));
    }
    // Each chunk arrives on its own microtask: readers meet 0, 1 or several queued frames.
    const { channel } = channelOver([...chunks, eof()], { framing: 'line' });
    const got: string[] = [];
    const batches = channel.batches()[Symbol.asyncIterator]();
    const iterator = channel[Symbol.asyncIterator]();
    for (let step = 0; step < 200 && got.length < lines.length; step += 1) {
      switch (step % 4) {
        case 0: {
          const next = await batches.next();
          if (next.done !== true) {
            got.push(...next.value.map(text));
          }
          break;
        }
        case 1: {
          const frame = await channel.receive();
          if (frame !== null) {
            got.push(text(frame));
          }
          break;
        }
        case 2: {
          const frame = channel.tryReceive();
          if (frame !== undefined && frame !== null) {
            got.push(text(frame));
          }
          break;
        }
        default: {
          const next = await iterator.next();
          if (next.done !== true) {
            got.push(text(next.value));
          }
        }
      }
    }
    expect(got).toEqual(lines);
    expect((await batches.next()).done).toBe(true);
    expect(channel.tryReceive()).toBeNull();
  });

  it('a batch reader waiting behind a parked receive() gets the frames receive() leaves', async () => {
    const { channel, transport } = channelOver([pending(), data('a\nb\nc\n'), pending(), eof()], {
      framing: 'line',
    });
    await settle();
    const single = channel.receive(); // takes the direct slot
    const batch = channel.batches()[Symbol.asyncIterator]().next(); // waits on the shared signal
    transport.release();
    expect(text((await single)!)).toBe('a');
    expect(((await batch).value as Uint8Array[]).map(text)).toEqual(['b', 'c']);
  });
});

describe('batches() over loopback', () => {
  it('receives 2,000 frames sent in one burst, in order, in fewer batches than frames', async () => {
    const { client, server } = await loop.pair();
    const sender = loop.track(new Channel(client, { framing: 'length:u32be' }));
    const receiver = loop.track(new Channel(server, { framing: 'length:u32be' }));
    const count = 2000;
    for (let index = 0; index < count; index += 1) {
      void sender.send(`frame ${index}`);
    }
    void sender.shutdown();
    const got: string[] = [];
    let batchCount = 0;
    for await (const frames of receiver.batches()) {
      batchCount += 1;
      got.push(...frames.map(text));
    }
    expect(got).toEqual(Array.from({ length: count }, (_, index) => `frame ${index}`));
    expect(batchCount).toBeLessThan(count);
  });
});
