/**
 * A FaultProxy inside a test that fakes timers (`vi.useFakeTimers()`, which fakes
 * setTimeout and `performance` too) keeps real time, as Toxiproxy in its own process
 * would: a `timeout` fault fires without the test advancing its clock, and a latency is
 * real milliseconds however far the test moves its fake clock (docs/TESTING.md, Tips).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FaultProxy } from '../../src/testing/index.js';
import { startRecordingEcho } from '../helpers/recording-echo.js';

// Captured before any test fakes them: the watchdog runs on real time.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const realNow = performance.now.bind(performance);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

/** `work`, or a rejection after 5 s of real time (a fake timer that never fires fails here). */
async function withinRealSeconds<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = realSetTimeout(() => reject(new Error(`${what}: stalled under fake timers`)), 5000);
  });
  try {
    return await Promise.race([work, watchdog]);
  } finally {
    realClearTimeout(timer);
  }
}

async function proxyToEcho(onEvent?: Parameters<typeof FaultProxy.start>[0]['onEvent']) {
  const echo = await startRecordingEcho(cleanups);
  const proxy = await FaultProxy.start({
    target: `127.0.0.1:${echo.port}`,
    ...(onEvent === undefined ? {} : { onEvent }),
  });
  cleanups.push(() => proxy.close());
  return proxy;
}

function client(port: number): net.Socket {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  socket.on('error', () => {});
  cleanups.push(() => {
    socket.destroy();
  });
  return socket;
}

describe('FaultProxy under vi.useFakeTimers()', () => {
  it('a timeout fault closes the connection on real time, the fake clock untouched', async () => {
    vi.useFakeTimers();
    const proxy = await proxyToEcho();
    proxy.addFault('downstream', { type: 'timeout', ms: 50 });
    const socket = client(proxy.port);
    const ended = new Promise<void>((resolve) => socket.once('end', resolve));
    socket.write('held');
    // Before, the fault's timer was a fake one: the client waited until the test advanced.
    await withinRealSeconds(ended, 'timeout fault');
  });

  it('a latency is real ms: advancing the fake clock does not deliver early', async () => {
    vi.useFakeTimers();
    let sentAt = 0;
    const proxy = await proxyToEcho((event) => {
      if (event.type === 'delay' && event.direction === 'upstream') {
        // The pump has drawn the delay and is about to wait for it: jump the fake clock.
        vi.advanceTimersByTime(60_000);
      }
    });
    proxy.addFault('upstream', { type: 'latency', ms: 200 });
    const socket = client(proxy.port);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const echoed = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    sentAt = realNow();
    socket.write('x');
    await withinRealSeconds(echoed, 'latency');
    // Before, the wait was reckoned on the faked performance.now(), 60 s ahead: 0 ms.
    expect(realNow() - sentAt).toBeGreaterThanOrEqual(190);
  });
});
