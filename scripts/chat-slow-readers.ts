/**
 * `npx tsx scripts/chat-slow-readers.ts [--models loop,threads,processes] [--mb 20]
 * [--readers 3] [--non-readers 20] [--line 64] [--json]`: the chat fan-out scenario of
 * issue #14 item 2, measured (not a unit test: it reports figures, it checks no timing).
 *
 * For each dispatch model it starts `switchboard serve --mode chat --framing line`
 * (dist/, run `npm run build` first) in its own process, connects READERS clients that
 * read everything, NON_READERS clients that never read a byte, and one flooder that
 * writes MB megabytes of numbered LINE-byte lines as fast as TCP takes them. It reports:
 * - the server's baseline RSS (all clients connected, before the flood) and its peak
 *   RSS during the flood (the process tree: the primary and its worker processes);
 * - how long until every reader had every line, with and without the non-readers;
 * - how many non-readers the server cut (seen once they read again, after the flood:
 *   a paused socket does not notice a close), and whether every reader got every
 *   line exactly once and in order (lost must be 0).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const DEADLINE_MS = 120_000;
const SAMPLE_MS = 10;

interface Flags {
  models: string[];
  megabytes: number;
  readers: number;
  nonReaders: number;
  line: number;
  json: boolean;
}

function parseFlags(argv: string[]): Flags {
  const flags: Flags = {
    models: ['loop', 'threads', 'processes'],
    megabytes: 20,
    readers: 3,
    nonReaders: 20,
    line: 64,
    json: false,
  };
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index];
    const value = argv[index + 1] ?? '';
    switch (arg) {
      case '--json':
        flags.json = true;
        continue;
      case '--models':
        flags.models = value.split(',');
        break;
      case '--mb':
        flags.megabytes = Number(value);
        break;
      case '--readers':
        flags.readers = Number(value);
        break;
      case '--non-readers':
        flags.nonReaders = Number(value);
        break;
      case '--line':
        flags.line = Number(value);
        break;
      default:
        process.stderr.write(`chat-slow-readers: unknown flag ${String(arg)}\n`);
        process.exit(2);
    }
    index += 1;
  }
  return flags;
}

/** RSS (bytes) of `pid` and every descendant process. */
function treeRss(pid: number): number {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(fields[1]));
    } catch {
      // The process exited meanwhile.
    }
  }
  let total = 0;
  const pending = [pid];
  while (pending.length > 0) {
    const current = pending.pop()!;
    try {
      const status = readFileSync(`/proc/${current}/status`, 'latin1');
      const match = /VmRSS:\s+(\d+) kB/.exec(status);
      total += match === null ? 0 : Number(match[1]) * 1024;
    } catch {
      continue;
    }
    for (const [child, parent] of parents) {
      if (parent === current) {
        pending.push(child);
      }
    }
  }
  return total;
}

function startServer(model: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--framing',
      'line',
      '--mode',
      'chat',
      '--dispatch',
      model,
      '--workers',
      '2',
      ...(process.env.CHAT_SERVE_JSON === '1' ? ['--json'] : []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('server did not start')), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const match = /listening on tcp:\/\/[^:]+:(\d+)/.exec(text);
      if (match !== null) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]) });
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

function connectTo(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** A reader: checks that lines arrive numbered 0, 1, 2, ... and counts them. */
class Reader {
  next = 0;
  errors = 0;
  doneAt = 0;
  /** ms after construction at which the server closed the connection (-1: still open). */
  closedAt = -1;
  private carry = '';
  constructor(
    readonly socket: net.Socket,
    readonly total: number,
    onDone: () => void,
  ) {
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      const lines = (this.carry + text).split('\n');
      this.carry = lines.pop()!;
      for (const line of lines) {
        if (Number.parseInt(line.slice(0, 10), 10) !== this.next) {
          this.errors += 1;
        }
        this.next += 1;
      }
      if (this.next >= this.total && this.doneAt === 0) {
        this.doneAt = performance.now();
        onDone();
      }
    });
    socket.on('error', () => undefined);
    const openedAt = performance.now();
    socket.on('close', () => {
      this.closedAt = performance.now() - openedAt;
    });
  }
}

interface RunResult {
  model: string;
  nonReaders: number;
  baselineRssMiB: number;
  peakRssMiB: number;
  floodMs: number;
  lost: number;
  outOfOrder: number;
  /** Readers the server closed before they had every line. */
  readersCut: number;
  /** ms after the flood started at which each non-reader was cut (sorted), -1 when it was not. */
  cutAtMs: number[];
}

