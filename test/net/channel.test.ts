import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  encodeEnvelope,
  parseEnvelope,
  SbpDecoder,
  SbpType,
  type SbpTypeCode,
} from '../../src/codec/sbp.js';
import { NEED_DATA } from '../../src/codec/types.js';
import { ConnectionError, TimeoutError, UnexpectedEofError } from '../../src/errors.js';
import { Channel, type ChannelOptions } from '../../src/net/channel.js';
import { Socket } from '../../src/net/socket.js';
import {
  bytewise,
  data,
  eof,
  error,
  pending,
  type ScriptedOptions,
  ScriptedTransport,
  type Step,
  settle,
} from '../helpers/scripted-socket.js';

const text = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : Buffer.from(bytes).toString('utf8');

function channelOver(steps: Step[], options: ChannelOptions, scriptOptions?: ScriptedOptions) {
  const transport = new ScriptedTransport(steps, scriptOptions);
  const socket = Socket.from(transport, { trackLeaks: false });
  const channel = new Channel(socket, options);
  return { transport, socket, channel };
}

function envelope(type: SbpTypeCode, id: number, body: string | Uint8Array = ''): Uint8Array {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  return Buffer.concat(encodeEnvelope(type, id, bytes));
}

/** Decodes every envelope the channel wrote. */
function writtenEnvelopes(transport: ScriptedTransport) {
  const decoder = new SbpDecoder();
  decoder.push(transport.written);
  const result: Array<{ type: number; id: number; body: string }> = [];
  for (let frame = decoder.next(); frame !== NEED_DATA; frame = decoder.next()) {
    const parsed = parseEnvelope(frame);
    result.push({
      type: parsed.type,
      id: parsed.id,
      body: Buffer.from(parsed.body).toString('utf8'),
    });
  }
  return result;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Channel receive', () => {
  it('decodes frames delivered one byte at a time and returns null at a clean EOF', async () => {
    const { channel } = channelOver([...bytewise('alpha\nbeta\n\n'), eof()], { framing: 'line' });
    expect(text(await channel.receive())).toBe('alpha');
    expect(text(await channel.receive())).toBe('beta');
    expect(text(await channel.receive())).toBe('');
    expect(await channel.receive()).toBeNull();
    expect(await channel.receive()).toBeNull();
  });

  it('iterates with for await', async () => {
    const { channel } = channelOver(
      [data('\u0000\u0000\u0000\u0002hi\u0000\u0000\u0000\u0001!'), eof()],
      {
        framing: 'length:u32be',
      },
    );
    const messages: string[] = [];
    for await (const message of channel) {
      messages.push(text(message)!);
    }
    expect(messages).toEqual(['hi', '!']);
  });

  it('reports SB_UNEXPECTED_EOF when the peer shuts down mid-frame', async () => {
    const { channel } = channelOver([data('complete\npart'), eof()], { framing: 'line' });
    expect(text(await channel.receive())).toBe('complete');
    await expect(channel.receive()).rejects.toBeInstanceOf(UnexpectedEofError);
    expect(await channel.closed).toBeInstanceOf(UnexpectedEofError);
  });

  it('turns a reset mid-frame into SB_CONNECTION_RESET, not a hang', async () => {
    const { channel } = channelOver([data('\u0000\u0000\u0000\u0010half'), error('ECONNRESET')], {
      framing: 'length:u32be',
    });
    await expect(channel.receive()).rejects.toMatchObject({ code: 'SB_CONNECTION_RESET' });
  });

  it('fails with the decoder FrameError (sticky) and destroys the connection', async () => {
    const { channel, transport } = channelOver([data('x'.repeat(20)), pending()], {
      framing: 'line',
      maxFrame: 8,
    });
    await expect(channel.receive()).rejects.toMatchObject({ code: 'SB_FRAME_TOO_LARGE' });
    await expect(channel.receive()).rejects.toMatchObject({ code: 'SB_FRAME_TOO_LARGE' });
    expect(transport.destroyed).toBe(true);
  });

  it('receive timeout is SB_TIMEOUT and the channel stays usable', async () => {
    vi.useFakeTimers();
    const { channel, transport } = channelOver([pending(), data('late\n')], { framing: 'line' });
    const read = channel.receive({ timeout: 100 });
    const outcome = expect(read).rejects.toMatchObject({ code: 'SB_TIMEOUT' });
    await vi.advanceTimersByTimeAsync(100);
    await outcome;
    transport.release();
    expect(text(await channel.receive())).toBe('late');
  });

  it('bounds the inbound queue: stops reading at maxQueuedInput until receive() makes room', async () => {
    const steps = Array.from({ length: 10 }, () => data('0123456789\n'));
    const transport = new ScriptedTransport([...steps, eof()]);
    const socket = Socket.from(transport, { trackLeaks: false, readBufferLimit: 11 });
    const channel = new Channel(socket, { framing: 'line', maxQueuedInput: 20 });
    await settle(50);
    expect(channel.queuedFrames).toBe(2);
    expect(transport.paused).toBe(true);
    expect(transport.remaining).toBeGreaterThan(5);
    let count = 0;
    for await (const message of channel) {
      expect(text(message)).toBe('0123456789');
      count += 1;
    }
    expect(count).toBe(10);
  });
});

