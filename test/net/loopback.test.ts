/**
 * Real sockets on loopback, port 0: TCP v4/v6, Unix and abstract sockets, the HOWTO's
 * half-close exchange, byte-at-a-time delivery, 16 MiB transfers, a peer that never
 * reads, dead peers and resets.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Channel, openChannel } from '../../src/net/channel.js';
import { startConnect } from '../../src/net/connect.js';
import { hasIpv6Loopback, Loopback } from '../helpers/loopback.js';

const text = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : Buffer.from(bytes).toString('utf8');
const loop = new Loopback();

afterEach(async () => {
  vi.useRealTimers();
  await loop.cleanup();
});

async function exchange(address: string): Promise<{ url: string; remote: string }> {
  const { listener, client, server } = await loop.pair(address);
  await client.sendAll('ping');
  expect(text(await server.recvExactly(4))).toBe('ping');
  await server.sendAll('pong');
  expect(text(await client.recvExactly(4))).toBe('pong');
  return { url: listener.url, remote: server.remoteAddress };
}

describe('transports', () => {
  it('TCP over IPv4, port 0 reported as the real port', async () => {
    const { url, remote } = await exchange('127.0.0.1:0');
    expect(url).toMatch(/^tcp:\/\/127\.0\.0\.1:[1-9][0-9]*$/);
    expect(remote).toMatch(/^tcp:\/\/127\.0\.0\.1:[1-9][0-9]*$/);
  });

  it('TCP over IPv6 ([::1])', async (context) => {
    if (!(await hasIpv6Loopback())) {
      console.warn('skipping IPv6 loopback test: this host cannot listen on ::1');
      context.skip();
    }
    const { url } = await exchange('[::1]:0');
    expect(url).toMatch(/^tcp:\/\/\[::1\]:[1-9][0-9]*$/);
  });

  it('Unix domain socket (path)', async () => {
    const path = `${loop.tempDir()}/s.sock`;
    const { url, remote } = await exchange(`unix:${path}`);
    expect(url).toBe(`unix:${path}`);
    expect(remote).toBe(`unix:${path}`);
  });

  it('Unix abstract socket (unix:@name)', async (context) => {
    if (process.platform !== 'linux') {
      console.warn('skipping abstract socket test: abstract sockets exist only on Linux');
      context.skip();
    }
    const name = `switchboard-test-${process.pid}-${Date.now()}`;
    const { url } = await exchange(`unix:@${name}`);
    expect(url).toBe(`unix:@${name}`);
  });

  it('refused connections are SB_CONNECTION_REFUSED', async () => {
    const listener = await loop.listen('127.0.0.1:0');
    const url = listener.url;
    await listener.close();
    await expect(loop.connect(url)).rejects.toMatchObject({ code: 'SB_CONNECTION_REFUSED' });
  });

  it('listener: accept timeout is SB_TIMEOUT, close ends for-await', async () => {
    const listener = await loop.listen('127.0.0.1:0');
    await expect(listener.accept({ timeout: 20 })).rejects.toMatchObject({ code: 'SB_TIMEOUT' });
    const seen: string[] = [];
    const iterating = (async () => {
      for await (const socket of listener) {
        seen.push(socket.remoteAddress);
        socket.destroy();
      }
    })();
    const client = await loop.connect(listener.url);
    expect((await client.recv()).length).toBe(0);
    await listener.close();
    await iterating;
    expect(seen).toHaveLength(1);
  });

  it('listener: concurrent accept() calls each wait for their own connection', async () => {
    // Both woke on the first arrival; the one that found the queue empty threw
    // SB_CONNECTION_CLOSED ("the listener is closed") on an open listener.
    const listener = await loop.listen('127.0.0.1:0');
    const accepts = [listener.accept(), listener.accept(), listener.accept()];
    await loop.connect(listener.url);
    const first = loop.track(await Promise.race(accepts));
    expect(first.remoteAddress).toMatch(/127\.0\.0\.1:/);
    await loop.connect(listener.url);
    await loop.connect(listener.url);
    const accepted = await Promise.all(accepts);
    for (const socket of accepted) {
      loop.track(socket);
    }
    expect(new Set(accepted).size).toBe(3);
    expect(listener.pending).toBe(0);
  });
});

describe('the HOWTO half-close exchange', () => {
  it('client sends, shutdown(write); server reads to EOF, replies, closes; client reads it all', async () => {
    const { client, server } = await loop.pair();
    const request = 'GET / HTTP-ish request body';
    const serving = (async () => {
      const chunks: Uint8Array[] = [];
      for (;;) {
        const chunk = await server.recv(7);
        if (chunk.length === 0) {
          break; // the HOWTO's "receive of 0 bytes": the complete request is in.
        }
        chunks.push(chunk);
      }
      const received = Buffer.concat(chunks).toString();
      await server.sendAll(`reply to <${received}>`);
      await server.close();
    })();
    await client.sendAll(request);
    await client.shutdown('write');
    const reply: Uint8Array[] = [];
    for (let chunk = await client.recv(); chunk.length > 0; chunk = await client.recv()) {
      reply.push(chunk);
    }
    await serving;
    expect(Buffer.concat(reply).toString()).toBe(`reply to <${request}>`);
    expect(await client.closed).toBeUndefined();
  });
});

describe('delivery patterns', () => {
  it('frames delivered one byte at a time are reassembled by a Channel', async () => {
    const payload = Buffer.from('first line\nsecond\n\nlast\n');
    const port = await loop.rawServer((socket) => {
      socket.setNoDelay(true);
      let index = 0;
      const step = (): void => {
        if (index >= payload.length) {
          socket.end();
          return;
        }
        socket.write(payload.subarray(index, index + 1), () => setImmediate(step));
        index += 1;
      };
      step();
    });
    const channel = loop.track(
      await openChannel(`127.0.0.1:${port}`, { framing: 'line', trackLeaks: false }),
    );
    const lines: string[] = [];
    for await (const line of channel) {
      lines.push(text(line)!);
    }
    expect(lines).toEqual(['first line', 'second', '', 'last']);
  });

  it('sendAll of 16 MiB arrives intact (recvExactly on the other side)', async () => {
    const { client, server } = await loop.pair();
    const size = 16 * 1024 * 1024;
    const big = new Uint8Array(size);
    for (let index = 0; index < size; index += 4096) {
      big[index] = index & 0xff;
      big[index + 1] = (index >>> 8) & 0xff;
    }
    const expected = createHash('sha256').update(big).digest('hex');
    const receiving = server.recvExactly(size, { timeout: 20_000 });
    await client.sendAll(big, { timeout: 20_000 });
    const got = await receiving;
    expect(got.length).toBe(size);
    expect(createHash('sha256').update(got).digest('hex')).toBe(expected);
  });

  it('a Channel moves 16 MiB frames with length:u32be', async () => {
    const { client, server } = await loop.pair();
    const framing = 'length:u32be';
    const maxFrame = 16 * 1024 * 1024;
    const sender = loop.track(new Channel(client, { framing, maxFrame }));
    const receiver = loop.track(new Channel(server, { framing, maxFrame }));
    const big = new Uint8Array(maxFrame).fill(0x5a);
    const sending = (async () => {
      await sender.send(big); // resolves once below the high-water mark (backpressure)
      await sender.send('tail');
    })();
    const first = await receiver.receive({ timeout: 20_000 });
    expect(first?.length).toBe(maxFrame);
    expect(first?.every((byte) => byte === 0x5a)).toBe(true);
    expect(text(await receiver.receive())).toBe('tail');
    await sending;
  });
});

describe('slow and dead peers', () => {
  it('a peer that never reads: Channel.send fails with SB_WRITE_TIMEOUT and output stays bounded', async () => {
    const port = await loop.rawServer((socket) => {
      socket.pause(); // never read: the kernel buffers fill, then the sender is stuck.
    });
    const maxQueuedOutput = 4 * 1024 * 1024;
    const channel = loop.track(
      await openChannel(`127.0.0.1:${port}`, {
        framing: 'length:u32be',
        writeTimeout: 300,
        maxQueuedOutput,
        trackLeaks: false,
      }),
    );
    const frame = new Uint8Array(256 * 1024);
    let failure: unknown;
    let sent = 0;
    let largestQueue = 0;
    // Bounded loop: the kernel buffers hold a few MiB at most, so this blocks long before 4096 frames.
    for (; sent < 4096; sent += 1) {
      try {
        await channel.send(frame);
      } catch (error) {
        failure = error;
        break;
      }
      largestQueue = Math.max(largestQueue, channel.socket.writableLength);
    }
    expect(failure).toMatchObject({ code: 'SB_WRITE_TIMEOUT' });
    expect(sent).toBeLessThan(4096);
    expect(largestQueue).toBeLessThanOrEqual(maxQueuedOutput);
    expect(await channel.closed).toMatchObject({ code: 'SB_WRITE_TIMEOUT' });
  });

  it('a peer that never reads: Socket.sendAll with a timeout fails with SB_WRITE_TIMEOUT', async () => {
    const port = await loop.rawServer((socket) => {
      socket.pause();
    });
    const socket = await loop.connect(`127.0.0.1:${port}`);
    const huge = new Uint8Array(64 * 1024 * 1024);
    await expect(socket.sendAll(huge, { timeout: 300 })).rejects.toMatchObject({
      code: 'SB_WRITE_TIMEOUT',
    });
    expect(socket.isClosed).toBe(true);
  });

  it('heartbeat detects a silent peer (SB_PEER_UNRESPONSIVE) within interval x (maxOutstanding + 1)', async () => {
    const port = await loop.rawServer(() => {
      // Accepts and then says nothing, ever (a peer that died without a FIN).
    });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const channel = loop.track(
      await openChannel(`127.0.0.1:${port}`, {
        framing: 'sbp',
        heartbeat: { interval: 10_000, maxOutstanding: 2 },
        trackLeaks: false,
      }),
    );
    await vi.advanceTimersByTimeAsync(29_999);
    expect(channel.error).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(channel.error).toMatchObject({ code: 'SB_PEER_UNRESPONSIVE' });
    vi.useRealTimers();
    expect(await channel.closed).toMatchObject({ code: 'SB_PEER_UNRESPONSIVE' });
  });

  it('sbp heartbeats between two switchboard channels keep the connection up', async () => {
    const { client, server } = await loop.pair();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const pinging = loop.track(
      new Channel(client, { framing: 'sbp', heartbeat: { interval: 1000, maxOutstanding: 1 } }),
    );
    const answering = loop.track(new Channel(server, { framing: 'sbp' }));
    for (let round = 0; round < 5; round += 1) {
      await vi.advanceTimersByTimeAsync(1000);
      // Let the real PING/PONG round trip happen on the real event loop.
      vi.useRealTimers();
      await new Promise((resolve) => setTimeout(resolve, 20));
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    }
    expect(pinging.error).toBeUndefined();
    expect(answering.error).toBeUndefined();
  });

  it('a reset mid-frame gives SB_CONNECTION_RESET, not a hang', async () => {
    const port = await loop.rawServer((socket) => {
      socket.write(Uint8Array.of(0, 0, 0, 100, 1, 2, 3), () => {
        setTimeout(() => socket.resetAndDestroy(), 20);
      });
    });
    const channel = loop.track(
      await openChannel(`127.0.0.1:${port}`, { framing: 'length:u32be', trackLeaks: false }),
    );
    await expect(channel.receive({ timeout: 5000 })).rejects.toMatchObject({
      code: 'SB_CONNECTION_RESET',
    });
  });

  it('a clean close mid-frame gives SB_UNEXPECTED_EOF', async () => {
    const port = await loop.rawServer((socket) => {
      socket.end(Uint8Array.of(0, 0, 0, 100, 1, 2, 3));
    });
    const channel = loop.track(
      await openChannel(`127.0.0.1:${port}`, { framing: 'length:u32be', trackLeaks: false }),
    );
    await expect(channel.receive({ timeout: 5000 })).rejects.toMatchObject({
      code: 'SB_UNEXPECTED_EOF',
    });
  });
});

describe('channels end to end', () => {
  it('sbp request/response and DATA between two switchboard channels', async () => {
    const { client, server } = await loop.pair();
    const caller = loop.track(new Channel(client, { framing: 'sbp' }));
    const callee = loop.track(
      new Channel(server, {
        framing: 'sbp',
        onRequest: (body) => `echo:${Buffer.from(body).toString()}`,
      }),
    );
    const answers = await Promise.all([
      caller.request('a', { timeout: 5000 }),
      caller.request('b', { timeout: 5000 }),
    ]);
    expect(answers.map(text)).toEqual(['echo:a', 'echo:b']);
    await caller.send('data!');
    expect(text(await callee.receive())).toBe('data!');
    await caller.shutdown();
    expect(await callee.receive()).toBeNull();
    await Promise.all([callee.close(), caller.close()]);
    expect(await caller.closed).toBeUndefined();
  });

  it('startConnect returns at once and becomes ready when connected', async () => {
    const listener = await loop.listen('127.0.0.1:0');
    const socket = loop.track(startConnect(listener.url, { trackLeaks: false }));
    await socket.ready({ timeout: 5000 });
    expect(socket.connecting).toBe(false);
    expect(socket.localAddress).toMatch(/^tcp:\/\/127\.0\.0\.1:/);
  });
});

beforeAll(async () => {
  await hasIpv6Loopback();
});
