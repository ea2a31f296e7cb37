/**
 * #14 item 8: idle `/metrics` connections must not starve the main port.
 *
 * The server runs in a child process with a small file-descriptor limit
 * (`ulimit -n 256`), as an attacker would meet it: before the endpoint had a
 * connection cap, 2,000 idle metrics connections used up every descriptor and
 * the main port accepted nobody. Now the endpoint keeps at most
 * `DEFAULTS.metricsMaxConnections`; the rest are closed as they arrive, and
 * both ports keep serving.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openChannel } from '../../src/net/channel.js';
import { DEFAULTS } from '../../src/options.js';
import { until } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const IDLE_CONNECTIONS = 2_000;
const FD_LIMIT = 256;

const SERVER_SCRIPT = `
import { createServer } from ${JSON.stringify(`${ROOT}src/index.ts`)};
const server = await createServer({ handler: 'echo', framing: 'line', metrics: '127.0.0.1:0' });
console.log(JSON.stringify({ address: server.address, metrics: server.metricsUrl }));
process.stdin.resume();
process.stdin.on('end', () => server.close({ timeout: 0 }).then(() => process.exit(0)));
`;

const children: ChildProcess[] = [];
const sockets: net.Socket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) {
    socket.destroy();
  }
  for (const child of children.splice(0)) {
    child.kill('SIGKILL');
  }
});

async function startServerWithFewDescriptors(): Promise<{ address: string; metrics: string }> {
  const child = spawn(
    'bash',
    [
      '-c',
      `ulimit -n ${FD_LIMIT} && exec "$0" --import tsx --input-type=module -e "$1"`,
      process.execPath, // $0
      SERVER_SCRIPT, // $1
    ],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`server exited early (${code})`)));
  });
  return JSON.parse(first) as { address: string; metrics: string };
}

function connectIdle(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined); // a reset by the server is expected
  sockets.push(socket);
  return new Promise((resolve) => {
    socket.once('connect', () => resolve(socket));
    socket.once('close', () => resolve(socket));
  });
}

describe('/metrics connection cap under a small descriptor limit', () => {
  it(`${IDLE_CONNECTIONS} idle metrics connections: the endpoint keeps ${DEFAULTS.metricsMaxConnections}, the main port and a scrape still work`, async () => {
    const server = await startServerWithFewDescriptors();
    const metricsPort = Number(new URL(server.metrics).port);
    const idle: net.Socket[] = [];
    for (let batch = 0; batch < IDLE_CONNECTIONS / 100; batch++) {
      idle.push(
        ...(await Promise.all(Array.from({ length: 100 }, () => connectIdle(metricsPort)))),
      );
    }
    // While they are all still within their request deadline, the main port
    // accepts and serves five clients.
    for (let client = 0; client < 5; client++) {
      const channel = await openChannel(server.address, {
        framing: 'line',
        trackLeaks: false,
        timeout: 5_000,
      });
      try {
        await channel.send(`client ${client}`);
        const reply = await channel.receive({ timeout: 5_000 });
        expect(reply === null ? null : new TextDecoder().decode(reply)).toBe(`client ${client}`);
      } finally {
        await channel.close();
      }
    }
    const scrape = await fetch(server.metrics, { signal: AbortSignal.timeout(5_000) });
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain('switchboard_connections_accepted_total 5');
    // And the server closed all but (at most) its cap of the idle ones, at once:
    // well before their request deadline (DEFAULTS.metricsRequestTimeout, 10 s),
    // which would close them too but leaves the main port starved until then.
    expect(DEFAULTS.metricsRequestTimeout).toBeGreaterThanOrEqual(10_000);
    await until(
      () => idle.filter((socket) => !socket.destroyed).length <= DEFAULTS.metricsMaxConnections,
      5_000,
    );
  }, 60_000);
});