describe('Channel send', () => {
  it('batches small frames of one tick into one write', async () => {
    const { channel, transport } = channelOver([pending()], { framing: 'line' });
    for (let index = 0; index < 100; index += 1) {
      await channel.send(`message ${index}`);
    }
    await settle();
    expect(transport.writes).toHaveLength(1);
    expect(transport.writtenText.split('\n')).toHaveLength(101);
  });

  it('encodes with the framing and coalesces one tick of sends', async () => {
    const { channel, transport } = channelOver([pending()], { framing: 'length:u16be' });
    await channel.send('ab');
    await channel.send(new Uint8Array(0));
    await channel.send('c');
    await settle();
    transport.expectWritten(Uint8Array.of(0, 2, 0x61, 0x62, 0, 0, 0, 1, 0x63));
    expect(channel.stats.framesSent).toBe(3);
  });

  it('refuses a payload larger than maxFrame with SB_PAYLOAD_TOO_LARGE', async () => {
    const { channel } = channelOver([pending()], { framing: 'length:u32be', maxFrame: 4 });
    await expect(channel.send('12345')).rejects.toMatchObject({ code: 'SB_PAYLOAD_TOO_LARGE' });
  });

  it('waits for drain when the socket queue passes its high-water mark', async () => {
    const { channel, transport } = channelOver(
      [pending()],
      { framing: 'line' },
      { stallWrites: true, highWaterMark: 8 },
    );
    let sent = false;
    // Above the batching limit, so it goes straight to the socket.
    const sending = channel.send('x'.repeat(10_000)).then(() => {
      sent = true;
    });
    await settle();
    expect(sent).toBe(false);
    transport.flushWrites();
    await sending;
    expect(sent).toBe(true);
  });

  it('lean send: below the high-water mark every send returns the same settled promise, no tick per message', async () => {
    const { channel, transport } = channelOver([pending()], { framing: 'line' });
    const first = channel.send('a');
    expect(channel.send('b')).toBe(first);
    // An awaited loop of small sends completes without an event-loop turn (setImmediate)
    // in between: each await costs a microtask, nothing more.
    let turns = 0;
    const counting = setImmediate(() => {
      turns += 1;
    });
    for (let index = 0; index < 1000; index += 1) {
      await channel.send(`m${index}`);
    }
    expect(turns).toBe(0);
    clearImmediate(counting);
    await settle();
    const written = Buffer.concat(transport.writes).toString('utf8');
    expect(written.startsWith('a\nb\nm0\nm1\n')).toBe(true);
    expect(written.endsWith('m999\n')).toBe(true);
  });

  it('above the high-water mark, sends without a deadline share one drain wait (one promise, one waiter)', async () => {
    const { channel, transport } = channelOver(
      [pending()],
      { framing: 'line' },
      { stallWrites: true, highWaterMark: 8 },
    );
    const big = 'x'.repeat(10_000);
    const first = channel.send(big);
    const second = channel.send('y');
    const third = channel.send('z');
    expect(second).toBe(first);
    expect(third).toBe(first);
    let settled = false;
    void first.then(() => {
      settled = true;
    });
    await settle();
    expect(settled).toBe(false);
    transport.flushWrites();
    await first;
    // A send with a deadline still gets a wait of its own, honouring its timeout.
    const withDeadline = channel.send(big, { timeout: 60_000 });
    expect(withDeadline).not.toBe(channel.send(big));
    transport.flushWrites();
    await withDeadline;
  });

  it('the shared drain wait rejects with the channel error, and an unawaited one is not an unhandled rejection', async () => {
    const { channel } = channelOver(
      [pending()],
      { framing: 'line' },
      { stallWrites: true, highWaterMark: 8 },
    );
    const waiting = channel.send('x'.repeat(10_000));
    void channel.send('ignored by its caller');
    channel.destroy(new Error('boom'));
    await expect(waiting).rejects.toBeInstanceOf(Error);
    // vitest reports unhandled rejections as errors of the run: none may come from here.
    await settle();
  });

  it('writeEncoded: queues encoded runs without a promise; past maxQueuedOutput the channel is cut with SB_OUTPUT_QUEUE_FULL', async () => {
    const { channel, transport } = channelOver(
      [pending()],
      { framing: 'line', maxQueuedOutput: 64 },
      { stallWrites: true, highWaterMark: 8 },
    );
    const wire = channel.encodeRun([Buffer.from('one'), Buffer.from('two')]);
    expect(Buffer.from(wire).toString('utf8')).toBe('one\ntwo\n');
    expect(channel.writeEncoded(wire, 2, 6)).toBe(true);
    expect(channel.stats).toMatchObject({ framesSent: 2, bytesSent: 6 });
    await settle();
    expect(Buffer.concat(transport.writes).toString('utf8')).toBe('one\ntwo\n');
    const large = channel.encodeRun([Buffer.from('z'.repeat(100))]);
    expect(channel.writeEncoded(large, 1, 100)).toBe(false);
    expect(channel.error?.code).toBe('SB_OUTPUT_QUEUE_FULL');
    expect(transport.destroyed).toBe(true);
    expect(channel.writeEncoded(wire, 2, 6)).toBe(false);
  });

  it('fails with SB_OUTPUT_QUEUE_FULL beyond maxQueuedOutput', async () => {
    const { channel, transport } = channelOver(
      [pending()],
      { framing: 'line', maxQueuedOutput: 16 },
      { stallWrites: true, highWaterMark: 1024 },
    );
    await channel.send('0123456789');
    await expect(channel.send('0123456789')).rejects.toMatchObject({
      code: 'SB_OUTPUT_QUEUE_FULL',
    });
    expect(transport.destroyed).toBe(true);
    expect(((await channel.closed) as { code?: string } | undefined)?.code).toBe(
      'SB_OUTPUT_QUEUE_FULL',
    );
  });

  it('writeTimeout: output that makes no progress fails with SB_WRITE_TIMEOUT', async () => {
    vi.useFakeTimers();
    const { channel, transport } = channelOver(
      [pending()],
      { framing: 'line', writeTimeout: 1000 },
      { stallWrites: true, highWaterMark: 1024 },
    );
    await channel.send('stuck');
    await vi.advanceTimersByTimeAsync(999);
    expect(transport.destroyed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.destroyed).toBe(true);
    await expect(channel.receive()).rejects.toMatchObject({ code: 'SB_WRITE_TIMEOUT' });
  });

  it('writeTimeout does not fire while output keeps draining', async () => {
    vi.useFakeTimers();
    const { channel, transport } = channelOver(
      [pending()],
      { framing: 'line', writeTimeout: 1000 },
      { stallWrites: true, highWaterMark: 1024 },
    );
    for (let step = 0; step < 5; step += 1) {
      await channel.send('more');
      await vi.advanceTimersByTimeAsync(600);
      transport.flushWrites();
    }
    await vi.advanceTimersByTimeAsync(5000);
    expect(transport.destroyed).toBe(false);
    channel.destroy();
  });

  it('an output account hears every change of what is held, and a cut while queuing rejects that send', async () => {
    const { channel, transport } = channelOver(
      [pending()],
      { framing: 'line' },
      { stallWrites: true, highWaterMark: 64 },
    );
    const reports: number[] = [];
    let closed = 0;
    channel.setOutputAccount({
      update: (held) => {
        reports.push(held);
        if (held > 100) {
          channel.destroy(new ConnectionError('SB_OUTPUT_BUDGET', 'cut for the test'));
        }
      },
      close: () => {
        closed += 1;
      },
    });
    await channel.send('a'.repeat(9)); // 10 bytes in the batch
    expect(reports.at(-1)).toBe(10);
    await new Promise((resolve) => setImmediate(resolve)); // flushed: now in the socket
    expect(transport.writableLength).toBe(10);
    await channel.send('c'.repeat(19)); // queued behind the first: a write with a callback
    await new Promise((resolve) => setImmediate(resolve));
    expect(reports.at(-1)).toBe(30);
    expect(channel.heldOutput).toBe(30);
    transport.flushWrites(); // taken: the second write's callback reports it
    expect(reports.at(-1)).toBe(0);
    // Over the account's limit while queuing: this very send rejects (no drain wait
    // that would never settle), and the account closes with the connection.
    await expect(channel.send('b'.repeat(200))).rejects.toMatchObject({
      code: 'SB_OUTPUT_BUDGET',
    });
    expect(transport.destroyed).toBe(true);
    expect(closed).toBe(1);
  });

  it('writeTimeout: a slow reader whose writes keep completing one by one is still cut', async () => {
    // The peer takes a little every 400 ms, so one queued write completes each time
    // ("progress"), yet what was queued first stays held: before, that kept the queue
    // forever (each completion pushed the deadline back).
    vi.useFakeTimers();
    const { channel, transport } = channelOver(
      [pending()],
      { framing: 'line', writeTimeout: 1000 },
      { stallWrites: true, highWaterMark: 1 << 20 },
    );
    for (let index = 0; index < 40; index++) {
      await channel.send(`line ${index}`);
      await vi.advanceTimersByTimeAsync(0); // each its own tick: its own write
    }
    expect(transport.writes).toHaveLength(40);
    let steps = 0;
    // Bounded: cut within 2 x writeTimeout (5 steps of 400 ms); 40 writes would last 16 s.
    while (!transport.destroyed && steps < 10) {
      await vi.advanceTimersByTimeAsync(400);
      expect(transport.destroyed || transport.completeWrite()).toBe(true);
      steps += 1;
    }
    expect(transport.destroyed).toBe(true);
    expect(steps).toBeGreaterThan(2); // not before writeTimeout
    expect(steps).toBeLessThanOrEqual(5);
    await expect(channel.receive()).rejects.toMatchObject({
      code: 'SB_WRITE_TIMEOUT',
      message: expect.stringContaining('still not taken by the peer'),
    });
  });

  it('writeTimeout: a queue that is never empty but keeps moving is not cut', async () => {
    // A bulk sender to a fast reader: one write always in flight, each taken well
    // within writeTimeout.
    vi.useFakeTimers();
    const { channel, transport } = channelOver(
      [pending()],
      { framing: 'line', writeTimeout: 1000 },
      { stallWrites: true, highWaterMark: 1 << 20 },
    );
    await channel.send('first');
    await vi.advanceTimersByTimeAsync(0);
    for (let step = 0; step < 30; step++) {
      await channel.send(`more ${step}`);
      await vi.advanceTimersByTimeAsync(300);
      expect(transport.completeWrite()).toBe(true); // the older one; the newest stays held
      expect(transport.writableLength).toBeGreaterThan(0);
    }
    await vi.advanceTimersByTimeAsync(0);
    expect(transport.destroyed).toBe(false);
    channel.destroy();
  });
});

