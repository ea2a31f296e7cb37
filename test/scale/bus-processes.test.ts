/**
 * Chat with `dispatch: 'processes'` (issue #10): the primary relays chat between
 * its worker processes and holds the instance's one bus connection. Without a
 * bus, across the workers of one instance; with real nats-server, across two
 * instances of two workers each (and a threads instance); and a SIGKILLed worker
 * that must not break the bus for the others.
 *
 * Placement: the primary hands each connection to the worker with the fewest
 * connections (the first on a tie), so clients connected one at a time land on
 * workers 0, 1, 0, 1, ...
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ChildSet, startInstance, startNats } from '../../deploy/stack.js';
import { FrameBatch, relayQueueLimit } from '../../src/server/dispatch/processes.js';
import { createServer, type Server, type ServerOptions } from '../../src/server/server.js';
import {
  LineClient,
  linesFrom,
  natsServerAvailable,
  waitForBusState,
  waitUntil,
} from './helpers.js';

/** A chat client and the prefix of the lines it sends (`name-`). */
interface Participant {
  name: string;
  client: LineClient;
}

const servers: Server[] = [];
const participants: Participant[] = [];
const children = new ChildSet();

afterEach(async () => {
  for (const participant of participants.splice(0)) {
    participant.client.destroy();
  }
  await Promise.all(servers.splice(0).map((server) => server.close({ timeout: 1 })));
  await children.stopAll(2000);
});

async function chatServer(extra: Partial<ServerOptions> = {}): Promise<Server> {
  const server = await createServer({
    handler: 'chat',
    dispatch: 'processes',
    workers: 2,
    closeTimeout: 1000,
    ...extra,
  });
  servers.push(server);
  return server;
}

/** Connects `name` to a CLI instance; sequential connects alternate the workers (accept order). */
async function joinCli(address: string, name: string): Promise<Participant> {
  const participant = { name, client: await LineClient.connect(address) };
  participants.push(participant);
  return participant;
}

/** Connects `name` and waits until the primary has handed it over (so the next lands on the next worker). */
async function join(server: Server, name: string): Promise<Participant> {
  const before = server.connections;
  const participant = { name, client: await LineClient.connect(server.address) };
  participants.push(participant);
  await waitUntil(() => server.connections === before + 1, `${name} handed to a worker`);
  return participant;
}

/**
 * A worker adds a client to its room just after the handover the primary counts.
 * Probes until one from the first participant reaches all others and one from
 * the last reaches the first: then every room holds its client. Bounded: 50 probes.
 */
async function allInRooms(group: readonly Participant[]): Promise<void> {
  const first = group[0]!;
  const last = group[group.length - 1]!;
  const rounds: [Participant, Participant[]][] = [
    [first, group.slice(1)],
    [last, [first]],
  ];
  for (const [prober, listeners] of rounds) {
    let heard = false;
    for (let attempt = 1; attempt <= 50 && !heard; attempt += 1) {
      const probe = `probe-${prober.name}-${attempt}`;
      prober.client.send(probe);
      heard = await waitUntil(
        () => listeners.every((listener) => listener.client.lines.includes(probe)),
        probe,
        200,
      ).then(
        () => true,
        () => false,
      );
    }
    expect(heard, `a probe from ${prober.name} reached everyone`).toBe(true);
  }
}

/** `count` lines `name-1 ... name-count` then `name-end`. */
function expectedLines(name: string, count: number): string[] {
  return [...Array.from({ length: count }, (_, i) => `${name}-${i + 1}`), `${name}-end`];
}

/**
 * Every sender sends `count` lines (interleaved with the others) and an end
 * marker; then every participant must hold each other sender's lines exactly
 * once and in order, none of its own, and nothing else meanwhile but `ignored` lines (probes).
 */
