/**
 * Client-initiated TLS renegotiation is limited as tls.Server limits it (#14 item 4):
 * node's own counter (`tls.CLIENT_RENEG_LIMIT` = 3 renegotiations within
 * `tls.CLIENT_RENEG_WINDOW` = 600 s); the one past the limit ends the connection
 * with `SB_TLS_ERROR`, in every dispatch model, and the server keeps serving.
 * Before, a TLS 1.2 client completed 40 of 40 renegotiations (`openssl s_client
 * -tls1_2`, then `R` lines). Two clients: node's `tlsSocket.renegotiate()`, and the
 * openssl CLI (an interop peer: skipped with a printed reason when missing, a
 * failure under SWITCHBOARD_REQUIRE_INTEROP=1). Loopback, port 0, bounded waits.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server/server.js';
import { makeCerts, type TestCerts } from '../helpers/certs.js';
import { requireTool } from '../helpers/interop.js';
import { hostPort, Tracker, until } from '../server/helpers.js';

const tracker = new Tracker();
afterEach(() => tracker.cleanup());

const MODELS = ['loop', 'threads', 'processes'] as const;
/** More attempts than the limit allows; each is bounded. */
const ATTEMPTS = 10;

const hasOpenssl = requireTool('openssl', ['openssl', 'version']);
let certs: TestCerts;
beforeAll(() => {
  if (hasOpenssl) {
    certs = makeCerts();
  }
});
afterAll(() => certs?.cleanup());

async function tlsEchoServer(dispatch: (typeof MODELS)[number]): Promise<Server> {
  return tracker.server({
    handler: 'echo',
    framing: 'line',
    dispatch,
    workers: 1,
    listen: '127.0.0.1:0',
    tls: { cert: certs.server.cert, key: certs.server.key },
  });
}

/** A TLS 1.2 node client that echoes a line, renegotiates, and repeats; returns how many renegotiations completed. */
async function renegotiateRepeatedly(
  address: string,
): Promise<{ completed: number; closed: boolean }> {
  const { host, port } = hostPort(address);
  const socket = tls.connect({ host, port, ca: certs.ca, maxVersion: 'TLSv1.2' });
  socket.on('error', () => undefined);
  let closed = false;
  socket.on('close', () => {
    closed = true;
  });
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  let completed = 0;
  try {
    for (let attempt = 0; attempt < ATTEMPTS && !closed; attempt++) {
      const line = `ping ${attempt}\n`;
      socket.write(line);
      await until(() => closed || received.endsWith(line), 10_000);
      if (closed) {
        break;
      }
      const outcome = await new Promise<'done' | 'failed'>((resolve) => {
        const started = socket.renegotiate({}, (error) => resolve(error ? 'failed' : 'done'));
        if (!started) {
          resolve('failed');
        }
        socket.once('close', () => resolve('failed'));
      });
      if (outcome === 'failed') {
        break;
      }
      completed += 1;
    }
    if (completed < ATTEMPTS) {
      await until(() => closed, 10_000); // refused: the server is closing the connection
    }
    return { completed, closed };
  } finally {
    socket.destroy();
  }
}

describe.skipIf(!hasOpenssl)('TLS renegotiation is limited (#14)', () => {
  for (const dispatch of MODELS) {
    it(`${dispatch}: a node client gets 3 renegotiations, the 4th ends it with SB_TLS_ERROR; others keep being served`, async () => {
      const server = await tlsEchoServer(dispatch);
      const { completed, closed } = await renegotiateRepeatedly(server.address);
      expect(completed).toBe(tls.CLIENT_RENEG_LIMIT);
      expect(closed).toBe(true);
      await until(() => (server.metrics.errors.SB_TLS_ERROR ?? 0) === 1, 10_000);
      await until(() => server.metrics.connectionsOpen === 0, 10_000);
      // The server still serves a fresh TLS client.
      const fresh = await tracker.channel(server.address, 'line', { tls: { ca: certs.ca } });
      await fresh.send('still here');
      expect(new TextDecoder().decode((await fresh.receive()) ?? new Uint8Array())).toBe(
        'still here',
      );
    });
  }

  it('openssl s_client -tls1_2: R lines renegotiate 3 times, then the server closes', async () => {
    const server = await tlsEchoServer('loop');
    const { port } = hostPort(server.address);
    const caFile = join(certs.dir, 'renegotiation-ca.pem');
    writeFileSync(caFile, certs.ca);
    const client = spawn(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-CAfile', caFile],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let output = '';
    client.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('latin1');
    });
    client.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('latin1');
    });
    client.stdin.on('error', () => undefined);
    let exited = false;
    client.on('exit', () => {
      exited = true;
    });
    try {
      await until(() => exited || output.includes('Verify return code'), 10_000);
      const renegotiations = (): number => output.split('RENEGOTIATING').length - 1;
      for (let attempt = 0; attempt < ATTEMPTS && !exited; attempt++) {
        const line = `line ${attempt}\n`;
        client.stdin.write(line);
        await until(
          () => exited || output.includes(`line ${attempt}\n`, output.length - 200),
          10_000,
        );
        client.stdin.write('R\n');
        await until(() => exited || renegotiations() > attempt, 10_000);
      }
      if (renegotiations() < ATTEMPTS) {
        await until(() => exited, 10_000); // refused: the server is closing the connection
      }
      expect(renegotiations()).toBe(tls.CLIENT_RENEG_LIMIT + 1); // the last one was refused
      await until(() => (server.metrics.errors.SB_TLS_ERROR ?? 0) === 1, 10_000);
    } finally {
      if (!exited) {
        client.kill('SIGKILL');
      }
    }
  });
});