describe('Channel deadlines', () => {
  it('idleTimeout: no bytes for N ms fails with SB_IDLE_TIMEOUT and destroys the connection', async () => {
    vi.useFakeTimers();
    const { channel, transport } = channelOver([data('a\n'), pending()], {
      framing: 'line',
      idleTimeout: 500,
    });
    expect(text(await channel.receive())).toBe('a');
    await vi.advanceTimersByTimeAsync(499);
    expect(transport.destroyed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.destroyed).toBe(true);
    const failure = await channel.receive().catch((caught: unknown) => caught);
    expect(failure).toBeInstanceOf(TimeoutError);
    expect(failure).toMatchObject({ code: 'SB_IDLE_TIMEOUT' });
  });

  it('idleTimeout is pushed back by arriving bytes', async () => {
    vi.useFakeTimers();
    const { channel, transport } = channelOver(
      [pending(), data('x'), pending(), data('\n'), pending()],
      { framing: 'line', idleTimeout: 500 },
    );
    await vi.advanceTimersByTimeAsync(400);
    transport.release();
    await vi.advanceTimersByTimeAsync(400);
    transport.release();
    await vi.advanceTimersByTimeAsync(400);
    expect(transport.destroyed).toBe(false);
    expect(text(await channel.receive())).toBe('x');
    await vi.advanceTimersByTimeAsync(100);
    expect(transport.destroyed).toBe(true);
  });

  it('frameTimeout: a started frame must complete (slowloris) -> SB_FRAME_TIMEOUT', async () => {
    vi.useFakeTimers();
    const { channel, transport } = channelOver([data('ok\npar'), pending(), data('tial\n')], {
      framing: 'line',
      frameTimeout: 1000,
    });
    expect(text(await channel.receive())).toBe('ok');
    await vi.advanceTimersByTimeAsync(1000);
    expect(transport.destroyed).toBe(true);
    await expect(channel.receive()).rejects.toMatchObject({ code: 'SB_FRAME_TIMEOUT' });
  });

  it('frameTimeout does not fire between frames', async () => {
    vi.useFakeTimers();
    const { channel, transport } = channelOver([data('a\n'), pending()], {
      framing: 'line',
      frameTimeout: 100,
    });
    expect(text(await channel.receive())).toBe('a');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(transport.destroyed).toBe(false);
    channel.destroy();
  });
});

