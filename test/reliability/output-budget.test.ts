/**
 * The server-wide output budget (`maxBufferedOutputTotal`) over real loopback, in
 * every dispatch model: clients that never read each have one echo reply queued,
 * below the per-connection `maxQueuedOutput`, together over a small budget. The
 * largest holder is cut with SB_OUTPUT_BUDGET, everyone else (and a canary) keeps
 * being served, the gauge shows the bytes held, and they return to 0 once the
 * clients have gone.
 *
 * Why replies of 6 MiB and more: what a connection holds is switchboard's queue plus
 * node's writable buffer, and node keeps a write (one reply: header and body in one
 * writev) whole until the kernel has taken all of it. A loopback connection whose
 * reader never reads takes 3-4 MiB into kernel buffers (tcp_wmem's 4 MiB at most
 * here); a reply larger than that stays held whole, so each holding is exact.
 */
import type * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server/server.js';
import { Tracker, until } from '../server/helpers.js';
import { parsePrometheusText, sampleValue } from '../server/prom-text.js';

const tracker = new Tracker();
afterEach(() => tracker.cleanup());

const MiB = 1024 * 1024;
/** Waits (bounded) in this file allow for processes workers reporting every 250 ms. */
const WAIT_MS = 15_000;

/** Sends one `length:u32be` frame of `size` bytes and never reads the reply. */
function requestReply(socket: net.Socket, size: number): void {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(size);
  socket.pause();
  socket.write(header);
  socket.write(Buffer.alloc(size, 0x6f));
}

/**
 * What a raw socket received and whether it closed. A client that does not read sees
 * no end of the connection (the end waits behind the bytes the kernel holds for it),
 * so the test reads only once the outcome is decided.
 */
function watch(socket: net.Socket): { received: number; closed: boolean } {
  const state = { received: 0, closed: false };
  socket.on('data', (chunk: Buffer) => {
    state.received += chunk.length;
  });
  socket.on('close', () => {
    state.closed = true;
  });
  socket.on('error', () => undefined); // a reset after the cut is an outcome too
  socket.pause();
  return state;
}

async function canaryEcho(canary: Awaited<ReturnType<Tracker['channel']>>): Promise<void> {
  await canary.send('still here');
  const reply = await canary.receive({ timeout: WAIT_MS });
  expect(Buffer.from(reply!).toString()).toBe('still here');
}

async function held(server: Server, expected: number): Promise<void> {
  await until(() => server.metrics.bufferedOutput === expected, WAIT_MS).catch(() => {
    throw new Error(
      `bufferedOutput ${server.metrics.bufferedOutput}, expected ${expected} (did the kernel take a whole reply?)`,
    );
  });
}

