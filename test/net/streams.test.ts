/**
 * node:stream Transforms (decodeTransform/encodeTransform) and Channel web streams
 * (channel.readable/writable) (#17): pipeline() through the transforms and between two
 * Channels on loopback, codes on errors, and backpressure observed as counts (reads of
 * the source), never as timing.
 */
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { UnexpectedEofError } from '../../src/errors.js';
import { Channel } from '../../src/net/channel.js';
import { decodeTransform, encodeTransform } from '../../src/net/node-streams.js';
import { Loopback } from '../helpers/loopback.js';

const loop = new Loopback();
afterEach(() => loop.cleanup());
const dir = mkdtempSync(join(tmpdir(), 'sb-node-streams-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Collects what a pipeline writes. */
function sink(objectMode: boolean): { stream: Writable; items: Buffer[] } {
  const items: Buffer[] = [];
  const stream = new Writable({
    objectMode,
    write(chunk: Buffer, _encoding, callback) {
      items.push(Buffer.from(chunk));
      callback();
    },
  });
  return { stream, items };
}

async function turns(count = 20): Promise<void> {
  for (let turn = 0; turn < count; turn++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('decodeTransform / encodeTransform', () => {
  it('pipeline(): a file of lines re-framed as length:u16be and back', async () => {
    const lines = Array.from(
      { length: 200 },
      (_, index) => `line ${index} ${'x'.repeat(index % 37)}`,
    );
    const file = join(dir, 'lines.txt');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const wire = sink(false);
    await pipeline(
      createReadStream(file, { highWaterMark: 11 }),
      decodeTransform('line'),
      encodeTransform('length:u16be'),
      wire.stream,
    );
    const frames = sink(true);
    await pipeline(Readable.from(wire.items), decodeTransform('length:u16be'), frames.stream);
    expect(frames.items.map((frame) => frame.toString())).toEqual(lines);
    expect(Buffer.isBuffer(frames.items[0])).toBe(true);
  });

  it('a partial frame at the end rejects pipeline() with SB_UNEXPECTED_EOF', async () => {
    const frames = sink(true);
    const outcome = pipeline(
      Readable.from([Buffer.from([0x00, 0x01, 0x61, 0x00, 0x09])]),
      decodeTransform('length:u16be'),
      frames.stream,
    );
    await expect(outcome).rejects.toBeInstanceOf(UnexpectedEofError);
    await expect(outcome).rejects.toMatchObject({ code: 'SB_UNEXPECTED_EOF' });
    expect(frames.items.map(String)).toEqual(['a']);
  });

  it('a frame over maxFrame is SB_FRAME_TOO_LARGE; a refused payload SB_PAYLOAD_TOO_LARGE', async () => {
    await expect(
      pipeline(
        Readable.from([Buffer.from('a very long line\n')]),
        decodeTransform('line', { maxFrame: 4 }),
        sink(true).stream,
      ),
    ).rejects.toMatchObject({ code: 'SB_FRAME_TOO_LARGE' });
    await expect(
      pipeline(
        Readable.from([Buffer.alloc(300)]),
        encodeTransform('length:u8'),
        sink(false).stream,
      ),
    ).rejects.toMatchObject({ code: 'SB_PAYLOAD_TOO_LARGE' });
  });

  it('a consumer that does not read pauses the source once the high-water marks fill', async () => {
    let reads = 0;
    const total = 20_000; // 60 kB of 3-byte frames: well past every buffer
    const source = new Readable({
      highWaterMark: 16,
      read() {
        reads += 1;
        this.push(reads <= total ? Buffer.from('ab\n') : null);
      },
    });
    const transform = decodeTransform('line', { frameHighWaterMark: 8 });
    const frames = source.pipe(transform);
    await turns();
    const stalled = reads;
    await turns();
    expect(reads).toBe(stalled);
    // Bounded by the buffers on the way (the byte side's 16 KiB high-water mark, the
    // source's, 8 frames), not by the input size.
    const bound = transform.writableHighWaterMark + source.readableHighWaterMark + 8 * 3 + 2 * 3;
    expect(stalled * 3).toBeLessThanOrEqual(bound);
    let taken = 0;
    for await (const frame of frames) {
      expect(String(frame)).toBe('ab');
      taken += 1;
    }
    expect(taken).toBe(total);
  });
});

describe('Channel web streams on loopback', () => {
  /** Two loopback connections: a (client) -> a.server, b.client -> b (server). */
  async function twoPairs(framing: 'length:u32be' | 'sbp') {
    const first = await loop.pair();
    const second = await loop.pair();
    return {
      senderSide: loop.track(new Channel(first.client, { framing })),
      relayIn: loop.track(new Channel(first.server, { framing })),
      relayOut: loop.track(new Channel(second.client, { framing })),
      receiverSide: loop.track(new Channel(second.server, { framing })),
    };
  }

  const RELAYS = {
    // node's pipeline(); @types/node 20 types no web-stream destination, so the web
    // streams are adapted (object mode keeps one message per chunk).
    'stream.pipeline': (from: Channel, to: Channel) =>
      pipeline(
        Readable.fromWeb(from.readable, { objectMode: true }),
        Writable.fromWeb(to.writable, { objectMode: true }),
      ),
    pipeTo: (from: Channel, to: Channel) => from.readable.pipeTo(to.writable),
  };
  for (const framing of ['length:u32be', 'sbp'] as const) {
    for (const [how, relay] of Object.entries(RELAYS)) {
      it(`${how} relays every message from one Channel into another (${framing})`, async () => {
        const { senderSide, relayIn, relayOut, receiverSide } = await twoPairs(framing);
        const relaying = relay(relayIn, relayOut);
        const messages = Array.from({ length: 300 }, (_, index) => `message ${index}`);
        const writer = senderSide.writable.getWriter();
        for (const message of messages) {
          await writer.write(message);
        }
        await writer.close();
        const received: string[] = [];
        for await (const message of receiverSide.readable) {
          received.push(Buffer.from(message).toString());
        }
        await relaying;
        expect(received).toEqual(messages);
      });
    }
  }

  it('readable errors with the channel error code; a partial frame is SB_UNEXPECTED_EOF', async () => {
    const { client, server } = await loop.pair();
    const channel = loop.track(new Channel(server, { framing: 'length:u16be' }));
    await client.sendAll(Uint8Array.of(0x00, 0x01, 0x61, 0x00, 0x05, 0x62));
    await client.shutdown();
    const reader = channel.readable.getReader();
    expect(Buffer.from((await reader.read()).value ?? []).toString()).toBe('a');
    await expect(reader.read()).rejects.toMatchObject({ code: 'SB_UNEXPECTED_EOF' });
  });

  it('the same stream object each time; cancel() closes the channel', async () => {
    const { client, server } = await loop.pair();
    const channel = loop.track(new Channel(server, { framing: 'line' }));
    expect(channel.readable).toBe(channel.readable);
    expect(channel.writable).toBe(channel.writable);
    const cancelling = channel.readable.cancel();
    // The channel shut down its side: the peer reads EOF, then closes too.
    expect(await client.recv(10, { timeout: 5000 })).toHaveLength(0);
    await client.close();
    await cancelling;
    await expect(channel.closed).resolves.toBeUndefined();
  });

  // writable.abort() is the local caller giving up: SB_ABORTED (the reason kept as
  // cause), as an aborted call reports, not SB_NETWORK_ERROR (nothing failed on the wire).
  for (const reason of [new Error('gave up'), 'gave up', undefined]) {
    it(`writable.abort(${typeof reason}) fails the channel with SB_ABORTED, the reason as cause`, async () => {
      const { client, server } = await loop.pair();
      const channel = loop.track(new Channel(server, { framing: 'line' }));
      const closed = channel.closed;
      await channel.writable.abort(reason);
      const receiving = await channel.receive().catch((error: unknown) => error);
      expect(receiving).toMatchObject({ code: 'SB_ABORTED' });
      expect((receiving as Error).cause).toBe(reason);
      const sending = await channel.send('late').catch((error: unknown) => error);
      expect(sending).toMatchObject({ code: 'SB_ABORTED' });
      expect(await closed).toMatchObject({ code: 'SB_ABORTED' });
      // The peer sees the connection go (destroyed, not half-closed).
      expect(await client.recv(10, { timeout: 5000 }).catch(() => new Uint8Array(0))).toHaveLength(
        0,
      );
    });
  }

  it('end to end: an unread readable stops the sender at the channel and socket bounds', async () => {
    const { client, server } = await loop.pair();
    const sender = loop.track(new Channel(client, { framing: 'length:u32be' }));
    const receiver = loop.track(
      new Channel(server, { framing: 'length:u32be', maxQueuedInput: 64 * 1024 }),
    );
    const payload = new Uint8Array(16 * 1024);
    const total = 4096; // 64 MiB offered: far more than every buffer on the way holds.
    let pulled = 0;
    const source = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (pulled === total) {
            controller.close();
            return;
          }
          pulled += 1;
          controller.enqueue(payload);
        },
      },
      { highWaterMark: 0 },
    );
    const piping = source.pipeTo(sender.writable);
    // Wait until the pipe stops moving: the same count over many event-loop turns.
    let previous = -1;
    for (let round = 0; round < 200 && pulled !== previous; round++) {
      previous = pulled;
      await turns(10);
    }
    expect(pulled).toBe(previous);
    expect(pulled).toBeLessThan(total);
    // Drain the receiver through its stream: everything arrives, the pipe completes.
    let received = 0;
    for await (const message of receiver.readable) {
      expect(message.length).toBe(payload.length);
      received += 1;
      if (received === total) {
        break;
      }
    }
    await piping;
    expect(received).toBe(total);
  });
});

describe('PassThrough sanity for the object-mode side', () => {
  it('encodeTransform takes strings in object mode', async () => {
    const out = sink(false);
    await pipeline(
      Readable.from(['a', 'bc']),
      encodeTransform('netstring'),
      new PassThrough(),
      out.stream,
    );
    expect(Buffer.concat(out.items).toString()).toBe('1:a,2:bc,');
  });
});