async function chatRound(
  group: readonly Participant[],
  senders: readonly Participant[],
  count: number,
  ignored = /^probe-/,
): Promise<void> {
  const before = new Map(group.map((receiver) => [receiver, receiver.client.lines.length]));
  for (let i = 1; i <= count; i += 1) {
    for (const sender of senders) {
      sender.client.send(`${sender.name}-${i}`);
    }
  }
  for (const sender of senders) {
    sender.client.send(`${sender.name}-end`);
  }
  // Per-sender order: once a sender's end marker is in, any duplicate of its lines is too.
  await waitUntil(
    () =>
      group.every((receiver) =>
        senders.every(
          (sender) => sender === receiver || receiver.client.lines.includes(`${sender.name}-end`),
        ),
      ),
    'every end marker at every other client',
    15_000,
  );
  for (const receiver of group) {
    for (const sender of senders) {
      const got = linesFrom(receiver.client.lines, `${sender.name}-`);
      expect(got, `${sender.name} at ${receiver.name}`).toEqual(
        sender === receiver ? [] : expectedLines(sender.name, count),
      );
    }
    const others = senders.filter((sender) => sender !== receiver).length;
    const chat = receiver.client.lines
      .slice(before.get(receiver))
      .filter((line) => !ignored.test(line));
    expect(chat, `lines at ${receiver.name}`).toHaveLength(others * (count + 1));
  }
}

describe('chat with dispatch processes, no bus', () => {
  it('FrameBatch: one message per turn, one being written at a time, flush() at once, bounded', async () => {
    const sent: string[][] = [];
    const pending: (() => void)[] = [];
    let overflows = 0;
    const batch = new FrameBatch(
      (frames, written) => {
        sent.push(frames.map((frame) => new TextDecoder().decode(frame)));
        pending.push(written);
      },
      10,
      () => {
        overflows += 1;
      },
    );
    const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
    const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    batch.deliver(bytes('1'));
    batch.deliver(bytes('2'));
    expect(sent).toEqual([]); // not before the turn ends
    await nextTurn();
    expect(sent).toEqual([['1', '2']]);
    // While that message is being written, frames wait here and then leave together.
    batch.deliver(bytes('3'));
    batch.deliver(bytes('4'));
    await nextTurn();
    expect(sent).toHaveLength(1);
    expect(batch.queuedBytes).toBe(2);
    pending.shift()?.();
    await nextTurn();
    expect(sent).toEqual([
      ['1', '2'],
      ['3', '4'],
    ]);
    // flush() (before any other message on the channel) sends even while one is being written.
    batch.deliver(bytes('5'));
    batch.flush();
    batch.flush();
    expect(sent).toEqual([['1', '2'], ['3', '4'], ['5']]);
    // Past the bound (10 bytes waiting): onOverflow once, then frames are ignored.
    batch.deliver(bytes('123456'));
    batch.deliver(bytes('789012'));
    batch.deliver(bytes('x'));
    expect(overflows).toBe(1);
    expect(batch.queuedBytes).toBe(0);
    for (const written of pending.splice(0)) {
      written();
    }
    await nextTurn();
    expect(sent).toHaveLength(3);
  });

  it('a line from a client of one worker reaches the clients of every worker once, in order', async () => {
    const server = await chatServer();
    const group = [
      await join(server, 'p0'), // worker 0
      await join(server, 'p1'), // worker 1
      await join(server, 'p2'), // worker 0
      await join(server, 'p3'), // worker 1
    ];
    await allInRooms(group);
    await chatRound(group, group, 100);
    expect(server.bus).toBeNull();
  });

  it('a worker that stops reading its relay is cut past 16 MiB queued; the others keep chatting', async () => {
    const maxQueuedOutput = 4 * 1024 * 1024;
    const server = await chatServer({ maxQueuedOutput });
    const limit = relayQueueLimit(maxQueuedOutput); // 16 MiB
    const p0 = await join(server, 'p0'); // worker 0
    const p1 = await join(server, 'p1'); // worker 1: stopped below
    await allInRooms([p0, p1]);
    const [, stopped] = server.workerPids;
    process.kill(stopped!, 'SIGSTOP'); // reads nothing from now on, IPC included
    const filler = 'x'.repeat(60 * 1024);
    const lines = Math.ceil((limit + 4 * 1024 * 1024) / filler.length); // the bound + kernel buffers
    try {
      for (let i = 1; i <= lines; i += 1) {
        p0.client.send(`big-${i} ${filler}`);
      }
      await waitUntil(
        () => !server.workerPids.includes(stopped!),
        'the stopped worker cut',
        20_000,
      );
    } finally {
      try {
        process.kill(stopped!, 'SIGCONT');
      } catch {
        // already gone: the expected outcome
      }
    }
    await p1.client.waitClosed();
    expect(server.metrics.errors).toMatchObject({ SB_OUTPUT_QUEUE_FULL: 1, SB_WORKER_CRASHED: 1 });
    await waitUntil(() => server.workerPids.length === 2, 'the replacement worker', 15_000);
    const p2 = await join(server, 'p2'); // the replacement (fewest connections)
    const group = [p0, p2];
    await allInRooms(group);
    await chatRound(group, group, 20);
  });

  it('a bad bus option is refused by name after the workers started, and they are stopped', async () => {
    await expect(
      createServer({
        handler: 'chat',
        dispatch: 'processes',
        workers: 1,
        bus: 42 as unknown as string,
      }),
    ).rejects.toMatchObject({ code: 'SB_BAD_OPTION', message: expect.stringMatching(/"bus"/) });
  });
});

