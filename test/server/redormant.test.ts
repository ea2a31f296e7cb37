/**
 * Idle connections go back to sleep (issue #15, item 4): a connection of an input-first
 * body (echo, discard, the threads pool) that exchanged messages and is then idle at two
 * sleep checks in a row drops its Socket and Channel again. These tests drive a
 * ConnectionSet over real loopback sockets with a manual clock (the sleep checks and the
 * idle deadline run on it) and check that every way out of the second sleep behaves as a
 * connection that never slept: no byte lost, same codes, counters, budget and deadlines.
 */
import * as net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseFraming } from '../../src/codec/spec.js';
import { type ConnectionCloseMessage, diagnosticChannels } from '../../src/diagnostics.js';
import { DEFAULTS } from '../../src/options.js';
import type { ConnectionSettings } from '../../src/server/connection.js';
import type { ConnectionBody } from '../../src/server/connection-handler.js';
import { ConnectionSet } from '../../src/server/connection-set.js';
import { poolBody, ThreadPool } from '../../src/server/dispatch/threads.js';
import { discardBody, echoBody } from '../../src/server/handlers.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { ManualClock, readAll, until } from './helpers.js';

const FRAME_HANDLER = new URL('./fixtures/frame-handler.ts', import.meta.url).pathname;
const CHECK = DEFAULTS.sleepCheckInterval;

let closedMessages: ConnectionCloseMessage[] = [];
let unsubscribe: () => void = () => undefined;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(() => {
  closedMessages = [];
  const listener = (message: ConnectionCloseMessage): void => {
    closedMessages.push(message);
  };
  unsubscribe = diagnosticChannels.connectionClose.subscribe(listener);
});

