/**
 * Channels through the fault proxy (switchboard/testing): 1-byte slicing, latency,
 * a half-open (silent) peer, resets and closes mid-frame; and read-side flow control
 * against a sender that never stops.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Channel, openChannel } from '../../src/net/channel.js';
import { FaultProxy } from '../../src/testing/index.js';
import { Loopback } from '../helpers/loopback.js';

const text = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : Buffer.from(bytes).toString('utf8');
const loop = new Loopback();
const proxies: FaultProxy[] = [];

afterEach(async () => {
  for (const proxy of proxies.splice(0)) {
    await proxy.close();
  }
  await loop.cleanup();
});

/** A switchboard sbp server answering requests with "re:<body>" and echoing DATA. */
async function sbpServer(): Promise<string> {
  const listener = await loop.listen('127.0.0.1:0', { trackLeaks: false });
  void (async () => {
    for await (const socket of listener) {
      const channel = loop.track(
        new Channel(socket, {
          framing: 'sbp',
          onRequest: (body) => `re:${Buffer.from(body).toString()}`,
        }),
      );
      void (async () => {
        try {
          for await (const message of channel) {
            await channel.send(message);
          }
          await channel.close();
        } catch {
          channel.destroy();
        }
      })();
    }
  })();
  return listener.url;
}

async function proxyTo(target: string): Promise<FaultProxy> {
  const proxy = await FaultProxy.start({ target, seed: 42 });
  proxies.push(proxy);
  return proxy;
}

describe('Channel through the fault proxy', () => {
  it('sbp requests and data survive 1-byte slicing and jittered latency in both directions', async () => {
    const proxy = await proxyTo(await sbpServer());
    proxy.addFault('both', { type: 'slice', maxBytes: 1 });
    proxy.addFault('both', { type: 'latency', ms: 1, jitterMs: 1 });
    const channel = loop.track(
      await openChannel(proxy.address, { framing: 'sbp', trackLeaks: false }),
    );
    const questions = Array.from({ length: 8 }, (_, index) => `question ${index}`);
    const answers = await Promise.all(
      questions.map((question) => channel.request(question, { timeout: 20_000 })),
    );
    expect(answers.map(text)).toEqual(questions.map((question) => `re:${question}`));
    await channel.send('data frame');
    expect(text(await channel.receive({ timeout: 20_000 }))).toBe('data frame');
  });

  it('a silent (half-open) peer is detected by the heartbeat', async () => {
    const proxy = await proxyTo(await sbpServer());
    const channel = loop.track(
      await openChannel(proxy.address, {
        framing: 'sbp',
        heartbeat: { interval: 50, maxOutstanding: 2 },
        trackLeaks: false,
      }),
    );
    expect(text(await channel.request('alive?', { timeout: 5000 }))).toBe('re:alive?');
    proxy.addFault('downstream', { type: 'halfOpen' });
    await expect(channel.receive({ timeout: 10_000 })).rejects.toMatchObject({
      code: 'SB_PEER_UNRESPONSIVE',
    });
  });

  it('a reset in the middle of a frame is a clear error for the request and the reader, not a hang', async () => {
    const proxy = await proxyTo(await sbpServer());
    const channel = loop.track(
      await openChannel(proxy.address, { framing: 'sbp', trackLeaks: false }),
    );
    proxy.addFault('downstream', { type: 'resetAfter', bytes: 7 });
    const asking = channel.request('x'.repeat(100), { timeout: 10_000 });
    // The proxy's RST can reach a half-open client as a FIN first (then it is an EOF
    // inside a frame); a direct RST is covered in loopback.test.ts.
    const code = expect.stringMatching(/^SB_(CONNECTION_RESET|UNEXPECTED_EOF|CONNECTION_CLOSED)$/);
    await expect(asking).rejects.toMatchObject({ code });
    await expect(channel.receive({ timeout: 10_000 })).rejects.toMatchObject({
      code: expect.stringMatching(/^SB_(CONNECTION_RESET|UNEXPECTED_EOF)$/),
    });
  });

  it('a graceful close in the middle of a frame is SB_UNEXPECTED_EOF', async () => {
    const proxy = await proxyTo(await sbpServer());
    const channel = loop.track(
      await openChannel(proxy.address, { framing: 'sbp', trackLeaks: false }),
    );
    proxy.addFault('downstream', { type: 'closeAfter', bytes: 7 });
    await channel.send('y'.repeat(100));
    await expect(channel.receive({ timeout: 10_000 })).rejects.toMatchObject({
      code: 'SB_UNEXPECTED_EOF',
    });
  });
});

describe('read-side flow control', () => {
  it('a Socket that is not read stops at readBufferLimit (plus one chunk), then delivers everything', async () => {
    const total = 8 * 1024 * 1024;
    const port = await loop.rawServer((socket) => {
      socket.end(Buffer.alloc(total, 0x42));
    });
    const readBufferLimit = 128 * 1024;
    const socket = await loop.connect(`127.0.0.1:${port}`, { readBufferLimit });
    // Bounded wait for the buffer to fill up to the limit.
    for (let round = 0; round < 200 && socket.bufferedAmount < readBufferLimit; round += 1) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(socket.bufferedAmount).toBeGreaterThanOrEqual(readBufferLimit);
    expect(socket.bufferedAmount).toBeLessThanOrEqual(readBufferLimit + 64 * 1024);
    let received = 0;
    for (
      let chunk = await socket.recv(1 << 20);
      chunk.length > 0;
      chunk = await socket.recv(1 << 20)
    ) {
      received += chunk.length;
      expect(socket.bufferedAmount).toBeLessThanOrEqual(readBufferLimit + 64 * 1024);
    }
    expect(received).toBe(total);
  });

  it('a Channel whose messages are not received holds at most maxQueuedInput + one frame', async () => {
    const frame = Buffer.alloc(4 + 1000, 0x43);
    frame.writeUInt32BE(1000, 0);
    const count = 5000;
    const port = await loop.rawServer((socket) => {
      socket.end(Buffer.concat(Array.from({ length: count }, () => frame)));
    });
    const maxQueuedInput = 64 * 1024;
    const channel = loop.track(
      await openChannel(`127.0.0.1:${port}`, {
        framing: 'length:u32be',
        maxQueuedInput,
        readBufferLimit: 64 * 1024,
        trackLeaks: false,
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(channel.queuedFrames * 1000).toBeLessThanOrEqual(maxQueuedInput + 1000);
    expect(channel.socket.bufferedAmount).toBeLessThanOrEqual(64 * 1024 + 64 * 1024);
    let received = 0;
    for await (const message of channel) {
      expect(message.length).toBe(1000);
      received += 1;
    }
    expect(received).toBe(count);
  });
});
