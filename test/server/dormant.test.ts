/**
 * Dormant start of input-first built-ins (echo, discard; issue #8): until the peer sends
 * a byte, ends, resets or the idle deadline passes, a connection has no Socket or
 * Channel. These tests check that every way out of the dormant phase behaves as an eager
 * start would: same codes, metrics, diagnostics and bytes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  diagnosticChannels,
} from '../../src/diagnostics.js';
import { ManualClock, readAll, Tracker, until } from './helpers.js';

const tracker = new Tracker();
let opened: ConnectionOpenMessage[] = [];
let closedMessages: ConnectionCloseMessage[] = [];
const unsubscribers: (() => void)[] = [];

beforeEach(() => {
  opened = [];
  closedMessages = [];
  unsubscribers.push(
    diagnosticChannels.connectionOpen.subscribe((message) => opened.push(message)),
    diagnosticChannels.connectionClose.subscribe((message) => closedMessages.push(message)),
  );
});

afterEach(async () => {
  for (const unsubscribe of unsubscribers.splice(0)) {
    unsubscribe();
  }
  await tracker.cleanup();
});

const text = (bytes: Uint8Array | null): string =>
  new TextDecoder().decode(bytes ?? new Uint8Array());

describe('dormant connections (echo, discard)', () => {
  it('publish connection:open with the client address before any byte arrives', async () => {
    const server = await tracker.server({ handler: 'echo', framing: 'line' });
    const socket = await tracker.socket(server.address);
    await until(() => opened.length === 1);
    expect(opened[0]!.remoteAddress).toBe(`tcp://127.0.0.1:${socket.localPort}`);
    expect(opened[0]!.localAddress).toBe(server.address);
    expect(opened[0]!.proxied).toBe(false);
    expect(server.connections).toBe(1);
  });

  it('the first chunk wakes the connection and is echoed whole, even when it splits a frame', async () => {
    const server = await tracker.server({ handler: 'echo', framing: 'length:u32be' });
    const socket = await tracker.socket(server.address);
    await until(() => server.connections === 1);
    const received = readAll(socket);
    const frame = Buffer.from([0, 0, 0, 5, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);
    socket.write(frame.subarray(0, 2)); // half a header: the Channel must get these bytes
    await new Promise((resolve) => setTimeout(resolve, 20));
    socket.end(frame.subarray(2));
    const { data } = await received;
    expect([...data]).toEqual([...frame]);
    await until(() => closedMessages.length === 1);
    expect(closedMessages[0]!.code).toBeNull();
    expect(closedMessages[0]!.framesIn).toBe(1);
    expect(closedMessages[0]!.framesOut).toBe(1);
    expect(server.metrics.framesIn).toBe(1);
  });

  it('a peer that half-closes without sending gets a clean close', async () => {
    const server = await tracker.server({ handler: 'echo', framing: 'line' });
    const socket = await tracker.socket(server.address);
    await until(() => server.connections === 1);
    const received = readAll(socket);
    socket.end();
    const { data, error } = await received;
    expect(data.length).toBe(0);
    expect(error).toBeNull();
    await until(() => closedMessages.length === 1);
    expect(closedMessages[0]!.code).toBeNull();
    expect(server.connections).toBe(0);
  });

  it('a peer that resets while dormant is reported as a reset', async () => {
    const server = await tracker.server({ handler: 'discard', framing: 'line' });
    const socket = await tracker.socket(server.address);
    await until(() => server.connections === 1);
    socket.resetAndDestroy();
    await until(() => closedMessages.length === 1);
    expect(closedMessages[0]!.code).toBe('SB_CONNECTION_RESET');
    expect(server.metrics.errors.SB_CONNECTION_RESET).toBe(1);
    expect(server.connections).toBe(0);
  });

  it('bytes then a reset: the bytes are judged first, as with an eager start', async () => {
    const server = await tracker.server({
      handler: 'echo',
      framing: 'length:u32be',
      maxFrame: 16,
    });
    const socket = await tracker.socket(server.address);
    await until(() => server.connections === 1);
    socket.write(Buffer.from([0, 0, 0x03, 0xe8])); // declares 1000 bytes: over maxFrame
    socket.resetAndDestroy();
    await until(() => closedMessages.length === 1);
    expect(closedMessages[0]!.code).toBe('SB_FRAME_TOO_LARGE');
  });

  it('idle deadlines of dormant connections fire in order, each after idleTimeout', async () => {
    const clock = new ManualClock();
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      idleTimeout: 5000,
      clock,
    });
    const first = await tracker.socket(server.address);
    await until(() => server.connections === 1);
    clock.advance(2000);
    const second = await tracker.socket(server.address);
    await until(() => server.connections === 2);
    const firstEnded = readAll(first);
    clock.advance(2999);
    expect(closedMessages).toHaveLength(0);
    clock.advance(1); // 5000 after the first connection
    await until(() => closedMessages.length === 1);
    expect(closedMessages[0]!.code).toBe('SB_IDLE_TIMEOUT');
    expect((await firstEnded).data.length).toBe(0);
    expect(server.connections).toBe(1);
    // The second one woke up in between: its clock restarts at its last byte.
    const secondEnded = readAll(second);
    second.write('still here\n');
    await until(() => server.metrics.framesIn === 1);
    clock.advance(1999); // 5000 after the second connection opened, 1999 after its byte
    expect(closedMessages).toHaveLength(1);
    clock.advance(3001);
    await until(() => closedMessages.length === 2);
    expect(closedMessages[1]!.code).toBe('SB_IDLE_TIMEOUT');
    expect((await secondEnded).data.toString()).toBe('still here\n');
    expect(server.metrics.errors.SB_IDLE_TIMEOUT).toBe(2);
  });

  it('close() ends a dormant connection at once and cleanly: it is idle (#14)', async () => {
    const server = await tracker.server({ handler: 'echo', framing: 'line' });
    const socket = await tracker.socket(server.address);
    await until(() => server.connections === 1);
    const ended = readAll(socket);
    await server.close({ timeout: 3_600_000 });
    const { data, error } = await ended;
    expect(data.length).toBe(0);
    expect(error).toBeNull(); // a FIN, not a reset
    expect(closedMessages).toHaveLength(1);
    expect(closedMessages[0]!.code).toBeNull();
    expect(server.connections).toBe(0);
  });

  it('threads dispatch: a dormant connection wakes into the pool, and idles out like the others', async () => {
    const clock = new ManualClock();
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      dispatch: 'threads',
      workers: 1,
      idleTimeout: 5000,
      clock,
    });
    const awake = await tracker.channel(server.address, 'line');
    const sleeper = await tracker.socket(server.address);
    await until(() => server.connections === 2);
    await awake.send('via the pool');
    expect(text(await awake.receive())).toBe('via the pool');
    const sleeperEnded = readAll(sleeper);
    clock.advance(5000);
    await until(() => closedMessages.length === 2);
    expect(closedMessages.map((message) => message.code)).toEqual([
      'SB_IDLE_TIMEOUT',
      'SB_IDLE_TIMEOUT',
    ]);
    expect((await sleeperEnded).data.length).toBe(0);
  });

  it('many dormant connections each wake independently', async () => {
    const server = await tracker.server({ handler: 'echo', framing: 'line' });
    const channels = [];
    for (let index = 0; index < 20; index++) {
      channels.push(await tracker.channel(server.address, 'line'));
    }
    await until(() => server.connections === 20);
    for (let index = 19; index >= 0; index -= 2) {
      await channels[index]!.send(`hello ${index}`);
      expect(text(await channels[index]!.receive())).toBe(`hello ${index}`);
    }
    expect(server.metrics.framesIn).toBe(10);
    expect(server.connections).toBe(20);
  });
});