async function run(model: string, flags: Flags, nonReaders: number): Promise<RunResult> {
  const { child, port } = await startServer(model);
  const sockets: net.Socket[] = [];
  try {
    const total = Math.floor((flags.megabytes * 1e6) / flags.line);
    let pendingReaders = flags.readers;
    let allDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      allDone = resolve;
    });
    const readers: Reader[] = [];
    for (let index = 0; index < flags.readers; index += 1) {
      const socket = await connectTo(port);
      sockets.push(socket);
      readers.push(
        new Reader(socket, total, () => {
          pendingReaders -= 1;
          if (pendingReaders === 0) {
            allDone();
          }
        }),
      );
    }
    const cutAt: number[] = [];
    let floodStart = 0;
    for (let index = 0; index < nonReaders; index += 1) {
      const socket = await connectTo(port);
      socket.pause();
      sockets.push(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        cutAt.push(floodStart === 0 ? 0 : performance.now() - floodStart);
      });
    }
    const flooder = await connectTo(port);
    sockets.push(flooder);
    flooder.on('data', () => undefined);
    // Let the server admit and seat everyone before the flood.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const baseline = treeRss(child.pid!);
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, treeRss(child.pid!));
    }, SAMPLE_MS);
    const padding = 'x'.repeat(flags.line - 11);
    floodStart = performance.now();
    let seq = 0;
    const batchLines = 1024;
    await new Promise<void>((resolve) => {
      const writeSome = (): void => {
        while (seq < total) {
          const end = Math.min(total, seq + batchLines);
          let text = '';
          for (; seq < end; seq += 1) {
            text += `${String(seq).padStart(10, '0')}${padding}\n`;
          }
          if (!flooder.write(text, 'latin1')) {
            flooder.once('drain', writeSome);
            return;
          }
        }
        resolve();
      };
      writeSome();
    });
    const deadline = setTimeout(allDone, DEADLINE_MS);
    await done;
    clearTimeout(deadline);
    const finished = Math.max(...readers.map((reader) => reader.doneAt || performance.now()));
    clearInterval(sampler);
    peak = Math.max(peak, treeRss(child.pid!));
    // A paused socket does not see the server's close: read the non-readers now; a cut
    // one then ends after the bytes the kernel held for it, one still served stays open.
    for (const socket of sockets.slice(flags.readers, flags.readers + nonReaders)) {
      socket.on('data', () => undefined);
      socket.resume();
    }
    const settleBy = Date.now() + 5_000;
    while (cutAt.length < nonReaders && Date.now() < settleBy) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const notCut = nonReaders - cutAt.length;
    const cutAtMs = [...cutAt.map(Math.round).sort((a, b) => a - b), ...Array(notCut).fill(-1)];
    return {
      model,
      nonReaders,
      baselineRssMiB: baseline / 2 ** 20,
      peakRssMiB: peak / 2 ** 20,
      floodMs: finished - floodStart,
      lost: readers.reduce((sum, reader) => sum + Math.max(0, total - reader.next), 0),
      outOfOrder: readers.reduce((sum, reader) => sum + reader.errors, 0),
      readersCut: readers.filter((reader) => reader.closedAt >= 0 && reader.next < total).length,
      cutAtMs,
    };
  } finally {
    for (const socket of sockets) {
      socket.destroy();
    }
    child.kill('SIGKILL');
  }
}

function describeCuts(cuts: number[]): string {
  if (cuts.length === 0) {
    return '-';
  }
  const cut = cuts.filter((ms) => ms >= 0);
  const notCut = cuts.length - cut.length;
  const range = cut.length === 0 ? '' : `${cut[0]}-${cut[cut.length - 1]} ms`;
  return `${cut.length} cut ${range}${notCut > 0 ? `, ${notCut} not cut` : ''}`;
}

const flags = parseFlags(process.argv.slice(2));
const results: RunResult[] = [];
for (const model of flags.models) {
  const without = await run(model, flags, 0);
  const withNonReaders = await run(model, flags, flags.nonReaders);
  results.push(without, withNonReaders);
  if (!flags.json) {
    const growth = withNonReaders.peakRssMiB - withNonReaders.baselineRssMiB;
    process.stdout.write(
      `${model}: flood ${without.floodMs.toFixed(0)} ms without non-readers, ` +
        `${withNonReaders.floodMs.toFixed(0)} ms with ${flags.nonReaders} ` +
        `(x${(withNonReaders.floodMs / without.floodMs).toFixed(2)}); ` +
        `RSS ${withNonReaders.baselineRssMiB.toFixed(0)} -> ${withNonReaders.peakRssMiB.toFixed(0)} MiB ` +
        `(+${growth.toFixed(0)}; without non-readers +${(without.peakRssMiB - without.baselineRssMiB).toFixed(0)}); ` +
        `lost ${without.lost + withNonReaders.lost}, out of order ${without.outOfOrder + withNonReaders.outOfOrder}, ` +
        `readers cut ${without.readersCut + withNonReaders.readersCut}; ` +
        `non-readers: ${describeCuts(withNonReaders.cutAtMs)}\n`,
    );
  }
}
if (flags.json) {
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}
