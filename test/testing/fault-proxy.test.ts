import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { FaultProxy, type FaultProxyEvent } from '../../src/testing/index.js';
import { startRecordingEcho } from '../helpers/recording-echo.js';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

const startEcho = (listen?: { port: number } | { path: string }) =>
  startRecordingEcho(cleanups, listen);

async function startProxy(options: Parameters<typeof FaultProxy.start>[0]): Promise<FaultProxy> {
  const proxy = await FaultProxy.start(options);
  cleanups.push(() => proxy.close());
  return proxy;
}

/** A client socket that collects what it receives and how it ended. */
interface Client {
  socket: net.Socket;
  data: Buffer[];
  received(): Buffer;
  ended: Promise<'end' | 'close'>;
  errored: Promise<NodeJS.ErrnoException>;
  waitFor(bytes: number, timeoutMs?: number): Promise<Buffer>;
}

async function connectClient(port: number): Promise<Client> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  cleanups.push(() => {
    socket.destroy();
  });
  const data: Buffer[] = [];
  let receivedBytes = 0;
  const waiters: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    data.push(chunk);
    receivedBytes += chunk.length;
    for (const waiter of waiters.splice(0)) {
      waiter();
    }
  });
  const ended = new Promise<'end' | 'close'>((resolve) => {
    socket.once('end', () => resolve('end'));
    socket.once('close', () => resolve('close'));
  });
  const errored = new Promise<NodeJS.ErrnoException>((resolve) => {
    socket.once('error', resolve);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const received = (): Buffer => Buffer.concat(data);
  const waitFor = (bytes: number, timeoutMs = 5_000): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out with ${receivedBytes}/${bytes} bytes`)),
        timeoutMs,
      );
      const check = (): void => {
        // A running count: concatenating on every chunk would be quadratic.
        if (receivedBytes >= bytes) {
          clearTimeout(timer);
          resolve(received());
        } else {
          waiters.push(check);
        }
      };
      check();
    });
  return { socket, data, received, ended, errored, waitFor };
}

function pattern(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let index = 0; index < length; index += 1) {
    bytes[index] = (index * 7 + 3) & 0xff;
  }
  return bytes;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('FaultProxy', () => {
  it('forwards both ways without faults and counts bytes', async () => {
    const echo = await startEcho();
    const proxy = await startProxy({ target: `127.0.0.1:${echo.port}` });
    expect(proxy.address).toBe(`127.0.0.1:${proxy.port}`);
    const client = await connectClient(proxy.port);
    const payload = pattern(4096);
    client.socket.write(payload);
    expect(await client.waitFor(payload.length)).toEqual(payload);
    expect(proxy.stats).toMatchObject({
      connections: 1,
      activeConnections: 1,
      bytesUpstream: 4096,
      bytesDownstream: 4096,
    });
  });

  it('forwards a half-close (FIN) in each direction', async () => {
    const echo = await startEcho();
    const proxy = await startProxy({ target: { host: '127.0.0.1', port: echo.port } });
    const client = await connectClient(proxy.port);
    client.socket.end('bye');
    expect(await client.ended).toBe('end');
    expect(client.received().toString()).toBe('bye');
  });

  it('slice 1 delivers byte by byte, every byte in order', async () => {
    const echo = await startEcho();
    const proxy = await startProxy({ target: `127.0.0.1:${echo.port}` });
    proxy.addFault('upstream', { type: 'slice', maxBytes: 1 });
    const client = await connectClient(proxy.port);
    // Wait until the server has accepted, so it reads each byte as it comes.
    client.socket.write(Buffer.alloc(0));
    for (let tries = 0; tries < 200 && echo.sockets.size === 0; tries += 1) {
      await delay(5);
    }
    const payload = pattern(64);
    client.socket.write(payload);
    expect(await client.waitFor(payload.length)).toEqual(payload);
    expect(echo.received()).toEqual(payload);
    // Each 1-byte write leaves as its own segment; the in-process server reads it alone.
    expect(Math.max(...echo.chunks.map((chunk) => chunk.length))).toBe(1);
    expect(echo.chunks.length).toBe(64);
  });

  it('latency delays delivery by at least the configured time', async () => {
    const echo = await startEcho();
    const proxy = await startProxy({ target: `127.0.0.1:${echo.port}` });
    proxy.addFault('downstream', { type: 'latency', ms: 40 });
    const client = await connectClient(proxy.port);
    const started = performance.now();
    client.socket.write('ping');
    await client.waitFor(4);
    expect(performance.now() - started).toBeGreaterThanOrEqual(39);
  });

  it('bandwidth paces delivery', async () => {
    const echo = await startEcho();
    const proxy = await startProxy({ target: `127.0.0.1:${echo.port}` });
    // 2000 B/s in 100-byte pieces: 300 bytes take at least two 50 ms slots.
    proxy.addFault('upstream', { type: 'bandwidth', bytesPerSecond: 2000 });
    const client = await connectClient(proxy.port);
    const started = performance.now();
    const payload = pattern(300);
    client.socket.write(payload);
    expect(await client.waitFor(300)).toEqual(payload);
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
  });

  it('resetAfter forwards N bytes then resets the client (ECONNRESET)', async () => {
    const echo = await startEcho();
    const proxy = await startProxy({ target: `127.0.0.1:${echo.port}` });
    proxy.addFault('upstream', { type: 'resetAfter', bytes: 10 });
    const client = await connectClient(proxy.port);
    const payload = pattern(100);
    client.socket.write(payload);
    const error = await client.errored;
    expect(error.code).toBe('ECONNRESET');
    expect(echo.received().length).toBeLessThanOrEqual(10);
    expect(payload.subarray(0, echo.received().length)).toEqual(echo.received());
    expect(proxy.stats.resets).toBe(1);
  });

  // #14 item 11: downstream used to end with a FIN (the client read EOF, not a reset).
  it('resetAfter resets in both directions: each peer sees ECONNRESET, 20 runs each', async () => {
    const echo = await startEcho();
    const proxy = await startProxy({ target: `127.0.0.1:${echo.port}` });
    for (const direction of ['upstream', 'downstream'] as const) {
      const id = proxy.addFault(direction, { type: 'resetAfter', bytes: 10 });
      for (let run = 0; run < 20; run += 1) {
        const client = await connectClient(proxy.port);
        client.socket.write(pattern(100));
        const outcome = await Promise.race([
          client.errored.then((error) => error.code),
          client.ended.then((how) => how),
        ]);
        expect(outcome, `${direction} run ${run}`).toBe('ECONNRESET');
        expect(client.received().length).toBeLessThanOrEqual(10);
        client.socket.destroy();
      }
      proxy.removeFault(id);
    }
    expect(proxy.stats.resets).toBe(40);
  });

  it('toxicity rolls once per connection direction, from the seed: the same seed hits the same connections', async () => {
    const echo = await startEcho();
    const pattern = async (seed: number): Promise<string> => {
      const proxy = await startProxy({ target: `127.0.0.1:${echo.port}`, seed });
      proxy.addFault('downstream', { type: 'closeAfter', bytes: 0 }, { toxicity: 0.5 });
      let hits = '';
      for (let run = 0; run < 16; run += 1) {
        const client = await connectClient(proxy.port);
        client.socket.write('x');
        const outcome = await Promise.race([client.ended, client.waitFor(1).then(() => 'data')]);
        hits += outcome === 'data' ? '.' : 'X';
        client.socket.destroy();
      }
      return hits;
    };
    const first = await pattern(11);
    expect(await pattern(11)).toBe(first);
    expect(first).toMatch(/X/);
    expect(first).toMatch(/\./);
  });

  it('blackhole accepts and drops everything, keeping the connection open', async () => {
    const echo = await startEcho();
    const proxy = await startProxy({ target: `127.0.0.1:${echo.port}` });
    proxy.addFault('upstream', { type: 'blackhole' });
    const client = await connectClient(proxy.port);
    client.socket.write(pattern(500));
    await delay(80);
    expect(echo.received().length).toBe(0);
    expect(client.received().length).toBe(0);
    expect(proxy.stats.bytesDropped).toBe(500);
    expect(client.socket.destroyed).toBe(false);
  });

  it('halfOpen holds one direction without closing; removing it releases the bytes', async () => {
    const echo = await startEcho();
    const proxy = await startProxy({ target: `127.0.0.1:${echo.port}` });
    const fault = proxy.addFault('downstream', { type: 'halfOpen' });
    const client = await connectClient(proxy.port);
    client.socket.write('hello');
    await delay(80);
    expect(echo.received().toString()).toBe('hello');
    expect(client.received().length).toBe(0);
    expect(client.socket.destroyed).toBe(false);
    expect(proxy.removeFault(fault)).toBe(true);
    expect((await client.waitFor(5)).toString()).toBe('hello');
  });

  it('closeAfter forwards N bytes then closes gracefully (FIN, no error)', async () => {
    const echo = await startEcho();
    const proxy = await startProxy({ target: `127.0.0.1:${echo.port}` });
    proxy.addFault('downstream', { type: 'closeAfter', bytes: 5 });
    const client = await connectClient(proxy.port);
    let errored = false;
    client.socket.on('error', () => {
      errored = true;
    });
    client.socket.write('hello world');
    expect(await client.ended).toBe('end');
    expect(client.received().toString()).toBe('hello');
    expect(errored).toBe(false);
    expect(proxy.stats.gracefulCloses).toBe(1);
  });

  it('faults added and removed during traffic lose and reorder nothing', async () => {
    const echo = await startEcho();
    const proxy = await startProxy({ target: `127.0.0.1:${echo.port}`, seed: 3 });
    const client = await connectClient(proxy.port);
    const messages = 120;
    const expected: Buffer[] = [];
    let latency = 0;
    let slice = 0;
    for (let index = 0; index < messages; index += 1) {
      const message = Buffer.from(`message ${String(index).padStart(4, '0')};`);
      expected.push(message);
      client.socket.write(message);
      if (index === 20) {
        latency = proxy.addFault('both', { type: 'latency', ms: 5, jitterMs: 5 });
      }
      if (index === 50) {
        slice = proxy.addFault('downstream', { type: 'slice', maxBytes: 3 });
      }
      if (index === 80) {
        proxy.removeFault(latency);
      }
      if (index === 100) {
        proxy.removeFault(slice);
      }
      if (index % 10 === 0) {
        await delay(2);
      }
    }
    const all = Buffer.concat(expected);
    expect(await client.waitFor(all.length)).toEqual(all);
    expect(echo.received()).toEqual(all);
  });

  it('the same seed gives the same jitter schedule', async () => {
    async function schedule(seed: number): Promise<number[]> {
      const echo = await startEcho();
      const delays: number[] = [];
      const onEvent = (event: FaultProxyEvent): void => {
        if (event.type === 'delay') {
          delays.push(event.ms);
        }
      };
      const proxy = await startProxy({ target: `127.0.0.1:${echo.port}`, seed, onEvent });
      proxy.addFault('downstream', { type: 'latency', ms: 3, jitterMs: 3 });
      const client = await connectClient(proxy.port);
      // One request at a time, so each reply is exactly one chunk.
      for (let index = 1; index <= 8; index += 1) {
        client.socket.write('x');
        await client.waitFor(index);
      }
      return delays;
    }
    const first = await schedule(1234);
    const second = await schedule(1234);
    const other = await schedule(99);
    expect(first).toHaveLength(8);
    expect(second).toEqual(first);
    expect(other).not.toEqual(first);
    for (const ms of first) {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThanOrEqual(6);
    }
  });

  it('applies backpressure: a target that does not read slows the client, memory stays bounded', async () => {
    const echo = await startEcho();
    const proxy = await startProxy({
      target: `127.0.0.1:${echo.port}`,
      highWaterMark: 64 * 1024,
    });
    const client = await connectClient(proxy.port);
    for (let tries = 0; tries < 200 && echo.sockets.size === 0; tries += 1) {
      await delay(5);
    }
    const [serverSide] = [...echo.sockets];
    serverSide!.pause();
    const payload = pattern(24 * 1024 * 1024);
    client.socket.write(payload);
    await delay(300);
    // Kernel buffers absorb a few MiB; the proxy must not read the rest into memory.
    expect(proxy.stats.bytesUpstream).toBeLessThan(16 * 1024 * 1024);
    expect(client.socket.writableLength).toBeGreaterThan(4 * 1024 * 1024);
    serverSide!.resume();
    expect((await client.waitFor(payload.length, 20_000)).equals(payload)).toBe(true);
  });

  it('forwards to a unix socket target', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'sb-fault-proxy-'));
    cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
    const path = join(directory, 'echo.sock');
    await startEcho({ path });
    const proxy = await startProxy({ target: `unix:${path}` });
    const client = await connectClient(proxy.port);
    client.socket.write('over unix');
    expect((await client.waitFor(9)).toString()).toBe('over unix');
  });

  it('close() is idempotent, destroys piped connections, and works with await using', async () => {
    const echo = await startEcho();
    let client: Client;
    {
      await using proxy = await FaultProxy.start({ target: `127.0.0.1:${echo.port}` });
      client = await connectClient(proxy.port);
      client.socket.write('a');
      await client.waitFor(1);
      const first = proxy.close();
      expect(proxy.close()).toBe(first);
      await first;
    }
    await client.ended;
    expect(echo.received().toString()).toBe('a');
  });

  it('a refused target closes the client connection', async () => {
    const echo = await startEcho();
    const port = echo.port;
    await new Promise<void>((resolve) => echo.server.close(() => resolve()));
    const proxy = await startProxy({ target: `127.0.0.1:${port}` });
    const client = await connectClient(proxy.port);
    client.socket.on('error', () => {});
    await client.ended;
    expect(client.received().length).toBe(0);
  });

  it('refuses non-loopback targets and listen addresses, and bad faults', async () => {
    const codeOf = async (promise: Promise<unknown>): Promise<string> => {
      try {
        await promise;
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidArgumentError);
        return (error as InvalidArgumentError).code;
      }
      return 'resolved';
    };
    expect(await codeOf(FaultProxy.start({ target: '10.0.0.1:80' }))).toBe('SB_INVALID_ARGUMENT');
    expect(await codeOf(FaultProxy.start({ target: { host: 'example.com', port: 80 } }))).toBe(
      'SB_INVALID_ARGUMENT',
    );
    expect(await codeOf(FaultProxy.start({ target: '127.0.0.1:80', listen: '0.0.0.0:0' }))).toBe(
      'SB_INVALID_ARGUMENT',
    );
    expect(await codeOf(FaultProxy.start({ target: '127.0.0.1:99999' }))).toBe('SB_BAD_ADDRESS');
    expect(await codeOf(FaultProxy.start({ target: '127.0.0.1:80', seed: -1 }))).toBe(
      'SB_BAD_OPTION',
    );
    const echo = await startEcho();
    const proxy = await startProxy({ target: `[::ffff:127.0.0.1]:${echo.port}` });
    expect(() => proxy.addFault('upstream', { type: 'slice', maxBytes: 0 })).toThrow(
      InvalidArgumentError,
    );
    expect(() => proxy.addFault('sideways' as 'upstream', { type: 'blackhole' })).toThrow(
      InvalidArgumentError,
    );
    expect(proxy.removeFault(12345)).toBe(false);
  });
});

describe('FaultProxy condemned connections', () => {
  it('holds at most maxCondemnedConnections held by a timeout fault: the oldest is reset', async () => {
    const echo = await startEcho();
    const events: FaultProxyEvent[] = [];
    const proxy = await startProxy({
      target: `127.0.0.1:${echo.port}`,
      maxCondemnedConnections: 2,
      onEvent: (event) => events.push(event),
    });
    proxy.addFault('both', { type: 'timeout', ms: 0 });
    const clients: Client[] = [];
    for (let index = 0; index < 5; index += 1) {
      clients.push(await connectClient(proxy.port));
    }
    // Connections 1-3 were evicted as 3-5 came: each ends at the client.
    for (const client of clients.slice(0, 3)) {
      await client.ended;
    }
    expect(
      events.filter((event) => event.type === 'evict').map((event) => event.connection),
    ).toEqual([1, 2, 3]);
    await expect.poll(() => proxy.stats.activeConnections, { timeout: 5_000 }).toBe(2);
    expect(clients[3]!.socket.destroyed).toBe(false);
    expect(clients[4]!.socket.destroyed).toBe(false);
  });

  it('counts a resetAfter waiting out its delay as condemned', async () => {
    const echo = await startEcho();
    const events: FaultProxyEvent[] = [];
    const proxy = await startProxy({
      target: `127.0.0.1:${echo.port}`,
      maxCondemnedConnections: 1,
      onEvent: (event) => events.push(event),
    });
    // reset_peer with a long timeout: the reset waits 10 minutes after the first byte.
    proxy.addFault('upstream', { type: 'resetAfter', bytes: 0, delayMs: 600_000 });
    const first = await connectClient(proxy.port);
    first.socket.write('x');
    await expect.poll(() => proxy.stats.bytesDropped, { timeout: 5_000 }).toBe(1);
    const second = await connectClient(proxy.port);
    second.socket.write('y');
    await first.ended;
    expect(
      events.filter((event) => event.type === 'evict').map((event) => event.connection),
    ).toEqual([1]);
    expect(second.socket.destroyed).toBe(false);
  });

  it('holds at most maxConnections open: one more is closed as it is accepted, with an error event', async () => {
    const echo = await startEcho();
    const events: FaultProxyEvent[] = [];
    const proxy = await startProxy({
      target: `127.0.0.1:${echo.port}`,
      maxConnections: 2,
      onEvent: (event) => events.push(event),
    });
    const first = await connectClient(proxy.port);
    const second = await connectClient(proxy.port);
    await expect.poll(() => proxy.stats.activeConnections, { timeout: 5_000 }).toBe(2);
    // Before: no cap; a client connecting in a loop piled up connections without bound.
    const third = await connectClient(proxy.port);
    await third.ended;
    expect(events).toContainEqual({
      type: 'error',
      message: 'connection refused: maxConnections 2 are open',
    });
    first.socket.write('still served\n');
    expect((await first.waitFor(13)).toString()).toBe('still served\n');
    // A slot freed is a slot for the next client.
    second.socket.destroy();
    await expect.poll(() => proxy.stats.activeConnections, { timeout: 5_000 }).toBe(1);
    const fourth = await connectClient(proxy.port);
    fourth.socket.write('next\n');
    expect((await fourth.waitFor(5)).toString()).toBe('next\n');
  });

  it('refuses a bad maxCondemnedConnections (SB_BAD_OPTION)', async () => {
    for (const bad of [0, -1, 1.5, '2']) {
      await expect(
        FaultProxy.start({ target: '127.0.0.1:1', maxCondemnedConnections: bad as number }),
      ).rejects.toMatchObject({ code: 'SB_BAD_OPTION' });
    }
  });
});
