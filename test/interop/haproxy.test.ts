/**
 * Interop with a real HAProxy in front of a switchboard server that has
 * `proxyProtocol: true`: HAProxy accepts the client, connects to switchboard and
 * writes a PROXY header (`send-proxy-v2`, and `send-proxy` for v1) before the
 * client's bytes. The handler must see the original client address, not HAProxy's.
 *
 * The client connects from 127.0.0.3 (any 127/8 address is local on Linux) so its
 * address differs from HAProxy's own source address (127.0.0.1).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from '../../src/index.js';
import { requireTool } from '../helpers/interop.js';
import { freePort } from './peers/spawn-peer.js';

const HAPROXY = process.env.SWITCHBOARD_HAPROXY ?? 'haproxy';
const hasHaproxy = requireTool('haproxy', [HAPROXY, '-v']);
const WHOAMI = new URL('../server/fixtures/whoami-connection-handler.ts', import.meta.url).pathname;

/** Connects to `port` from `localAddress`, sends one line, returns the reply line and the client's port. */
function ask(port: number, localAddress: string): Promise<{ reply: string; clientPort: number }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    let buffered = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error('no reply within 10 s')));
    socket.on('connect', () => socket.write('who\n'));
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const newline = buffered.indexOf('\n');
      if (newline !== -1) {
        resolve({ reply: buffered.slice(0, newline), clientPort: socket.localPort! });
        socket.end();
      }
    });
    socket.on('error', reject);
    socket.on('close', () =>
      reject(new Error(`closed before a reply (got ${JSON.stringify(buffered)})`)),
    );
  });
}

/** Resolves once something accepts TCP connections on `port` (bounded: 100 tries). */
async function waitForPort(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const open = await new Promise<boolean>((resolve) => {
      const probe = net.connect({ host: '127.0.0.1', port });
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (open) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listening on port ${port}`);
}

describe.skipIf(!hasHaproxy)('HAProxy (send-proxy-v2 / send-proxy) in front of switchboard', () => {
  let server: Server;
  let haproxy: ChildProcess | undefined;
  let directory = '';
  let v2Port = 0;
  let v1Port = 0;
  let haproxyLog = '';

  beforeAll(async () => {
    server = await createServer({ handler: WHOAMI, framing: 'line', proxyProtocol: true });
    const backendPort = Number(server.address.split(':').at(-1));
    v2Port = await freePort();
    v1Port = await freePort();
    directory = mkdtempSync(join(tmpdir(), 'switchboard-haproxy-'));
    const config = join(directory, 'haproxy.cfg');
    writeFileSync(
      config,
      [
        'global',
        '  maxconn 100',
        'defaults',
        '  mode tcp',
        '  timeout connect 5s',
        '  timeout client 30s',
        '  timeout server 30s',
        'frontend via_v2',
        `  bind 127.0.0.1:${v2Port}`,
        '  default_backend switchboard_v2',
        'frontend via_v1',
        `  bind 127.0.0.1:${v1Port}`,
        '  default_backend switchboard_v1',
        'backend switchboard_v2',
        `  server sb 127.0.0.1:${backendPort} send-proxy-v2`,
        'backend switchboard_v1',
        `  server sb 127.0.0.1:${backendPort} send-proxy`,
        '',
      ].join('\n'),
    );
    haproxy = spawn(HAPROXY, ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy.stdout?.on('data', (chunk: Buffer) => {
      haproxyLog += chunk.toString();
    });
    haproxy.stderr?.on('data', (chunk: Buffer) => {
      haproxyLog += chunk.toString();
    });
    try {
      await waitForPort(v2Port);
      await waitForPort(v1Port);
    } catch (error) {
      throw new Error(`haproxy did not start: ${haproxyLog}`, { cause: error });
    }
  });

  afterAll(async () => {
    haproxy?.kill('SIGKILL');
    await server?.close({ timeout: 1000 });
    if (directory !== '') {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('send-proxy-v2: the handler sees the original client address and the frontend address', async () => {
    const { reply, clientPort } = await ask(v2Port, '127.0.0.3');
    expect(reply).toBe(`tcp://127.0.0.3:${clientPort} tcp://127.0.0.1:${v2Port} true -`);
  });

  it('send-proxy (v1): same', async () => {
    const { reply, clientPort } = await ask(v1Port, '127.0.0.4');
    expect(reply).toBe(`tcp://127.0.0.4:${clientPort} tcp://127.0.0.1:${v1Port} true -`);
  });

  it('many clients through HAProxy, each sees its own address', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, index) => ask(v2Port, `127.0.1.${index + 1}`)),
    );
    answers.forEach(({ reply, clientPort }, index) => {
      expect(reply.split(' ')[0]).toBe(`tcp://127.0.1.${index + 1}:${clientPort}`);
    });
    expect(server.metrics.connectionsRefused.proxy_header).toBe(0);
  });
});
