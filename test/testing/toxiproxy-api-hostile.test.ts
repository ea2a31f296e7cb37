/**
 * The Toxiproxy-compatible API against hostile requests (raw HTTP over loopback): bad
 * percent escapes, bodies over the limit, deeply nested or wrongly typed JSON, huge
 * attribute values. Each gets a 4xx with Toxiproxy's error body, never a 500, and the
 * API keeps answering.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ToxiproxyServer } from '../../src/testing/index.js';

const servers: ToxiproxyServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    await server.close();
  }
});

async function api(): Promise<ToxiproxyServer> {
  const server = await ToxiproxyServer.start({ listen: '127.0.0.1:0' });
  servers.push(server);
  return server;
}

async function call(
  server: ToxiproxyServer,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  return { status: response.status, json: text.length > 0 ? JSON.parse(text) : undefined };
}

/** Sends a whole raw request, then reads the answer to its end: the status line. */
async function rawStatusLine(server: ToxiproxyServer, request: Buffer): Promise<string> {
  const [host, port] = [
    server.address.slice(0, server.address.lastIndexOf(':')),
    server.address.slice(server.address.lastIndexOf(':') + 1),
  ];
  const socket = net.connect(Number(port), host);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.end(request);
  await new Promise<void>((resolve) => {
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
  });
  const text = Buffer.concat(chunks).toString('latin1');
  return text.slice(0, text.indexOf('\r\n'));
}

function hostPort(server: ToxiproxyServer): { host: string; port: number } {
  const colon = server.address.lastIndexOf(':');
  return { host: server.address.slice(0, colon), port: Number(server.address.slice(colon + 1)) };
}

async function connected(server: ToxiproxyServer): Promise<net.Socket> {
  const { host, port } = hostPort(server);
  const socket = net.connect(port, host);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return socket;
}

/** Sends `request` without ending, and reads whatever comes back until the server closes. */
async function rawAnswer(server: ToxiproxyServer, request: Buffer): Promise<string> {
  const socket = await connected(server);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(request);
  await closed;
  return Buffer.concat(chunks).toString('latin1');
}

function heldBodyBytes(server: ToxiproxyServer): number {
  return (server as unknown as { bodyBytes: number }).bodyBytes;
}

/** How many of the server's connections have a request in flight. */
function inFlightCount(server: ToxiproxyServer): number {
  const internal = server as unknown as { sockets: Set<object>; inFlight: WeakMap<object, number> };
  let count = 0;
  for (const socket of internal.sockets) {
    count += (internal.inFlight.get(socket) ?? 0) > 0 ? 1 : 0;
  }
  return count;
}

function connectionCount(server: ToxiproxyServer): Promise<number> {
  return new Promise((resolve) =>
    server.httpServer.getConnections((_error, count) => resolve(count)),
  );
}

