/**
 * Measures the server-wide input budget against the attack of issue #14 item 3:
 * many connections each holding a large unfinished frame, while a canary client
 * keeps echoing.
 *
 *   npm run build && npx tsx scripts/memory-budget.ts [--framing length:u32be|netstring]
 *     [--dispatch loop|threads|processes] [--connections 110] [--partial 8388607]
 *     [--workers 2] [-- extra serve flags...]
 *
 * It starts `dist/cli/main.js serve` (echo), samples the resident set of the server
 * and its worker processes from /proc every 50 ms, and reports the baseline, the
 * peak (the sum of each process's VmHWM: an upper bound of the combined peak), how
 * many attackers were cut and with which code (from `--json` events), and how the
 * canary fared (echoes answered, the slowest round trip, failures). Linux only
 * (reads /proc). Every wait is bounded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { createInterface } from 'node:readline';

const MiB = 2 ** 20;

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 && index + 1 < process.argv.length ? process.argv[index + 1]! : fallback;
}

const framing = flag('framing', 'length:u32be');
const dispatch = flag('dispatch', 'loop');
const connections = Number(flag('connections', '110'));
const partial = Number(flag('partial', String(8 * MiB - 1)));
const workers = flag('workers', '2');
const extraIndex = process.argv.indexOf('--');
const extra = extraIndex > 0 ? process.argv.slice(extraIndex + 1) : [];

/** The frame header claiming `length` bytes, and a whole frame for the canary. */
function header(length: number): Buffer {
  if (framing === 'netstring') {
    return Buffer.from(`${length}:`);
  }
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(length);
  return prefix;
}

function wholeFrame(body: Buffer): Buffer {
  return framing === 'netstring'
    ? Buffer.concat([header(body.length), body, Buffer.from(',')])
    : Buffer.concat([header(body.length), body]);
}

function kib(path: string, field: string): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(path, 'utf8'));
    return match === null ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0; // the process is gone
  }
}

/** The server's pid and its children's (worker processes). */
function processTree(pid: number): number[] {
  const pids = [pid];
  for (let index = 0; index < pids.length && index < 64; index++) {
    try {
      const children = readFileSync(`/proc/${pids[index]}/task/${pids[index]}/children`, 'utf8');
      for (const child of children.trim().split(/\s+/)) {
        if (child !== '') {
          pids.push(Number(child));
        }
      }
    } catch {
      // gone
    }
  }
  return pids;
}

const rss = (pids: number[]): number =>
  pids.reduce((sum, pid) => sum + kib(`/proc/${pid}/status`, 'VmRSS'), 0);
const hwm = (pids: number[]): number =>
  pids.reduce((sum, pid) => sum + kib(`/proc/${pid}/status`, 'VmHWM'), 0);

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function startServer(): Promise<{
  child: ChildProcess;
  port: number;
  codes: Map<string, number>;
}> {
  const args = [
    'dist/cli/main.js',
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--framing',
    framing,
    '--mode',
    'echo',
    '--dispatch',
    dispatch,
    '--json',
    ...(dispatch === 'loop' ? [] : ['--workers', workers]),
    ...extra,
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const codes = new Map<string, number>();
  createInterface({ input: child.stderr! }).on('line', (line) => {
    try {
      const event = JSON.parse(line) as { event?: string; code?: string | null };
      if (event.event === 'connection:close' && typeof event.code === 'string') {
        codes.set(event.code, (codes.get(event.code) ?? 0) + 1);
      }
    } catch {
      // not an event line
    }
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start in 20 s')), 20_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^listening on tcp:\/\/[^:]+:(\d+)/.exec(line);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', () => reject(new Error('server exited')));
  });
  return { child, port, codes };
}

function connectTo(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** A client that sends one small frame at a time and waits for its echo. */
async function runCanary(port: number, stop: { done: boolean }) {
  const socket = await connectTo(port);
  const frame = wholeFrame(Buffer.from('canary'));
  const stats = { echoes: 0, failures: 0, slowestMs: 0 };
  let pending: (() => void) | null = null;
  let received = 0;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received >= frame.length) {
      received -= frame.length;
      pending?.();
    }
  });
  socket.on('error', () => undefined);
  while (!stop.done) {
    const started = performance.now();
    const answered = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 5_000);
      pending = () => {
        clearTimeout(timer);
        resolve(true);
      };
      socket.write(frame);
    });
    pending = null;
    if (!answered || socket.destroyed) {
      stats.failures += 1;
      break;
    }
    stats.echoes += 1;
    stats.slowestMs = Math.max(stats.slowestMs, performance.now() - started);
    await delay(20);
  }
  socket.destroy();
  return stats;
}

async function main(): Promise<void> {
  const { child, port, codes } = await startServer();
  await delay(500);
  const pids = processTree(child.pid!);
  const baseline = rss(pids);
  let peakSampled = baseline;
  const sampler = setInterval(() => {
    peakSampled = Math.max(peakSampled, rss(processTree(child.pid!)));
  }, 50);
  const stop = { done: false };
  const canary = runCanary(port, stop);
  const body = Buffer.alloc(partial, 0x61);
  const head = header(8 * MiB);
  let cut = 0;
  let holding = 0;
  const started = performance.now();
  const attackers = await Promise.all(
    Array.from({ length: connections }, async () => {
      const socket = await connectTo(port);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        if (!stop.done) {
          cut += 1; // closed by the server while the attack was on
        }
      });
      socket.write(head);
      // One shared body buffer: the client's own memory stays small.
      socket.write(body, () => {
        holding += 1;
      });
      return socket;
    }),
  );
  // Until every attacker was either cut or fully written (bounded: 120 s).
  for (let waited = 0; waited < 120_000 && cut + holding < connections; waited += 100) {
    await delay(100);
  }
  const settledMs = performance.now() - started;
  await delay(1_000);
  const peak = hwm(processTree(child.pid!));
  const heldAtEnd = rss(processTree(child.pid!));
  stop.done = true;
  const canaryStats = await canary;
  clearInterval(sampler);
  for (const socket of attackers) {
    socket.destroy();
  }
  await delay(500);
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;
  console.log(
    JSON.stringify(
      {
        framing,
        dispatch,
        connections,
        partialBytes: partial,
        extraFlags: extra,
        baselineRss: mib(baseline),
        peakRss: mib(Math.max(peak, peakSampled)),
        rssAfterAttack: mib(heldAtEnd),
        growth: mib(Math.max(peak, peakSampled) - baseline),
        attackersCut: cut,
        attackersHolding: connections - cut,
        closeCodes: Object.fromEntries(codes),
        settledMs: Math.round(settledMs),
        canary: { ...canaryStats, slowestMs: Math.round(canaryStats.slowestMs) },
      },
      null,
      2,
    ),
  );
}

await main();
