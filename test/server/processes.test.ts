import { afterEach, describe, expect, it } from 'vitest';
import type { Channel } from '../../src/net/channel.js';
import { echoClient, makePayloads, seededRandom, Tracker, until } from './helpers.js';

const tracker = new Tracker();
afterEach(() => tracker.cleanup());

const text = (bytes: Uint8Array | null): string =>
  new TextDecoder().decode(bytes ?? new Uint8Array());

describe('processes dispatch', () => {
  // The full size: about 2 s on an idle 2-core machine, forking two tsx
  // workers included.
  it('500 clients x 100 messages through echo in 2 worker processes: every reply once, in order; close in flight', async () => {
    const clients = 500;
    const messages = 100;
    const server = await tracker.server({
      handler: 'echo',
      framing: 'length:u32be',
      dispatch: 'processes',
      workers: 2,
    });
    expect(server.workerPids).toHaveLength(2);
    const random = seededRandom(99);
    const channels = await Promise.all(
      Array.from({ length: clients }, () => tracker.channel(server.address, 'length:u32be')),
    );
    let ready = 0;
    let closing: Promise<void> | null = null;
    const results = await Promise.all(
      channels.map(async (channel, client) => {
        const verified = await echoClient(
          channel,
          makePayloads(random, client, messages, 2048),
          () => {
            ready += 1;
            if (ready === clients) {
              closing = server.close({ timeout: 20_000 });
            }
          },
        );
        await channel.close();
        return verified;
      }),
    );
    expect(results.every((count) => count === messages)).toBe(true);
    await closing;
    await server.closed;
    const metrics = server.metrics;
    expect(metrics.connectionsAccepted).toBe(clients);
    expect(metrics.connectionsOpen).toBe(0);
    // Worker deltas are merged into the primary's counters.
    expect(metrics.framesIn).toBe(clients * messages);
    expect(metrics.framesOut).toBe(clients * messages);
  });

  it('a killed worker drops only its own connections; a replacement serves new ones', async () => {
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      dispatch: 'processes',
      workers: 2,
    });
    const [victimPid, survivorPid] = server.workerPids;
    const clients: Channel[] = [];
    for (let index = 0; index < 10; index++) {
      const channel = await tracker.channel(server.address, 'line');
      await channel.send('hello');
      expect(text(await channel.receive())).toBe('hello'); // served before the next one connects
      clients.push(channel);
    }
    // Traffic keeps flowing on every client while the worker dies.
    const outcomes = clients.map(async (channel, index) => {
      try {
        for (let round = 0; round < 200; round++) {
          await channel.send(`c${index} r${round}`);
          const reply = await channel.receive();
          if (reply === null) {
            return 'dropped'; // the worker's death closed the connection (FIN)
          }
          if (text(reply) !== `c${index} r${round}`) {
            return 'corrupted';
          }
        }
        return 'survived';
      } catch {
        return 'dropped'; // ... or reset it
      }
    });
    process.kill(victimPid!, 'SIGKILL');
    const results = await Promise.all(outcomes);
    expect(results).not.toContain('corrupted');
    const dropped = results.filter((result) => result === 'dropped').length;
    expect(dropped).toBe(5); // least-connections placement alternated the 10 clients
    expect(results.filter((result) => result === 'survived')).toHaveLength(5);
    await until(
      () => server.workerPids.length === 2 && !server.workerPids.includes(victimPid!),
      10_000,
    );
    expect(server.workerPids).toContain(survivorPid);
    expect(server.metrics.errors.SB_WORKER_CRASHED).toBe(5);
    // New connections go to the least-loaded worker: the replacement.
    for (let index = 0; index < 3; index++) {
      const channel = await tracker.channel(server.address, 'line');
      await channel.send(`new ${index}`);
      expect(text(await channel.receive())).toBe(`new ${index}`);
    }
  });

  it('chat spans processes: the primary relays frames between workers', async () => {
    const server = await tracker.server({
      handler: 'chat',
      framing: 'line',
      dispatch: 'processes',
      workers: 2,
    });
    const alice = await tracker.channel(server.address, 'line');
    await until(() => server.connections === 1);
    const bob = await tracker.channel(server.address, 'line'); // the other worker (least connections)
    await until(() => server.connections === 2);
    // Give both workers' rooms time to register the members: retry until Bob hears Alice.
    let heard = '';
    for (let attempt = 0; attempt < 50 && heard === ''; attempt++) {
      await alice.send(`hi ${attempt}`);
      heard = text(await bob.receive({ timeout: 100 }).catch(() => null));
    }
    expect(heard).toMatch(/^hi \d+$/);
    await bob.send('hello alice');
    let reply = text(await alice.receive());
    while (reply !== 'hello alice') {
      reply = text(await alice.receive()); // skip echoes of our own retries (none expected)
    }
    expect(reply).toBe('hello alice');
  });

  it('a connection-handler module runs in the workers', async () => {
    const server = await tracker.server({
      handler: new URL('./fixtures/reverse-connection-handler.ts', import.meta.url).pathname,
      framing: 'line',
      dispatch: 'processes',
      workers: 1,
    });
    const channel = await tracker.channel(server.address, 'line');
    await channel.send('stressed');
    expect(text(await channel.receive())).toBe('desserts');
  });
});