describe('ToxiproxyServer under hostile requests', () => {
  it('a body over 1 MiB is 413 (sent whole, chunked or only announced)', async () => {
    const server = await api();
    const body = Buffer.alloc(2 * 1024 * 1024, 0x20);
    const head = Buffer.from(
      `POST /proxies HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    expect(await rawStatusLine(server, Buffer.concat([head, body]))).toBe(
      'HTTP/1.1 413 Payload Too Large',
    );
    const chunkedHead = Buffer.from(
      'POST /proxies HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const chunk = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body]);
    expect(await rawStatusLine(server, Buffer.concat([chunkedHead, chunk]))).toBe(
      'HTTP/1.1 413 Payload Too Large',
    );
    // Only the head, announcing 2 MiB that never come: answered at once, then closed.
    expect(await rawAnswer(server, head)).toMatch(/^HTTP\/1\.1 413 /);
    expect((await call(server, 'GET', '/version')).status).toBe(200);
  });

  it('pipelined requests past 16 in flight on one connection close it', async () => {
    const server = await api();
    const one = 'GET /version HTTP/1.1\r\nHost: x\r\n\r\n';
    const answer = await rawAnswer(server, Buffer.from(one.repeat(200)));
    const answered = answer.split('HTTP/1.1 200 OK').length - 1;
    expect(answered).toBeLessThanOrEqual(16);
    expect((await call(server, 'GET', '/version')).status).toBe(200);
  });

  it('a request head over 8 KiB is 431 and closed, not waited for', async () => {
    const server = await api();
    const head = `GET /version HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(10 * 1024)}`;
    expect(await rawAnswer(server, Buffer.from(head))).toMatch(/^HTTP\/1\.1 431 /);
  });

  it('bodies held by all connections together stay under 16 MiB: the one past it is 413', async () => {
    const server = await api();
    const size = 1024 * 1024 - 16;
    const head = `POST /proxies HTTP/1.1\r\nHost: x\r\nContent-Length: ${size + 1}\r\n\r\n`;
    // 16 bodies of just under 1 MiB, each one byte short of complete, are all held...
    const open: net.Socket[] = [];
    try {
      for (let index = 0; index < 16; index += 1) {
        const socket = await connected(server);
        open.push(socket);
        socket.write(head);
        socket.write(Buffer.alloc(size, 0x20));
      }
      // ...(the API still answers a small request)...
      await expect.poll(() => heldBodyBytes(server), { timeout: 10_000 }).toBe(16 * size);
      expect((await call(server, 'GET', '/version')).status).toBe(200);
      // ...and a 17th body is refused once it would pass the budget.
      const answer = await rawAnswer(
        server,
        Buffer.concat([Buffer.from(head), Buffer.alloc(size + 1, 0x20)]),
      );
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer).toContain('too many request bodies');
    } finally {
      for (const socket of open) {
        socket.destroy();
      }
    }
    await expect.poll(() => heldBodyBytes(server), { timeout: 10_000 }).toBe(0);
  });

  it('sets the node server limits: timeouts, head size, connections', async () => {
    const server = await api();
    const http = server.httpServer;
    expect(http.requestTimeout).toBe(15_000);
    expect(http.headersTimeout).toBe(15_000);
    expect(http.timeout).toBe(15_000);
  });

  it('64 silent connections do not lock clients out: the 65th closes the oldest silent one', async () => {
    const server = await api();
    const open: net.Socket[] = [];
    try {
      for (let index = 0; index < 64; index += 1) {
        open.push(await connected(server));
      }
      await expect.poll(() => connectionCount(server), { timeout: 10_000 }).toBe(64);
      const oldestClosed = new Promise<void>((resolve) => open[0]!.once('close', () => resolve()));
      // Before: node's maxConnections closed this one unanswered, and every client after
      // it, until the silent ones timed out (15 s).
      const answer = await rawAnswer(
        server,
        Buffer.from('GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      );
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      await oldestClosed;
      expect(open.slice(1).every((socket) => !socket.destroyed)).toBe(true);
    } finally {
      for (const socket of open) {
        socket.destroy();
      }
    }
  });

  it('closes a connection past 64 at once when all 64 have a request in flight', async () => {
    const server = await api();
    const open: net.Socket[] = [];
    try {
      for (let index = 0; index < 64; index += 1) {
        const socket = await connected(server);
        // A head whose body never completes: the request stays in flight.
        socket.write('POST /proxies HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{');
        open.push(socket);
      }
      await expect.poll(() => inFlightCount(server), { timeout: 10_000 }).toBe(64);
      const answer = await rawAnswer(
        server,
        Buffer.from('GET /version HTTP/1.1\r\nHost: x\r\n\r\n'),
      );
      expect(answer).toBe('');
      expect(open.every((socket) => !socket.destroyed)).toBe(true);
    } finally {
      for (const socket of open) {
        socket.destroy();
      }
    }
  });

  it('passes maxConnectionsPerProxy and maxCondemnedConnections to every proxy', async () => {
    const server = await ToxiproxyServer.start({
      listen: '127.0.0.1:0',
      maxConnectionsPerProxy: 3,
      maxCondemnedConnections: 2,
    });
    servers.push(server);
    const created = await call(
      server,
      'POST',
      '/proxies',
      JSON.stringify({ name: 'capped', upstream: '127.0.0.1:1' }),
    );
    expect(created.status).toBe(201);
    const fault = server.proxies()[0]!.faultProxy as unknown as {
      maxConnections: number;
      maxCondemned: number;
    };
    // Before: the options were refused (SB_BAD_OPTION) and every proxy had the defaults.
    expect(fault.maxConnections).toBe(3);
    expect(fault.maxCondemned).toBe(2);
  });

  it('a bad percent escape in a route parameter is 400, not 500', async () => {
    const server = await api();
    for (const path of ['/proxies/%E0%A4%A', '/proxies/%', '/proxies/x/toxics/%zz']) {
      const result = await call(server, 'GET', path);
      expect(result.status).toBe(400);
      expect(result.json).toEqual({ error: 'invalid URL escape in the path', status: 400 });
    }
    expect((await call(server, 'GET', '/version')).status).toBe(200);
  });

  it('oversized, deeply nested and wrongly typed bodies are 400; the API keeps serving', async () => {
    const server = await api();
    const bodies = [
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`,
      JSON.stringify({ name: 7, upstream: '127.0.0.1:1' }),
      JSON.stringify({ name: 'p', upstream: '127.0.0.1:1', enabled: 'yes' }),
    ];
    for (const body of bodies) {
      const result = await call(server, 'POST', '/proxies', body);
      expect(result.status).toBe(400);
      expect((result.json as { status: number }).status).toBe(400);
    }
    const created = await call(
      server,
      'POST',
      '/proxies',
      JSON.stringify({ name: 'p', upstream: '127.0.0.1:1', listen: '127.0.0.1:0', extra: 1 }),
    );
    expect(created.status).toBe(201);
    for (const attributes of [{ latency: -1 }, { latency: '5' }, { latency: 1e300 }]) {
      const refused = await call(
        server,
        'POST',
        '/proxies/p/toxics',
        JSON.stringify({ type: 'latency', attributes }),
      );
      expect(refused.status).toBe(400);
    }
    expect((await call(server, 'GET', '/proxies/p')).status).toBe(200);
  });

  it('no error body echoes a byte the client sent (framing, addresses, names, attributes)', async () => {
    const server = await api();
    const marker = 'QXECHOXQ';
    expect(
      (
        await call(
          server,
          'POST',
          '/proxies',
          JSON.stringify({ name: 'fr', upstream: '127.0.0.1:1', framing: 'line' }),
        )
      ).status,
    ).toBe(201);
    const requests: [string, string, unknown][] = [
      ['POST', '/proxies', { name: 'a', upstream: '127.0.0.1:1', framing: `length:${marker}` }],
      ['POST', '/proxies', { name: 'a', upstream: '127.0.0.1:1', framing: marker }],
      ['POST', '/proxies', { name: 'a', upstream: '127.0.0.1:1', framing: `tagged:${marker}` }],
      ['POST', '/proxies', { name: 'a', upstream: `${marker}:1` }],
      ['POST', '/proxies', { name: 'a', upstream: `127.0.0.1:${marker}` }],
      ['POST', '/proxies', { name: 'a', upstream: '127.0.0.1:1', listen: marker }],
      ['POST', '/proxies', { name: 'a', upstream: '127.0.0.1:1', listen: `[${marker}]:1` }],
      ['POST', '/proxies/fr', { listen: marker }],
      ['POST', '/proxies/fr', { upstream: marker }],
      ['POST', '/populate', [{ name: 'p', upstream: '127.0.0.1:1', framing: marker }]],
      ['POST', '/populate', [{ name: 'p', upstream: marker }]],
      ['POST', '/proxies/fr/toxics', { type: marker }],
      ['POST', '/proxies/fr/toxics', { type: 'latency', stream: marker }],
      ['POST', '/proxies/fr/toxics', { type: 'latency', attributes: { latency: marker } }],
      ['POST', '/proxies/fr/toxics', { type: 'latency', toxicity: marker }],
      ['GET', `/${marker}`, undefined],
      ['GET', `/proxies/fr/toxics/${marker}`, undefined],
    ];
    for (const [method, path, body] of requests) {
      const result = await call(
        server,
        method,
        path,
        body === undefined ? undefined : JSON.stringify(body),
      );
      expect(result.status, `${method} ${path} ${JSON.stringify(body)}`).toBeGreaterThanOrEqual(
        400,
      );
      expect(JSON.stringify(result.json), `${method} ${path}`).not.toContain(marker);
    }
    expect((await call(server, 'GET', '/version')).status).toBe(200);
  });
});