describe('Channel close / destroy', () => {
  it('close is idempotent and later sends fail with SB_CONNECTION_CLOSED', async () => {
    const { channel, transport } = channelOver([pending(), eof()], { framing: 'line' });
    await settle();
    const first = channel.close();
    const second = channel.close();
    transport.release();
    await Promise.all([first, second]);
    expect(transport.destroyed).toBe(true);
    await expect(channel.send('x')).rejects.toMatchObject({ code: 'SB_CONNECTION_CLOSED' });
    expect(await channel.closed).toBeUndefined();
  });

  it('after destroy() receive rejects with SB_CONNECTION_CLOSED; after close() it resolves null', async () => {
    const destroyed = channelOver([data('queued\n'), pending()], { framing: 'line' });
    await settle();
    const waiting = channelOver([pending()], { framing: 'line' });
    const blocked = waiting.channel.receive();
    destroyed.channel.destroy();
    waiting.channel.destroy();
    await expect(destroyed.channel.receive()).rejects.toMatchObject({
      code: 'SB_CONNECTION_CLOSED',
    });
    await expect(blocked).rejects.toMatchObject({ code: 'SB_CONNECTION_CLOSED' });
    expect(await destroyed.channel.closed).toBeUndefined();
    const closing = channelOver([data('kept\n'), pending()], { framing: 'line' });
    await settle();
    void closing.channel.close({ timeout: 10 });
    expect(text(await closing.channel.receive())).toBe('kept');
    expect(await closing.channel.receive()).toBeNull();
  });

  it('destroy(err) makes closed resolve with err', async () => {
    const { channel } = channelOver([pending()], { framing: 'line' });
    const reason = new Error('bye');
    channel.destroy(reason);
    expect((await channel.closed)?.message).toBe('bye');
  });

  it('counts frames and bytes', async () => {
    const { channel } = channelOver([data('ab\ncde\n'), eof()], { framing: 'line' });
    await channel.send('xyz');
    for await (const _ of channel) {
      // drain
    }
    expect(channel.stats).toEqual({
      framesReceived: 2,
      framesSent: 1,
      bytesReceived: 5,
      bytesSent: 3,
    });
  });

  it('works over a socket that is still connecting (writes wait for the connection)', async () => {
    const transport = new ScriptedTransport([data('hi\n'), eof()], { connecting: true });
    const socket = Socket.from(transport, { trackLeaks: false });
    const channel = new Channel(socket, { framing: 'line' });
    await channel.send('early');
    transport.connect();
    expect(text(await channel.receive())).toBe('hi');
    await settle();
    transport.expectWritten('early\n');
  });

  it('validates options', () => {
    const transport = new ScriptedTransport([]);
    const socket = Socket.from(transport, { trackLeaks: false });
    expect(() => new Channel(socket, { framing: 'line', heartbeat: true })).toThrow(
      expect.objectContaining({ code: 'SB_BAD_OPTION' }),
    );
    expect(() => new Channel(socket, { framing: 'line', idleTimeout: -1 })).toThrow(
      expect.objectContaining({ code: 'SB_BAD_OPTION' }),
    );
    expect(() => new Channel(socket, { framing: 'nope' })).toThrow(
      expect.objectContaining({ code: 'SB_BAD_FRAMING_SPEC' }),
    );
    expect(() => new Channel(socket, {} as ChannelOptions)).toThrow(
      expect.objectContaining({ code: 'SB_BAD_OPTION' }),
    );
    socket.destroy();
  });
});

