import * as tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeProxyHeader } from '../../src/server/proxy-protocol.js';
import { hasOpenssl, makeCerts, type TestCerts } from '../helpers/certs.js';
import { hostPort, readAll, Tracker, until } from './helpers.js';

const tracker = new Tracker();
afterEach(() => tracker.cleanup());

const WHOAMI = new URL('./fixtures/whoami-connection-handler.ts', import.meta.url).pathname;
const available = hasOpenssl();
if (!available) {
  console.warn(
    'skipping server TLS tests: the openssl CLI (used to make test certificates) is missing',
  );
}
let certs: TestCerts;
beforeAll(() => {
  if (available) {
    certs = makeCerts();
  }
});
afterAll(() => certs?.cleanup());

const text = (bytes: Uint8Array | null): string =>
  new TextDecoder().decode(bytes ?? new Uint8Array());

describe.skipIf(!available)('TLS', () => {
  for (const dispatch of ['loop', 'processes'] as const) {
    it(`${dispatch}: serves over TLS; the address says tls://`, async () => {
      const server = await tracker.server({
        handler: WHOAMI,
        framing: 'line',
        dispatch,
        workers: 1,
        tls: { cert: certs.server.cert, key: certs.server.key },
      });
      expect(server.address).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);
      const channel = await tracker.channel(server.address, 'line', { tls: { ca: certs.ca } });
      await channel.send('who');
      expect(text(await channel.receive())).toMatch(
        /^tls:\/\/127\.0\.0\.1:\d+ tls:\/\/127\.0\.0\.1:\d+ false -$/,
      );
    });
  }

  it('mutual TLS: the handler sees the client certificate; a client from another CA is refused', async () => {
    const server = await tracker.server({
      handler: WHOAMI,
      framing: 'line',
      tls: { cert: certs.server.cert, key: certs.server.key, ca: certs.ca, requestCert: true },
    });
    const good = await tracker.channel(server.address, 'line', {
      tls: { ca: certs.ca, cert: certs.client.cert, key: certs.client.key },
    });
    await good.send('who');
    expect(text(await good.receive())).toMatch(/ false client$/);
    const rogue = tracker
      .channel(server.address, 'line', {
        tls: { ca: certs.ca, cert: certs.rogueClient.cert, key: certs.rogueClient.key },
      })
      .then(async (channel) => {
        // TLS 1.3 reports the client-certificate rejection after the handshake, on first use.
        await channel.send('who');
        return channel.receive();
      });
    // Either the handshake fails or the connection ends: never a reply.
    expect(await rogue.catch(() => null)).toBeNull();
    await until(() => (server.metrics.errors.SB_TLS_ERROR ?? 0) >= 1);
  });

  it('PROXY header in front of TLS: the header is read raw, then TLS starts over the rest', async () => {
    const server = await tracker.server({
      handler: WHOAMI,
      framing: 'line',
      proxyProtocol: true,
      tls: { cert: certs.server.cert, key: certs.server.key },
    });
    const raw = await tracker.socket(server.address);
    raw.write(
      encodeProxyHeader({
        version: 2,
        source: { address: '198.51.100.20', port: 1234 },
        destination: { address: '198.51.100.1', port: 443 },
      }),
    );
    const secure = tls.connect({ socket: raw, ca: certs.ca, servername: 'localhost' });
    const reply = await new Promise<string>((resolve, reject) => {
      secure.once('secureConnect', () => secure.write('who\n'));
      secure.once('data', (chunk: Buffer) => resolve(chunk.toString()));
      secure.once('error', reject);
    });
    secure.destroy();
    expect(reply).toBe('tcp://198.51.100.20:1234 tcp://198.51.100.1:443 true -\n');
    expect(hostPort(server.address).port).toBeGreaterThan(0);
  });

  // Every path does the handshake on a bare TLSSocket, which only records the
  // client-certificate verdict: the server must refuse by itself, on every path.
  for (const path of ['loop', 'processes', 'proxy'] as const) {
    it(`mutual TLS (${path}): only a client with a certificate from the CA gets a reply`, async () => {
      const server = await tracker.server({
        handler: WHOAMI,
        framing: 'line',
        ...(path === 'processes' ? { dispatch: 'processes', workers: 1 } : {}),
        ...(path === 'proxy' ? { proxyProtocol: true } : {}),
        tls: { cert: certs.server.cert, key: certs.server.key, ca: certs.ca, requestCert: true },
      });
      const ask = async (client: { cert?: string; key?: string }): Promise<string | null> => {
        const raw = await tracker.socket(server.address);
        if (path === 'proxy') {
          raw.write(encodeProxyHeader({ version: 2, command: 'local' }));
        }
        const secure = tls.connect({
          socket: raw,
          ca: certs.ca,
          servername: 'localhost',
          ...client,
        });
        try {
          return await new Promise<string | null>((resolve) => {
            secure.once('secureConnect', () => secure.write('who\n'));
            secure.once('data', (chunk: Buffer) => resolve(chunk.toString()));
            // TLS 1.3: the refusal arrives after the client's handshake completed.
            secure.once('error', () => resolve(null));
            secure.once('close', () => resolve(null));
          });
        } finally {
          secure.destroy();
        }
      };
      expect(await ask({ cert: certs.client.cert, key: certs.client.key })).toMatch(/ client\n$/);
      expect(await ask({ cert: certs.rogueClient.cert, key: certs.rogueClient.key })).toBeNull();
      expect(await ask({})).toBeNull();
      if (path !== 'processes') {
        await until(() => (server.metrics.errors.SB_TLS_ERROR ?? 0) >= 2);
      }
    });
  }

  for (const dispatch of ['loop', 'processes'] as const) {
    it(`${dispatch}: negotiates ALPN from the server's ALPNProtocols`, async () => {
      const server = await tracker.server({
        handler: 'echo',
        framing: 'line',
        dispatch,
        workers: 1,
        tls: { cert: certs.server.cert, key: certs.server.key, ALPNProtocols: ['sb/1'] },
      });
      const raw = await tracker.socket(server.address);
      const secure = tls.connect({
        socket: raw,
        ca: certs.ca,
        servername: 'localhost',
        ALPNProtocols: ['other', 'sb/1'],
      });
      try {
        const protocol = await new Promise<string | false | null>((resolve, reject) => {
          secure.once('secureConnect', () => resolve(secure.alpnProtocol));
          secure.once('error', reject);
        });
        expect(protocol).toBe('sb/1');
      } finally {
        secure.destroy();
      }
    });
  }

  it('a peer that half-closes mid-handshake is closed at once with SB_TLS_ERROR', async () => {
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      tls: { cert: certs.server.cert, key: certs.server.key },
    });
    const raw = await tracker.socket(server.address);
    const closed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
    raw.on('error', () => undefined);
    // A TLS record header announcing a ClientHello, one body byte, then FIN.
    raw.end(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    await closed;
    await until(() => (server.metrics.errors.SB_TLS_ERROR ?? 0) >= 1);
  });

  it('a connection over maxConnections gets a bare close, not a plaintext refusal line inside TLS', async () => {
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      maxConnections: 1,
      tls: { cert: certs.server.cert, key: certs.server.key },
    });
    const first = await tracker.channel(server.address, 'line', { tls: { ca: certs.ca } });
    await first.send('ping');
    expect(text(await first.receive())).toBe('ping');
    // A raw TCP client sees exactly what a TLS client would be handed before its handshake.
    const extra = await tracker.socket(server.address.replace(/^tls:/, 'tcp:'));
    const { data } = await readAll(extra);
    expect(data.byteLength).toBe(0);
    expect(server.metrics.connectionsRefused.max_connections).toBe(1);
    await first.send('still served');
    expect(text(await first.receive())).toBe('still served');
  });
});
