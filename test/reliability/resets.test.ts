/**
 * Clients that close with a reset (RST, SO_LINGER 0) while the server is still
 * writing their replies (issue #14, item 1), in every dispatch model.
 *
 * Each client sends 50 lines and resets (`socket.resetAndDestroy()`): half at once,
 * half after the first echo arrived, so the reset lands both before and while replies
 * are queued. With `maxConnections` small (8), clients go in waves of 4 and each
 * wave waits until `connections_open` is back to 0, so every client is admitted and
 * every slot must come back: a slot leaked by one reset would soon leave none, and the
 * canary at the end would be refused. An unhandled rejection anywhere fails the test
 * (test/helpers/no-unhandled.ts): before the fix, the threads model died of one.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DispatchModel } from '../../src/index.js';
import { hostPort, Tracker, until } from '../server/helpers.js';

const CLIENTS = 200;
const WAVE = 4;
const LINES = Buffer.from('x\n'.repeat(50));
/** Bound on each condition wait: a hang turns into a failure, nothing is timed. */
const WAIT_MS = 10_000;

const tracker = new Tracker();
afterEach(() => tracker.cleanup());

function refusals(byReason: Readonly<Record<string, number>>): number {
  return Object.values(byReason).reduce((sum, count) => sum + count, 0);
}

/** One client: connect, send 50 lines, reset (after the first echo when `waitForEcho`). */
function resettingClient(address: string, waitForEcho: boolean): Promise<void> {
  const { host, port } = hostPort(address);
  return new Promise<void>((resolve) => {
    const socket = net.connect({ host, port });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
    socket.once('connect', () => {
      socket.write(LINES);
      if (!waitForEcho) {
        socket.resetAndDestroy();
        return;
      }
      socket.once('data', () => socket.resetAndDestroy());
    });
  });
}

describe.each<DispatchModel>(['loop', 'threads', 'processes'])(
  'clients that reset, dispatch %s (#14)',
  (dispatch) => {
    it(`${CLIENTS} resets: no crash, connections_open back to 0, every slot released`, async () => {
      const server = await tracker.server({
        listen: '127.0.0.1:0',
        handler: 'echo',
        framing: 'line',
        dispatch,
        maxConnections: 8,
        ...(dispatch === 'loop' ? {} : { workers: 2 }),
      });
      for (let first = 0; first < CLIENTS; first += WAVE) {
        const wave: Promise<void>[] = [];
        for (let index = first; index < first + WAVE; index++) {
          wave.push(resettingClient(server.address, index % 2 === 1));
        }
        await Promise.all(wave);
        await until(
          () => server.metrics.connectionsOpen === 0,
          WAIT_MS,
          'connections_open to return to 0',
        );
      }
      const metrics = server.metrics;
      expect(metrics.connectionsOpen).toBe(0);
      expect(metrics.connectionsAccepted).toBe(CLIENTS);
      expect(refusals(metrics.connectionsRefused)).toBe(0);
      // Every slot is free: maxConnections clients at once are all served.
      const canaries = await Promise.all(
        Array.from({ length: 8 }, () => tracker.channel(server.address, 'line')),
      );
      for (const [index, canary] of canaries.entries()) {
        await canary.send(`canary ${index}`);
      }
      for (const [index, canary] of canaries.entries()) {
        expect(new TextDecoder().decode((await canary.receive()) ?? undefined)).toBe(
          `canary ${index}`,
        );
      }
      expect(refusals(server.metrics.connectionsRefused)).toBe(0);
    }, 120_000);
  },
);
