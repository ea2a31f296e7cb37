/**
 * The pipe queue of a framed FaultProxy holds one entry per message: a peer that sends
 * many tiny messages while they queue (behind a delay, or a slow target) must cost O(1)
 * per message to drain, and the queue's bound must count the entries, not only their
 * bytes (fault-pipe.ts rule 3).
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Fifo } from '../../src/fifo.js';
import { QUEUED_ENTRY_BYTES } from '../../src/testing/fault-pipe.js';
import { FaultProxy } from '../../src/testing/index.js';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

/** A target that counts what it receives and resolves once it has `expected` bytes. */
async function countingTarget(expected: number): Promise<{ port: number; done: Promise<void> }> {
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  let received = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= expected) {
        resolveDone();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) {
          socket.destroy();
        }
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, done };
}

describe('FaultProxy pipe queue', () => {
  it('drains 128 Ki one-byte messages queued behind a delayed message without stalling the event loop', async () => {
    const total = 128 * 1024;
    const target = await countingTarget(total);
    const proxy = await FaultProxy.start({ target: `127.0.0.1:${target.port}`, framing: 'line' });
    cleanups.push(() => proxy.close());
    // The first message waits 100 ms; every message behind it queues meanwhile.
    proxy.addFault('upstream', { type: 'message', action: 'delay', nth: 1, delayMs: 100 });
    // The longest gap between two turns of a 5 ms ticker while the messages cross.
    let longestGap = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
    }, 5);
    cleanups.push(() => clearInterval(ticker));
    const client = net.connect({ host: '127.0.0.1', port: proxy.port });
    client.on('error', () => undefined);
    cleanups.push(() => {
      client.destroy();
    });
    client.write(Buffer.alloc(total, 0x0a));
    await target.done;
    clearInterval(ticker);
    expect(proxy.stats.bytesUpstream).toBe(total);
    // Before: Array.prototype.shift per message, O(n) each on a large array: the drain
    // took one event-loop turn of several seconds (19 s for these 128 Ki messages when
    // the queue held them all). Now well under a second; 2 s leaves room for a slow CI.
    expect(longestGap).toBeLessThan(2000);
  }, 60_000);

  it('a 64 KiB chunk of one-byte messages is queued as the queue has room, not as 64 Ki entries at once', async () => {
    const total = 128 * 1024;
    const target = await countingTarget(total);
    const proxy = await FaultProxy.start({ target: `127.0.0.1:${target.port}`, framing: 'line' });
    cleanups.push(() => proxy.close());
    proxy.addFault('upstream', { type: 'message', action: 'delay', nth: 1, delayMs: 100 });
    // The upstream pipe's queue, sampled on every entry pushed.
    let longest = 0;
    const client = net.connect({ host: '127.0.0.1', port: proxy.port });
    client.on('error', () => undefined);
    cleanups.push(() => {
      client.destroy();
    });
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    await expect.poll(() => proxy.stats.activeConnections).toBe(1);
    const internal = proxy as unknown as {
      connections: Set<{ upstreamPipe: { queue: Fifo<unknown> } }>;
    };
    const queue = [...internal.connections][0]!.upstreamPipe.queue;
    const push = queue.push.bind(queue);
    queue.push = (item) => {
      push(item);
      longest = Math.max(longest, queue.length);
    };
    client.write(Buffer.alloc(total, 0x0a));
    await target.done;
    expect(proxy.stats.bytesUpstream).toBe(total);
    // Before: every message of a read became an entry at once (a 64 KiB read held 64 Ki
    // entries, ~60 MB of objects); now about highWaterMark / QUEUED_ENTRY_BYTES (1 Ki)
    // plus one step of the splitter.
    expect(longest).toBeLessThanOrEqual(Math.ceil((256 * 1024) / QUEUED_ENTRY_BYTES) + 2 * 256 + 2);
  }, 60_000);

  it('Fifo takes in O(1) per entry: entries moved by compaction stay below the entries pushed', () => {
    const fifo = new Fifo<number>();
    const count = 200_000;
    for (let index = 0; index < count; index++) {
      fifo.push(index);
    }
    let outOfOrder = 0;
    for (let index = 0; index < count / 2; index++) {
      outOfOrder += fifo.shift() === index ? 0 : 1;
      fifo.push(count + index);
    }
    let expected = count / 2;
    while (fifo.length > 0) {
      outOfOrder += fifo.shift() === expected ? 0 : 1;
      expected += 1;
    }
    expect(outOfOrder).toBe(0);
    expect(expected).toBe(count + count / 2);
    expect(fifo.peek()).toBeUndefined();
    expect(fifo.shift()).toBeUndefined();
    expect(fifo.moved).toBeLessThanOrEqual(count + count / 2);
  });
});
