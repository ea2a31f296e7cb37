/**
 * A stopped `processes` worker (#14 item 5): SIGSTOP one of 2 workers. Before, 12
 * of 20 new connections hung until SIGCONT and the worker was never replaced.
 * Now the primary's IPC heartbeat (workerHeartbeatInterval) notices it, it gets no
 * new connections, and after workerUnresponsiveTimeout it is killed and replaced.
 * Intervals are made small through the options (not so small that a busy but
 * running worker on a loaded test machine misses its pings); every wait is a bounded wait on
 * an event or a state (no sleeps, no timing assertions). A stopped worker is
 * always continued or killed in teardown.
 */
import type * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { diagnosticChannels, type FrameErrorMessage } from '../../src/diagnostics.js';
import type { Server } from '../../src/server/server.js';
import { Tracker, until } from '../server/helpers.js';

const tracker = new Tracker();
const stopped = new Set<number>();

afterEach(async () => {
  for (const pid of stopped) {
    signal(pid, 'SIGCONT');
  }
  await tracker.cleanup();
  for (const pid of stopped) {
    signal(pid, 'SIGKILL'); // if the server's close could not end it
  }
  stopped.clear();
});

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

function stop(pid: number): void {
  stopped.add(pid);
  process.kill(pid, 'SIGSTOP');
}

/** Opens a raw client and resolves once `line` came back (bounded), or rejects. */
async function echoOnce(
  server: Server,
  line: string,
): Promise<{ socket: net.Socket; closed: () => boolean }> {
  const socket = await tracker.socket(server.address);
  let received = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  socket.on('close', () => {
    closed = true;
  });
  socket.write(`${line}\n`);
  await until(() => closed || received === `${line}\n`, 10_000);
  if (received !== `${line}\n`) {
    throw new Error(`connection closed before the echo of ${line}`);
  }
  return { socket, closed: () => closed };
}

describe('a stopped processes worker (#14)', () => {
  it('is declared unresponsive and gets no new connections: 20 new clients are all served', async () => {
    const unresponsive: FrameErrorMessage[] = [];
    const unsubscribe = diagnosticChannels.frameError.subscribe((message) => {
      if (message.code === 'SB_WORKER_UNRESPONSIVE') {
        unresponsive.push(message);
      }
    });
    try {
      const server = await tracker.server({
        handler: 'echo',
        framing: 'line',
        dispatch: 'processes',
        workers: 2,
        workerHeartbeatInterval: 100,
        workerUnresponsiveTimeout: 0, // kept: this test is about routing
      });
      const [victim, survivor] = server.workerPids;
      stop(victim!);
      // (On a loaded machine the survivor may also miss a ping now and then; only the
      // victim's report is waited for.)
      const victimReported = (): boolean =>
        unresponsive.some((message) =>
          /^worker process 0 did not answer/.test(message.error.message),
        );
      await until(victimReported, 10_000);
      // Every new connection goes to the worker that answers: each is echoed.
      for (let client = 0; client < 20; client++) {
        await echoOnce(server, `client ${client}`);
      }
      expect(server.workerPids).toEqual([victim, survivor]); // kept (timeout 0), not replaced
    } finally {
      unsubscribe();
    }
  });

  it('is killed and replaced after workerUnresponsiveTimeout; only its own connections end', async () => {
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      dispatch: 'processes',
      workers: 2,
      workerHeartbeatInterval: 100,
      workerUnresponsiveTimeout: 1000,
    });
    const [victim, survivor] = server.workerPids;
    // Least-connections routing: 4 clients, 2 on each worker.
    const clients: Array<Awaited<ReturnType<typeof echoOnce>>> = [];
    for (let index = 0; index < 4; index++) {
      clients.push(await echoOnce(server, `before ${index}`));
    }
    stop(victim!);
    // Connections made before the heartbeat notices may still be handed to the victim
    // (the IPC send waits for it); they must end with it, not hang in the primary.
    const early = await Promise.all(
      Array.from({ length: 4 }, async (_, index) => {
        const socket = await tracker.socket(server.address);
        let received = '';
        let closed = false;
        socket.on('data', (chunk: Buffer) => {
          received += chunk.toString('latin1');
        });
        socket.on('close', () => {
          closed = true;
        });
        socket.write(`early ${index}\n`);
        return { done: () => closed || received === `early ${index}\n` };
      }),
    );
    await until(
      () =>
        server.workerPids.length === 2 &&
        !server.workerPids.includes(victim!) &&
        server.workerPids.includes(survivor!),
      10_000,
    );
    stopped.delete(victim!); // killed by the server
    await until(() => early.every((client) => client.done()), 10_000);
    // The victim's two connections were closed with it; the survivor's two still echo.
    await until(() => clients.filter((client) => client.closed()).length === 2, 10_000);
    const open = clients.filter((client) => !client.closed());
    expect(open).toHaveLength(2);
    for (const [index, client] of open.entries()) {
      let received = '';
      client.socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
      });
      client.socket.write(`after ${index}\n`);
      await until(() => received === `after ${index}\n`, 10_000);
    }
    expect(server.metrics.errors.SB_WORKER_UNRESPONSIVE).toBeGreaterThanOrEqual(1);
    // Its 2 connections, plus the early ones it was handed.
    expect(server.metrics.errors.SB_WORKER_CRASHED).toBeGreaterThanOrEqual(2);
    // The replacement serves new connections.
    for (let client = 0; client < 4; client++) {
      await echoOnce(server, `new ${client}`);
    }
  });
});