describe.each(['loop', 'threads', 'processes'] as const)('output budget, %s', (dispatch) => {
  it('cuts the connection holding the most output with SB_OUTPUT_BUDGET; the others and a canary keep being served; back to 0 when they go', async () => {
    const budget = 78 * MiB;
    const server = await tracker.server({
      handler: 'echo',
      framing: 'length:u32be',
      dispatch,
      workers: 1, // processes: the one worker's share is the whole budget
      maxFrame: 12 * MiB,
      maxQueuedOutput: 12 * MiB, // every holding below it: only the budget can cut
      maxBufferedOutputTotal: budget,
      metrics: '127.0.0.1:0',
    });
    const canary = await tracker.channel(server.address, 'length:u32be');
    await canaryEcho(canary);
    await held(server, 0);

    // Eleven readers that never read: 10 x 6 MiB and one 10 MiB, 70 MiB under 78.
    const sizes = [6, 6, 6, 10, 6, 6, 6, 6, 6, 6, 6].map((size) => size * MiB);
    const largest = 3;
    const clients: net.Socket[] = [];
    let expected = 0;
    for (const size of sizes) {
      const socket = await tracker.socket(server.address);
      requestReply(socket, size);
      clients.push(socket);
      expected += 4 + size;
      await held(server, expected);
    }
    expect(server.metrics.errors.SB_OUTPUT_BUDGET ?? 0).toBe(0);
    expect(server.connections).toBe(sizes.length + 1);
    await canaryEcho(canary);

    // One more, 8 MiB: 78 MiB + 48 bytes, over the budget. Not the largest: it stays.
    const pusher = await tracker.socket(server.address);
    requestReply(pusher, 8 * MiB);
    await until(() => server.metrics.errors.SB_OUTPUT_BUDGET === 1, WAIT_MS);
    expected = expected - (4 + sizes[largest]!) + (4 + 8 * MiB);
    await held(server, expected);
    expect(expected).toBeLessThanOrEqual(budget);
    await until(() => server.connections === sizes.length + 1, WAIT_MS);
    await canaryEcho(canary);
    const samples = parsePrometheusText(await (await fetch(server.metricsUrl!)).text());
    expect(sampleValue(samples, 'switchboard_buffered_output_bytes')).toBe(expected);
    expect(sampleValue(samples, 'switchboard_errors_total', { code: 'SB_OUTPUT_BUDGET' })).toBe(1);

    // Now everyone reads: the cut one gets part of its reply and the end; every other
    // gets its reply whole and stays connected.
    const states = [...clients, pusher].map(watch);
    const wanted = [...sizes, 8 * MiB].map((size) => 4 + size);
    for (const socket of [...clients, pusher]) {
      socket.resume();
    }
    await until(
      () => states.every((state, index) => state.closed || state.received === wanted[index]),
      WAIT_MS,
    );
    expect(states.map((state) => state.closed)).toEqual(
      wanted.map((_, index) => index === largest),
    );
    expect(states[largest]!.received).toBeLessThan(wanted[largest]!);
    await held(server, 0);
    expect(server.metrics.errors.SB_OUTPUT_BUDGET).toBe(1);

    // The rest go (close and reset); the canary is still served.
    for (const [index, socket] of clients.entries()) {
      if (index % 2 === 0) {
        socket.resetAndDestroy();
      } else {
        socket.destroy();
      }
    }
    pusher.destroy();
    await until(() => server.connections === 1, WAIT_MS);
    await canaryEcho(canary);
    expect(server.metrics.bufferedOutput).toBe(0);
    canary.destroy();
    await until(() => server.connections === 0, WAIT_MS);
  });
});

describe('output budget', () => {
  it('processes: each worker enforces its share, floor(total / workers)', async () => {
    const server = await tracker.server({
      handler: 'echo',
      framing: 'length:u32be',
      dispatch: 'processes',
      workers: 2,
      maxFrame: 12 * MiB,
      maxBufferedOutputTotal: 14 * MiB, // 7 MiB per worker
    });
    const canary = await tracker.channel(server.address, 'length:u32be');
    await canaryEcho(canary);
    // An 8 MiB reply: within the total, over one worker's share.
    const socket = await tracker.socket(server.address);
    requestReply(socket, 8 * MiB);
    await until(() => server.metrics.errors.SB_OUTPUT_BUDGET === 1, WAIT_MS);
    const state = watch(socket);
    socket.resume();
    await until(() => state.closed, WAIT_MS);
    expect(state.received).toBeLessThan(4 + 8 * MiB);
    await canaryEcho(canary);
  });

  it('validates maxBufferedOutputTotal; Infinity turns it off', async () => {
    await expect(tracker.server({ handler: 'echo', maxBufferedOutputTotal: 0 })).rejects.toThrow(
      /maxBufferedOutputTotal/,
    );
    await expect(
      tracker.server({ handler: 'echo', maxBufferedOutputTotal: 1.5 as number }),
    ).rejects.toMatchObject({ code: 'SB_BAD_OPTION' });
    const server = await tracker.server({
      handler: 'echo',
      framing: 'length:u32be',
      maxFrame: 12 * MiB,
      maxBufferedOutputTotal: Number.POSITIVE_INFINITY,
    });
    const socket = await tracker.socket(server.address);
    requestReply(socket, 8 * MiB);
    await held(server, 4 + 8 * MiB);
    expect(server.metrics.errors.SB_OUTPUT_BUDGET ?? 0).toBe(0);
  });
});

