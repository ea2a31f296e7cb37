/**
 * Once `close()` resolves, no TCP handle of the closed object is left in
 * `process.getActiveResourcesInfo()`, which is what a leak check in another project's
 * test suite looks at (docs/TESTING.md, "In another project's test suite"). node emits
 * a net.Server's 'close' before libuv frees the listening handle; close() waits for that.
 */
import { describe, expect, it } from 'vitest';
import { connect, createServer, listen, openChannel } from '../src/index.js';
import { FaultProxy, ToxiproxyServer } from '../src/testing/index.js';

/** The TCP handles alive now, e.g. ['TCPServerWrap', 'TCPSocketWrap']. */
function tcpHandles(): string[] {
  return process
    .getActiveResourcesInfo()
    .filter((kind) => kind.startsWith('TCP'))
    .sort();
}

describe('close() resolves once its handles are freed', () => {
  it('a server, with a client that came and went', async () => {
    const before = tcpHandles();
    const server = await createServer({ handler: 'echo', framing: 'line', listen: '127.0.0.1:0' });
    const channel = await openChannel(server.address, { framing: 'line' });
    await channel.send('x');
    await channel.receive({ timeout: 5000 });
    await channel.close();
    await server.close();
    expect(tcpHandles()).toEqual(before);
  });

  it('a listener, with an accepted socket', async () => {
    const before = tcpHandles();
    const listener = await listen('127.0.0.1:0');
    const client = await connect(listener.address);
    const accepted = await listener.accept({ timeout: 5000 });
    await Promise.all([client.close(), accepted.close()]);
    await listener.close();
    expect(tcpHandles()).toEqual(before);
  });

  it('a FaultProxy with a live proxied connection, and a ToxiproxyServer with a proxy', async () => {
    const before = tcpHandles();
    const server = await createServer({ handler: 'echo', framing: 'line', listen: '127.0.0.1:0' });
    const proxy = await FaultProxy.start({ target: server.address });
    const api = await ToxiproxyServer.start({ listen: '127.0.0.1:0' });
    const created = await fetch(`${api.url}/proxies`, {
      method: 'POST',
      body: JSON.stringify({ name: 'p', listen: '127.0.0.1:0', upstream: server.address }),
      headers: { connection: 'close' },
    });
    expect(created.status).toBe(201);
    const channel = await openChannel(proxy.address, { framing: 'line' });
    await channel.send('x');
    await channel.receive({ timeout: 5000 });
    await proxy.close(); // the proxied connection is destroyed with it
    await api.close();
    await channel.close();
    await server.close();
    expect(tcpHandles()).toEqual(before);
  });
});
