/**
 * deploy/demo.ts as a newcomer runs it: nats-server + 2 CLI instances + HAProxy
 * come up, two clients chat through HAProxy across instances, and SIGINT
 * stops every process it started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../deploy/stack.js';
import {
  haproxyAvailable,
  LineClient,
  linesFrom,
  natsServerAvailable,
  waitUntil,
} from './helpers.js';

const DEMO = fileURLToPath(new URL('../../deploy/demo.ts', import.meta.url));
// The built CLI starts faster; use it when it is built with the bus (npm test builds first).
const BUILT_WITH_BUS = existsSync(
  fileURLToPath(new URL('../../dist/server/bus.js', import.meta.url)),
);
const available = haproxyAvailable() && natsServerAvailable();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!available)('deploy/demo.ts', () => {
  let demo: ChildProcess | null = null;
  const clients: LineClient[] = [];

  afterEach(() => {
    for (const client of clients.splice(0)) {
      client.destroy();
    }
    if (demo !== null && demo.exitCode === null) {
      demo.kill('SIGKILL');
    }
    demo = null;
  });

  it('starts the stack, chats across instances, and Ctrl-C stops every process', async () => {
    const port = await freePort();
    const natsPort = await freePort();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        DEMO,
        '--instances',
        '2',
        '--port',
        String(port),
        '--nats-port',
        String(natsPort),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, SWITCHBOARD_CLI: BUILT_WITH_BUS ? 'dist' : 'source' },
      },
    );
    demo = child;
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await waitUntil(() => output.includes('demo ready'), `demo ready (output: ${output})`, 25_000);
    const pids = [...output.matchAll(/\(pid (\d+)\)/g)].map((match) => Number(match[1]));
    expect(pids).toHaveLength(4); // nats-server, sb1, sb2, haproxy

    const alice = await LineClient.connect(`127.0.0.1:${port}`);
    const bob = await LineClient.connect(`127.0.0.1:${port}`);
    clients.push(alice, bob);
    // Round robin puts them on different instances; wait until both joined the chat.
    const deadline = Date.now() + 10_000;
    let round = 0;
    while (linesFrom(bob.lines, 'ping-').length === 0) {
      if (Date.now() > deadline) {
        throw new Error('no line from alice reached bob');
      }
      round += 1;
      alice.send(`ping-${round}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (let i = 1; i <= 20; i += 1) {
      bob.send(`bob-${i}`);
    }
    await alice.waitForLines(1);
    await waitUntil(() => alice.lines.includes('bob-20'), 'bob lines at alice');
    expect(linesFrom(alice.lines, 'bob-')).toEqual(
      Array.from({ length: 20 }, (_, i) => `bob-${i + 1}`),
    );

    child.kill('SIGINT');
    const code = await Promise.race([
      exited,
      new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 15_000)),
    ]);
    expect(code).toBe(0);
    expect(output).toContain('demo: stopped');
    expect(pids.filter(alive)).toEqual([]);
  }, 60_000);
});