/** Counts the numbered lines `<seq padded to 10> x...` a chat reader gets; probes apart. */
class LineReader {
  next = 0;
  probes = 0;
  outOfOrder = 0;
  private carry = '';
  constructor(socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      const lines = (this.carry + text).split('\n');
      this.carry = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('probe')) {
          this.probes += 1;
        } else {
          this.outOfOrder += Number.parseInt(line.slice(0, 10), 10) === this.next ? 0 : 1;
          this.next += 1;
        }
      }
    });
  }
}

describe.each(['loop', 'threads', 'processes'] as const)(
  'output budget, chat broadcast nobody reads, %s',
  (dispatch) => {
    it('non-readers under maxQueuedOutput are cut with SB_OUTPUT_BUDGET; readers get every line once, in order', async () => {
      const LINES = 8_000; // 8 MB: more than a non-reader's kernel buffers take
      const WINDOW = 256; // lines the flooder may be ahead of the slowest reader
      const budget = 4 * MiB;
      const server = await tracker.server({
        handler: 'chat',
        framing: 'line',
        dispatch,
        workers: 2, // processes: 2 MiB each
        maxFrame: 4096,
        maxQueuedOutput: 16 * MiB, // no non-reader gets near it: only the budget cuts
        maxBufferedOutputTotal: budget,
        closeTimeout: 1000,
      });
      // Non-readers first: in processes each worker seats its connections in order.
      for (let index = 0; index < 4; index += 1) {
        const socket = await tracker.socket(server.address);
        socket.pause();
        socket.on('error', () => undefined);
      }
      const readers = [
        new LineReader(await tracker.socket(server.address)),
        new LineReader(await tracker.socket(server.address)),
      ];
      const flooder = await tracker.socket(server.address);
      flooder.on('data', () => undefined);
      await until(() => {
        if (readers.every((reader) => reader.probes > 0)) {
          return true;
        }
        flooder.write('probe\n');
        return false;
      }, WAIT_MS);
      const padding = 'x'.repeat(1000 - 11);
      let seq = 0;
      let peak = 0;
      await new Promise<void>((resolve) => {
        const writeSome = (): void => {
          peak = Math.max(peak, server.metrics.bufferedOutput);
          while (seq < LINES) {
            // Readers share this machine's CPU: keep them at most WINDOW lines behind, so
            // only the non-readers hold output for long.
            if (seq - Math.min(...readers.map((reader) => reader.next)) > WINDOW) {
              setTimeout(writeSome, 2);
              return;
            }
            let text = '';
            for (const end = Math.min(LINES, seq + 64); seq < end; seq += 1) {
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
      await until(() => readers.every((reader) => reader.next >= LINES), 60_000);
      for (const reader of readers) {
        expect(reader.next).toBe(LINES);
        expect(reader.outOfOrder).toBe(0);
      }
      await until(() => (server.metrics.errors.SB_OUTPUT_BUDGET ?? 0) >= 1, WAIT_MS);
      expect(server.metrics.errors.SB_OUTPUT_QUEUE_FULL ?? 0).toBe(0);
      expect(peak).toBeLessThanOrEqual(budget);
      expect(server.metrics.bufferedOutput).toBeLessThanOrEqual(budget);
      // The readers and the flooder are still served.
      expect(server.connections).toBeGreaterThanOrEqual(3);
      flooder.write('probe\n');
      await until(() => readers.every((reader) => reader.probes > 1), WAIT_MS);
    }, 120_000);
  },
);
