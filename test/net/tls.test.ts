/**
 * TLS and mutual TLS on loopback with certificates generated at test time (openssl).
 */
import { connect as connectRaw } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildTlsClientOptions, buildTlsServerOptions } from '../../src/net/tls.js';
import { hasOpenssl, makeCerts, type TestCerts } from '../helpers/certs.js';
import { Loopback } from '../helpers/loopback.js';

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');
const loop = new Loopback();
const available = hasOpenssl();
if (!available) {
  console.warn('skipping TLS loopback tests: the openssl CLI is not installed');
}

describe('TLS option builders', () => {
  it('always require TLS 1.2 or newer', () => {
    expect(buildTlsClientOptions('localhost').minVersion).toBe('TLSv1.2');
    expect(buildTlsClientOptions('localhost', { minVersion: 'TLSv1.3' }).minVersion).toBe(
      'TLSv1.3',
    );
    expect(() =>
      buildTlsClientOptions('localhost', { minVersion: 'TLSv1.1' as 'TLSv1.2' }),
    ).toThrow(expect.objectContaining({ code: 'SB_BAD_OPTION' }));
    expect(() =>
      buildTlsServerOptions({ cert: 'c', key: 'k', minVersion: 'TLSv1' as 'TLSv1.2' }),
    ).toThrow(expect.objectContaining({ code: 'SB_BAD_OPTION' }));
  });

  it('send SNI for names but not for IP literals, and verify by default', () => {
    expect(buildTlsClientOptions('example.org')).toMatchObject({
      servername: 'example.org',
      rejectUnauthorized: true,
    });
    expect(buildTlsClientOptions('127.0.0.1').servername).toBeUndefined();
    expect(buildTlsClientOptions('127.0.0.1', { servername: 'localhost' }).servername).toBe(
      'localhost',
    );
  });

  it('mutual TLS: requestCert implies rejectUnauthorized unless turned off', () => {
    expect(buildTlsServerOptions({ cert: 'c', key: 'k', requestCert: true })).toMatchObject({
      requestCert: true,
      rejectUnauthorized: true,
    });
    expect(() => buildTlsServerOptions({ cert: 'c' } as never)).toThrow(
      expect.objectContaining({ code: 'SB_BAD_OPTION' }),
    );
  });
});

