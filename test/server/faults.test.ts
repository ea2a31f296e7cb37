/**
 * The server under network faults (FaultProxy between clients and server): frames
 * split at every byte, latency, and a client reset in the middle of a frame.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../src/testing/fault-proxy.js';
import { echoClient, makePayloads, seededRandom, Tracker, until } from './helpers.js';

const tracker = new Tracker();
const proxies: FaultProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  await tracker.cleanup();
});

describe('server under faults', () => {
  for (const dispatch of ['loop', 'threads'] as const) {
    it(`${dispatch}: frames sliced to 1 byte each way, with latency: every echo intact and in order`, async () => {
      const server = await tracker.server({
        handler: 'echo',
        framing: 'length:u16be',
        dispatch,
        workers: 2,
      });
      const proxy = await FaultProxy.start({ target: server.address, seed: 42 });
      proxies.push(proxy);
      proxy.addFault('both', { type: 'slice', maxBytes: 1 });
      proxy.addFault('both', { type: 'latency', ms: 2, jitterMs: 2 });
      const random = seededRandom(3);
      const results = await Promise.all(
        Array.from({ length: 8 }, async (_, client) => {
          const channel = await tracker.channel(`tcp://${proxy.address}`, 'length:u16be');
          const verified = await echoClient(channel, makePayloads(random, client, 10, 64));
          await channel.close();
          return verified;
        }),
      );
      expect(results).toEqual(Array(8).fill(10));
    });
  }

  it('a client reset mid-frame ends only that connection; the server keeps serving', async () => {
    const server = await tracker.server({ handler: 'echo', framing: 'length:u32be' });
    const proxy = await FaultProxy.start({ target: server.address, seed: 1 });
    proxies.push(proxy);
    const victim = await tracker.channel(`tcp://${proxy.address}`, 'length:u32be');
    await victim.send(new Uint8Array(10));
    await victim.receive();
    // The next frame is cut after 6 of its 4 + 100 bytes, with a reset to both sides.
    proxy.addFault('upstream', { type: 'resetAfter', bytes: 6 });
    await victim.send(new Uint8Array(100)).catch(() => undefined);
    await until(() => server.connections === 0);
    const codes = Object.keys(server.metrics.errors);
    expect(codes.length).toBe(1);
    expect(['SB_CONNECTION_RESET', 'SB_UNEXPECTED_EOF']).toContain(codes[0]);
    proxy.clearFaults();
    const survivor = await tracker.channel(server.address, 'length:u32be');
    await survivor.send(new Uint8Array([1, 2, 3]));
    expect(Array.from((await survivor.receive())!)).toEqual([1, 2, 3]);
  });
});
