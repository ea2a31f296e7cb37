/**
 * `threads` dispatch: a timed-out onRequest keeps its job in the worker (nothing can
 * cancel a handler that never settles), and the Channel frees the connection's
 * maxPendingRequests place at the timeout, so hung requests once piled up in the pool
 * without limit. The pool now holds at most `maxRequestJobs` unfinished ones
 * (DEFAULTS.threadsMaxRequestsPerWorker per worker); past that a request is refused
 * at once with SB_TOO_MANY_REQUESTS, and a finished job gives its place back.
 * Event-driven: no sleeps, no timing thresholds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SwitchboardError } from '../../src/errors.js';
import { DEFAULTS } from '../../src/options.js';
import { poolRequestHandler, ThreadPool } from '../../src/server/dispatch/threads.js';
import { Tracker } from './helpers.js';

const tracker = new Tracker();
afterEach(() => tracker.cleanup());

const REQUEST_MODULE = new URL('./fixtures/request-handler.ts', import.meta.url).pathname;
const context = {
  connectionId: '1',
  remoteAddress: 'tcp://127.0.0.1:1',
  localAddress: 'tcp://127.0.0.1:2',
  proxied: false,
  sequence: -1,
};
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

const pools: ThreadPool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) {
    await pool.close();
  }
});

describe('ThreadPool request bound', () => {
  it('hung requests fill the bound; the next is SB_TOO_MANY_REQUESTS; frames still run', async () => {
    const pool = await ThreadPool.start(1, { builtin: 'discard' }, REQUEST_MODULE, 3);
    pools.push(pool);
    const hung = Array.from({ length: 3 }, () =>
      pool.run(bytes('slow'), context, true).catch((error: unknown) => error),
    );
    expect(pool.requestJobs).toBe(3);
    await expect(pool.run(bytes('x'), context, true)).rejects.toMatchObject({
      code: 'SB_TOO_MANY_REQUESTS',
    });
    expect(pool.requestJobs).toBe(3);
    // Frame jobs are bounded per connection (MAX_FRAMES_IN_FLIGHT), not by this.
    await expect(pool.run(bytes('frame'), { ...context, sequence: 0 })).resolves.toEqual([]);
    await pool.close();
    // Closing fails the hung jobs and gives their places back.
    for (const result of await Promise.all(hung)) {
      expect(result).toMatchObject({ code: 'SB_WORKER_CRASHED' });
    }
    expect(pool.requestJobs).toBe(0);
  });

  it('a finished request frees its place', async () => {
    const pool = await ThreadPool.start(1, { builtin: 'discard' }, REQUEST_MODULE, 2);
    pools.push(pool);
    const hung = pool.run(bytes('slow'), context, true).catch(() => undefined);
    const replies = await pool.run(bytes('a'), context, true);
    expect(new TextDecoder().decode(replies[0])).toBe('re:a');
    expect(pool.requestJobs).toBe(1);
    for (let round = 0; round < 5; round++) {
      await expect(pool.run(bytes('boom'), context, true)).rejects.toMatchObject({
        code: 'SB_HANDLER_ERROR',
      });
      expect(pool.requestJobs).toBe(1);
    }
    await pool.close();
    await hung;
  });

  it('the default bound is DEFAULTS.threadsMaxRequestsPerWorker per worker', () => {
    expect(DEFAULTS.threadsMaxRequestsPerWorker).toBe(1024);
  });

  it('the pool refusal reaches the client as SB_TOO_MANY_REQUESTS, not SB_HANDLER_ERROR', async () => {
    const pool = await ThreadPool.start(1, { builtin: 'discard' }, REQUEST_MODULE, 1);
    pools.push(pool);
    const hung = pool.run(bytes('slow'), context, true).catch(() => undefined);
    const refused = await Promise.resolve(poolRequestHandler(pool)(bytes('x'), context))
      .then(() => undefined)
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SwitchboardError);
    // What the server answers when onRequest fails this way (loop dispatch, same path).
    const server = await tracker.server({
      framing: 'sbp',
      handler: 'echo',
      onRequest: () => Promise.reject(refused),
    });
    const channel = await tracker.channel(server.address, 'sbp');
    const failure = await channel.request('x', { timeout: 10_000 }).catch((error) => error);
    expect(failure).toMatchObject({ code: 'SB_REQUEST_FAILED' });
    expect(String(failure.message)).toContain('SB_TOO_MANY_REQUESTS');
    await pool.close();
    await hung;
  });
});