describe('Channel in sbp mode', () => {
  it('receives DATA, answers PING with PONG (same id), and ends at CLOSE', async () => {
    const { channel, transport } = channelOver(
      [
        data(envelope(SbpType.PING, 7)),
        data(envelope(SbpType.DATA, 0, 'hello')),
        data(envelope(SbpType.CLOSE, 0)),
        pending(),
      ],
      { framing: 'sbp' },
    );
    expect(text(await channel.receive())).toBe('hello');
    expect(await channel.receive()).toBeNull();
    await settle();
    expect(writtenEnvelopes(transport)).toEqual([{ type: SbpType.PONG, id: 7, body: '' }]);
    // PING, PONG and CLOSE are the channel's own traffic: only the DATA message counts.
    expect(channel.stats).toEqual({
      framesReceived: 1,
      framesSent: 0,
      bytesReceived: 5,
      bytesSent: 0,
    });
  });

  it('send wraps messages in DATA envelopes', async () => {
    const { channel, transport } = channelOver([pending()], { framing: 'sbp' });
    await channel.send('payload');
    await settle();
    expect(writtenEnvelopes(transport)).toEqual([{ type: SbpType.DATA, id: 0, body: 'payload' }]);
  });

  it('request() resolves with the matching RESPONSE, out of order', async () => {
    const { channel, transport } = channelOver([pending()], { framing: 'sbp' });
    const first = channel.request('one');
    const second = channel.request('two');
    await settle();
    const sent = writtenEnvelopes(transport);
    expect(sent.map((entry) => [entry.type, entry.body])).toEqual([
      [SbpType.REQUEST, 'one'],
      [SbpType.REQUEST, 'two'],
    ]);
    expect(sent[0]!.id).not.toBe(sent[1]!.id);
    transport.push(
      data(envelope(SbpType.RESPONSE, sent[1]!.id, 'TWO')),
      data(envelope(SbpType.RESPONSE, sent[0]!.id, 'ONE')),
    );
    transport.release();
    expect(text(await second)).toBe('TWO');
    expect(text(await first)).toBe('ONE');
    expect(channel.stats).toEqual({
      framesReceived: 2,
      framesSent: 2,
      bytesReceived: 6,
      bytesSent: 6,
    });
  });

  it('request() times out with SB_TIMEOUT; a late response is ignored', async () => {
    vi.useFakeTimers();
    const { channel, transport } = channelOver([pending()], { framing: 'sbp' });
    const asking = channel.request('q', { timeout: 200 });
    const outcome = expect(asking).rejects.toMatchObject({ code: 'SB_TIMEOUT' });
    await vi.advanceTimersByTimeAsync(200);
    await outcome;
    const id = writtenEnvelopes(transport)[0]!.id;
    transport.push(
      data(envelope(SbpType.RESPONSE, id, 'late')),
      data(envelope(SbpType.DATA, 0, 'next')),
    );
    transport.release();
    expect(text(await channel.receive())).toBe('next');
  });

  it('pending requests fail with SB_CONNECTION_CLOSED when the peer closes', async () => {
    const { channel, transport } = channelOver([pending(), eof()], { framing: 'sbp' });
    await settle();
    const asking = channel.request('q');
    transport.release();
    await expect(asking).rejects.toMatchObject({ code: 'SB_CONNECTION_CLOSED' });
  });

  it('onRequest answers incoming REQUESTs with RESPONSEs', async () => {
    const { channel, transport } = channelOver(
      [data(envelope(SbpType.REQUEST, 42, 'ping?')), pending()],
      {
        framing: 'sbp',
        onRequest: async (body) => `${Buffer.from(body).toString()} pong!`,
      },
    );
    await settle(40);
    expect(writtenEnvelopes(transport)).toEqual([
      { type: SbpType.RESPONSE, id: 42, body: 'ping? pong!' },
    ]);
    expect(channel.stats).toEqual({
      framesReceived: 1,
      framesSent: 1,
      bytesReceived: 5,
      bytesSent: 11,
    });
    channel.destroy();
  });

  it('a throwing onRequest handler is answered with an ERROR; the channel stays up', async () => {
    const reported: string[] = [];
    const { channel, transport } = channelOver(
      [
        data(envelope(SbpType.REQUEST, 5, 'x')),
        data(envelope(SbpType.DATA, 0, 'after')),
        pending(),
      ],
      {
        framing: 'sbp',
        onRequest: () => {
          throw new Error('handler bug');
        },
        onRequestError: (error) => reported.push(error.code),
      },
    );
    expect(text(await channel.receive())).toBe('after');
    await settle();
    expect(writtenEnvelopes(transport)).toEqual([
      { type: SbpType.ERROR, id: 5, body: 'SB_HANDLER_ERROR' },
    ]);
    expect(reported).toEqual(['SB_HANDLER_ERROR']);
    expect(transport.destroyed).toBe(false);
    channel.destroy();
  });

  it('a rejecting or non-bytes onRequest result is answered with an ERROR', async () => {
    const { channel, transport } = channelOver(
      [data(envelope(SbpType.REQUEST, 1, 'a')), data(envelope(SbpType.REQUEST, 2, 'b')), pending()],
      {
        framing: 'sbp',
        onRequest: (body) =>
          Buffer.from(body).toString() === 'a'
            ? Promise.reject(new Error('no'))
            : (42 as unknown as string),
      },
    );
    await settle(40);
    expect(writtenEnvelopes(transport)).toEqual([
      { type: SbpType.ERROR, id: 1, body: 'SB_HANDLER_ERROR' },
      { type: SbpType.ERROR, id: 2, body: 'SB_HANDLER_ERROR' },
    ]);
    channel.destroy();
  });

  it('a slow onRequest handler is answered SB_HANDLER_TIMEOUT at requestTimeout; its late answer is dropped', async () => {
    vi.useFakeTimers();
    let answer: (value: string) => void = () => undefined;
    const reported: string[] = [];
    const { channel, transport } = channelOver(
      [data(envelope(SbpType.REQUEST, 9, 'slow')), pending()],
      {
        framing: 'sbp',
        requestTimeout: 500,
        onRequest: () =>
          new Promise<string>((resolve) => {
            answer = resolve;
          }),
        onRequestError: (error) => reported.push(error.code),
      },
    );
    await vi.advanceTimersByTimeAsync(499);
    expect(writtenEnvelopes(transport)).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(writtenEnvelopes(transport)).toEqual([
      { type: SbpType.ERROR, id: 9, body: 'SB_HANDLER_TIMEOUT' },
    ]);
    answer('too late');
    await vi.advanceTimersByTimeAsync(10);
    expect(writtenEnvelopes(transport)).toHaveLength(1);
    expect(reported).toEqual(['SB_HANDLER_TIMEOUT']);
    channel.destroy();
  });

  it('past maxPendingRequests a REQUEST is answered SB_TOO_MANY_REQUESTS without running', async () => {
    let calls = 0;
    const answers: Array<(value: string) => void> = [];
    const { channel, transport } = channelOver(
      [
        data(envelope(SbpType.REQUEST, 1, 'a')),
        data(envelope(SbpType.REQUEST, 2, 'b')),
        data(envelope(SbpType.REQUEST, 3, 'c')),
        pending(),
      ],
      {
        framing: 'sbp',
        maxPendingRequests: 2,
        onRequest: () => {
          calls += 1;
          return new Promise<string>((resolve) => answers.push(resolve));
        },
      },
    );
    await settle();
    expect(calls).toBe(2);
    expect(writtenEnvelopes(transport)).toEqual([
      { type: SbpType.ERROR, id: 3, body: 'SB_TOO_MANY_REQUESTS' },
    ]);
    for (const answer of answers) {
      answer('ok');
    }
    await settle();
    expect(writtenEnvelopes(transport).map((entry) => entry.id)).toEqual([3, 1, 2]);
    channel.destroy();
  });

  it('an ERROR envelope rejects request() with SB_REQUEST_FAILED naming only a known code', async () => {
    const { channel, transport } = channelOver([pending()], { framing: 'sbp' });
    await settle();
    const known = channel.request('q1');
    const unknown = channel.request('q2');
    transport.push(
      data(envelope(SbpType.ERROR, 1, 'SB_HANDLER_ERROR')),
      data(envelope(SbpType.ERROR, 2, '<script>peer bytes')),
      pending(),
    );
    transport.release();
    await expect(known).rejects.toMatchObject({
      code: 'SB_REQUEST_FAILED',
      message: expect.stringContaining('SB_HANDLER_ERROR'),
    });
    const failure = await unknown.catch((error: Error) => error);
    expect(failure).toMatchObject({ code: 'SB_REQUEST_FAILED' });
    expect((failure as Error).message).not.toContain('script');
    channel.destroy();
  });

  it('validates requestTimeout, maxPendingRequests and onRequestError', () => {
    for (const options of [
      { requestTimeout: -1 },
      { maxPendingRequests: 0 },
      { onRequestError: 'x' as unknown as () => void },
    ]) {
      const transport = new ScriptedTransport([pending()]);
      const socket = Socket.from(transport, { trackLeaks: false });
      expect(() => new Channel(socket, { framing: 'sbp', ...options })).toThrow(
        expect.objectContaining({ code: 'SB_BAD_OPTION' }),
      );
      socket.destroy();
    }
  });

  it('request() can be aborted; the channel stays usable', async () => {
    const { channel, transport } = channelOver([pending()], { framing: 'sbp' });
    const controller = new AbortController();
    const asking = channel.request('q', { signal: controller.signal });
    controller.abort();
    await expect(asking).rejects.toMatchObject({ code: 'SB_ABORTED' });
    transport.push(data(envelope(SbpType.DATA, 0, 'still here')));
    transport.release();
    expect(text(await channel.receive())).toBe('still here');
  });

  it('request() needs sbp framing', async () => {
    const { channel } = channelOver([pending()], { framing: 'line' });
    await expect(channel.request('q')).rejects.toMatchObject({ code: 'SB_BAD_OPTION' });
  });

  it('shutdown sends CLOSE and half-closes; replies still arrive', async () => {
    const { channel, transport } = channelOver(
      [pending(), data(envelope(SbpType.DATA, 0, 'reply')), eof()],
      { framing: 'sbp' },
    );
    await settle();
    await channel.send('request');
    await channel.shutdown();
    expect(transport.writeEnded).toBe(true);
    await expect(channel.send('more')).rejects.toMatchObject({ code: 'SB_CONNECTION_CLOSED' });
    transport.release();
    expect(text(await channel.receive())).toBe('reply');
    expect(await channel.receive()).toBeNull();
    expect(writtenEnvelopes(transport).map((entry) => entry.type)).toEqual([
      SbpType.DATA,
      SbpType.CLOSE,
    ]);
  });

  it('a REQUEST without onRequest fails with SB_BAD_ENVELOPE', async () => {
    const { channel } = channelOver([data(envelope(SbpType.REQUEST, 1, 'x')), pending()], {
      framing: 'sbp',
    });
    await expect(channel.receive()).rejects.toMatchObject({ code: 'SB_BAD_ENVELOPE' });
  });

  it('an unknown envelope type fails with SB_BAD_ENVELOPE', async () => {
    const { channel } = channelOver([data(Uint8Array.of(0, 0, 0, 1, 9)), pending()], {
      framing: 'sbp',
    });
    await expect(channel.receive()).rejects.toMatchObject({ code: 'SB_BAD_ENVELOPE' });
  });

  it('close sends CLOSE before shutting down', async () => {
    const { channel, transport } = channelOver([pending(), eof()], { framing: 'sbp' });
    await settle();
    const closing = channel.close();
    await settle();
    expect(writtenEnvelopes(transport)).toEqual([{ type: SbpType.CLOSE, id: 0, body: '' }]);
    transport.release();
    await closing;
  });
});

