/**
 * `switchboard proxy --api` (Toxiproxy's HTTP API driven by toxiproxy-node-client), and
 * the framed tap, recording and `switchboard replay`, all black-box against dist/.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Toxiproxy } from 'toxiproxy-node-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CLI_TEST_TIMEOUT_MS,
  killAll,
  runCli,
  startCli,
  startLocalServe,
  startProxy,
} from './cli-process.js';

vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS });

afterEach(() => {
  killAll();
});

describe('switchboard proxy --api', () => {
  it('serves the Toxiproxy API: a client creates a proxy and a toxic, traffic goes through', async () => {
    const { address } = await startLocalServe('line', 'echo');
    const api = startCli(['proxy', '--api', '127.0.0.1:0']);
    const out = await api.waitForStdout((text) => text.includes('\n'));
    const match = /^api listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
    expect(match, out).not.toBeNull();
    const client = new Toxiproxy(match![1]!);
    const proxy = await client.createProxy({
      name: 'echo',
      listen: '127.0.0.1:0',
      upstream: address,
    });
    await proxy.addToxic({
      name: 'slow',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 50, jitter: 0 },
    } as never);
    const started = performance.now();
    const result = await runCli(['send', proxy.listen, '--framing', 'line', 'through the api']);
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe('through the api\n');
    expect(performance.now() - started).toBeGreaterThanOrEqual(50);
    const refused = await fetch(`${match![1]}/proxies`, {
      method: 'POST',
      body: JSON.stringify({ name: 'far', listen: '127.0.0.1:0', upstream: '203.0.113.9:80' }),
    });
    expect(refused.status).toBe(400);
    api.child.kill('SIGINT');
    expect((await api.exited()).code).toBe(130);
  });

  it('refuses a non-loopback API address', async () => {
    const result = await runCli(['proxy', '--api', '0.0.0.0:0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/loopback/);
  });
});

/** Tap lines without their clock: `#1 -> 5 hello`. */
function tapLines(out: string): string[] {
  return out
    .split('\n')
    .filter((line) => /^\d\d:\d\d:\d\d\.\d{3} /.test(line))
    .map((line) => line.slice(13));
}

async function waitForTap(cli: ReturnType<typeof startCli>, count: number): Promise<string[]> {
  await cli.waitForStdout((text) => tapLines(text).length >= count);
  return tapLines(cli.stdout());
}

