/**
 * Test certificates, made at test time with the `openssl` CLI in a temp directory:
 * - `ca`: a root CA;
 * - `server`: signed by `ca`, valid for DNS:localhost, IP:127.0.0.1 and IP:::1;
 * - `client`: signed by `ca` (accepted by a mutual-TLS server trusting `ca`);
 * - `rogueClient`: signed by a different CA (`rogueCa`; must be refused).
 * EC P-256 keys keep generation fast (well under a second). Call {@link makeCerts} once
 * per test file (beforeAll) and {@link TestCerts.cleanup} in afterAll.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM certificate and key. */
export interface CertPair {
  cert: string;
  key: string;
}

/** Everything {@link makeCerts} produces. */
export interface TestCerts {
  ca: string;
  rogueCa: string;
  server: CertPair;
  client: CertPair;
  rogueClient: CertPair;
  dir: string;
  cleanup(): void;
}

/** True when the openssl CLI is available. */
export function hasOpenssl(): boolean {
  const probe = spawnSync('openssl', ['version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req',
    '-x509',
    ...KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

function makeLeaf(dir: string, name: string, ca: string, extensions: string): CertPair {
  openssl(dir, [
    'req',
    ...KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}`,
  ]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
  return {
    cert: readFileSync(join(dir, `${name}.crt`), 'utf8'),
    key: readFileSync(join(dir, `${name}.key`), 'utf8'),
  };
}

/** Generates the CA, server and client certificates (see the module comment). */
export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-certs-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'rogue-ca');
  const server = makeLeaf(
    dir,
    'server',
    'ca',
    'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
  );
  const clientExtensions = 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n';
  const client = makeLeaf(dir, 'client', 'ca', clientExtensions);
  const rogueClient = makeLeaf(dir, 'rogue-client', 'rogue-ca', clientExtensions);
  return {
    ca: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    rogueCa: readFileSync(join(dir, 'rogue-ca.crt'), 'utf8'),
    server,
    client,
    rogueClient,
    dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
