import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diagnosticChannels, type FrameErrorMessage } from '../../src/diagnostics.js';
import { ManualClock, readAll, Tracker, until } from './helpers.js';

const tracker = new Tracker();
let errors: FrameErrorMessage[] = [];
let unsubscribe: () => void = () => undefined;
beforeEach(() => {
  errors = [];
  unsubscribe = diagnosticChannels.frameError.subscribe((message) => errors.push(message));
});
afterEach(async () => {
  unsubscribe();
  await tracker.cleanup();
});

/** A real GC between measurements, so freed buffers are not counted as held. */
setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;
async function collectGarbage(): Promise<void> {
  for (let pass = 0; pass < 3; pass++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const text = (bytes: Uint8Array | null): string =>
  new TextDecoder().decode(bytes ?? new Uint8Array());

describe('maxConnections', () => {
  it('N + 1 clients: the extra one gets one refusal line and is closed; the first N keep echoing', async () => {
    const server = await tracker.server({ handler: 'echo', framing: 'line', maxConnections: 3 });
    const clients = await Promise.all([1, 2, 3].map(() => tracker.channel(server.address, 'line')));
    for (const client of clients) {
      await client.send('ping');
      expect(text(await client.receive())).toBe('ping');
    }
    const extra = await tracker.socket(server.address);
    const { data } = await readAll(extra);
    expect(data.toString()).toBe(
      'SB_TOO_MANY_CONNECTIONS server is at maxConnections; connection refused\n',
    );
    for (const client of clients) {
      await client.send('still served');
      expect(text(await client.receive())).toBe('still served');
    }
    expect(server.metrics.connectionsRefused.max_connections).toBe(1);
    expect(server.metrics.errors.SB_TOO_MANY_CONNECTIONS).toBe(1);
    expect(errors.filter((message) => message.code === 'SB_TOO_MANY_CONNECTIONS')).toHaveLength(1);
    // A slot freed is a slot available again.
    await clients[0]!.close();
    await until(() => server.connections === 2);
    const next = await tracker.channel(server.address, 'line');
    await next.send('new');
    expect(text(await next.receive())).toBe('new');
  });

  it('a framing that cannot carry text gets a bare close', async () => {
    const server = await tracker.server({ handler: 'echo', framing: 'fixed:4', maxConnections: 1 });
    const first = await tracker.channel(server.address, 'fixed:4');
    await first.send('abcd');
    await first.receive();
    const extra = await tracker.socket(server.address);
    const { data } = await readAll(extra);
    expect(data.byteLength).toBe(0);
  });

  it('maxConnectionsPerIp counts per client address', async () => {
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      maxConnectionsPerIp: 2,
    });
    const local = await Promise.all([1, 2].map(() => tracker.channel(server.address, 'line')));
    for (const client of local) {
      await client.send('x');
      await client.receive();
    }
    const third = await tracker.socket(server.address);
    expect((await readAll(third)).data.toString()).toMatch(
      /^SB_TOO_MANY_CONNECTIONS .*maxConnectionsPerIp/,
    );
    // Another loopback address is another client.
    const other = await tracker.socket(server.address, '127.0.0.2');
    const reply = new Promise<string>((resolve) =>
      other.once('data', (chunk) => resolve(chunk.toString())),
    );
    other.write('from 127.0.0.2\n');
    expect(await reply).toBe('from 127.0.0.2\n');
    expect(server.metrics.connectionsRefused.max_connections_per_ip).toBe(1);
  });
});

describe('maxFrame', () => {
  it('an oversized frame ends that connection with SB_FRAME_TOO_LARGE', async () => {
    const server = await tracker.server({ handler: 'echo', framing: 'line', maxFrame: 16 });
    const socket = await tracker.socket(server.address);
    const ended = readAll(socket);
    socket.write(`${'x'.repeat(17)}\n`);
    await ended;
    await until(() => errors.length === 1);
    expect(errors[0]!.code).toBe('SB_FRAME_TOO_LARGE');
    expect(errors[0]!.error.message).not.toContain('xxx');
  });
});

