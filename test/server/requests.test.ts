// createServer({ onRequest, heartbeat }) in every dispatch model (#17): sbp requests
// answered by the server, errors as ERROR envelopes, deadlines, dead peers.
import { afterEach, describe, expect, it } from 'vitest';
import { encodeEnvelope, parseEnvelope, SbpDecoder, SbpType } from '../../src/codec/sbp.js';
import { NEED_DATA } from '../../src/codec/types.js';
import type { DispatchModel } from '../../src/server/dispatch/dispatcher.js';
import { createServer } from '../../src/server/server.js';
import { ManualClock, Tracker, until } from './helpers.js';

const tracker = new Tracker();
afterEach(() => tracker.cleanup());

const REQUEST_MODULE = new URL('./fixtures/request-handler.ts', import.meta.url).pathname;
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const MODELS: DispatchModel[] = ['loop', 'threads', 'processes'];

describe.each(MODELS)('onRequest with dispatch %s', (dispatch) => {
  const serve = (extra: Record<string, unknown> = {}) =>
    tracker.server({
      framing: 'sbp',
      handler: 'echo',
      dispatch,
      workers: 1,
      onRequest: REQUEST_MODULE,
      ...extra,
    });

  it('answers requests next to the handler; 40 concurrent ones each get their own answer', async () => {
    const server = await serve();
    const channel = await tracker.channel(server.address, 'sbp');
    expect(text(await channel.request('hello', { timeout: 10_000 }))).toBe('re:hello');
    await channel.send('data still echoes');
    expect(text((await channel.receive())!)).toBe('data still echoes');
    const bodies = Array.from({ length: 40 }, (_, index) => `q${index}-${'x'.repeat(index * 7)}`);
    const answers = await Promise.all(
      bodies.map((body) => channel.request(body, { timeout: 10_000 })),
    );
    expect(answers.map(text)).toEqual(bodies.map((body) => `re:${body}`));
    const context = JSON.parse(text(await channel.request('ctx', { timeout: 10_000 })));
    expect(context).toMatchObject({
      remoteAddress: expect.stringMatching(/^tcp:\/\//),
      proxied: false,
    });
    const where = JSON.parse(text(await channel.request('pid', { timeout: 10_000 })));
    expect(where.mainThread).toBe(dispatch !== 'threads');
    expect(where.pid === process.pid).toBe(dispatch !== 'processes');
  });

  it('a throwing or rejecting handler answers SB_REQUEST_FAILED; the connection stays; the server counts SB_HANDLER_ERROR', async () => {
    const server = await serve();
    const channel = await tracker.channel(server.address, 'sbp');
    for (const body of ['boom', 'reject']) {
      const failure = await channel.request(body, { timeout: 10_000 }).catch((error) => error);
      expect(failure).toMatchObject({ code: 'SB_REQUEST_FAILED' });
      expect(failure.message).toContain('SB_HANDLER_ERROR');
      expect(failure.message).not.toContain('bug');
    }
    expect(text(await channel.request('after', { timeout: 10_000 }))).toBe('re:after');
    await channel.close();
    // processes: the worker's counters reach the primary with the connection's end.
    await until(() => (server.metrics.errors.SB_HANDLER_ERROR ?? 0) >= 2, 10_000);
    expect(server.metrics.errors.SB_HANDLER_ERROR).toBe(2);
  });

  it('a handler that never answers is bounded by requestTimeout (SB_HANDLER_TIMEOUT)', async () => {
    const server = await serve({ requestTimeout: 100 });
    const channel = await tracker.channel(server.address, 'sbp');
    const failure = await channel.request('slow', { timeout: 10_000 }).catch((error) => error);
    expect(failure).toMatchObject({ code: 'SB_REQUEST_FAILED' });
    expect(failure.message).toContain('SB_HANDLER_TIMEOUT');
    expect(text(await channel.request('next', { timeout: 10_000 }))).toBe('re:next');
    await channel.close();
    await until(() => (server.metrics.errors.SB_HANDLER_TIMEOUT ?? 0) >= 1, 10_000);
  });

  it('heartbeat: a peer that never answers PING is cut with SB_PEER_UNRESPONSIVE; an sbp client is kept', async () => {
    const server = await serve({ heartbeat: { interval: 40, maxOutstanding: 1 } });
    const healthy = await tracker.channel(server.address, 'sbp');
    const silent = await tracker.socket(server.address);
    const received: Buffer[] = [];
    silent.on('data', (chunk: Buffer) => received.push(chunk));
    const closed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    await closed; // bounded by the test timeout; expected after about 80 ms
    const decoder = new SbpDecoder();
    decoder.push(Buffer.concat(received));
    const types: number[] = [];
    for (let frame = decoder.next(); frame !== NEED_DATA; frame = decoder.next()) {
      types.push(parseEnvelope(frame).type);
    }
    expect(types[0]).toBe(SbpType.PING);
    await until(() => (server.metrics.errors.SB_PEER_UNRESPONSIVE ?? 0) >= 1, 10_000);
    // The channel answered every PING by itself and is still served.
    expect(text(await healthy.request('alive', { timeout: 10_000 }))).toBe('re:alive');
  });
});

describe('onRequest with dispatch loop (function, fake clock)', () => {
  it('a function gets the body and the connection context', async () => {
    const server = await tracker.server({
      framing: 'sbp',
      handler: 'discard',
      onRequest: (body, context) => `${context.connectionId}:${text(body)}`,
    });
    const channel = await tracker.channel(server.address, 'sbp');
    expect(text(await channel.request('x', { timeout: 5000 }))).toMatch(/^\d+:x$/);
  });

  it('requestTimeout and heartbeat run on the injected clock', async () => {
    const clock = new ManualClock();
    const server = await tracker.server({
      framing: 'sbp',
      handler: 'echo',
      clock,
      requestTimeout: 1000,
      heartbeat: { interval: 500, maxOutstanding: 2 },
      onRequest: () => new Promise<string>(() => undefined),
    });
    const silent = await tracker.socket(server.address);
    const received: Buffer[] = [];
    silent.on('data', (chunk: Buffer) => received.push(chunk));
    let closed = false;
    silent.once('close', () => {
      closed = true;
    });
    silent.write(Buffer.concat(encodeEnvelope(SbpType.REQUEST, 7, Buffer.from('q'))));
    // The REQUEST has been read (its deadline armed) once it counts as a frame in.
    await until(() => server.metrics.framesIn === 1);
    clock.advance(999);
    await new Promise((resolve) => setImmediate(resolve));
    const types = (): number[] => {
      const decoder = new SbpDecoder();
      decoder.push(Buffer.concat(received));
      const seen: number[] = [];
      for (let frame = decoder.next(); frame !== NEED_DATA; frame = decoder.next()) {
        seen.push(parseEnvelope(frame).type);
      }
      return seen;
    };
    await until(() => types().length >= 1);
    expect(types()).toEqual([SbpType.PING]);
    clock.advance(1);
    await until(() => types().includes(SbpType.ERROR));
    expect(closed).toBe(false);
    // Third interval with two pings unanswered: the peer is declared dead.
    clock.advance(500);
    await until(() => closed);
    expect(server.metrics.errors).toMatchObject({ SB_HANDLER_TIMEOUT: 1, SB_PEER_UNRESPONSIVE: 1 });
  });
});

describe('createServer request options are validated loudly', () => {
  it.each([
    [{ framing: 'line', onRequest: (): string => 'x' }, /need framing "sbp".*not "line"/],
    [{ framing: 'length:u32be', heartbeat: true }, /need framing "sbp"/],
    [{ framing: 'sbp', onRequest: 42 }, /"onRequest" must be a function or a module path/],
    [
      { framing: 'sbp', onRequest: (): string => 'x', dispatch: 'threads' },
      /cannot cross to a worker thread/,
    ],
    [
      { framing: 'sbp', onRequest: (): string => 'x', dispatch: 'processes' },
      /cannot cross to a worker process/,
    ],
    [{ framing: 'sbp', heartbeat: { interval: 0 } }, /"interval" must be >= 1/],
    [{ framing: 'sbp', heartbeat: 'often' }, /"heartbeat" must be a boolean/],
    [{ framing: 'sbp', heartbeat: { every: 5 } }, /unknown option "every"/],
    [{ framing: 'sbp', requestTimeout: 5 }, /need "onRequest"/],
    [
      { framing: 'sbp', onRequest: (): string => 'x', requestTimeout: -1 },
      /"requestTimeout" must be >= 0/,
    ],
    [
      { framing: 'sbp', onRequest: (): string => 'x', maxPendingRequests: 0 },
      /"maxPendingRequests" must be >= 1/,
    ],
  ])('%o', async (options, message) => {
    await expect(
      createServer({ handler: 'echo', ...(options as object) } as Parameters<
        typeof createServer
      >[0]),
    ).rejects.toMatchObject({ code: 'SB_BAD_OPTION', message: expect.stringMatching(message) });
  });

  it('without onRequest a REQUEST still ends the connection with SB_BAD_ENVELOPE', async () => {
    const server = await tracker.server({ framing: 'sbp', handler: 'echo' });
    const channel = await tracker.channel(server.address, 'sbp');
    await expect(channel.request('q', { timeout: 5000 })).rejects.toMatchObject({
      code: 'SB_CONNECTION_CLOSED',
    });
    await until(() => (server.metrics.errors.SB_BAD_ENVELOPE ?? 0) === 1);
  });
});
