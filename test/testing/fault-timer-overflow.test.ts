/**
 * Delays longer than a node timer holds (2^31 - 1 ms, ~24.8 days). node runs such a
 * timer after 1 ms (TimeoutOverflowWarning), so a Toxiproxy client's `latency` or
 * `timeout` of 3e9 ms (valid: Toxiproxy takes any int64) forwarded the bytes at once, or
 * closed the connection after 1 ms, the opposite of what was asked. Every FaultProxy
 * delay is clamped to the timer's range; a clamped 24.8-day delay is "forever" here.
 * Loopback, event-driven: no sleeps, no timing thresholds.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Fault, FaultProxy, type FaultProxyEvent } from '../../src/testing/index.js';

const HUGE_MS = 3_000_000_000;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function echoServer(): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

/** Runs one connection through a proxy with `fault` downstream until `until` is seen. */
async function through(
  fault: Fault,
  until: FaultProxyEvent['type'],
  endClient: boolean,
): Promise<{ received: string; closed: boolean; overflow: number }> {
  let overflow = 0;
  const onWarning = (warning: Error): void => {
    if (warning.name === 'TimeoutOverflowWarning') {
      overflow += 1;
    }
  };
  process.on('warning', onWarning);
  cleanups.push(() => {
    process.off('warning', onWarning);
  });
  const port = await echoServer();
  let seen: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => {
    seen = resolve;
  });
  const proxy = await FaultProxy.start({
    listen: '127.0.0.1:0',
    target: `127.0.0.1:${port}`,
    onEvent: (event) => {
      if (event.type === until) {
        seen();
      }
    },
  });
  cleanups.push(() => proxy.close());
  proxy.addFault('downstream', fault);
  const client = net.connect(Number(proxy.address.split(':')[1]), '127.0.0.1');
  cleanups.push(() => {
    client.destroy();
  });
  let received = '';
  let closed = false;
  client.on('data', (chunk: Buffer) => {
    received += chunk.toString();
  });
  client.on('close', () => {
    closed = true;
  });
  client.on('error', () => undefined);
  client.write('hello');
  if (endClient) {
    client.end();
  }
  await reached;
  // The overflow warning is emitted on the next tick; an overflowed timer fires after 1 ms.
  for (let i = 0; i < 5; i++) {
    await turn();
  }
  return { received, closed, overflow };
}

describe('FaultProxy delays beyond a node timer', () => {
  it('a latency of 3e9 ms holds the bytes (no overflow to 1 ms)', async () => {
    const outcome = await through({ type: 'latency', ms: HUGE_MS }, 'delay', false);
    expect(outcome.overflow).toBe(0);
    expect(outcome.received).toBe('');
  });

  it('a timeout of 3e9 ms holds the connection open', async () => {
    const outcome = await through({ type: 'timeout', ms: HUGE_MS }, 'open', false);
    expect(outcome.overflow).toBe(0);
    expect(outcome.closed).toBe(false);
  });

  it('a slow close of 3e9 ms holds the close', async () => {
    const outcome = await through({ type: 'slowClose', ms: HUGE_MS }, 'open', true);
    expect(outcome.overflow).toBe(0);
  });
});