describe('timeouts (injected clock)', () => {
  it('slowloris: a frame trickled 1 byte per interval is cut by frameTimeout', async () => {
    const clock = new ManualClock();
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      frameTimeout: 1000,
      idleTimeout: 0,
      clock,
    });
    const socket = await tracker.socket(server.address);
    const ended = readAll(socket);
    await until(() => server.connections === 1);
    socket.write('G');
    await until(() => clock.pending === 1); // the frame timer is armed: the frame has started
    for (let step = 0; step < 3; step++) {
      socket.write('E');
      clock.advance(300);
    }
    expect(errors).toHaveLength(0); // 900 ms into the frame: still allowed
    clock.advance(100);
    await until(() => errors.length === 1);
    expect(errors[0]!.code).toBe('SB_FRAME_TIMEOUT');
    await ended;
    expect(server.metrics.errors.SB_FRAME_TIMEOUT).toBe(1);
  });

  it('idle: no bytes for idleTimeout ms closes the connection; traffic resets the clock', async () => {
    const clock = new ManualClock();
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      idleTimeout: 5000,
      clock,
    });
    const channel = await tracker.channel(server.address, 'line');
    await until(() => server.connections === 1);
    clock.advance(3000);
    await channel.send('keepalive');
    expect(text(await channel.receive())).toBe('keepalive');
    clock.advance(3000); // 6000 since open, 3000 since the last byte
    expect(errors).toHaveLength(0);
    clock.advance(2000);
    await until(() => errors.length === 1);
    expect(errors[0]!.code).toBe('SB_IDLE_TIMEOUT');
    expect(await channel.receive()).toBeNull();
  });

  it('a client that never reads is cut by writeTimeout, with server memory bounded (measured)', async () => {
    const clock = new ManualClock();
    const server = await tracker.server({
      handler: 'echo',
      framing: 'length:u32be',
      writeTimeout: 2000,
      idleTimeout: 0,
      clock,
    });
    const socket = await tracker.socket(server.address);
    socket.pause(); // never read: the server's replies back up
    const ended = readAll(socket);
    socket.pause();
    const frame = Buffer.alloc(4 + 64 * 1024, 0x61);
    frame.writeUInt32BE(64 * 1024, 0);
    await collectGarbage();
    const before = process.memoryUsage().arrayBuffers;
    let pushed = 0;
    // Write until the whole path is full: the client's socket stays blocked (no 'drain') for 300 ms.
    for (let round = 0; round < 2000; round++) {
      if (socket.write(frame)) {
        pushed += frame.byteLength;
        continue;
      }
      pushed += frame.byteLength;
      const drained = await Promise.race([
        new Promise<boolean>((resolve) => socket.once('drain', () => resolve(true))),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 300)),
      ]);
      if (!drained) {
        break;
      }
    }
    await collectGarbage();
    const grown = process.memoryUsage().arrayBuffers - before;
    console.info(
      `writeTimeout test: client pushed ${(pushed / 2 ** 20).toFixed(1)} MiB; server-process arrayBuffers grew ${(grown / 2 ** 20).toFixed(1)} MiB`,
    );
    // Bounded by the socket read buffer (1 MiB) + channel input queue (1 MiB) + one
    // reply over the write high-water mark, not by what the client pushed.
    expect(grown).toBeLessThan(4 * 2 ** 20);
    expect(pushed).toBeGreaterThan(2 * grown);
    expect(errors).toHaveLength(0);
    clock.advance(2000);
    await until(() => errors.length === 1);
    expect(errors[0]!.code).toBe('SB_WRITE_TIMEOUT');
    socket.resume();
    await ended;
    expect(server.connections).toBe(0);
  });

  it('maxQueuedOutput: a handler that floods without awaiting send is cut', async () => {
    const server = await tracker.server({
      framing: 'line',
      maxQueuedOutput: 64 * 1024,
      handler: async (channel) => {
        await channel.receive();
        const line = 'y'.repeat(1000);
        for (let index = 0; index < 1000; index++) {
          void channel.send(line).catch(() => undefined);
        }
        await channel.receive();
      },
    });
    const socket = await tracker.socket(server.address);
    socket.pause();
    const ended = readAll(socket);
    socket.pause();
    socket.write('go\n');
    await until(() => errors.length === 1);
    expect(errors[0]!.code).toBe('SB_OUTPUT_QUEUE_FULL');
    socket.resume();
    await ended;
  });
});

describe('workers', () => {
  it('a worker count past any machine is SB_BAD_OPTION, before a single worker starts', async () => {
    // `--workers 1000000000 --dispatch threads` started threads until V8 died of OOM
    // (`--workers 100000 --dispatch processes`: forked until the kernel killed it).
    for (const dispatch of ['threads', 'processes'] as const) {
      await expect(
        tracker.server({ handler: 'echo', framing: 'line', dispatch, workers: 1_000_000_000 }),
      ).rejects.toMatchObject({ code: 'SB_BAD_OPTION', message: expect.stringMatching(/workers/) });
    }
  });
});
