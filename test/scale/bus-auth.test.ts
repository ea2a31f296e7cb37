/**
 * The bus with NATS authorization and TLS, against real nats-server: user/pass,
 * token (options and URL), and TLS with a CA made here by openssl. Wrong or
 * missing credentials fail with a stable code and never show the secret (error
 * message, its util.inspect, bus status events); right ones carry chat across two
 * instances.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { nkeys } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChildSet, findTool, freePort, waitForPort } from '../../deploy/stack.js';
import { type BusStatusMessage, diagnosticChannels } from '../../src/diagnostics.js';
import {
  connectNatsBus,
  type NatsBusOptions,
  parseBusUrls,
  redactBusUrl,
} from '../../src/server/nats-bus.js';
import { createServer, type Server } from '../../src/server/server.js';
import { requireTool } from '../helpers/interop.js';
import { LineClient, natsServerAvailable, waitUntil } from './helpers.js';

const PASSWORD = 's3cret-Pa55word';
const TOKEN = 't0ken-abcdef-0123';

describe('bus credentials and TLS options (no server)', () => {
  it('takes user:pass@ and token@ out of the URLs, as nats.js does not read them', () => {
    expect(parseBusUrls(`nats://alice:${PASSWORD}@127.0.0.1:4222`)).toEqual({
      urls: ['nats://127.0.0.1:4222'],
      tls: false,
      auth: { user: 'alice', pass: PASSWORD },
    });
    expect(parseBusUrls(`tls://${TOKEN}@h:1, tls://${TOKEN}@k:2`)).toEqual({
      urls: ['tls://h:1', 'tls://k:2'],
      tls: true,
      auth: { token: TOKEN },
    });
    // Percent-encoded, as URLs require for ':' '@' '/' in a password.
    expect(parseBusUrls('nats://bob:p%40ss%3Aw@h:1').auth).toEqual({ user: 'bob', pass: 'p@ss:w' });
    // A numeric password is not the port (nats.js's own parser would take 1234 as the port).
    expect(parseBusUrls('nats://bob:1234@h:4222').urls).toEqual(['nats://h:4222']);
  });

  it('refuses a bad option with SB_BAD_OPTION naming it, never the secret', async () => {
    const cases: [NatsBusOptions, RegExp][] = [
      [{ servers: `nats://a:${PASSWORD}@h:1, nats://b:${PASSWORD}@h:2` }, /different credentials/],
      [{ servers: 'nats://h:1', user: 'alice' }, /"user" and "pass" go together/],
      [
        { servers: 'nats://h:1', token: TOKEN, user: 'a', pass: PASSWORD },
        /one kind of credentials/,
      ],
      [{ servers: `nats://${TOKEN}@h:1`, token: TOKEN }, /one kind of credentials/],
      [{ servers: 'nats://h:1', token: `${TOKEN}\r\nPUB x 1` }, /"token" must be/],
      [{ servers: 'nats://h:1', credsFile: '/nonexistent/x.creds' }, /"credsFile": cannot read/],
      [{ servers: 'nats://h:1', tls: { caFile: '/nonexistent/ca.pem' } }, /"tls.caFile"/],
      [{ servers: 'nats://h:1', tls: { certFile: '/x.pem' } }, /"tls.certFile" and "tls.keyFile"/],
      [{ servers: 'nats://h:1', tls: { ca: 'x' } as never }, /unknown tls option "ca"/],
      [{ servers: `http://u:${PASSWORD}@h:1` }, /"http:\/\/u:\*\*\*@h:1" is not a nats/],
      [{ servers: `nats://u:${PASSWORD}@[bad` }, /"nats:\/\/u:\*\*\*@\[bad" is not a URL/],
    ];
    for (const [options, message] of cases) {
      const error = await connectNatsBus(options).then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error, String(message)).toMatchObject({ code: 'SB_BAD_OPTION', message });
      expect(inspect(error)).not.toContain(PASSWORD);
      expect(inspect(error)).not.toContain(TOKEN);
    }
  });

  it('a file that is no .creds file or no PEM is SB_BAD_OPTION, its content not quoted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-busauth-'));
    try {
      const file = join(dir, 'junk');
      writeFileSync(file, `not a creds file ${PASSWORD}\n`);
      for (const options of [
        { servers: 'nats://127.0.0.1:1', credsFile: file },
        { servers: 'nats://127.0.0.1:1', tls: { caFile: file } },
      ]) {
        const error = await connectNatsBus(options).catch((caught: unknown) => caught);
        expect(error).toMatchObject({ code: 'SB_BAD_OPTION' });
        expect(inspect(error)).not.toContain(PASSWORD);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a file past 4 MiB (or endless, as /dev/zero) is SB_BAD_OPTION, not read to the end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-busauth-'));
    try {
      const file = join(dir, 'huge.pem');
      const pem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
      writeFileSync(file, pem.repeat(Math.ceil((4 * 1024 * 1024 + 1) / pem.length)));
      for (const options of [
        { servers: 'nats://127.0.0.1:1', tls: { caFile: file } },
        { servers: 'nats://127.0.0.1:1', credsFile: file },
        { servers: 'nats://127.0.0.1:1', tls: { caFile: '/dev/zero' } },
      ]) {
        const error = await connectNatsBus(options).catch((caught: unknown) => caught);
        expect(error).toMatchObject({
          code: 'SB_BAD_OPTION',
          message: /larger than 4194304 bytes/,
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('redactBusUrl masks a password or token, also in text that is no URL', () => {
    expect(redactBusUrl(`nats://alice:${PASSWORD}@h:1`)).toBe('nats://alice:***@h:1');
    expect(redactBusUrl(`tls://${TOKEN}@h:1`)).toBe('tls://***@h:1');
    expect(redactBusUrl('nats://h:1')).toBe('nats://h:1');
  });
});

const hasTools = natsServerAvailable() && requireTool('openssl', ['openssl', 'version']);

describe.skipIf(!hasTools)('bus authorization and TLS against nats-server', () => {
  const children = new ChildSet();
  const servers: Server[] = [];
  const clients: LineClient[] = [];
  let dir = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-busauth-'));
    makeCertificates(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    for (const client of clients.splice(0)) {
      client.destroy();
    }
    await Promise.all(servers.splice(0).map((server) => server.close({ timeout: 1 })));
    await children.stopAll(2000);
  });

  /** nats-server on a free port with `args` (and a config file with `config`). */
  async function startNats(
    args: string[],
    config?: string,
    env: NodeJS.ProcessEnv = {},
  ): Promise<number> {
    const port = await freePort();
    const binary = findTool('nats-server') ?? 'nats-server';
    let all = ['-a', '127.0.0.1', '-p', String(port), ...args];
    if (config !== undefined) {
      const file = join(dir, `nats-${port}.conf`);
      writeFileSync(file, config);
      all = ['-c', file, ...all];
    }
    const child = children.spawn('nats-server', binary, all, { env });
    await Promise.race([
      waitForPort('127.0.0.1', port, 10_000),
      child.exited.then((code) => {
        throw new Error(`nats-server exited (${code}): ${child.output().slice(-500)}`);
      }),
    ]);
    return port;
  }

  async function chatServer(bus: string | NatsBusOptions): Promise<Server> {
    const server = await createServer({ handler: 'chat', bus, closeTimeout: 1000 });
    servers.push(server);
    return server;
  }

  /** Two chat instances on `bus`: a line from one reaches the other. */
  async function expectChatAcross(bus: string | NatsBusOptions): Promise<void> {
    const a = await chatServer(bus);
    const b = await chatServer(bus);
    const alice = await LineClient.connect(a.address);
    const bob = await LineClient.connect(b.address);
    clients.push(alice, bob);
    await waitUntil(() => a.connections === 1 && b.connections === 1, 'both joined');
    alice.send('hello from a');
    expect(await bob.waitForLines(1)).toEqual(['hello from a']);
  }

  /** The error `bus` fails with, checked for the secrets; and the status events meanwhile. */
  async function failure(bus: NatsBusOptions, connectTimeout = 3000): Promise<unknown> {
    const events: BusStatusMessage[] = [];
    const unsubscribe = diagnosticChannels.busStatus.subscribe((message) => events.push(message));
    try {
      const error = await connectNatsBus({ connectTimeout, ...bus }).then(
        async (opened) => {
          await opened.close();
          return null;
        },
        (caught: unknown) => caught,
      );
      for (const shown of [inspect(error, { depth: 10 }), inspect(events, { depth: 10 })]) {
        expect(shown).not.toContain(PASSWORD);
        expect(shown).not.toContain(TOKEN);
      }
      return error;
    } finally {
      unsubscribe();
    }
  }

  it('user/pass: wrong or missing is SB_AUTH_FAILED without the password; right carries chat', async () => {
    const port = await startNats(['--user', 'alice', '--pass', PASSWORD]);
    const url = `nats://127.0.0.1:${port}`;
    const wrong = await failure({ servers: url, user: 'alice', pass: `${PASSWORD}x` });
    expect(wrong).toMatchObject({ code: 'SB_AUTH_FAILED' });
    expect((wrong as Error).message).not.toContain(PASSWORD);
    expect(await failure({ servers: url })).toMatchObject({ code: 'SB_AUTH_FAILED' });
    expect(await failure({ servers: `nats://alice:${PASSWORD}x@127.0.0.1:${port}` })).toMatchObject(
      { code: 'SB_AUTH_FAILED' },
    );
    await expectChatAcross({ servers: url, user: 'alice', pass: PASSWORD });
    // The open bus keeps the password only where nats.js needs it, out of inspect's sight.
    const bus = await connectNatsBus({ servers: url, user: 'alice', pass: PASSWORD });
    try {
      expect(inspect(bus, { depth: 10, showHidden: true })).not.toContain(PASSWORD);
      expect(JSON.stringify(bus.status)).not.toContain(PASSWORD);
    } finally {
      await bus.close();
    }
    // The same credentials in the URL (nats.js alone would not send them).
    await expectChatAcross(`nats://alice:${PASSWORD}@127.0.0.1:${port}`);
  });

  it('token: wrong is SB_AUTH_FAILED without the token; right (option or URL) carries chat', async () => {
    const port = await startNats(['--auth', TOKEN]);
    const wrong = await failure({ servers: `nats://127.0.0.1:${port}`, token: `${TOKEN}x` });
    expect(wrong).toMatchObject({ code: 'SB_AUTH_FAILED' });
    await expectChatAcross(`nats://${TOKEN}@127.0.0.1:${port}`);
    const server = servers[0];
    expect(JSON.stringify(server?.bus)).not.toContain(TOKEN);
    expect(server?.bus?.server).toBe(`127.0.0.1:${port}`);
  });

  it("creds file: the right user JWT + seed carries chat; another account's is SB_AUTH_FAILED", async () => {
    const trusted = operatorSetup();
    const stranger = operatorSetup();
    const port = await startNats([], trusted.config);
    const credsFile = join(dir, 'user.creds');
    writeFileSync(credsFile, trusted.creds);
    const strangerFile = join(dir, 'stranger.creds');
    writeFileSync(strangerFile, stranger.creds);
    const url = `nats://127.0.0.1:${port}`;
    const error = await failure({ servers: url, credsFile: strangerFile });
    expect(error).toMatchObject({ code: 'SB_AUTH_FAILED' });
    expect(inspect(error, { depth: 10 })).not.toContain(stranger.seed);
    expect(await failure({ servers: url })).toMatchObject({ code: 'SB_AUTH_FAILED' });
    await expectChatAcross({ servers: url, credsFile });
  });

  it('TLS: with the CA it carries chat; without it (or to a plain server) it is SB_TLS_ERROR', async () => {
    const port = await startNats(
      [],
      `tls {\n  cert_file: "${join(dir, 'server.pem')}"\n  key_file: "${join(dir, 'server.key')}"\n}\n`,
    );
    const caFile = join(dir, 'ca.pem');
    // Node's root store does not know our CA.
    const untrusted = await failure({ servers: `tls://127.0.0.1:${port}` });
    expect(untrusted).toMatchObject({ code: 'SB_TLS_ERROR' });
    await expectChatAcross({ servers: `tls://127.0.0.1:${port}`, tls: { caFile } });
    const plain = await startNats([]);
    expect(await failure({ servers: `nats://127.0.0.1:${plain}`, tls: { caFile } })).toMatchObject({
      code: 'SB_TLS_ERROR',
    });
  });

  it('TLS to an IP address checks the certificate against that address, not "localhost"', async () => {
    // nats.js starts TLS without the host for a server given by IP address, so node
    // checked the name "localhost": this certificate (localhost only) passed for 127.0.0.1.
    const port = await startNats(
      [],
      `tls {\n  cert_file: "${join(dir, 'localhost.pem')}"\n  key_file: "${join(dir, 'localhost.key')}"\n}\n`,
    );
    const caFile = join(dir, 'ca.pem');
    const error = await failure({ servers: `tls://127.0.0.1:${port}`, tls: { caFile } });
    expect(error).toMatchObject({ code: 'SB_TLS_ERROR', message: /ERR_TLS_CERT_ALTNAME_INVALID/ });
    // Asked for by name, the same certificate is right.
    const bus = await connectNatsBus({ servers: `tls://localhost:${port}`, tls: { caFile } });
    expect(bus.status.state).toBe('connected');
    await bus.close();
  });

  it("docs/SCALING.md's nats.conf works: instances chat over TLS with their user; monitor may not publish", async () => {
    const doc = readFileSync(new URL('../../docs/SCALING.md', import.meta.url), 'utf8');
    const block = /<!-- bus-auth-conf -->\s*```\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBeDefined();
    const instancePass = 'inst-Pa55';
    const monitorPass = 'mon-Pa55';
    const config = (block ?? '')
      .replace(/^\s*listen:.*$/m, '') // -a/-p pick loopback and a free port
      .replaceAll('/etc/nats/', `${dir}/`);
    const port = await startNats([], config, {
      SB_NATS_PASS: instancePass,
      MONITOR_PASS: monitorPass,
    });
    const caFile = join(dir, 'ca.pem');
    const servers = `tls://127.0.0.1:${port}`;
    await expectChatAcross({ servers, user: 'instances', pass: instancePass, tls: { caFile } });
    // The monitor hears the instances' lines but cannot post: its publishes are refused.
    const monitor = await connectNatsBus({
      servers,
      user: 'monitor',
      pass: monitorPass,
      tls: { caFile },
    });
    try {
      const heard: string[] = [];
      monitor.subscribe('lobby', (message) =>
        heard.push(new TextDecoder().decode(message.payload)),
      );
      await monitor.flush();
      const [alice, bob] = clients;
      alice?.send('seen by the monitor');
      await waitUntil(() => heard.includes('seen by the monitor'), 'the line at the monitor');
      monitor.publish('lobby', {
        origin: 'x',
        sender: '1',
        seq: 1,
        payload: new TextEncoder().encode('forged'),
      });
      await monitor.flush();
      alice?.send('after');
      await bob?.waitForLines(3);
      expect(bob?.lines).toEqual(['hello from a', 'seen by the monitor', 'after']);
    } finally {
      await monitor.close();
    }
  });

  it('mutual TLS: a server that verifies clients takes our certificate, refuses none', async () => {
    const port = await startNats(
      [],
      [
        'tls {',
        `  cert_file: "${join(dir, 'server.pem')}"`,
        `  key_file: "${join(dir, 'server.key')}"`,
        `  ca_file: "${join(dir, 'ca.pem')}"`,
        '  verify: true',
        '}',
        '',
      ].join('\n'),
    );
    const caFile = join(dir, 'ca.pem');
    const servers = `tls://127.0.0.1:${port}`;
    // Under TLS 1.3 the server refuses a client without a certificate after the
    // handshake, and nats.js retries until the connect timeout: no code of its own.
    const refused = (await failure({ servers, tls: { caFile } }, 1000)) as { code?: string };
    expect(['SB_TLS_ERROR', 'SB_CONNECT_TIMEOUT']).toContain(refused.code);
    await expectChatAcross({
      servers,
      tls: { caFile, certFile: join(dir, 'client.pem'), keyFile: join(dir, 'client.key') },
    });
  });
});

