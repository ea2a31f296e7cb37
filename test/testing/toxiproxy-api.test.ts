/**
 * The Toxiproxy-compatible API, driven by the real toxiproxy-node-client (and plain
 * fetch for status codes and bodies), with each toxic checked on real loopback traffic.
 */
import net from 'node:net';
import { Toxiproxy, ToxiproxyError } from 'toxiproxy-node-client';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/index.js';
import { ToxiproxyServer } from '../../src/testing/index.js';
import { startRecordingEcho } from '../helpers/recording-echo.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

/** A node:net echo server (half-close answered with end). */
const startEcho = (listen?: { port: number } | { path: string }) =>
  startRecordingEcho(cleanups, listen);

async function startApi(): Promise<{ api: ToxiproxyServer; client: Toxiproxy }> {
  const api = await ToxiproxyServer.start({ listen: '127.0.0.1:0', seed: 7 });
  cleanups.push(() => api.close());
  return { api, client: new Toxiproxy(api.url) };
}

/** A raw client that collects bytes and reports how the connection ended. */
function rawClient(address: string): {
  socket: net.Socket;
  received: () => Buffer;
  chunks: () => number;
  ended: Promise<string>;
  waitFor: (bytes: number) => Promise<Buffer>;
} {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    address.slice(address.lastIndexOf(':') + 1),
  ];
  const socket = net.connect({ host, port: Number(port), allowHalfOpen: true });
  cleanups.push(() => {
    socket.destroy();
  });
  const data: Buffer[] = [];
  let total = 0;
  const waiters: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    data.push(chunk);
    total += chunk.length;
    for (const waiter of waiters.splice(0)) {
      waiter();
    }
  });
  const ended = new Promise<string>((resolve) => {
    socket.once('end', () => resolve('end'));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
  const waitFor = (bytes: number): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`got ${total}/${bytes} bytes`)), 10_000);
      const check = (): void => {
        if (total >= bytes) {
          clearTimeout(timer);
          resolve(Buffer.concat(data));
        } else {
          waiters.push(check);
        }
      };
      check();
    });
  return { socket, received: () => Buffer.concat(data), chunks: () => data.length, ended, waitFor };
}

async function raw(
  api: ToxiproxyServer,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${api.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body }),
    headers: { 'content-type': 'application/json', ...headers },
  });
  const text = await response.text();
  return { status: response.status, json: text.length > 0 ? JSON.parse(text) : undefined };
}

