/**
 * The client commands as black boxes against `serve`: connect (stdin lines to
 * frames, half-close, wait for the peer), send (half-close, replies until EOF,
 * --timeout), connection refused (exit 3), proxy, and bench --json.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { requireTool } from '../helpers/interop.js';
import {
  CLI,
  CLI_TEST_TIMEOUT_MS,
  killAll,
  runCli,
  SPAWN_DEADLINE_MS,
  startCli,
  startLocalServe,
  startProxy,
} from './cli-process.js';

// Spawning under load can take many seconds; cli-process.ts deadlines catch hangs.
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

const servers = new Set<net.Server>();

afterEach(async () => {
  killAll();
  for (const server of servers) {
    server.close();
  }
  servers.clear();
});

/** A port that was just bound and released: connecting to it is refused. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A server that accepts, reads, and never answers or closes. */
async function silentServer(): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    socket.resume();
  });
  servers.add(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

describe('switchboard connect', () => {
  it('stdin lines become frames; EOF half-closes and waits for the peer to finish', async () => {
    const { address } = await startLocalServe('length:u16be', 'echo');
    const result = await runCli(
      ['connect', address, '--framing', 'length:u16be', '--output', 'json'],
      {
        input: 'alpha\n\nbeta\n',
      },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe(
      '{"len":5,"hex":"616c706861","text":"alpha"}\n{"len":0,"hex":"","text":""}\n{"len":4,"hex":"62657461","text":"beta"}\n',
    );
  });

  it('prints what other chat clients say, one frame per line', async () => {
    const { address, cli: serve } = await startLocalServe('line', 'chat', ['--json']);
    const listener = startCli(['connect', address, '--framing', 'line']);
    // A second connect speaks once the first is in the room: chat members join when
    // accepted, which serve --json reports (no sleep: a loaded machine takes seconds).
    await serve.waitForStderr((text) => text.includes('"event":"connection:open"'));
    const speaker = await runCli(['connect', address, '--framing', 'line'], {
      input: 'hello room\n',
    });
    expect(speaker.code).toBe(0);
    await listener.waitForStdout((text) => text.includes('hello room\n'));
    listener.child.kill('SIGINT');
    expect((await listener.exited()).code).toBe(130);
  });

  it('connection refused exits 3 with SB_CONNECTION_REFUSED', async () => {
    const port = await closedPort();
    const [connect, send] = await Promise.all([
      runCli(['connect', `127.0.0.1:${port}`, '--framing', 'line']),
      runCli(['send', `127.0.0.1:${port}`, '--framing', 'line', 'x']),
    ]);
    for (const result of [connect, send]) {
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(/^switchboard: SB_CONNECTION_REFUSED: /);
    }
  });
});

describe('switchboard send', () => {
  it('half-closes after the message and prints the reply of serve --mode echo --framing eof', async () => {
    const { address } = await startLocalServe('eof', 'echo');
    const result = await runCli([
      'send',
      address,
      '--framing',
      'eof',
      'GET / HTTP/1.0',
      '--output',
      'hex',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe(`${Buffer.from('GET / HTTP/1.0').toString('hex')}\n`);
  });

  it('sends MESSAGEs and --file, prints every reply until EOF', async () => {
    const { address } = await startLocalServe('netstring', 'echo');
    const result = await runCli(
      ['send', address, '--framing', 'netstring', 'one', '', 'three', '--file', '-'],
      {
        input: 'from stdin\n',
      },
    );
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe('one\n\nthree\nfrom stdin\\x0a\n');
  });

  it('--file past maxFrame is SB_PAYLOAD_TOO_LARGE as soon as it passes, before connecting', async () => {
    // The whole file was read first (readFile): --file /dev/zero grew past 13 GB.
    const stdin = await runCli(['send', '127.0.0.1:1', '--framing', 'line', '--file', '-'], {
      input: Buffer.alloc(200_000, 0x61),
    });
    expect(stdin.stderr).toContain('SB_PAYLOAD_TOO_LARGE');
    expect(stdin.code).toBe(1);
    const endless = await runCli(
      ['send', '127.0.0.1:1', '--framing', 'length', '--max-frame', '1000', '--file', '/dev/zero'],
      { timeoutMs: 20_000 },
    );
    expect(endless.stderr).toContain('SB_PAYLOAD_TOO_LARGE');
    expect(endless.stderr).toContain('maxFrame 1000');
    expect(endless.code).toBe(1);
  });

  it('--timeout bounds the exchange: SB_TIMEOUT, exit 3', async () => {
    const port = await silentServer();
    const result = await runCli([
      'send',
      `127.0.0.1:${port}`,
      '--framing',
      'line',
      'hello',
      '--timeout',
      '300',
    ]);
    expect(result.code).toBe(3);
    // SB_TIMEOUT itself shows --timeout fired: the silent server would otherwise hang
    // the exchange until the spawn deadline. No wall-clock bound (noisy machine).
    expect(result.stderr).toMatch(/^switchboard: SB_TIMEOUT: /);
  });

  it('a bad frame from the peer is a protocol error, exit 1', async () => {
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('error', () => {});
      socket.end(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]));
    });
    servers.add(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const result = await runCli([
      'send',
      `127.0.0.1:${port}`,
      '--framing',
      'length',
      '--max-frame',
      '1k',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^switchboard: SB_FRAME_TOO_LARGE: /);
  });
});

describe('switchboard proxy', () => {
  it('forwards through injected faults (1-byte slices, latency) without changing the bytes', async () => {
    const { address } = await startLocalServe('line', 'echo');
    const proxy = await startProxy(['--target', address, '--slice', '1', '--latency', '5']);
    const result = await runCli([
      'send',
      proxy.address,
      '--framing',
      'line',
      'through',
      'the proxy',
    ]);
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe('through\nthe proxy\n');
    proxy.cli.child.kill('SIGINT');
    expect((await proxy.cli.exited()).code).toBe(130);
  });
});

describe('switchboard bench', () => {
  it('--json against serve gives sane numbers for the --duration asked', async () => {
    const { address } = await startLocalServe('length', 'echo');
    const result = await runCli(
      [
        'bench',
        address,
        '--framing',
        'length',
        '--connections',
        '2',
        '--pipeline',
        '4',
        '--size',
        '100',
        '--duration',
        '1',
        '--json',
      ],
      { timeoutMs: SPAWN_DEADLINE_MS },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout.toString());
    expect(report.messages).toBeGreaterThan(0);
    expect(report.msgsPerSec).toBeGreaterThan(0);
    expect(report.mbPerSec).toBeGreaterThan(0);
    expect(report.connections).toBe(2);
    expect(report.durationSec).toBeGreaterThanOrEqual(1);
    expect(report.latencyMs.p50).toBeGreaterThan(0);
    expect(report.latencyMs.p99).toBeGreaterThanOrEqual(report.latencyMs.p50);
    expect(report.latencyMs.p999).toBeGreaterThanOrEqual(report.latencyMs.p99);
    expect(report.latencyMs.max).toBeGreaterThanOrEqual(report.latencyMs.p999);
  });

  it('--self runs without a server; no progress line when stderr is not a terminal', async () => {
    const result = await runCli(['bench', '--self', '--framing', 'line', '--duration', '0.3'], {
      timeoutMs: SPAWN_DEADLINE_MS,
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toMatch(/msgs\/s\s+[1-9]\d*/);
    expect(result.stdout.toString()).toMatch(
      /latency\s+p50 [\d.]+ ms\s+p99 [\d.]+ ms\s+p999 [\d.]+ ms/,
    );
  });

  const hasScript = requireTool('script (util-linux, for a pseudo-terminal)', [
    'script',
    '--version',
  ]);
  it.skipIf(!hasScript)('shows a live progress line on a terminal', async () => {
    // script(1) runs the command on a pseudo-terminal, so stderr is a TTY.
    const command = `'${process.execPath}' '${CLI}' bench --self --framing line --duration 1.2`;
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end();
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`bench on a terminal did not finish; output: ${output}`));
      }, SPAWN_DEADLINE_MS);
      child.on('close', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    expect(code).toBe(0);
    expect(output).toMatch(/\r\d+\.\d s {2}\d+ msgs {2}\d+ msgs\/s/);
    expect(output).toMatch(/msgs\/s\s+[1-9]/);
  });
});