describe('switchboard proxy --framing --tap / --record, and replay', () => {
  it('a line session through the tap shows each line once per direction, in order', async () => {
    const { address } = await startLocalServe('line', 'echo');
    const tap = await startProxy(['--target', address, '--framing', 'line', '--tap']);
    const result = await runCli([
      'send',
      tap.address,
      '--framing',
      'line',
      'hello',
      'tab\there',
      'bye',
    ]);
    expect(result.stdout.toString()).toBe('hello\ntab\there\nbye\n');
    const lines = await waitForTap(tap.cli, 8);
    expect(lines[0]).toBe('#1 open');
    expect(lines.filter((line) => line.includes(' -> '))).toEqual([
      '#1 -> 5 hello',
      '#1 -> 8 tab\there',
      '#1 -> 3 bye',
    ]);
    expect(lines.filter((line) => line.includes(' <- '))).toEqual([
      '#1 <- 5 hello',
      '#1 <- 8 tab\there',
      '#1 <- 3 bye',
    ]);
    expect(lines.at(-1)).toBe('#1 close');
  });

  it('1-byte slicing in front of the tap does not change what it prints (hex output)', async () => {
    const { address } = await startLocalServe('line', 'echo');
    const plain = await startProxy([
      '--target',
      address,
      '--framing',
      'line',
      '--tap',
      '--output',
      'hex',
    ]);
    const sliced = await startProxy([
      '--target',
      address,
      '--framing',
      'line',
      '--tap',
      '--output',
      'hex',
    ]);
    const slicer = await startProxy(['--target', sliced.address, '--slice', '1']);
    const words = ['alpha', 'beta', 'gamma delta'];
    await runCli(['send', plain.address, '--framing', 'line', ...words]);
    await runCli(['send', slicer.address, '--framing', 'line', ...words]);
    const plainLines = await waitForTap(plain.cli, 8);
    const slicedLines = await waitForTap(sliced.cli, 8);
    const byDirection = (lines: string[], arrow: string) =>
      lines.filter((line) => line.includes(` ${arrow} `));
    expect(byDirection(slicedLines, '->')).toEqual(byDirection(plainLines, '->'));
    expect(byDirection(slicedLines, '<-')).toEqual(byDirection(plainLines, '<-'));
    expect(byDirection(plainLines, '->')[0]).toBe(
      `#1 -> 5 ${Buffer.from('alpha').toString('hex')}`,
    );
  });

  it('a lying header is reported on its line and the bytes still reach the server unchanged', async () => {
    const received: Buffer[] = [];
    const server = net.createServer((socket) => {
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const tap = await startProxy([
        '--target',
        `127.0.0.1:${port}`,
        '--framing',
        'length:u16be',
        '--tap',
        '--max-frame',
        '10',
      ]);
      const client = net.connect({ host: '127.0.0.1', port: Number(tap.address.split(':')[1]) });
      const lying = Buffer.concat([
        Buffer.from([0x00, 0x03]),
        Buffer.from('abc'),
        Buffer.from([0xff, 0xf0]),
        Buffer.from('short'),
      ]);
      client.write(lying);
      const lines = await waitForTap(tap.cli, 3);
      expect(lines[1]).toBe('#1 -> 3 abc');
      expect(lines[2]).toMatch(
        /^#1 -> framing error SB_FRAME_TOO_LARGE: .*\(bytes only from here\)$/,
      );
      for (
        let waited = 0;
        Buffer.concat(received).length < lying.length && waited < 1000;
        waited += 1
      ) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(Buffer.concat(received)).toEqual(lying);
      // The rest of that chunk (the lying header and its 5 bytes), then later chunks,
      // are counted in bytes.
      expect((await waitForTap(tap.cli, 4))[3]).toBe('#1 -> 7 bytes');
      client.write('more');
      expect((await waitForTap(tap.cli, 5))[4]).toBe('#1 -> 4 bytes');
      client.destroy();
    } finally {
      server.close();
    }
  });

  it('a recorded session replayed against an echo server gives the same replies', async () => {
    const { address } = await startLocalServe('netstring', 'echo');
    const dir = mkdtempSync(join(tmpdir(), 'sb-record-'));
    try {
      const file = join(dir, 'session.jsonl');
      const tap = await startProxy([
        '--target',
        address,
        '--framing',
        'netstring',
        '--record',
        file,
      ]);
      await runCli(['send', tap.address, '--framing', 'netstring', 'first', 'second', 'third']);
      await runCli(['send', tap.address, '--framing', 'netstring', 'again']);
      tap.cli.child.kill('SIGINT');
      expect((await tap.cli.exited()).code).toBe(130);
      const records = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(records[0]).toEqual({
        type: 'switchboard-record',
        version: 1,
        framing: 'netstring',
        target: address,
      });
      const recordedReplies = records
        .filter((record) => record.dir === '<-')
        .map((record) => `#${record.conn} <- ${record.len} ${record.text}`);
      expect(recordedReplies).toEqual([
        '#1 <- 5 first',
        '#1 <- 6 second',
        '#1 <- 5 third',
        '#2 <- 5 again',
      ]);
      for (const record of records.slice(1)) {
        expect(typeof record.t).toBe('number');
      }
      const replay = await runCli(['replay', file, '--target', address, '--fast']);
      expect(replay.stderr).toBe('');
      expect(replay.code).toBe(0);
      expect(replay.stdout.toString().trim().split('\n')).toEqual(recordedReplies);
      const timed = await runCli(['replay', file, '--target', address, '--speed', '100']);
      expect(timed.stdout.toString().trim().split('\n')).toEqual(recordedReplies);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