describe('ToxiproxyServer caps', () => {
  it('refuses a proxy past maxProxies with 507 (also from /populate); a delete makes room', async () => {
    const server = await ToxiproxyServer.start({ listen: '127.0.0.1:0', maxProxies: 2 });
    servers.push(server);
    const create = (name: string) =>
      call(server, 'POST', '/proxies', JSON.stringify({ name, upstream: '127.0.0.1:1' }));
    expect((await create('a')).status).toBe(201);
    expect((await create('b')).status).toBe(201);
    expect(await create('c')).toEqual({
      status: 507,
      json: { error: 'too many proxies', status: 507 },
    });
    const populated = await call(
      server,
      'POST',
      '/populate',
      JSON.stringify([
        { name: 'a', upstream: '127.0.0.1:1' },
        { name: 'd', upstream: '127.0.0.1:1' },
      ]),
    );
    expect(populated.status).toBe(507);
    expect(populated.json).toMatchObject({ error: 'too many proxies', status: 507 });
    expect(server.proxies().map((p) => p.name)).toEqual(['b', 'a']);
    expect((await call(server, 'DELETE', '/proxies/a')).status).toBe(204);
    expect((await create('c')).status).toBe(201);
  });

  it('refuses a toxic past maxToxicsPerProxy with 507; a delete makes room', async () => {
    const server = await ToxiproxyServer.start({ listen: '127.0.0.1:0', maxToxicsPerProxy: 2 });
    servers.push(server);
    const body = JSON.stringify({ name: 'p', upstream: '127.0.0.1:1' });
    expect((await call(server, 'POST', '/proxies', body)).status).toBe(201);
    const add = (name: string) =>
      call(server, 'POST', '/proxies/p/toxics', JSON.stringify({ name, type: 'latency' }));
    expect((await add('t1')).status).toBe(200);
    expect((await add('t2')).status).toBe(200);
    expect(await add('t3')).toEqual({
      status: 507,
      json: { error: 'too many toxics', status: 507 },
    });
    // A duplicate name still says so first, as it would below the cap.
    expect((await add('t1')).status).toBe(409);
    expect((await call(server, 'DELETE', '/proxies/p/toxics/t1')).status).toBe(204);
    expect((await add('t3')).status).toBe(200);
  });

  it('refuses proxy and toxic names over 256 characters with 400', async () => {
    const server = await api();
    const long = 'n'.repeat(257);
    const refused = await call(
      server,
      'POST',
      '/proxies',
      JSON.stringify({ name: long, upstream: '127.0.0.1:1' }),
    );
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.json)).not.toContain(long);
    const ok = JSON.stringify({ name: 'n'.repeat(256), upstream: '127.0.0.1:1' });
    expect((await call(server, 'POST', '/proxies', ok)).status).toBe(201);
    const toxic = await call(
      server,
      'POST',
      `/proxies/${'n'.repeat(256)}/toxics`,
      JSON.stringify({ name: long, type: 'latency' }),
    );
    expect(toxic.status).toBe(400);
  });

  it('validates the cap options loudly (SB_BAD_OPTION)', async () => {
    for (const bad of [
      { maxProxies: 0 },
      { maxProxies: -1 },
      { maxProxies: 1.5 },
      { maxToxicsPerProxy: '3' },
      { maxToxicsPerProxy: 0 },
      { seed: Number.POSITIVE_INFINITY },
      { maxproxies: 3 },
    ]) {
      await expect(
        ToxiproxyServer.start({ listen: '127.0.0.1:0', ...(bad as object) }),
        JSON.stringify(bad),
      ).rejects.toMatchObject({ code: 'SB_BAD_OPTION' });
    }
  });
});

describe('ToxiproxyServer match.text', () => {
  it('refuses patterns it cannot run in linear time or over 256 characters; takes (a+)+$', async () => {
    const server = await api();
    const proxy = JSON.stringify({ name: 'fr', upstream: '127.0.0.1:1', framing: 'line' });
    expect((await call(server, 'POST', '/proxies', proxy)).status).toBe(201);
    const add = (name: string, text: string) =>
      call(
        server,
        'POST',
        '/proxies/fr/toxics',
        JSON.stringify({ name, type: 'message_drop', attributes: { match: { text } } }),
      );
    for (const text of [
      '(QXECHOXQ)\\1',
      '(?=QXECHOXQ)',
      '(?<QXECHOXQ>a)\\k<QXECHOXQ>',
      '[\\b]QXECHOXQ',
      `${'Q'.repeat(257)}`,
    ]) {
      const refused = await add('bad', text);
      expect(refused.status, text).toBe(400);
      expect(JSON.stringify(refused.json)).not.toContain('QXECHOXQ');
      expect(JSON.stringify(refused.json)).not.toContain('Q'.repeat(257));
    }
    expect((await add('nested', '(a+)+$')).status).toBe(200);
  });
});
