/**
 * Abort reasons (#17): a signal that aborts because of a timeout (`AbortSignal.timeout()`,
 * whose reason is a DOMException named TimeoutError) rejects with `SB_TIMEOUT`; any other
 * reason with `SB_ABORTED`. Every place a signal becomes an error goes through
 * `abortedError`, so each kind of call is checked here.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionError, TimeoutError } from '../../src/errors.js';
import { Channel } from '../../src/net/channel.js';
import { abortedError } from '../../src/net/clock.js';
import { select } from '../../src/net/select.js';
import { Socket } from '../../src/net/socket.js';
import { Loopback } from '../helpers/loopback.js';
import { pending, ScriptedTransport, settle } from '../helpers/scripted-socket.js';

const loop = new Loopback();
afterEach(() => loop.cleanup());

const timeoutReason = (): DOMException => new DOMException('signal timed out', 'TimeoutError');

/** A real AbortSignal.timeout() signal, once it has fired (bounded by vitest's testTimeout). */
async function firedTimeoutSignal(): Promise<AbortSignal> {
  const signal = AbortSignal.timeout(1);
  if (!signal.aborted) {
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  }
  return signal;
}

function idleSocket(): Socket {
  return Socket.from(new ScriptedTransport([pending()]), { trackLeaks: false });
}

describe('abort reasons', () => {
  it('abortedError maps a TimeoutError reason to SB_TIMEOUT and keeps it as cause', async () => {
    const signal = await firedTimeoutSignal();
    const error = abortedError(signal);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.code).toBe('SB_TIMEOUT');
    expect(error.cause).toBe(signal.reason);
    expect((signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it('AbortSignal.any over a timeout signal is a timeout too', async () => {
    const signal = AbortSignal.any([new AbortController().signal, await firedTimeoutSignal()]);
    expect(abortedError(signal).code).toBe('SB_TIMEOUT');
  });

  it('other reasons stay SB_ABORTED', () => {
    for (const reason of [
      undefined,
      new Error('stop'),
      'why',
      new DOMException('x', 'AbortError'),
    ]) {
      const error = abortedError(AbortSignal.abort(reason));
      expect(error).toBeInstanceOf(ConnectionError);
      expect(error.code).toBe('SB_ABORTED');
    }
  });

  it('socket.recv: already-timed-out and timing-out-while-waiting signals give SB_TIMEOUT', async () => {
    const socket = idleSocket();
    await expect(socket.recv(10, { signal: await firedTimeoutSignal() })).rejects.toMatchObject({
      code: 'SB_TIMEOUT',
    });
    const controller = new AbortController();
    const read = socket.recv(10, { signal: controller.signal });
    controller.abort(timeoutReason());
    await expect(read).rejects.toBeInstanceOf(TimeoutError);
    socket.destroy();
  });

  it('channel.receive and channel.request give SB_TIMEOUT', async () => {
    const channel = new Channel(idleSocket(), { framing: 'sbp' });
    await expect(
      channel.receive({ signal: AbortSignal.abort(timeoutReason()) }),
    ).rejects.toMatchObject({ code: 'SB_TIMEOUT' });
    await expect(
      channel.request('q', { signal: AbortSignal.abort(timeoutReason()) }),
    ).rejects.toMatchObject({ code: 'SB_TIMEOUT' });
    const controller = new AbortController();
    const asking = channel.request('q', { signal: controller.signal });
    await settle();
    controller.abort(timeoutReason());
    await expect(asking).rejects.toMatchObject({ code: 'SB_TIMEOUT' });
    const other = new AbortController();
    const asking2 = channel.request('q', { signal: other.signal });
    other.abort(new Error('user'));
    await expect(asking2).rejects.toMatchObject({ code: 'SB_ABORTED' });
    channel.destroy();
  });

  it('select and listener.accept give SB_TIMEOUT', async () => {
    const socket = idleSocket();
    const controller = new AbortController();
    const waiting = select([socket], [], { signal: controller.signal });
    controller.abort(timeoutReason());
    await expect(waiting).rejects.toMatchObject({ code: 'SB_TIMEOUT' });
    socket.destroy();
    const listener = await loop.listen('127.0.0.1:0', { trackLeaks: false });
    await expect(listener.accept({ signal: await firedTimeoutSignal() })).rejects.toMatchObject({
      code: 'SB_TIMEOUT',
    });
  });
});
