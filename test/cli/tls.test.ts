/**
 * TLS from the command line: `serve --tls-cert/--tls-key/--tls-ca` (mutual TLS)
 * and `send --tls-ca/--tls-cert/--tls-key` against it. Certificates come from
 * the openssl CLI (test/helpers/certs.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeCerts, type TestCerts } from '../helpers/certs.js';
import { requireTool } from '../helpers/interop.js';
import { CLI_TEST_TIMEOUT_MS, killAll, runCli, startLocalServe } from './cli-process.js';

// Spawning under load can take many seconds; cli-process.ts deadlines catch hangs.
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

const hasOpenssl = requireTool('openssl', ['openssl', 'version']);

describe.skipIf(!hasOpenssl)('switchboard serve/send over TLS', () => {
  let certs: TestCerts;
  const files: Record<string, string> = {};

  beforeAll(() => {
    certs = makeCerts();
    const contents: Record<string, string> = {
      ca: certs.ca,
      serverCert: certs.server.cert,
      serverKey: certs.server.key,
      clientCert: certs.client.cert,
      clientKey: certs.client.key,
      rogueCert: certs.rogueClient.cert,
      rogueKey: certs.rogueClient.key,
    };
    for (const [name, text] of Object.entries(contents)) {
      files[name] = join(certs.dir, `cli-${name}.pem`);
      writeFileSync(files[name] as string, text);
    }
  });

  afterAll(() => certs?.cleanup());
  afterEach(killAll);

  it('mutual TLS: a client with a certificate from the CA is served; others are refused', async () => {
    const { firstLine, port } = await startLocalServe('line', 'echo', [
      '--tls-cert',
      files.serverCert as string,
      '--tls-key',
      files.serverKey as string,
      '--tls-ca',
      files.ca as string,
    ]);
    expect(firstLine).toBe(`listening on tls://127.0.0.1:${port}`);
    const address = `tls://127.0.0.1:${port}`;
    const ca = files.ca as string;
    // Sends "secret" over mutual TLS with the client certificate `name` (a file pair).
    const sendAs = (name: 'client' | 'rogue', ...extra: string[]) =>
      runCli([
        'send',
        address,
        '--framing',
        'line',
        '--tls-ca',
        ca,
        '--tls-cert',
        files[`${name}Cert`] as string,
        '--tls-key',
        files[`${name}Key`] as string,
        'secret',
        ...extra,
      ]);
    const [good, noClientCert, rogue, untrusted] = await Promise.all([
      sendAs('client'),
      runCli(['send', address, '--framing', 'line', '--tls-ca', ca, 'secret', '--timeout', '5000']),
      sendAs('rogue', '--timeout', '5000'),
      runCli(['send', address, '--framing', 'line', 'secret']),
    ]);
    expect(good.stderr).toBe('');
    expect(good.stdout.toString()).toBe('secret\n');
    expect(good.code).toBe(0);
    for (const refused of [noClientCert, untrusted]) {
      expect(refused.stdout.toString()).toBe('');
      expect(refused.code, refused.stderr).toBe(3);
    }
    expect(noClientCert.stderr).toMatch(/^switchboard: SB_TLS_ERROR: .*certificate required/);
    // A certificate from another CA: the server refuses it after the client's side of
    // the TLS 1.3 handshake is done, so the client may see a plain EOF (Node reports no
    // alert). Either way the message is never echoed.
    expect(rogue.stdout.toString()).toBe('');
    expect([0, 3]).toContain(rogue.code);
    expect(untrusted.stderr).toMatch(/^switchboard: SB_TLS_ERROR: /);
  });

  it('--tls-cert without --tls-key is a usage error', async () => {
    const result = await runCli([
      'send',
      '127.0.0.1:1',
      '--framing',
      'line',
      '--tls-cert',
      files.clientCert as string,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--tls-cert and --tls-key go together/);
  });
});