describe.skipIf(!available)('TLS on loopback', () => {
  let certs: TestCerts;
  beforeAll(() => {
    certs = makeCerts();
  });
  afterAll(() => {
    certs?.cleanup();
  });
  afterEach(async () => {
    await loop.cleanup();
  });

  it('tls:// with a CA-signed server certificate, SNI and TLS >= 1.2', async () => {
    const listener = await loop.listen('tls://127.0.0.1:0', {
      tls: certs.server,
      trackLeaks: false,
    });
    expect(listener.url).toMatch(/^tls:\/\/127\.0\.0\.1:/);
    const accepting = listener.accept({ timeout: 5000 });
    const client = await loop.connect(listener.url, {
      tls: { ca: certs.ca, servername: 'localhost' },
    });
    const server = loop.track(await accepting);
    await client.sendAll('secret');
    expect(text(await server.recvExactly(6))).toBe('secret');
    await server.sendAll('ok');
    expect(text(await client.recvExactly(2))).toBe('ok');
    expect(client.authorized).toBe(true);
    expect(client.peerCertificate).toMatchObject({ subject: { CN: 'server' } });
    expect(client.remoteAddress).toMatch(/^tls:\/\//);
  });

  it('a client that does not trust the server CA fails with SB_TLS_ERROR', async () => {
    const listener = await loop.listen('tls://127.0.0.1:0', {
      tls: certs.server,
      trackLeaks: false,
    });
    await expect(loop.connect(listener.url, { tls: { ca: certs.rogueCa } })).rejects.toMatchObject({
      code: 'SB_TLS_ERROR',
    });
  });

  it('a name mismatch (SNI/servername) fails with SB_TLS_ERROR', async () => {
    const listener = await loop.listen('tls://127.0.0.1:0', {
      tls: certs.server,
      trackLeaks: false,
    });
    await expect(
      loop.connect(listener.url, { tls: { ca: certs.ca, servername: 'not-the-server.example' } }),
    ).rejects.toMatchObject({ code: 'SB_TLS_ERROR' });
  });

  it('TLS over IPv6 [::1] (certificate has IP:::1)', async (context) => {
    const { hasIpv6Loopback } = await import('../helpers/loopback.js');
    if (!(await hasIpv6Loopback())) {
      console.warn('skipping TLS over IPv6: this host cannot listen on ::1');
      context.skip();
    }
    const listener = await loop.listen('tls://[::1]:0', { tls: certs.server, trackLeaks: false });
    const accepting = listener.accept({ timeout: 5000 });
    const client = await loop.connect(listener.url, { tls: { ca: certs.ca } });
    loop.track(await accepting);
    expect(client.authorized).toBe(true);
  });

  describe('mutual TLS', () => {
    const mtls = () => ({ ...certs.server, ca: certs.ca, requestCert: true });

    it('a client certificate signed by the trusted CA is accepted and visible to the server', async () => {
      const listener = await loop.listen('tls://127.0.0.1:0', { tls: mtls(), trackLeaks: false });
      const accepting = listener.accept({ timeout: 5000 });
      const client = await loop.connect(listener.url, { tls: { ca: certs.ca, ...certs.client } });
      const server = loop.track(await accepting);
      expect(server.authorized).toBe(true);
      expect(server.peerCertificate).toMatchObject({ subject: { CN: 'client' } });
      await client.sendAll('hi');
      expect(text(await server.recvExactly(2))).toBe('hi');
    });

    it('a client certificate from another CA is refused', async () => {
      const listener = await loop.listen('tls://127.0.0.1:0', { tls: mtls(), trackLeaks: false });
      // With TLS 1.3 the client finishes its side of the handshake before the server
      // checks its certificate, so the refusal surfaces after connect: as an error, or
      // as the server ending the connection before sending anything.
      let outcome: string;
      try {
        const client = await loop.connect(listener.url, {
          tls: { ca: certs.ca, ...certs.rogueClient },
        });
        const first = await client.recv(1, { timeout: 5000 });
        outcome = first.length === 0 ? 'closed by server' : 'data';
      } catch (error) {
        outcome = (error as { code: string }).code;
      }
      expect(outcome).toMatch(/^(SB_TLS_ERROR|SB_CONNECTION_RESET|closed by server)$/);
      expect(listener.tlsErrors).toBe(1);
      expect(listener.pending).toBe(0);
    });

    it('a client without a certificate is refused', async () => {
      const listener = await loop.listen('tls://127.0.0.1:0', { tls: mtls(), trackLeaks: false });
      let failure: unknown;
      try {
        const client = await loop.connect(listener.url, { tls: { ca: certs.ca } });
        await client.recv(1, { timeout: 5000 });
      } catch (error) {
        failure = error;
      }
      expect(failure).toMatchObject({
        code: expect.stringMatching(/^SB_(TLS_ERROR|CONNECTION_RESET)$/),
      });
    });
  });

  it('a peer that half-closes mid-handshake is dropped at once and counted', async () => {
    const listener = await loop.listen('tls://127.0.0.1:0', {
      tls: certs.server,
      trackLeaks: false,
    });
    const { port } = listener.address as { port: number };
    const raw = connectRaw(port);
    raw.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
    // A TLS record header announcing a ClientHello, one body byte, then FIN.
    raw.once('connect', () => raw.end(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])));
    await closed;
    expect(listener.tlsErrors).toBe(1);
    expect(listener.pending).toBe(0);
  });

  it('handshakes in progress count toward acceptQueueLimit, and close() ends them', async () => {
    // Before, only handshaken sockets counted: peers that connect and send nothing each
    // held a TLS socket for the whole handshake deadline (30 s), without bound, and
    // close() left them running.
    const listener = await loop.listen('tls://127.0.0.1:0', {
      tls: certs.server,
      trackLeaks: false,
      acceptQueueLimit: 2,
    });
    const { port } = listener.address as { port: number };
    const closes: Promise<void>[] = [];
    for (let index = 0; index < 5; index++) {
      const raw = connectRaw(port, '127.0.0.1');
      raw.on('error', () => undefined);
      closes.push(new Promise<void>((resolve) => raw.once('close', () => resolve())));
      await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
    }
    await Promise.all(closes.slice(2));
    expect(listener.droppedConnections).toBe(3);
    await listener.close();
    await Promise.all(closes.slice(0, 2));
    expect(listener.tlsErrors).toBe(0);
  });

  it('refuses a server asked to accept TLS 1.1', async () => {
    await expect(
      loop.listen('tls://127.0.0.1:0', {
        tls: { ...certs.server, minVersion: 'TLSv1.1' as 'TLSv1.2' },
      }),
    ).rejects.toMatchObject({ code: 'SB_BAD_OPTION' });
  });

  it('tls:// without tls options is SB_BAD_OPTION', async () => {
    await expect(loop.listen('tls://127.0.0.1:0')).rejects.toMatchObject({ code: 'SB_BAD_OPTION' });
  });
});