describe('Channel heartbeat (sbp)', () => {
  it('detects a silent peer with SB_PEER_UNRESPONSIVE within interval x (maxOutstanding + 1)', async () => {
    vi.useFakeTimers();
    const { channel, transport } = channelOver([pending()], {
      framing: 'sbp',
      heartbeat: { interval: 1000, maxOutstanding: 2 },
    });
    await vi.advanceTimersByTimeAsync(2999);
    expect(transport.destroyed).toBe(false);
    expect(writtenEnvelopes(transport).filter((entry) => entry.type === SbpType.PING)).toHaveLength(
      2,
    );
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.destroyed).toBe(true);
    await expect(channel.receive()).rejects.toMatchObject({ code: 'SB_PEER_UNRESPONSIVE' });
    expect(await channel.closed).toBeInstanceOf(TimeoutError);
  });

  it('stays up while the peer answers pings', async () => {
    vi.useFakeTimers();
    const { channel, transport } = channelOver([pending()], {
      framing: 'sbp',
      heartbeat: { interval: 1000, maxOutstanding: 1 },
    });
    for (let round = 0; round < 5; round += 1) {
      await vi.advanceTimersByTimeAsync(1000);
      const pings = writtenEnvelopes(transport).filter((entry) => entry.type === SbpType.PING);
      transport.push(data(envelope(SbpType.PONG, pings.at(-1)!.id)), pending());
      transport.release();
      await settle();
    }
    expect(transport.destroyed).toBe(false);
    channel.destroy();
  });
});
