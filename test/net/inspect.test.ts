/**
 * util.inspect / console.log of a Socket, Channel and Server: a short summary of what
 * someone debugging wants (state, addresses, framing, queued bytes), not the ~7 KB of
 * private fields they printed before.
 */
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Channel } from '../../src/net/channel.js';
import { createServer } from '../../src/server/server.js';
import { Loopback } from '../helpers/loopback.js';
import { until } from '../helpers/until.js';

const loopback = new Loopback();
afterEach(() => loopback.cleanup());

describe('inspect', () => {
  it('a Socket shows its state, addresses and buffered bytes', async () => {
    const { client, server } = await loopback.pair();
    const text = inspect(client);
    expect(text).toMatch(/^Socket \{/);
    expect(text).toContain(`local: '${client.localAddress}'`);
    expect(text).toContain(`remote: '${server.localAddress}'`);
    expect(text).toContain("state: 'open'");
    expect(text).toContain('bufferedAmount: 0');
    expect(text.length).toBeLessThan(400);
    client.destroy();
    expect(inspect(client)).toContain("state: 'closed'");
  });

  it('a Channel shows state, framing, addresses, queued frames and bytes, and its counters', async () => {
    const { client, server } = await loopback.pair();
    const sender = loopback.track(new Channel(client, { framing: 'length:u16be' }));
    const receiver = loopback.track(new Channel(server, { framing: 'length:u16be' }));
    await sender.send('hello');
    await sender.send('world');
    // Wait for both frames to be queued at the receiver without taking them.
    const first = await receiver.receive();
    expect(first).toBeDefined();
    await until(() => receiver.queuedFrames === 1);
    const text = inspect(receiver);
    expect(text).toMatch(/^Channel \{/);
    expect(text).toContain("state: 'open'");
    expect(text).toContain("framing: 'length:u16be'");
    expect(text).toContain(`remote: '${client.localAddress}'`);
    expect(text).toContain('queuedFrames: 1');
    expect(text).toContain('queuedInputBytes: 5');
    expect(text).toContain('framesReceived: 2');
    expect(text.length).toBeLessThan(500);
    // Nested past the depth it is a name, as Node shows objects; depth 0 keeps the fields.
    expect(inspect({ a: { b: { receiver } } })).toContain('receiver: [Channel]');
    expect(inspect(receiver, { depth: 0 })).toContain("framing: 'length:u16be'");
    receiver.destroy();
    expect(inspect(receiver)).toMatch(/state: '(closed|failed)'/);
  });

  it('a Server shows state, address, framing, dispatch and connections', async () => {
    const server = await createServer({ listen: '127.0.0.1:0', framing: 'line', handler: 'echo' });
    try {
      const text = inspect(server);
      expect(text).toMatch(/^Server \{/);
      expect(text).toContain("state: 'listening'");
      expect(text).toContain(`address: '${server.address}'`);
      expect(text).toContain("framing: 'line'");
      expect(text).toContain("dispatch: 'loop'");
      expect(text).toContain('connections: 0');
      expect(text.length).toBeLessThan(300);
    } finally {
      await server.close();
    }
    expect(inspect(server)).toContain("state: 'closed'");
  });
});
