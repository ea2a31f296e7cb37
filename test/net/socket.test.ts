import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectionError, FrameError, TimeoutError, UnexpectedEofError } from '../../src/errors.js';
import { Socket } from '../../src/net/socket.js';
import {
  bytewise,
  data,
  eof,
  error,
  pending,
  ScriptedTransport,
  settle,
} from '../helpers/scripted-socket.js';

const text = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : Buffer.from(bytes).toString('utf8');

function scripted(
  steps: ConstructorParameters<typeof ScriptedTransport>[0],
  options?: ConstructorParameters<typeof ScriptedTransport>[1],
) {
  const transport = new ScriptedTransport(steps, options);
  const socket = Socket.from(transport, { trackLeaks: false });
  return { transport, socket };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Socket.recv', () => {
  it('returns buffered bytes up to max, then a zero-length array at EOF (forever)', async () => {
    const { socket } = scripted([data('hello'), eof()]);
    expect(text(await socket.recv(3))).toBe('hel');
    expect(text(await socket.recv(100))).toBe('lo');
    expect((await socket.recv()).length).toBe(0);
    expect((await socket.recv()).length).toBe(0);
    expect(socket.eof).toBe(true);
  });

  it('hands out whole chunks without copying', async () => {
    const chunk = new TextEncoder().encode('abcdef');
    const { socket } = scripted([data(chunk)]);
    const got = await socket.recv(100);
    expect(text(got)).toBe('abcdef');
    const view = await Promise.race([socket.recv(1), settle().then(() => 'blocked')]);
    expect(view).toBe('blocked');
  });

  it('waits across a pending step and resumes on release', async () => {
    const { socket, transport } = scripted([pending(), data('x')]);
    const read = socket.recv();
    await settle();
    expect(transport.remaining).toBe(1);
    transport.release();
    expect(text(await read)).toBe('x');
  });

  it('delivers data that arrived before a reset, then throws SB_CONNECTION_RESET', async () => {
    const { socket } = scripted([data('ab'), error('ECONNRESET')]);
    await settle();
    expect(text(await socket.recv())).toBe('ab');
    await expect(socket.recv()).rejects.toMatchObject({ code: 'SB_CONNECTION_RESET' });
    expect(await socket.closed).toBeInstanceOf(ConnectionError);
  });

  it('times out with SB_TIMEOUT, consumes nothing, and stays usable', async () => {
    vi.useFakeTimers();
    const { socket, transport } = scripted([pending(), data('late')]);
    const read = socket.recv(10, { timeout: 50 });
    const outcome = expect(read).rejects.toMatchObject({ code: 'SB_TIMEOUT' });
    await vi.advanceTimersByTimeAsync(50);
    await outcome;
    await expect(read).rejects.toBeInstanceOf(TimeoutError);
    transport.release();
    expect(text(await socket.recv())).toBe('late');
  });

  it('aborts with SB_ABORTED and stays usable', async () => {
    const { socket, transport } = scripted([pending(), data('z')]);
    const controller = new AbortController();
    const read = socket.recv(10, { signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(read).rejects.toMatchObject({ code: 'SB_ABORTED' });
    await expect(socket.recv(1, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'SB_ABORTED',
    });
    transport.release();
    expect(text(await socket.recv())).toBe('z');
  });

  it('recvNow is non-blocking: null when nothing is buffered', async () => {
    const { socket } = scripted([pending()]);
    expect(socket.recvNow()).toBeNull();
  });

  it('rejects a bad max', async () => {
    const { socket } = scripted([]);
    await expect(socket.recv(0)).rejects.toMatchObject({ code: 'SB_INVALID_ARGUMENT' });
  });
});

describe('Socket.recvExactly', () => {
  it('assembles exactly n bytes from 1-byte chunks and leaves the rest', async () => {
    const { socket } = scripted([...bytewise('0123456789'), eof()]);
    expect(text(await socket.recvExactly(4))).toBe('0123');
    expect(text(await socket.recvExactly(3))).toBe('456');
    expect(text(await socket.recvExactly(0))).toBe('');
    await expect(socket.recvExactly(5)).rejects.toBeInstanceOf(UnexpectedEofError);
    // The partial bytes stay readable.
    expect(text(await socket.recv())).toBe('789');
  });

  it('grows past readBufferLimit for a large n instead of deadlocking', async () => {
    const transport = new ScriptedTransport([data('aaaa'), data('bbbb'), data('cccc')]);
    const socket = Socket.from(transport, { readBufferLimit: 4, trackLeaks: false });
    expect(text(await socket.recvExactly(12))).toBe('aaaabbbbcccc');
  });

  it('two concurrent reads each keep the buffer growing to what they need', async () => {
    // The second read to start, finishing first, reset the one shared need to 0: the
    // transport then paused at readBufferLimit and the first read waited forever.
    const transport = new ScriptedTransport([
      data('aaaa'),
      data('bbbb'),
      data('cccc'),
      data('dddd'),
    ]);
    const socket = Socket.from(transport, { readBufferLimit: 4, trackLeaks: false });
    const large = socket.recvExactly(12);
    const small = socket.recvExactly(2);
    expect(text(await small)).toBe('aa');
    expect(text(await large)).toBe('aabbbbccccdd');
    // And recvUntil alongside, which raises the limit to its max the same way.
    const line = new ScriptedTransport([data('xxxx'), data('yyyy'), data('zz\n'), data('w')]);
    const lineSocket = Socket.from(line, { readBufferLimit: 4, trackLeaks: false });
    const untilNewline = lineSocket.recvUntil('\n', { max: 64 });
    expect(text(await lineSocket.recvExactly(1))).toBe('x');
    expect(text(await untilNewline)).toBe('xxxyyyyzz');
  });

  it('times out with SB_TIMEOUT leaving the partial bytes buffered', async () => {
    vi.useFakeTimers();
    const { socket, transport } = scripted([data('ab'), pending(), data('cd')]);
    const read = socket.recvExactly(4, { timeout: 10 });
    const outcome = expect(read).rejects.toMatchObject({ code: 'SB_TIMEOUT' });
    await vi.advanceTimersByTimeAsync(10);
    await outcome;
    transport.release();
    expect(text(await socket.recvExactly(4))).toBe('abcd');
  });
});

describe('Socket.recvUntil', () => {
  it('finds a multi-byte delimiter split across 1-byte chunks', async () => {
    const { socket } = scripted([...bytewise('one\r\ntwo\r\n'), eof()]);
    expect(text(await socket.recvUntil('\r\n'))).toBe('one');
    expect(text(await socket.recvUntil('\r\n', { includeDelimiter: true }))).toBe('two\r\n');
    expect(await socket.recvUntil('\r\n')).toBeNull();
  });

  it('never rescans: one byte per arrival, each byte searched once (plus the delimiter overlap)', async () => {
    const size = 4096;
    const { socket } = scripted([...bytewise('x'.repeat(size)), data('\r\n')]);
    const line = await socket.recvUntil('\r\n', { max: size });
    expect(line?.length).toBe(size);
    const input = socket.core.input!;
    // Each arrival resumes at `buffered - 1` (a 2-byte delimiter may straddle it), so at
    // most size + 2 bytes plus one re-examined byte per arrival. A search that restarted
    // at the first byte on every arrival would examine about size^2 / 2 = 8 Mi bytes.
    expect(input.bytesSearched).toBeGreaterThanOrEqual(size);
    expect(input.bytesSearched).toBeLessThanOrEqual(size + 2 + (size + 1));
    expect(input.cursorSteps).toBeLessThanOrEqual(2 * (size + 1));
  });

  it('never walks the chunk list from its head again: cursor steps are linear in the chunks', async () => {
    // Chunks above the queue's coalescing size (128 bytes) stay separate entries.
    const chunks = 512;
    const chunkSize = 200;
    const steps = Array.from({ length: chunks }, () => data('y'.repeat(chunkSize)));
    const { socket } = scripted([...steps, data('\n')]);
    const line = await socket.recvUntil('\n', { max: chunks * chunkSize });
    expect(line?.length).toBe(chunks * chunkSize);
    const input = socket.core.input!;
    expect(input.bytesSearched).toBeLessThanOrEqual(chunks * chunkSize + 1);
    // Walking from the head on every arrival would take about chunks^2 / 2 = 131,072 steps.
    expect(input.cursorSteps).toBeLessThanOrEqual(2 * (chunks + 1));
  });

  it('fails with SB_FRAME_TOO_LARGE once max bytes pass without a delimiter', async () => {
    const { socket } = scripted([data('abcdefgh'), pending()]);
    await expect(socket.recvUntil('\n', { max: 4 })).rejects.toBeInstanceOf(FrameError);
    await expect(socket.recvUntil('\n', { max: 4 })).rejects.toMatchObject({
      code: 'SB_FRAME_TOO_LARGE',
    });
  });

  it('accepts a line of exactly max bytes', async () => {
    const { socket } = scripted([data('abcd\n')]);
    expect(text(await socket.recvUntil('\n', { max: 4 }))).toBe('abcd');
  });

  it('reports SB_UNEXPECTED_EOF for a last line without its delimiter', async () => {
    const { socket } = scripted([data('partial'), eof()]);
    await expect(socket.recvUntil('\n')).rejects.toMatchObject({ code: 'SB_UNEXPECTED_EOF' });
  });
});

describe('Socket read-side backpressure', () => {
  it('pauses the transport at readBufferLimit and resumes when drained', async () => {
    const transport = new ScriptedTransport([data('aaaa'), data('bbbb'), data('cccc'), eof()]);
    const socket = Socket.from(transport, { readBufferLimit: 8, trackLeaks: false });
    await settle();
    expect(transport.paused).toBe(true);
    expect(socket.bufferedAmount).toBe(8);
    expect(transport.remaining).toBe(2);
    expect(text(await socket.recv(4))).toBe('aaaa');
    // Resumed below the limit: the next chunk arrives, filling it to the limit again.
    await settle();
    expect(transport.remaining).toBe(1);
    expect(socket.bufferedAmount).toBe(8);
    expect(transport.pauseCount).toBe(2);
    expect(text(await socket.recv(100))).toBe('bbbbcccc');
    await settle();
    expect((await socket.recv()).length).toBe(0);
  });
});

describe('Socket.send / sendAll / write', () => {
  it('send accepts up to the free space below the high-water mark (HOWTO partial send)', () => {
    const { socket, transport } = scripted([pending()], { highWaterMark: 8, stallWrites: true });
    expect(socket.send('0123456789')).toBe(8);
    expect(socket.send('more')).toBe(0);
    transport.flushWrites();
    expect(socket.send('89')).toBe(2);
    transport.expectWritten('0123456789');
  });

  it('send copies the accepted bytes', () => {
    const { socket, transport } = scripted([pending()]);
    const buffer = new TextEncoder().encode('abc');
    expect(socket.send(buffer)).toBe(3);
    buffer[0] = 0x7a;
    transport.expectWritten('abc');
  });

  it('sendAll resolves once flushed, waiting for drain first when the queue is full', async () => {
    const { socket, transport } = scripted([pending()], { highWaterMark: 4, stallWrites: true });
    socket.send('full');
    let done = false;
    const sending = socket.sendAll('next').then(() => {
      done = true;
    });
    await settle();
    expect(done).toBe(false);
    expect(transport.writes.length).toBe(1);
    transport.flushWrites();
    await settle();
    expect(transport.writes.length).toBe(2);
    expect(done).toBe(false);
    transport.flushWrites();
    await sending;
    transport.expectWritten('fullnext');
  });

  it('sendAll times out with SB_WRITE_TIMEOUT and destroys the socket', async () => {
    vi.useFakeTimers();
    const { socket, transport } = scripted([pending()], { stallWrites: true });
    const sending = socket.sendAll('stuck', { timeout: 100 });
    const outcome = expect(sending).rejects.toMatchObject({ code: 'SB_WRITE_TIMEOUT' });
    await vi.advanceTimersByTimeAsync(100);
    await outcome;
    expect(transport.destroyed).toBe(true);
    expect((await socket.closed)?.message).toMatch(/not flushed within 100 ms/);
  });

  it('write coalesces writes of one tick under one cork', async () => {
    const { socket, transport } = scripted([pending()]);
    socket.write(Uint8Array.of(1));
    socket.write(Uint8Array.of(2));
    await settle();
    socket.write(Uint8Array.of(3));
    expect(transport.corks).toBe(2);
    transport.expectWritten(Uint8Array.of(1, 2, 3));
  });

  it('refuses writes after shutdown with SB_CONNECTION_CLOSED', async () => {
    const { socket } = scripted([pending()]);
    await socket.shutdown('write');
    expect(() => socket.send('x')).toThrow(
      expect.objectContaining({ code: 'SB_CONNECTION_CLOSED' }),
    );
    await expect(socket.sendAll('x')).rejects.toMatchObject({ code: 'SB_CONNECTION_CLOSED' });
  });

  it('a connecting socket accepts nothing with send() until connected', async () => {
    const { socket, transport } = scripted([], { connecting: true });
    expect(socket.connecting).toBe(true);
    expect(socket.send('x')).toBe(0);
    const ready = socket.ready();
    transport.connect();
    await ready;
    expect(socket.send('x')).toBe(1);
  });
});

describe('Socket.ready (connecting sockets)', () => {
  it('times out with SB_CONNECT_TIMEOUT', async () => {
    vi.useFakeTimers();
    const { socket } = scripted([], { connecting: true });
    const ready = socket.ready({ timeout: 3000 });
    const outcome = expect(ready).rejects.toMatchObject({ code: 'SB_CONNECT_TIMEOUT' });
    await vi.advanceTimersByTimeAsync(3000);
    await outcome;
    expect(socket.connecting).toBe(true);
  });

  it('reports a failed connect with its stable code', async () => {
    const transport = new ScriptedTransport([], { connecting: true });
    const socket = Socket.from(transport, { trackLeaks: false });
    const ready = socket.ready();
    transport.destroy(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    await expect(ready).rejects.toMatchObject({
      code: 'SB_CONNECTION_REFUSED',
      name: 'ConnectionError',
    });
    expect(await socket.closed).toMatchObject({ code: 'SB_CONNECTION_REFUSED' });
  });

  it('can be aborted', async () => {
    const { socket } = scripted([], { connecting: true });
    await expect(socket.ready({ signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'SB_ABORTED',
    });
  });
});

describe('Socket shutdown / close / destroy', () => {
  it('shutdown half-closes and keeps reading', async () => {
    const { socket, transport } = scripted([pending(), data('reply'), eof()]);
    await socket.sendAll('request');
    await socket.shutdown('write');
    expect(transport.writeEnded).toBe(true);
    transport.release();
    expect(text(await socket.recvExactly(5))).toBe('reply');
    expect((await socket.recv()).length).toBe(0);
    expect(await socket.closed).toBeUndefined();
  });

  it('close is graceful and idempotent; closed resolves undefined', async () => {
    const { socket, transport } = scripted([data('unread'), pending(), eof()]);
    await settle();
    const first = socket.close();
    const second = socket.close();
    expect(transport.writeEnded).toBe(true);
    transport.release();
    await Promise.all([first, second]);
    expect(transport.destroyed).toBe(true);
    expect(await socket.closed).toBeUndefined();
    await expect(socket.recv()).rejects.toMatchObject({ code: 'SB_CONNECTION_CLOSED' });
  });

  it('close falls back to destroy when the peer never finishes', async () => {
    vi.useFakeTimers();
    const { socket, transport } = scripted([pending()]);
    const closing = socket.close({ timeout: 1000 });
    await vi.advanceTimersByTimeAsync(1000);
    await closing;
    expect(transport.destroyed).toBe(true);
  });

  it('destroy(err) fails pending and later calls with that error', async () => {
    const { socket } = scripted([pending()]);
    const read = socket.recv();
    const reason = new TimeoutError('SB_IDLE_TIMEOUT', 'idle');
    socket.destroy(reason);
    await expect(read).rejects.toBe(reason);
    await expect(socket.recv()).rejects.toBe(reason);
    expect(await socket.closed).toBe(reason);
    socket.destroy();
  });

  it('supports await using', async () => {
    const transport = new ScriptedTransport([eof()]);
    {
      await using socket = Socket.from(transport, { trackLeaks: false });
      expect(socket.isClosed).toBe(false);
    }
    expect(transport.destroyed).toBe(true);
  });

  it('reports structured and formatted addresses', () => {
    const { socket } = scripted([]);
    expect(socket.remoteAddress).toBe('tcp://127.0.0.1:40000');
    expect(socket.local).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 7070, tls: false });
    expect(socket.peerCertificate).toBeUndefined();
  });

  it('reports IPv4-mapped IPv6 hosts as IPv4, like the server and every other address', () => {
    // A dual-stack listener ('::') sees IPv4 peers as ::ffff:a.b.c.d; normalizeHost
    // (net/address.ts) is the one place that strips the prefix.
    const transport = new ScriptedTransport([]);
    transport.remoteAddress = '::ffff:192.0.2.7';
    transport.localAddress = '::ffff:127.0.0.1';
    const socket = Socket.from(transport, { trackLeaks: false });
    expect(socket.remote).toEqual({ kind: 'tcp', host: '192.0.2.7', port: 40000, tls: false });
    expect(socket.remoteAddress).toBe('tcp://192.0.2.7:40000');
    expect(socket.local).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 7070, tls: false });
    socket.destroy();
  });

  it('keeps real IPv6 hosts as they are', () => {
    const transport = new ScriptedTransport([]);
    transport.remoteAddress = '::1';
    const socket = Socket.from(transport, { trackLeaks: false });
    expect(socket.remote).toEqual({ kind: 'tcp', host: '::1', port: 40000, tls: false });
    socket.destroy();
  });
});