/** A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`. */
function makeCertificates(dir: string): void {
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore', timeout: 20_000 });
  };
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=sb-test-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  );
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'],
    ['client', 'extendedKeyUsage=clientAuth'],
    ['localhost', 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth'],
  ] as const) {
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    openssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      `/CN=sb-test-${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    );
  }
}

/**
 * Decentralized auth without `nsc`: an operator, an account and a user (NKeys),
 * their JWTs signed as nats-server checks them, the server config (operator mode,
 * memory resolver) and the user's .creds file.
 */
function operatorSetup(): { config: string; creds: string; seed: string } {
  const encode = (value: string | Uint8Array): string => Buffer.from(value).toString('base64url');
  const jwt = (
    claims: Record<string, unknown>,
    signer: ReturnType<typeof nkeys.createOperator>,
  ) => {
    const header = encode(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));
    const body: Record<string, unknown> = { ...claims, iat: Math.floor(Date.now() / 1000) };
    body.jti = createHash('sha256').update(JSON.stringify(body)).digest('hex').toUpperCase();
    const payload = encode(JSON.stringify(body));
    const signature = signer.sign(new TextEncoder().encode(`${header}.${payload}`));
    return `${header}.${payload}.${encode(signature)}`;
  };
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const user = nkeys.createUser();
  const op = operator.getPublicKey();
  const acc = account.getPublicKey();
  const unlimited = { subs: -1, data: -1, payload: -1 };
  const operatorJwt = jwt(
    { iss: op, sub: op, name: 'op', nats: { type: 'operator', version: 2 } },
    operator,
  );
  const accountJwt = jwt(
    {
      iss: op,
      sub: acc,
      name: 'acc',
      nats: {
        limits: { ...unlimited, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 },
        type: 'account',
        version: 2,
      },
    },
    operator,
  );
  const userJwt = jwt(
    {
      iss: acc,
      sub: user.getPublicKey(),
      name: 'user',
      nats: { pub: {}, sub: {}, ...unlimited, type: 'user', version: 2 },
    },
    account,
  );
  const seed = new TextDecoder().decode(user.getSeed());
  return {
    config: `operator: ${operatorJwt}\nresolver: MEMORY\nresolver_preload: {\n  ${acc}: ${accountJwt}\n}\n`,
    creds: [
      '-----BEGIN NATS USER JWT-----',
      userJwt,
      '------END NATS USER JWT------',
      '',
      '-----BEGIN USER NKEY SEED-----',
      seed,
      '------END USER NKEY SEED------',
      '',
    ].join('\n'),
    seed,
  };
}
