/**
 * HAProxy (TCP mode, send-proxy-v2, health checks; deploy/haproxy.cfg) in front
 * of two switchboard instances sharing a nats-server (issue #10).
 */

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ChildSet,
  type Haproxy,
  type Instance,
  startHaproxy,
  startInstance,
  startNats,
} from '../../deploy/stack.js';
import {
  type ConnectionOpenMessage,
  diagnosticChannels,
  type ServerListeningMessage,
} from '../../src/diagnostics.js';
import { createServer, type Server } from '../../src/server/server.js';
import {
  haproxyAvailable,
  LineClient,
  linesFrom,
  natsServerAvailable,
  waitUntil,
} from './helpers.js';

const available = haproxyAvailable() && natsServerAvailable();
// The built CLI starts faster; use it when it is built with the bus (npm test builds first).
const CLI = existsSync(fileURLToPath(new URL('../../dist/server/bus.js', import.meta.url)))
  ? 'dist'
  : 'source';

/** One `--json` event line; `{}` for a line still being written. */
function parseEvent(line: string): { event?: string; remoteAddress?: string } {
  try {
    return JSON.parse(line) as { event?: string; remoteAddress?: string };
  } catch {
    return {};
  }
}

describe.skipIf(!available)('HAProxy in front of two instances', () => {
  const children = new ChildSet();
  const servers: Server[] = [];
  const clients: LineClient[] = [];
  const unsubscribers: Array<() => void> = [];

  afterEach(async () => {
    for (const unsubscribe of unsubscribers.splice(0)) {
      unsubscribe();
    }
    for (const client of clients.splice(0)) {
      client.destroy();
    }
    await Promise.all(servers.splice(0).map((server) => server.close({ timeout: 1 })));
    await children.stopAll(2000);
  });

  /** Connection-open events and server ids by address, from the diagnostics channels. */
  function observe(): { opens: ConnectionOpenMessage[]; serverIds: Map<string, number> } {
    const opens: ConnectionOpenMessage[] = [];
    const serverIds = new Map<string, number>();
    unsubscribers.push(diagnosticChannels.connectionOpen.subscribe((m) => opens.push(m)));
    unsubscribers.push(
      diagnosticChannels.serverListening.subscribe((m: ServerListeningMessage) =>
        serverIds.set(m.address, m.serverId),
      ),
    );
    return { opens, serverIds };
  }

  async function client(haproxy: Haproxy): Promise<LineClient> {
    const connected = await LineClient.connect(haproxy.address);
    clients.push(connected);
    return connected;
  }

  /** The connection-open event of `c` (matched by its local port, as the PROXY header carries it). */
  function openOf(opens: readonly ConnectionOpenMessage[], c: LineClient) {
    return opens.filter((m) => m.remoteAddress === `tcp://127.0.0.1:${c.localPort}`);
  }

  it('spreads clients, passes their real address, fails over, and loses nothing survivors sent', async () => {
    const { opens, serverIds } = observe();
    const nats = await startNats(children);
    const start = async (): Promise<Server> => {
      const server = await createServer({
        handler: 'chat',
        bus: nats.url,
        proxyProtocol: true,
        closeTimeout: 1000,
      });
      servers.push(server);
      return server;
    };
    const serverA = await start();
    const serverB = await start();
    const idA = serverIds.get(serverA.address);
    const idB = serverIds.get(serverB.address);
    const haproxy = await startHaproxy(children, {
      backends: [
        { name: 'a', address: serverA.address.replace('tcp://', '') },
        { name: 'b', address: serverB.address.replace('tcp://', '') },
      ],
      balance: 'roundrobin',
      checkIntervalMs: 200,
      fall: 1,
      rise: 1,
    });

    // Clients land on both instances, and each handler sees the client's own address.
    const first: LineClient[] = [];
    for (let i = 0; i < 4; i += 1) {
      first.push(await client(haproxy));
    }
    await waitUntil(
      () => first.every((c) => openOf(opens, c).length === 1),
      'every client to be served behind HAProxy',
    );
    const home = new Map<LineClient, number>();
    for (const c of first) {
      const [open] = openOf(opens, c);
      expect(open?.proxied).toBe(true);
      home.set(c, open?.serverId ?? -1);
    }
    const onA = first.filter((c) => home.get(c) === idA);
    const onB = first.filter((c) => home.get(c) === idB);
    expect(onA.length).toBeGreaterThan(0);
    expect(onB.length).toBeGreaterThan(0);
    expect(onA.length + onB.length).toBe(4);
    await waitUntil(
      () => serverA.connections >= onA.length && serverB.connections >= onB.length,
      'chat members to join',
    );

    // Chat spans both instances through the bus.
    const [speaker, ...listeners] = first as [LineClient, ...LineClient[]];
    for (let i = 1; i <= 50; i += 1) {
      speaker.send(`hello-${i}`);
    }
    await waitUntil(
      () => listeners.every((c) => c.lines.includes('hello-50')),
      'hello lines on every other client',
    );
    for (const c of listeners) {
      expect(linesFrom(c.lines, 'hello-')).toEqual(
        Array.from({ length: 50 }, (_, i) => `hello-${i + 1}`),
      );
    }

    // A survivor on B talks while instance A dies.
    const [senderB, ...othersB] = onB as [LineClient, ...LineClient[]];
    const receiverB = othersB[0] ?? null;
    for (let i = 1; i <= 100; i += 1) {
      senderB.send(`survivor-${i}`);
    }
    // Instance A is gone: listener closed, its clients cut after 1 ms (0 would mean "wait for them").
    await serverA.close({ timeout: 1 });
    servers.splice(servers.indexOf(serverA), 1);
    for (let i = 101; i <= 200; i += 1) {
      senderB.send(`survivor-${i}`);
    }
    for (const c of onA) {
      await c.waitClosed();
    }
    // HAProxy notices within one check interval (inter 200ms fall 1).
    await waitUntil(
      () => /switchboard_instances\/a is DOWN/.test(haproxy.child.output()),
      'HAProxy to mark instance a down',
    );

    // New connections all go to B.
    const second: LineClient[] = [];
    for (let i = 0; i < 4; i += 1) {
      second.push(await client(haproxy));
    }
    await waitUntil(
      () => second.every((c) => openOf(opens, c).length === 1),
      'new clients to be served',
    );
    for (const c of second) {
      expect(openOf(opens, c)[0]?.serverId).toBe(idB);
    }
    await waitUntil(() => serverB.connections >= onB.length + 4, 'new chat members to join');

    // Nothing a survivor sent is lost: every line, once, in order, to the other survivors.
    for (let i = 201; i <= 250; i += 1) {
      senderB.send(`survivor-${i}`);
    }
    const all = Array.from({ length: 250 }, (_, i) => `survivor-${i + 1}`);
    if (receiverB !== null) {
      await waitUntil(() => receiverB.lines.includes('survivor-250'), 'survivor lines on B');
      expect(linesFrom(receiverB.lines, 'survivor-')).toEqual(all);
    }
    for (const c of second) {
      await waitUntil(() => c.lines.includes('survivor-250'), 'survivor lines on a new client');
      expect(linesFrom(c.lines, 'survivor-')).toEqual(all.slice(200));
    }
  });

  it('a CLI instance killed with SIGKILL: new connections go to the survivor, its clients lose nothing', async () => {
    const nats = await startNats(children);
    const args = ['--framing', 'line', '--mode', 'chat', '--proxy-protocol', '--bus', nats.url];
    // --json: one event per line on stderr, connection:open carries the address the handler sees.
    const sb1 = await startInstance(children, 'sb1', [...args, '--json'], { cli: CLI });
    const sb2 = await startInstance(children, 'sb2', [...args, '--json'], { cli: CLI });
    const haproxy = await startHaproxy(children, {
      backends: [
        { name: 'sb1', address: sb1.address },
        { name: 'sb2', address: sb2.address },
      ],
      checkIntervalMs: 200,
      fall: 1,
      rise: 1,
    });
    /** The instance whose `--json` connection:open event shows `c`'s own address. */
    const servedBy = (c: LineClient): Instance | undefined =>
      [sb1, sb2].find((instance) =>
        instance.child
          .output()
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => parseEvent(line))
          .some(
            (event) =>
              event.event === 'connection:open' &&
              event.remoteAddress === `tcp://127.0.0.1:${c.localPort}`,
          ),
      );

    // Round robin alternates, but HAProxy's own probes (and the readiness check) also take
    // turns: connect until one client is on each instance (at most 6 tries).
    const c1 = await client(haproxy);
    await waitUntil(() => servedBy(c1) !== undefined, 'c1 to be served');
    let other: LineClient | null = null;
    for (let tries = 0; other === null && tries < 6; tries += 1) {
      const candidate = await client(haproxy);
      await waitUntil(() => servedBy(candidate) !== undefined, 'a client to be served');
      if (servedBy(candidate) !== servedBy(c1)) {
        other = candidate;
      }
    }
    if (other === null) {
      throw new Error('HAProxy put 7 connections in a row on one instance');
    }
    const c2: LineClient = other;
    // Members join just after connection:open: repeat a ping until one crosses the bus.
    const deadline = Date.now() + 5000;
    while (linesFrom(c2.lines, 'ping').length === 0) {
      if (Date.now() > deadline) {
        throw new Error('no ping crossed from c1 to c2');
      }
      c1.send('ping');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const victim = servedBy(c1) as Instance;
    const survivor = servedBy(c2) as Instance;
    await victim.child.kill(); // SIGKILL: no graceful close
    await c1.waitClosed();
    await waitUntil(
      () => new RegExp(`switchboard_instances/${victim.name} is DOWN`).test(haproxy.child.output()),
      'HAProxy to mark the killed instance down',
    );

    const c3 = await client(haproxy);
    const c4 = await client(haproxy);
    await waitUntil(
      () => servedBy(c3) === survivor && servedBy(c4) === survivor,
      'new clients to be served by the survivor',
    );
    // Joined once a line from c2 reaches both (c2 sends until then; those lines are not counted).
    const joinDeadline = Date.now() + 5000;
    while (!c3.lines.includes('join') || !c4.lines.includes('join')) {
      if (Date.now() > joinDeadline) {
        throw new Error('new clients did not join the chat');
      }
      c2.send('join');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (let i = 1; i <= 100; i += 1) {
      c2.send(`after-${i}`);
    }
    const expected = Array.from({ length: 100 }, (_, i) => `after-${i + 1}`);
    for (const c of [c3, c4]) {
      await waitUntil(() => c.lines.includes('after-100'), 'every line at the new clients');
      expect(linesFrom(c.lines, 'after-')).toEqual(expected);
    }
  }, 60_000);
});