describe('Socket.release', () => {
  const events = ['data', 'end', 'error', 'close', 'drain', 'connect', 'secureConnect'];
  const counts = (transport: ScriptedTransport) =>
    Object.fromEntries(events.map((event) => [event, transport.listenerCount(event)]));

  it.each([false, true])('removes every listener it added (tls %s)', (tls) => {
    const transport = new ScriptedTransport([]);
    const before = counts(transport);
    const socket = Socket.from(transport, { trackLeaks: false, tls });
    expect(counts(transport).data).toBe(before.data! + 1);
    socket.release();
    expect(counts(transport)).toEqual(before);
  });
});

describe('Socket write completion time (lastWriteDoneAt)', () => {
  /** A clock that only moves when told to; no timers are armed by these writes. */
  function manualClock(start: number) {
    let now = start;
    return {
      clock: { now: () => now, setTimeout: () => 0, clearTimeout: () => {} },
      advance(ms: number) {
        now += ms;
      },
    };
  }

  it('stamps a write with nothing queued ahead at once, without a completion callback', () => {
    const { clock, advance } = manualClock(1_000);
    const transport = new ScriptedTransport([]);
    const callbacks: unknown[] = [];
    const write = transport.write.bind(transport);
    transport.write = (chunk, callback) => {
      callbacks.push(callback);
      return write(chunk, callback);
    };
    const socket = Socket.from(transport, { trackLeaks: false, clock });
    advance(5);
    socket.writeBatch(Uint8Array.of(1));
    expect(socket.lastWriteDoneAt).toBe(1_005);
    expect(callbacks).toEqual([undefined]);
    socket.destroy();
  });

  it('times a write queued behind a backlog by its completion', () => {
    const { clock, advance } = manualClock(1_000);
    const transport = new ScriptedTransport([], { stallWrites: true });
    const socket = Socket.from(transport, { trackLeaks: false, clock });
    socket.writeBatch(Uint8Array.of(1)); // nothing queued ahead: stamped when it began
    expect(socket.lastWriteDoneAt).toBe(1_000);
    advance(10);
    socket.writeBatch(Uint8Array.of(2)); // behind the first: stamped when it completes
    expect(socket.lastWriteDoneAt).toBe(1_000);
    advance(20);
    transport.flushWrites();
    expect(socket.lastWriteDoneAt).toBe(1_030);
    socket.destroy();
  });
});