describe('ToxiproxyServer: the API', () => {
  it('serves version, creates, lists, shows, updates and deletes proxies', async () => {
    const echo = await startEcho();
    const { api, client } = await startApi();
    const version = JSON.parse(await client.getVersion()) as { version: string };
    expect(typeof version.version).toBe('string');

    const created = await raw(
      api,
      'POST',
      '/proxies',
      JSON.stringify({ name: 'echo', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` }),
    );
    expect(created.status).toBe(201);
    const shown = created.json as { listen: string; enabled: boolean; toxics: unknown[] };
    expect(shown).toMatchObject({ name: 'echo', enabled: true, toxics: [] });
    expect(shown.listen).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(shown.listen).not.toBe('127.0.0.1:0');

    const proxy = await client.get('echo');
    expect(proxy.upstream).toBe(`127.0.0.1:${echo.port}`);
    const all = await client.getAll();
    expect(Object.keys(all)).toEqual(['echo']);

    const peer = rawClient(proxy.listen);
    peer.socket.write('hello');
    expect((await peer.waitFor(5)).toString()).toBe('hello');

    // Disabling closes the listener and its connections, as Toxiproxy does.
    const disabled = await proxy.update({
      enabled: false,
      listen: proxy.listen,
      upstream: proxy.upstream,
    });
    expect(disabled.enabled).toBe(false);
    expect(await peer.ended).toMatch(/end|ECONNRESET/);
    const refused = await new Promise<string>((resolve) => {
      const [host, port] = proxy.listen.split(':');
      const socket = net.connect({ host, port: Number(port) });
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? ''));
      socket.on('connect', () => {
        socket.destroy();
        resolve('connected');
      });
    });
    expect(refused).toBe('ECONNREFUSED');
    // PATCH works too.
    const enabled = await raw(api, 'PATCH', '/proxies/echo', JSON.stringify({ enabled: true }));
    expect(enabled.status).toBe(200);
    expect(enabled.json).toMatchObject({ enabled: true, listen: proxy.listen });

    await proxy.remove();
    expect(await raw(api, 'GET', '/proxies/echo')).toEqual({
      status: 404,
      json: { error: 'proxy not found', status: 404 },
    });
  });

  it('answers bad requests with Toxiproxy status codes and error bodies', async () => {
    const echo = await startEcho();
    const { api, client } = await startApi();
    const upstream = `127.0.0.1:${echo.port}`;
    await client.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream });

    const badJson = await raw(api, 'POST', '/proxies', '{"name": ');
    expect(badJson.status).toBe(400);
    expect(badJson.json).toMatchObject({ status: 400 });
    expect((badJson.json as { error: string }).error).toMatch(/^bad request body/);

    expect(await raw(api, 'POST', '/proxies', JSON.stringify({ upstream }))).toEqual({
      status: 400,
      json: { error: 'missing required field: name', status: 400 },
    });
    const duplicate = await raw(api, 'POST', '/proxies', JSON.stringify({ name: 'p', upstream }));
    expect(duplicate).toEqual({
      status: 409,
      json: { error: 'proxy already exists', status: 409 },
    });

    const remote = await raw(
      api,
      'POST',
      '/proxies',
      JSON.stringify({ name: 'remote', listen: '127.0.0.1:0', upstream: '192.0.2.1:80' }),
    );
    expect(remote.status).toBe(400);
    const wide = await raw(
      api,
      'POST',
      '/proxies',
      JSON.stringify({ name: 'wide', listen: '0.0.0.0:0', upstream }),
    );
    expect(wide.status).toBe(400);

    const taken = (await client.get('p')).listen;
    const inUse = await raw(
      api,
      'POST',
      '/proxies',
      JSON.stringify({ name: 'clash', listen: taken, upstream }),
    );
    expect(inUse.status).toBe(500);
    expect(inUse.json).toMatchObject({ status: 500 });

    expect(
      await raw(api, 'POST', '/proxies/p/toxics', JSON.stringify({ type: 'nope', attributes: {} })),
    ).toEqual({ status: 400, json: { error: 'invalid toxic type', status: 400 } });
    expect(
      (
        await raw(
          api,
          'POST',
          '/proxies/p/toxics',
          JSON.stringify({ type: 'latency', stream: 'sideways' }),
        )
      ).status,
    ).toBe(400);
    expect(
      (
        await raw(
          api,
          'POST',
          '/proxies/p/toxics',
          JSON.stringify({ type: 'latency', attributes: { latency: 'x' } }),
        )
      ).status,
    ).toBe(400);
    expect((await raw(api, 'POST', '/proxies/p/toxics', '[1,')).status).toBe(400);
    expect(
      (
        await raw(
          api,
          'POST',
          '/proxies/p/toxics',
          JSON.stringify({ type: 'message_drop', attributes: { nth: 1 } }),
        )
      ).status,
    ).toBe(400);

    const proxy = await client.get('p');
    await proxy.addToxic({
      name: 'slow',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 1, jitter: 0 },
    });
    const again = await raw(
      api,
      'POST',
      '/proxies/p/toxics',
      JSON.stringify({ name: 'slow', type: 'latency' }),
    );
    expect(again).toEqual({ status: 409, json: { error: 'toxic already exists', status: 409 } });
    expect(await raw(api, 'GET', '/proxies/p/toxics/none')).toEqual({
      status: 404,
      json: { error: 'toxic not found', status: 404 },
    });
    expect((await raw(api, 'GET', '/proxies/none/toxics')).status).toBe(404);
    expect((await raw(api, 'DELETE', '/proxies/none')).status).toBe(404);
    expect((await raw(api, 'PUT', '/proxies')).status).toBe(405);
    expect((await raw(api, 'GET', '/nowhere')).status).toBe(404);
    expect(
      (await raw(api, 'GET', '/proxies', undefined, { 'user-agent': 'Mozilla/5.0' })).status,
    ).toBe(403);

    // The client surfaces the status too.
    await expect(client.get('none')).rejects.toBeInstanceOf(ToxiproxyError);
    await expect(client.get('none')).rejects.toThrow(/404/);
  });

  it('shows a created toxic with every attribute and Toxiproxy defaults', async () => {
    const echo = await startEcho();
    const { client } = await startApi();
    const proxy = await client.createProxy({
      name: 'p',
      listen: '127.0.0.1:0',
      upstream: `127.0.0.1:${echo.port}`,
    });
    const response = await fetch(`${proxy.getPath()}/toxics`, {
      method: 'POST',
      body: JSON.stringify({ type: 'latency', attributes: { latency: 5 } }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      name: 'latency_downstream',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 5, jitter: 0 },
    });
    const toxic = await proxy.getToxic('latency_downstream');
    const updated = await toxic.update({ ...toxic.toJson(), attributes: { jitter: 2 } } as never);
    expect(updated.attributes).toEqual({ latency: 5, jitter: 2 });
  });

  it('populate creates, keeps the same, replaces the changed; reset re-enables and clears toxics', async () => {
    const echo = await startEcho();
    const other = await startEcho();
    const { api, client } = await startApi();
    const free = async (): Promise<number> => {
      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as net.AddressInfo).port;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return port;
    };
    const [portA, portB] = [await free(), await free()];
    const body = [
      { name: 'a', listen: `127.0.0.1:${portA}`, upstream: `127.0.0.1:${echo.port}` },
      { name: 'b', listen: `127.0.0.1:${portB}`, upstream: `127.0.0.1:${echo.port}` },
    ];
    const first = await client.populate(body);
    expect(Object.keys(first).sort()).toEqual(['a', 'b']);

    // A connection through "a" survives a populate that keeps "a", and dies when "a" changes.
    const peer = rawClient(`127.0.0.1:${portA}`);
    peer.socket.write('x');
    await peer.waitFor(1);
    const kept = await raw(api, 'POST', '/populate', JSON.stringify(body));
    expect(kept.status).toBe(201);
    expect((kept.json as { proxies: { name: string }[] }).proxies.map((p) => p.name)).toEqual([
      'a',
      'b',
    ]);
    peer.socket.write('y');
    expect((await peer.waitFor(2)).toString()).toBe('xy');

    await client.populate([{ ...body[0]!, upstream: `127.0.0.1:${other.port}` }]);
    expect(await peer.ended).toMatch(/end|ECONNRESET/);
    expect((await client.get('a')).upstream).toBe(`127.0.0.1:${other.port}`);

    const badPopulate = await raw(api, 'POST', '/populate', JSON.stringify([{ name: 'c' }]));
    expect(badPopulate.status).toBe(400);

    const b = await client.get('b');
    await b.addToxic({
      name: 't',
      type: 'latency',
      stream: 'upstream',
      toxicity: 1,
      attributes: { latency: 10, jitter: 0 },
    } as never);
    await b.update({ enabled: false, listen: b.listen, upstream: b.upstream });
    await client.reset();
    const afterReset = await raw(api, 'GET', '/proxies/b');
    expect(afterReset.json).toMatchObject({ enabled: true, toxics: [] });
  });
});

describe('ToxiproxyServer: toxics on real traffic', () => {
  async function setup(): Promise<{
    api: ToxiproxyServer;
    proxy: Awaited<ReturnType<Toxiproxy['createProxy']>>;
    echo: Awaited<ReturnType<typeof startEcho>>;
  }> {
    const echo = await startEcho();
    const { api, client } = await startApi();
    const proxy = await client.createProxy({
      name: 'p',
      listen: '127.0.0.1:0',
      upstream: `127.0.0.1:${echo.port}`,
    });
    return { api, proxy, echo };
  }
  const toxic = (type: string, stream: string, attributes: object, name = type) =>
    ({ name, type, stream, toxicity: 1, attributes }) as never;

  it('latency delays each round trip by at least the configured latency', async () => {
    const { proxy } = await setup();
    await proxy.addToxic(toxic('latency', 'downstream', { latency: 120, jitter: 0 }));
    const peer = rawClient(proxy.listen);
    await new Promise<void>((resolve) => peer.socket.once('connect', () => resolve()));
    const started = performance.now();
    peer.socket.write('ping');
    await peer.waitFor(4);
    expect(performance.now() - started).toBeGreaterThanOrEqual(115);
  });

  it('bandwidth caps the rate (KB/s)', async () => {
    const { proxy } = await setup();
    await proxy.addToxic(toxic('bandwidth', 'downstream', { rate: 100 }));
    const peer = rawClient(proxy.listen);
    const started = performance.now();
    peer.socket.write(Buffer.alloc(30_000, 7));
    await peer.waitFor(30_000);
    // 30,000 bytes at 100,000 B/s take >= 0.3 s; allow one pacing piece of slack.
    expect(performance.now() - started).toBeGreaterThanOrEqual(240);
  });

  it('reset_peer resets: a switchboard socket sees SB_CONNECTION_RESET', async () => {
    const { proxy } = await setup();
    await proxy.addToxic(toxic('reset_peer', 'upstream', { timeout: 0 }));
    const socket = await connect(proxy.listen);
    cleanups.push(() => socket.destroy());
    await socket.sendAll('hello');
    await expect(socket.recv(100, { timeout: 10_000 })).rejects.toMatchObject({
      code: 'SB_CONNECTION_RESET',
    });
  });

  it('timeout 0 stalls the data; removing it closes the held connection', async () => {
    const { proxy, echo } = await setup();
    await proxy.addToxic(toxic('timeout', 'upstream', { timeout: 0 }));
    const socket = await connect(proxy.listen);
    cleanups.push(() => socket.destroy());
    await socket.sendAll('hello');
    await expect(socket.recv(100, { timeout: 150 })).rejects.toMatchObject({ code: 'SB_TIMEOUT' });
    expect(echo.received().length).toBe(0);
    await (await proxy.getToxic('timeout')).remove();
    // Closed by the proxy: recv reports the end of the stream.
    expect((await socket.recv(100, { timeout: 10_000 })).length).toBe(0);
  });

  it('timeout N closes the connection after N ms', async () => {
    const { proxy } = await setup();
    await proxy.addToxic(toxic('timeout', 'downstream', { timeout: 100 }));
    const peer = rawClient(proxy.listen);
    const started = performance.now();
    peer.socket.write('hello');
    expect(await peer.ended).toBe('end');
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    expect(peer.received().length).toBe(0);
  });

  it('limit_data lets exactly N bytes through, then closes', async () => {
    const { proxy } = await setup();
    await proxy.addToxic(toxic('limit_data', 'downstream', { bytes: 10 }));
    const peer = rawClient(proxy.listen);
    peer.socket.write(Buffer.alloc(100, 1));
    expect(await peer.ended).toBe('end');
    expect(peer.received()).toEqual(Buffer.alloc(10, 1));
  });

  it('slicer delivers in small pieces, every byte in order', async () => {
    const { proxy } = await setup();
    await proxy.addToxic(
      toxic('slicer', 'downstream', { average_size: 4, size_variation: 2, delay: 100 }),
    );
    const payload = Buffer.from(Array.from({ length: 200 }, (_, index) => index & 0xff));
    const peer = rawClient(proxy.listen);
    peer.socket.write(payload);
    expect(await peer.waitFor(200)).toEqual(payload);
    expect(peer.chunks()).toBeGreaterThan(10);
  });

  it('slow_close forwards the close late', async () => {
    const { proxy } = await setup();
    await proxy.addToxic(toxic('slow_close', 'downstream', { delay: 150 }));
    const peer = rawClient(proxy.listen);
    peer.socket.write('bye');
    await peer.waitFor(3);
    const started = performance.now();
    peer.socket.end();
    expect(await peer.ended).toBe('end');
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);
  });

  it('toxicity 0 never applies; a toxic updated and removed while traffic flows loses nothing', async () => {
    const { proxy } = await setup();
    await proxy.addToxic({
      ...(toxic('limit_data', 'downstream', { bytes: 0 }) as object),
      toxicity: 0,
    } as never);
    const peer = rawClient(proxy.listen);
    peer.socket.write('abc');
    expect((await peer.waitFor(3)).toString()).toBe('abc');
    await (await proxy.getToxic('limit_data')).remove();

    await proxy.addToxic(toxic('latency', 'downstream', { latency: 0, jitter: 0 }, 'lat'));
    const sent: Buffer[] = [];
    for (let round = 0; round < 30; round += 1) {
      const piece = Buffer.from(`${round},`);
      sent.push(piece);
      peer.socket.write(piece);
      if (round === 10) {
        await (await proxy.getToxic('lat')).update({ attributes: { latency: 30 } } as never);
      }
      if (round === 20) {
        await (await proxy.getToxic('lat')).remove();
      }
    }
    const all = Buffer.concat([Buffer.from('abc'), ...sent]);
    expect(await peer.waitFor(all.length)).toEqual(all);
  });

  it('half_open and blackhole are extra toxic types', async () => {
    const { proxy, echo } = await setup();
    await proxy.addToxic(toxic('blackhole', 'upstream', {}));
    const peer = rawClient(proxy.listen);
    peer.socket.write('lost');
    await (await proxy.getToxic('blackhole')).remove();
    await proxy.addToxic(toxic('half_open', 'downstream', {}));
    peer.socket.write('held');
    await new Promise<void>((resolve) => {
      const poll = (): void => {
        if (echo.received().toString() === 'held') {
          resolve();
        } else {
          setTimeout(poll, 5);
        }
      };
      poll();
    });
    expect(peer.received().length).toBe(0);
    await (await proxy.getToxic('half_open')).remove();
    expect((await peer.waitFor(4)).toString()).toBe('held');
  });
});
