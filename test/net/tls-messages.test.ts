/**
 * What a failed TLS connect says: the next step for an untrusted certificate (the
 * CA to pass), and for a name mismatch only the name the caller asked for, never the
 * names in the server's certificate, which the server chose (node's own message lists
 * them: "... is not in the cert's altnames: DNS:localhost, IP Address:127.0.0.1").
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hasOpenssl, makeCerts, type TestCerts } from '../helpers/certs.js';
import { Loopback } from '../helpers/loopback.js';

const loop = new Loopback();
const available = hasOpenssl();
if (!available) {
  console.warn('skipping TLS message tests: the openssl CLI is not installed');
}

describe.skipIf(!available)('TLS connect errors say what to do, in words of the caller', () => {
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

  it('a certificate no trusted CA signed: SB_TLS_ERROR naming tls.ca and --tls-ca', async () => {
    const listener = await loop.listen('tls://127.0.0.1:0', {
      tls: certs.server,
      trackLeaks: false,
    });
    const failure = loop.connect(listener.url, { tls: { ca: certs.rogueCa } });
    await expect(failure).rejects.toMatchObject({
      code: 'SB_TLS_ERROR',
      message: expect.stringContaining(
        "(no CA this client trusts signed the server's certificate: pass that CA as tls.ca; CLI: --tls-ca)",
      ),
    });
  });

  it("a name mismatch names the caller's name only, not the certificate's", async () => {
    const listener = await loop.listen('tls://127.0.0.1:0', {
      tls: certs.server,
      trackLeaks: false,
    });
    const error: unknown = await loop
      .connect(listener.url, { tls: { ca: certs.ca, servername: 'not-listed.example' } })
      .then(
        () => undefined,
        (reason: unknown) => reason,
      );
    expect(error).toMatchObject({
      code: 'SB_TLS_ERROR',
      message:
        "the server's certificate is not valid for not-listed.example (connect by a name the certificate lists, or set tls.servername; CLI: --tls-servername)",
    });
    // The certificate's names (DNS:localhost, IP:127.0.0.1) are the server's words.
    expect(JSON.stringify(error)).not.toMatch(/localhost|altnames/);
    // The original error is kept as the cause, for a debugger.
    expect((error as Error).cause).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });
});