afterEach(async () => {
  unsubscribe();
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

interface Rig {
  set: ConnectionSet;
  clock: ManualClock;
  metrics: ServerMetrics;
  client: net.Socket;
}

/** A ConnectionSet serving `body` on a loopback listener, and one raw client connected to it. */
async function rig(
  body: ConnectionBody,
  options: { idleTimeout?: number; maxFrame?: number; framing?: string } = {},
): Promise<Rig> {
  const clock = new ManualClock();
  const metrics = new ServerMetrics();
  const settings: ConnectionSettings = {
    serverId: 1,
    framing: parseFraming(options.framing ?? 'length:u32be', {
      ...(options.maxFrame === undefined ? {} : { maxFrame: options.maxFrame }),
    }),
    limits: {
      idleTimeout: options.idleTimeout ?? 0,
      frameTimeout: 0,
      writeTimeout: 30_000,
      maxQueuedOutput: 1 << 20,
      maxBufferedInputTotal: 1 << 20,
      maxBufferedOutputTotal: 1 << 20,
    },
    tls: null,
    metrics,
    clock,
  };
  const set = new ConnectionSet(settings, body);
  let nextId = 0;
  const listener = net.createServer((raw) => {
    raw.on('error', () => undefined);
    nextId += 1;
    set.serveWith(raw, nextId, null, () => undefined, '');
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    await set.destroyAll(new Error('test over') as never);
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  });
  const port = (listener.address() as net.AddressInfo).port;
  const client = net.connect({ host: '127.0.0.1', port });
  client.on('error', () => undefined);
  cleanups.push(() => {
    client.destroy();
  });
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  await until(() => set.size === 1);
  return { set, clock, metrics, client };
}

function frame(text: string): Buffer {
  const body = Buffer.from(text);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

/** Collects what the client receives; `bytes()` is everything so far. */
function collect(client: net.Socket): { bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  client.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { bytes: () => Buffer.concat(chunks) };
}

/** Two sleep checks pass: an idle connection goes back to sleep (once its body returned). */
async function sleepNow(r: Rig): Promise<void> {
  r.clock.advance(CHECK);
  r.clock.advance(CHECK);
  await until(() => r.set.dormant === 1);
}

describe('idle connections go back to sleep (#15)', () => {
  it('echo: sleeps after an exchange and wakes with no byte lost, whole, split or with a partial frame', async () => {
    const r = await rig(echoBody);
    const received = collect(r.client);
    expect(r.set.dormant).toBe(1); // never used: dormant from the start
    r.client.write(frame('one'));
    await until(() => received.bytes().length === frame('one').length);
    expect(r.set.dormant).toBe(0);
    await sleepNow(r);
    expect(r.set.liveStats().bufferedInput).toBe(0);

    // Two frames in one chunk wake it; both are echoed.
    r.client.write(Buffer.concat([frame('two'), frame('three')]));
    const afterTwo = frame('one').length + frame('two').length + frame('three').length;
    await until(() => received.bytes().length === afterTwo);
    await sleepNow(r);

    // A partial frame wakes it and keeps it awake (its bytes are in the decoder).
    const four = frame('four');
    r.client.write(four.subarray(0, 2));
    await until(() => r.set.dormant === 0);
    await until(() => r.set.liveStats().bufferedInput === 2);
    r.clock.advance(CHECK);
    r.clock.advance(CHECK);
    r.clock.advance(CHECK);
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.set.dormant).toBe(0);
    r.client.write(four.subarray(2, 5));
    await until(() => r.set.liveStats().bufferedInput === 5);
    r.client.write(four.subarray(5));
    await until(() => received.bytes().length === afterTwo + four.length);
    expect(received.bytes()).toEqual(
      Buffer.concat([frame('one'), frame('two'), frame('three'), four]),
    );
    await sleepNow(r);
    expect(r.set.liveStats().bufferedInput).toBe(0);
    expect(r.set.liveStats()).toMatchObject({
      framesIn: 4,
      framesOut: 4,
      bytesIn: 15,
      bytesOut: 15,
      bufferedInput: 0,
    });

    // End of input while asleep: a clean close with every counter kept.
    r.client.end();
    await until(() => closedMessages.length === 1);
    expect(closedMessages[0]).toMatchObject({
      code: null,
      framesIn: 4,
      framesOut: 4,
      bytesIn: 15,
      bytesOut: 15,
    });
    expect(r.metrics.framesIn).toBe(4);
    expect(r.metrics.bytesOut).toBe(15);
    expect(r.metrics.connectionsOpen).toBe(0);
    expect(r.set.liveStats().bufferedInput).toBe(0);
    expect(r.set.size).toBe(0);
  });

  it('a connection that keeps talking does not sleep', async () => {
    const r = await rig(echoBody);
    const received = collect(r.client);
    let expected = 0;
    for (let index = 0; index < 6; index++) {
      const message = frame(`m${index}`);
      r.client.write(message);
      expected += message.length;
      await until(() => received.bytes().length === expected);
      r.clock.advance(CHECK); // one message between any two checks
      await new Promise((resolve) => setImmediate(resolve));
      expect(r.set.dormant).toBe(0);
    }
  });

  it('a reset right after waking is reported as a reset, after the bytes that woke it', async () => {
    const r = await rig(discardBody);
    r.client.write(frame('hello'));
    await until(() => r.set.liveStats().framesIn === 1);
    await sleepNow(r);
    r.client.write(frame('again'));
    await until(() => r.set.liveStats().framesIn === 2);
    r.client.resetAndDestroy();
    await until(() => closedMessages.length === 1);
    expect(closedMessages[0]).toMatchObject({ code: 'SB_CONNECTION_RESET', framesIn: 2 });
    expect(r.metrics.errors.get('SB_CONNECTION_RESET')).toBe(1);
    expect(r.set.liveStats().bufferedInput).toBe(0);
  });

  it('bytes then a reset while asleep: the bytes are judged first', async () => {
    const r = await rig(echoBody, { maxFrame: 16 });
    r.client.write(frame('hi'));
    await until(() => r.set.liveStats().framesOut === 1);
    await sleepNow(r);
    r.client.write(Buffer.from([0, 0, 0x03, 0xe8])); // declares 1000 bytes: over maxFrame
    r.client.resetAndDestroy();
    await until(() => closedMessages.length === 1);
    expect(closedMessages[0]).toMatchObject({ code: 'SB_FRAME_TOO_LARGE', framesIn: 1 });
  });

  it('a reset while asleep is a reset', async () => {
    const r = await rig(echoBody);
    r.client.write(frame('hi'));
    await until(() => r.set.liveStats().framesOut === 1);
    await sleepNow(r);
    r.client.resetAndDestroy();
    await until(() => closedMessages.length === 1);
    expect(closedMessages[0]).toMatchObject({
      code: 'SB_CONNECTION_RESET',
      framesIn: 1,
      framesOut: 1,
    });
  });

  it('the idle deadline carries over: last traffic + idleTimeout, not a fresh one', async () => {
    const r = await rig(echoBody, { idleTimeout: 5000 });
    const ended = readAll(r.client);
    r.client.write(frame('hi'));
    await until(() => r.set.liveStats().framesOut === 1);
    await sleepNow(r); // 2 * CHECK after the last traffic
    r.clock.advance(5000 - 2 * CHECK - 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(closedMessages).toHaveLength(0);
    r.clock.advance(1);
    await until(() => closedMessages.length === 1);
    expect(closedMessages[0]).toMatchObject({ code: 'SB_IDLE_TIMEOUT', framesIn: 1, framesOut: 1 });
    const { data } = await ended;
    expect(data).toEqual(frame('hi'));
    expect(r.metrics.errors.get('SB_IDLE_TIMEOUT')).toBe(1);
  });

  it('a woken connection gets a fresh idle deadline from its new traffic', async () => {
    const r = await rig(echoBody, { idleTimeout: 5000 });
    r.client.write(frame('a'));
    await until(() => r.set.liveStats().framesOut === 1);
    await sleepNow(r);
    r.clock.advance(3000);
    r.client.write(frame('b'));
    await until(() => r.set.liveStats().framesOut === 2);
    await sleepNow(r);
    r.clock.advance(5000 - 2 * CHECK - 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(closedMessages).toHaveLength(0);
    r.clock.advance(1);
    await until(() => closedMessages.length === 1);
    expect(closedMessages[0]!.code).toBe('SB_IDLE_TIMEOUT');
  });

  it('drain ends a re-dormant connection at once and cleanly', async () => {
    const r = await rig(echoBody);
    const ended = readAll(r.client);
    r.client.write(frame('hi'));
    await until(() => r.set.liveStats().framesOut === 1);
    await sleepNow(r);
    const draining = r.set.drain(3_600_000);
    r.clock.advance(DEFAULTS.closeIdleQuiet); // woken, it is idle for the quiet period
    expect(await draining).toBe(0);
    const { data, error } = await ended;
    expect(data).toEqual(frame('hi'));
    expect(error).toBeNull();
    expect(closedMessages[0]).toMatchObject({ code: null, framesIn: 1, framesOut: 1 });
  });

  it('threads: the pool body sleeps and wakes, and frame sequence numbers go on', async () => {
    const pool = await ThreadPool.start(1, { module: FRAME_HANDLER });
    cleanups.push(() => pool.close());
    const r = await rig(poolBody(pool, new ServerMetrics()));
    const received = collect(r.client);
    const replies = (): { sequence: number }[] => {
      const bytes = received.bytes();
      const out: { sequence: number }[] = [];
      let offset = 0;
      while (offset + 4 <= bytes.length) {
        const length = bytes.readUInt32BE(offset);
        if (offset + 4 + length > bytes.length) {
          break;
        }
        out.push(JSON.parse(bytes.subarray(offset + 4, offset + 4 + length).toString()));
        offset += 4 + length;
      }
      return out;
    };
    r.client.write(Buffer.concat([frame('ctx'), frame('ctx')]));
    await until(() => replies().length === 2);
    await sleepNow(r);
    expect(r.set.liveStats().bufferedInput).toBe(0);
    const split = frame('ctx');
    r.client.write(split.subarray(0, 3));
    await until(() => r.set.dormant === 0);
    r.client.write(split.subarray(3));
    await until(() => replies().length === 3);
    expect(replies().map((reply) => reply.sequence)).toEqual([0, 1, 2]);
    await sleepNow(r);
    r.client.end();
    await until(() => closedMessages.length === 1);
    expect(closedMessages[0]).toMatchObject({ code: null, framesIn: 3, framesOut: 3 });
    expect(r.set.liveStats().bufferedInput).toBe(0);
  });
});
