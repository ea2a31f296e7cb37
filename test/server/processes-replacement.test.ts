/**
 * processes dispatch: a connection accepted while the only worker is being replaced
 * waits for the replacement instead of being closed with nothing said (processes.ts,
 * "Crashes").
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Tracker, until } from './helpers.js';

const tracker = new Tracker();
afterEach(() => tracker.cleanup());

const text = (bytes: Uint8Array | null): string =>
  new TextDecoder().decode(bytes ?? new Uint8Array());

describe('processes dispatch: worker replacement', () => {
  it('clients that connect while the only worker is replaced are served by the replacement', async () => {
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      dispatch: 'processes',
      workers: 1,
    });
    const [victim] = server.workerPids;
    process.kill(victim!, 'SIGKILL');
    // The primary has seen the exit and forked the replacement, which is still loading.
    await until(() => server.workerPids.length === 0, 10_000, 'the worker exit seen');
    const clients = await Promise.all(
      Array.from({ length: 5 }, () => tracker.channel(server.address, 'line')),
    );
    const replies = await Promise.all(
      clients.map(async (channel, index) => {
        await channel.send(`waited ${index}`);
        return text(await channel.receive({ timeout: 10_000 }));
      }),
    );
    // Before: each was destroyed at once (the client read EOF), counted only as a bare
    // SB_WORKER_CRASHED in the metrics.
    expect(replies).toEqual([0, 1, 2, 3, 4].map((index) => `waited ${index}`));
    expect(server.workerPids).toHaveLength(1);
    expect(server.workerPids).not.toContain(victim);
    expect(server.metrics.errors.SB_WORKER_CRASHED ?? 0).toBe(0);
  }, 30_000);

  it('a client waiting for a replacement when the server closes is refused as closing', async () => {
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      dispatch: 'processes',
      workers: 1,
    });
    process.kill(server.workerPids[0]!, 'SIGKILL');
    await until(() => server.workerPids.length === 0, 10_000, 'the worker exit seen');
    const channel = await tracker.channel(server.address, 'line');
    await channel.send('never answered');
    await server.close({ timeout: 1000 });
    expect(await channel.receive({ timeout: 10_000 })).toBeNull();
    expect(server.metrics.connectionsRefused.closing).toBe(1);
    expect(server.metrics.errors.SB_WORKER_CRASHED ?? 0).toBe(0);
  }, 30_000);
});
