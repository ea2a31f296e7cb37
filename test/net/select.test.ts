import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../src/net/clock.js';
import { startConnect } from '../../src/net/connect.js';
import { listen } from '../../src/net/listener.js';
import { select } from '../../src/net/select.js';
import { Socket } from '../../src/net/socket.js';
import { createServer, type ServerTlsOptions } from '../../src/server/server.js';
import { Loopback } from '../helpers/loopback.js';
import {
  data,
  eof,
  error,
  pending,
  ScriptedTransport,
  settle,
} from '../helpers/scripted-socket.js';

const loop = new Loopback();
afterEach(async () => {
  vi.useRealTimers();
  await loop.cleanup();
});

function fake(
  steps: ConstructorParameters<typeof ScriptedTransport>[0],
  options?: ConstructorParameters<typeof ScriptedTransport>[1],
) {
  const transport = new ScriptedTransport(steps, options);
  return { transport, socket: Socket.from(transport, { trackLeaks: false }) };
}

describe('select with scripted sockets', () => {
  it('timeout 0 polls: buffered data and EOF are readable, a healthy socket is writable', async () => {
    const withData = fake([data('x')]);
    const atEof = fake([eof()]);
    const idle = fake([pending()]);
    await settle();
    const result = await select([withData.socket, atEof.socket, idle.socket], [idle.socket], {
      timeout: 0,
    });
    expect(result.readable).toEqual([withData.socket, atEof.socket]);
    expect(result.writable).toEqual([idle.socket]);
    expect(result.errored).toEqual([]);
  });

  it('a reset socket lands in errored; select neither throws nor hangs', async () => {
    const broken = fake([error('ECONNRESET')]);
    const fine = fake([data('ok')]);
    await settle();
    const result = await select([broken.socket, fine.socket], [broken.socket], { timeout: 0 });
    expect(result.errored).toEqual([broken.socket]);
    expect(result.readable).toEqual([fine.socket]);
    expect(result.writable).toEqual([]);
  });

  it('waits until something becomes ready', async () => {
    const late = fake([pending(), data('now')]);
    const waiting = select([late.socket], [], { timeout: 10_000 });
    await settle();
    late.transport.release();
    const result = await waiting;
    expect(result.readable).toEqual([late.socket]);
  });

  it('a connecting socket becomes writable once connected', async () => {
    const connecting = fake([], { connecting: true });
    expect((await select([], [connecting.socket], { timeout: 0 })).writable).toEqual([]);
    const waiting = select([], [connecting.socket]);
    connecting.transport.connect();
    expect((await waiting).writable).toEqual([connecting.socket]);
  });

  it('a full output queue is not writable until it drains', async () => {
    const stuck = fake([pending()], { stallWrites: true, highWaterMark: 4 });
    stuck.socket.send('full');
    expect((await select([], [stuck.socket], { timeout: 0 })).writable).toEqual([]);
    const waiting = select([], [stuck.socket]);
    stuck.transport.flushWrites();
    expect((await waiting).writable).toEqual([stuck.socket]);
  });

  it('returns three empty lists when the timeout passes', async () => {
    vi.useFakeTimers();
    const idle = fake([pending()]);
    const waiting = select([idle.socket], [], { timeout: 1000 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(await waiting).toEqual({ readable: [], writable: [], errored: [] });
  });

  it('can be aborted (SB_ABORTED)', async () => {
    const idle = fake([pending()]);
    const controller = new AbortController();
    const waiting = select([idle.socket], [], { signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'SB_ABORTED' });
  });

  it('a signal that is not an AbortSignal is SB_INVALID_ARGUMENT, and nothing is left observing', async () => {
    // It failed only after select observed the socket: the rejection was a bare
    // TypeError, and the socket's next data threw another from its data event.
    const late = fake([pending(), data('now')]);
    for (const signal of [{}, 'abort', { aborted: false }, null]) {
      await expect(
        select([late.socket], [late.socket], { signal: signal as unknown as AbortSignal }),
      ).rejects.toMatchObject({ code: 'SB_INVALID_ARGUMENT' });
    }
    late.transport.release();
    await settle();
    expect((await select([late.socket], [], { timeout: 0 })).readable).toEqual([late.socket]);
  });

  it('refuses to wait forever on nothing', async () => {
    await expect(select([], [])).rejects.toMatchObject({ code: 'SB_INVALID_ARGUMENT' });
    expect(await select([], [], { timeout: 0 })).toEqual({
      readable: [],
      writable: [],
      errored: [],
    });
  });
});

describe('select on loopback', () => {
  it('readable / writable / errored, including a socket reset while others stay readable', async () => {
    const a = await loop.pair();
    const b = await loop.pair();
    const c = await loop.pair();
    await a.server.sendAll('for a');
    await c.server.sendAll('for c');
    // Reset b from the server side (RST): its client must land in errored.
    const raw = (b.server as unknown as { core: { transport: { resetAndDestroy(): void } } }).core
      .transport;
    raw.resetAndDestroy();
    const readers = [a.client, b.client, c.client];
    let result = await select(readers, [], { timeout: 5000 });
    // Collect until all three are reported (bounded).
    for (
      let round = 0;
      round < 50 && result.readable.length + result.errored.length < 3;
      round += 1
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      result = await select(readers, [], { timeout: 0 });
    }
    expect(result.readable).toEqual([a.client, c.client]);
    expect(result.errored).toEqual([b.client]);
    const writable = await select([], readers, { timeout: 0 });
    expect(writable.writable).toEqual([a.client, c.client]);
    expect(Buffer.from(await a.client.recv()).toString()).toBe('for a');
  });

  it('a listener is readable when a connection waits for accept()', async () => {
    const listener = await loop.listen('127.0.0.1:0');
    expect((await select([listener], [], { timeout: 0 })).readable).toEqual([]);
    const waiting = select([listener], [], { timeout: 5000 });
    await loop.connect(listener.url);
    expect((await waiting).readable).toEqual([listener]);
    loop.track(await listener.accept());
  });

  it('startConnect: writable when connected; a refused connect is errored', async () => {
    const listener = await loop.listen('127.0.0.1:0');
    const good = loop.track(startConnect(listener.url, { trackLeaks: false }));
    const closed = await loop.listen('127.0.0.1:0');
    const refusedUrl = closed.url;
    await closed.close();
    const refused = loop.track(startConnect(refusedUrl, { trackLeaks: false }));
    expect((await select([], [good], { timeout: 5000 })).writable).toEqual([good]);
    expect((await select([], [refused], { timeout: 5000 })).errored).toEqual([refused]);
    const final = await select([], [good, refused], { timeout: 0 });
    expect(final.writable).toEqual([good]);
    expect(final.errored).toEqual([refused]);
    expect(refused.error?.code).toBe('SB_CONNECTION_REFUSED');
  });
});

/**
 * A `clock` that is not a Clock, a `tls: null` and `close(null)` from plain JS were
 * TypeErrors ("base.now is not a function", "reading 'cert'"), not SB_BAD_OPTION.
 */
describe('caller misuse of clock, tls and close options', () => {
  it('is SB_BAD_OPTION where the option is given', async () => {
    const notClocks = [5, 'x', {}, null, { setTimeout() {}, clearTimeout() {} }];
    for (const clock of notClocks) {
      const options = { clock: clock as unknown as Clock };
      await expect(
        createServer({ listen: '127.0.0.1:0', handler: 'echo', ...options }),
      ).rejects.toMatchObject({ code: 'SB_BAD_OPTION' });
      await expect(listen('127.0.0.1:0', options)).rejects.toMatchObject({
        code: 'SB_BAD_OPTION',
      });
      expect(() => startConnect('127.0.0.1:1', options)).toThrow(
        expect.objectContaining({ code: 'SB_BAD_OPTION' }),
      );
      await expect(select([], [], { timeout: 0, ...options })).rejects.toMatchObject({
        code: 'SB_BAD_OPTION',
      });
    }
    await expect(
      createServer({
        listen: 'tls://127.0.0.1:0',
        handler: 'echo',
        tls: null as unknown as ServerTlsOptions,
      }),
    ).rejects.toMatchObject({ code: 'SB_BAD_OPTION' });
    const server = await createServer({ listen: '127.0.0.1:0', handler: 'echo' });
    await server.close(null as unknown as undefined);
  });
});