const hasNats = natsServerAvailable();

describe.skipIf(!hasNats)('chat with dispatch processes over nats-server', () => {
  it('two instances × two workers (+ a threads instance): every line once at every other client, per-sender order', async () => {
    const nats = await startNats(children);
    const serverA = await chatServer({ bus: nats.url, metrics: '127.0.0.1:0' });
    const serverB = await chatServer({ bus: nats.url });
    const serverC = await chatServer({ bus: nats.url, dispatch: 'threads', workers: 1 });
    expect(serverA.workerPids).toHaveLength(2);
    expect(serverA.bus?.state).toBe('connected');
    const instanceIds = new Set(
      [serverA, serverB, serverC].map((server) => server.bus?.instanceId),
    );
    expect(instanceIds.size).toBe(3);

    // The raw traffic on NATS, to check the envelope.
    const { connect } = await import('@nats-io/transport-node');
    const observer = await connect({ servers: nats.url });
    const envelopes: { origin: string; sender: string; seq: number }[] = [];
    observer.subscribe('switchboard.chat.lobby', {
      callback: (_error, message) => {
        envelopes.push({
          origin: message.headers?.get('Sb-Origin') ?? '',
          sender: message.headers?.get('Sb-Sender') ?? '',
          seq: Number(message.headers?.get('Sb-Seq') ?? '0'),
        });
      },
    });
    await observer.flush();
    try {
      const group = [
        await join(serverA, 'a0'), // A worker 0
        await join(serverA, 'a1'), // A worker 1
        await join(serverA, 'a2'), // A worker 0
        await join(serverB, 'b0'), // B worker 0
        await join(serverB, 'b1'), // B worker 1
        await join(serverC, 'c0'),
      ];
      await allInRooms(group);
      await chatRound(group, group, 100);

      expect(serverA.bus?.dropped).toBe(0);
      const scrape = await (await fetch(serverA.metricsUrl ?? '')).text();
      expect(scrape).toContain('switchboard_bus_messages_total{outcome="gap"} 0');
      expect(scrape).toContain('switchboard_bus_messages_total{outcome="duplicate"} 0');
      // Everything B and C sent (chat and probes) was delivered to A's workers once.
      await observer.flush();
      const fromOthers = envelopes.filter((e) => e.origin !== serverA.bus?.instanceId).length;
      expect(scrape).toContain(`switchboard_bus_messages_total{outcome="delivered"} ${fromOthers}`);
      // A publishes on one connection with one sender per worker process, numbered 1, 2, 3, ...
      const fromA = envelopes.filter((e) => e.origin === serverA.bus?.instanceId);
      const senders = [...new Set(fromA.map((e) => e.sender))];
      expect(senders).toHaveLength(2);
      for (const sender of senders) {
        const seqs = fromA.filter((e) => e.sender === sender).map((e) => e.seq);
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      }
      expect(fromA.length).toBe(serverA.bus?.published);
    } finally {
      await observer.close();
    }
  });

  it('a SIGKILLed worker drops only its clients; the bus keeps serving the others and its replacement', async () => {
    const nats = await startNats(children);
    const serverA = await chatServer({ bus: nats.url });
    const serverB = await chatServer({ bus: nats.url });
    const a0 = await join(serverA, 'a0'); // A worker 0: the victim's client
    const a1 = await join(serverA, 'a1'); // A worker 1
    const b0 = await join(serverB, 'b0');
    const b1 = await join(serverB, 'b1');
    await allInRooms([a0, a1, b0, b1]);
    for (let i = 1; i <= 10; i += 1) {
      a0.client.send(`pre-${i}`);
    }
    await waitUntil(() => b1.client.lines.includes('pre-10'), 'pre-crash lines at B');

    const [victim, survivor] = serverA.workerPids;
    process.kill(victim!, 'SIGKILL');
    await a0.client.waitClosed();
    await waitUntil(
      () => serverA.workerPids.length === 2 && !serverA.workerPids.includes(victim!),
      'the replacement worker',
      15_000,
    );
    expect(serverA.workerPids).toContain(survivor);
    expect(a1.client.closed).toBe(false);
    expect(serverA.bus?.state).toBe('connected');

    // The replacement has no connections, the survivor one: the new client lands on the replacement.
    const a2 = await join(serverA, 'a2');
    const group = [a2, a1, b0, b1];
    await allInRooms(group);
    await chatRound(group, [a2, a1, b0], 50);
    expect(serverA.metrics.errors.SB_WORKER_CRASHED).toBe(1);
  });

  it('nats-server killed and restarted: chat across workers goes on meanwhile, then spans instances again', async () => {
    const nats = await startNats(children);
    const serverA = await chatServer({ bus: nats.url });
    const serverB = await chatServer({ bus: nats.url, dispatch: 'loop' });
    const a0 = await join(serverA, 'a0'); // worker 0
    const a1 = await join(serverA, 'a1'); // worker 1
    const b0 = await join(serverB, 'b0');
    await allInRooms([a0, a1, b0]);

    await nats.child.kill();
    await waitForBusState([serverA, serverB], 'reconnecting');
    for (let i = 1; i <= 20; i += 1) {
      a0.client.send(`down-${i}`);
    }
    // Worker 0 -> primary -> worker 1 never waits for the bus.
    await waitUntil(() => a1.client.lines.includes('down-20'), 'cross-worker chat while down');
    expect(linesFrom(a1.client.lines, 'down-')).toHaveLength(20);
    await waitUntil(() => serverA.bus?.pendingMessages === 20, 'the outage lines pending in A');

    await startNats(children, { port: nats.port });
    await waitForBusState([serverA, serverB], 'connected', 15_000);
    // Replayed outage lines may still be arriving at B.
    await chatRound([a0, a1, b0], [a0, a1, b0], 20, /^(probe|down)-/);
    // The replayed outage lines: at most once and in order at B (core NATS may lose them).
    const replayed = linesFrom(b0.client.lines, 'down-').map((line) => Number(line.slice(5)));
    expect(replayed).toEqual([...new Set(replayed)].sort((x, y) => x - y));
  });

  it('switchboard serve --dispatch processes --workers 2 --bus: two CLI instances chat across workers and instances', async () => {
    const nats = await startNats(children);
    const args = [
      '--framing',
      'line',
      '--mode',
      'chat',
      '--dispatch',
      'processes',
      '--workers',
      '2',
      '--bus',
      nats.url,
    ];
    // From source (always in step with the tree): the CLI and each worker load tsx.
    const [sb1, sb2] = await Promise.all([
      startInstance(children, 'sb1', args, { timeoutMs: 60_000 }),
      startInstance(children, 'sb2', args, { timeoutMs: 60_000 }),
    ]);
    const group = [
      await joinCli(sb1.address, 's10'),
      await joinCli(sb1.address, 's11'),
      await joinCli(sb2.address, 's20'),
      await joinCli(sb2.address, 's21'),
    ];
    await allInRooms(group);
    await chatRound(group, group, 50);
  });
});
