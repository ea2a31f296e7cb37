/**
 * Chat clients that never read (#14 item 2), in every dispatch model: one client
 * floods numbered lines, two read everything, two never read a byte. The
 * non-readers must be cut with SB_OUTPUT_QUEUE_FULL once their queued output passes
 * maxQueuedOutput, and the readers must get every line exactly once, in order.
 * No timing thresholds: the figures (peak RSS, flood time) come from
 * scripts/chat-slow-readers.ts and are recorded in RELIABILITY.md.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from '../../src/server/server.js';
import { until } from '../helpers/until.js';

const LINE = 1000;
/** 8 MB: more than a non-reader's kernel buffers (<= 4 MiB send + 128 KiB receive here) + maxQueuedOutput. */
const LINES = 8_000;
const MAX_QUEUED_OUTPUT = 1024 * 1024;
/** Lines the flooder may be ahead of the slowest reader (256 KB of 1000-byte lines). */
const WINDOW = 256;
const DEADLINE_MS = 60_000;

const servers: Server[] = [];
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) {
    socket.destroy();
  }
  await Promise.all(servers.splice(0).map((server) => server.close({ timeout: 1 })));
});

/** State printed when a wait times out, so that a failure says where it stopped. */
let describeState: () => string = () => '';

/** The suite's bounded poll, with this file's deadline and its state in the failure. */
function waitUntil(condition: () => boolean, what: string): Promise<void> {
  return until(condition, DEADLINE_MS, () => `${what} (${describeState()})`);
}

function connect(address: string): Promise<net.Socket> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    address.slice(address.lastIndexOf(':') + 1),
  ];
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), host.replace(/^tcp:\/\//, ''), () => resolve(socket));
    socket.once('error', reject);
    sockets.push(socket);
  });
}

/** Reads lines `<seq padded to 10> x...`; counts probes (seq -1) apart. */
class Reader {
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
          continue;
        }
        if (Number.parseInt(line.slice(0, 10), 10) !== this.next) {
          this.outOfOrder += 1;
        }
        this.next += 1;
      }
    });
  }
}

describe.each(['loop', 'threads', 'processes'] as const)(
  'chat with clients that never read (%s)',
  (dispatch) => {
    it('cuts each non-reader with SB_OUTPUT_QUEUE_FULL; readers get every line once, in order', async () => {
      const server = await createServer({
        handler: 'chat',
        framing: 'line',
        dispatch,
        workers: 2,
        maxQueuedOutput: MAX_QUEUED_OUTPUT,
        maxFrame: 4096,
        closeTimeout: 1000,
      });
      servers.push(server);
      // Non-readers first: in processes each worker seats its connections in order, so
      // once the readers (one per worker) are seated, the non-readers are too.
      for (let index = 0; index < 2; index += 1) {
        const socket = await connect(server.address);
        socket.pause();
        socket.on('error', () => undefined);
      }
      const readers: Reader[] = [];
      for (let index = 0; index < 2; index += 1) {
        readers.push(new Reader(await connect(server.address)));
      }
      describeState = () =>
        JSON.stringify({
          lines: readers.map((reader) => reader.next),
          probes: readers.map((reader) => reader.probes),
          errors: server.metrics.errors,
          connections: server.connections,
        });
      const flooder = await connect(server.address);
      flooder.on('data', () => undefined);
      // Everyone is in the room once a probe reaches both readers.
      await waitUntil(() => {
        if (readers.every((reader) => reader.probes > 0)) {
          return true;
        }
        flooder.write('probe\n');
        return false;
      }, 'the readers to join');
      const padding = 'x'.repeat(LINE - 11);
      let seq = 0;
      await new Promise<void>((resolve) => {
        const writeSome = (): void => {
          while (seq < LINES) {
            // The readers are well-behaved but share this machine's CPU: keep at most
            // WINDOW lines (a quarter of maxQueuedOutput) unread by them, so only the
            // non-readers can reach the cap however slowly the readers are scheduled.
            const slowest = Math.min(...readers.map((reader) => reader.next));
            if (seq - slowest > WINDOW) {
              setTimeout(writeSome, 2);
              return;
            }
            let text = '';
            const end = Math.min(LINES, seq + 64);
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
      await waitUntil(
        () => readers.every((reader) => reader.next >= LINES),
        'every line at the readers',
      );
      for (const reader of readers) {
        expect(reader.next).toBe(LINES);
        expect(reader.outOfOrder).toBe(0);
      }
      // processes: worker metrics reach the primary every 250 ms.
      await waitUntil(
        () => (server.metrics.errors.SB_OUTPUT_QUEUE_FULL ?? 0) >= 2,
        'both non-readers cut',
      );
      expect(server.metrics.errors.SB_OUTPUT_QUEUE_FULL).toBe(2);
      // The readers and the flooder are still served.
      await waitUntil(() => server.connections === 3, 'three connections left');
    }, 120_000);
  },
);
