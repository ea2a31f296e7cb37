/**
 * Chat across instances over NATS (issue #10): the ChatBridge rules against an
 * in-memory bus, then real nats-server with two in-process switchboard servers.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ChildSet, startNats } from '../../deploy/stack.js';
import { type BusStatusMessage, diagnosticChannels } from '../../src/diagnostics.js';
import { type BusMessage, type BusStatus, ChatBridge, type ChatBus } from '../../src/server/bus.js';
import { type ChatMember, ChatRoom } from '../../src/server/handlers.js';
import { connectNatsBus, parseBusServers } from '../../src/server/nats-bus.js';
import { createServer, type Server } from '../../src/server/server.js';
import {
  LineClient,
  linesFrom,
  natsServerAvailable,
  waitForBusState,
  waitUntil,
} from './helpers.js';

/** A ChatBus in memory: every bus on one `network` sees every publish (echo included, like NATS without noEcho). */
class MemoryBus implements ChatBus {
  readonly instanceId: string;
  readonly network: Map<string, Set<(message: BusMessage) => void>>;
  readonly sent: BusMessage[] = [];

  constructor(instanceId: string, network: Map<string, Set<(message: BusMessage) => void>>) {
    this.instanceId = instanceId;
    this.network = network;
  }

  get status(): BusStatus {
    return {
      state: 'connected',
      instanceId: this.instanceId,
      server: 'memory',
      reconnects: 0,
      published: this.sent.length,
      received: 0,
      dropped: 0,
      pendingMessages: 0,
      pendingBytes: 0,
    };
  }

  publish(room: string, message: BusMessage): void {
    this.sent.push(message);
    for (const subscriber of this.network.get(room) ?? []) {
      subscriber(message);
    }
  }

  subscribe(room: string, onMessage: (message: BusMessage) => void): () => void {
    const set = this.network.get(room) ?? new Set();
    this.network.set(room, set);
    set.add(onMessage);
    return () => set.delete(onMessage);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}

function member(name: string, inbox: string[]): ChatMember {
  return { deliver: (frame) => inbox.push(`${name}:${new TextDecoder().decode(frame)}`) };
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Instance B's room with one member (b1), bridged to a bus that instance A publishes on. */
function bridgedMember() {
  const network = new Map();
  const bus = new MemoryBus('B', network);
  const remote = new MemoryBus('A', network);
  const room = new ChatRoom();
  const inbox: string[] = [];
  room.join(member('b1', inbox));
  const bridge = new ChatBridge(room, bus);
  bridge.start();
  return { remote, room, inbox, bridge };
}

describe('ChatBridge (in-memory bus)', () => {
  it('delivers remote frames once, skips its own, and numbers each sender from 1', () => {
    const network = new Map();
    const busA = new MemoryBus('A', network);
    const busB = new MemoryBus('B', network);
    const roomA = new ChatRoom();
    const roomB = new ChatRoom();
    const bridgeA = new ChatBridge(roomA, busA);
    const bridgeB = new ChatBridge(roomB, busB);
    bridgeA.start();
    bridgeB.start();
    const inbox: string[] = [];
    const a1 = member('a1', inbox);
    const a2 = member('a2', inbox);
    const b1 = member('b1', inbox);
    roomA.join(a1);
    roomA.join(a2);
    roomB.join(b1);

    roomA.post(a1, bytes('one'));
    roomA.post(a1, bytes('two'));
    roomA.post(a2, bytes('three'));
    roomB.post(b1, bytes('four'));

    expect(inbox).toEqual([
      'a2:one',
      'b1:one',
      'a2:two',
      'b1:two',
      'a1:three',
      'b1:three',
      'a1:four',
      'a2:four',
    ]);
    expect(busA.sent.map((m) => [m.origin, m.sender, m.seq])).toEqual([
      ['A', '1', 1],
      ['A', '1', 2],
      ['A', '2', 1],
    ]);
    expect(bridgeA.stats).toMatchObject({ published: 3, delivered: 1, ownSkipped: 3 });
    expect(bridgeB.stats).toMatchObject({ published: 1, delivered: 3, ownSkipped: 1 });
  });

  it('drops a repeated sequence number, counts a hole as a gap, delivers a late number once', () => {
    const { remote, room, inbox, bridge } = bridgedMember();
    const send = (seq: number, text: string): void =>
      remote.publish('lobby', { origin: 'A', sender: '7', seq, payload: bytes(text) });
    send(1, 'x1');
    send(1, 'x1 again');
    send(2, 'x2');
    send(5, 'x5');
    send(4, 'x4 late'); // not seen before: delivered (its gap stays counted)
    send(4, 'x4 again');
    remote.publish('lobby', { origin: '', sender: '', seq: 0, payload: bytes('plain nats pub') });
    expect(inbox).toEqual(['b1:x1', 'b1:x2', 'b1:x5', 'b1:x4 late', 'b1:plain nats pub']);
    expect(bridge.stats).toMatchObject({ delivered: 5, duplicates: 2, gaps: 2, resyncs: 0 });
    bridge.stop();
    send(6, 'after stop');
    expect(inbox).toHaveLength(5);
    expect(room.relay).toBeNull();
  });

  it("one forged Sb-Seq of 2^53-1 in a real sender's name does not silence that sender", () => {
    // Anyone who can publish on the subject can use any origin/sender. With "drop every
    // seq <= the last", this one message made every later real message a "duplicate".
    const { remote, inbox, bridge } = bridgedMember();
    const send = (seq: number, text: string): void =>
      remote.publish('lobby', { origin: 'A', sender: '7', seq, payload: bytes(text) });
    send(1, 'real 1');
    send(Number.MAX_SAFE_INTEGER, 'forged');
    send(2, 'real 2');
    send(3, 'real 3');
    send(3, 'real 3 again');
    expect(inbox).toEqual(['b1:real 1', 'b1:forged', 'b1:real 2', 'b1:real 3']);
    expect(bridge.stats).toMatchObject({ delivered: 4, duplicates: 1, gaps: 0, resyncs: 1 });
  });

  it('a sender whose numbers start again at 1 (a restart reusing its origin) is delivered', () => {
    const { remote, inbox, bridge } = bridgedMember();
    const send = (seq: number, text: string): void =>
      remote.publish('lobby', { origin: 'A', sender: '1', seq, payload: bytes(text) });
    for (let seq = 1; seq <= 100; seq += 1) {
      send(seq, `old ${seq}`);
    }
    send(1, 'new 1');
    send(1, 'new 1 again');
    send(2, 'new 2');
    send(3, 'new 3');
    expect(inbox.slice(100)).toEqual(['b1:new 1', 'b1:new 2', 'b1:new 3']);
    expect(bridge.stats).toMatchObject({ delivered: 103, duplicates: 1, gaps: 0, resyncs: 1 });
  });

  it('a forged number a little ahead costs the real sender only the message with that number', () => {
    const { remote, inbox } = bridgedMember();
    const send = (seq: number, text: string): void =>
      remote.publish('lobby', { origin: 'A', sender: '7', seq, payload: bytes(text) });
    send(1, 'real 1');
    send(4, 'forged 4');
    for (let seq = 2; seq <= 6; seq += 1) {
      send(seq, `real ${seq}`);
    }
    expect(inbox).toEqual([
      'b1:real 1',
      'b1:forged 4',
      'b1:real 2',
      'b1:real 3',
      'b1:real 5',
      'b1:real 6',
    ]);
  });

  it('repeats over a second path lagging up to 63 messages behind are dropped', () => {
    const { remote, inbox, bridge } = bridgedMember();
    const send = (seq: number): void =>
      remote.publish('lobby', { origin: 'A', sender: '7', seq, payload: bytes(`m${seq}`) });
    for (let seq = 1; seq <= 200; seq += 1) {
      send(seq);
      if (seq > 63) {
        send(seq - 63);
      }
    }
    expect(inbox).toEqual(Array.from({ length: 200 }, (_, index) => `b1:m${index + 1}`));
    expect(bridge.stats).toMatchObject({ delivered: 200, duplicates: 137, resyncs: 0 });
  });

  it('a flood of new senders evicts the least recently heard one, not a sender that keeps talking', () => {
    // 65,536 windows are kept. The oldest-added sender was evicted even while it kept
    // talking, so its repeats were delivered again after a flood of made-up senders.
    const { remote, inbox } = bridgedMember();
    const send = (sender: string, seq: number, text: string): void =>
      remote.publish('lobby', { origin: 'A', sender, seq, payload: bytes(text) });
    send('talker', 1, 'first');
    for (let index = 0; index < 65_535; index += 1) {
      send(`flood-${index}`, 1, 'f');
    }
    send('talker', 2, 'second'); // the talker is now the most recently heard
    send('new-1', 1, 'n'); // the cap is full: flood-0 goes, not the talker
    send('talker', 2, 'second again');
    send('flood-0', 1, 'flood-0 again'); // forgotten: delivered again (nobody is silenced)
    expect(inbox.slice(-3)).toEqual(['b1:second', 'b1:n', 'b1:flood-0 again']);
  });

  it('rejects bad bus URLs and room names by name', () => {
    expect(() => parseBusServers('')).toThrow(/no NATS server/);
    expect(() => parseBusServers('http://127.0.0.1:4222')).toThrow(/nats:\/\/HOST:PORT/);
    expect(parseBusServers('nats://a:1, nats://b:2')).toEqual(['nats://a:1', 'nats://b:2']);
    expect(() => new ChatBridge(new ChatRoom(), new MemoryBus('A', new Map()), 'a.b')).toThrow(
      /one subject token/,
    );
  });

  it('refuses an instanceId too long for the receivers to deduplicate, before connecting', async () => {
    // Receivers remember origin/sender keys of up to 256 characters (a NATS header may
    // be 1 MiB); a longer id would silently turn deduplication off for this instance.
    await expect(
      connectNatsBus({ servers: 'nats://127.0.0.1:1', instanceId: 'i'.repeat(129) }),
    ).rejects.toMatchObject({ code: 'SB_BAD_OPTION', message: expect.stringMatching(/128/) });
  });

  it('a server with a caller-owned bus relays chat through it', async () => {
    const network = new Map();
    const remote = new MemoryBus('remote', network);
    const seen: string[] = [];
    remote.subscribe('lobby', (message) => seen.push(new TextDecoder().decode(message.payload)));
    const server = await createServer({ handler: 'chat', bus: new MemoryBus('local', network) });
    try {
      const client = await LineClient.connect(server.address);
      client.send('hello bus');
      await waitUntil(() => seen.length === 1, 'the frame on the bus');
      remote.publish('lobby', { origin: 'remote', sender: '1', seq: 1, payload: bytes('hi') });
      expect(await client.waitForLines(1)).toEqual(['hi']);
      expect(server.bus?.instanceId).toBe('local');
      client.destroy();
    } finally {
      await server.close({ timeout: 1 });
    }
  });

  it('a bus frame the framing cannot carry is skipped, not fatal to every local client', async () => {
    // Any NATS client can publish on the subject: a LF inside a line, or a frame over the
    // line framing's 64 KiB, used to make every chat member's encode throw and close
    // every local connection with SB_HANDLER_ERROR.
    const network = new Map();
    const remote = new MemoryBus('remote', network);
    const server = await createServer({ handler: 'chat', bus: new MemoryBus('local', network) });
    try {
      const clients = [
        await LineClient.connect(server.address),
        await LineClient.connect(server.address),
      ];
      await waitUntil(() => server.metrics.connectionsOpen === 2, 'both clients joined');
      const hostile = (seq: number, payload: Uint8Array): void =>
        remote.publish('lobby', { origin: 'remote', sender: '1', seq, payload });
      hostile(1, bytes('two\nlines'));
      hostile(2, new Uint8Array(70_000).fill(0x61));
      hostile(3, bytes('after'));
      for (const client of clients) {
        expect(await client.waitForLines(1)).toEqual(['after']);
        expect(client.closed).toBe(false);
      }
      expect(server.metrics.errors).toEqual({});
      for (const client of clients) {
        client.destroy();
      }
    } finally {
      await server.close({ timeout: 1 });
    }
  });

  it('a run with a frame the framing cannot carry is sorted out once, not once per member', () => {
    // Each of N members retried the whole run and then every frame: one hostile bus
    // message of 1 MiB cost N failed encodes (10,000 members: 10 GB scanned).
    const framing = {};
    let encodes = 0;
    const encode = (frames: readonly Uint8Array[]): Uint8Array => {
      encodes += 1;
      if (frames.some((frame) => frame.includes(0x0a))) {
        throw new Error('cannot carry a LF');
      }
      return Buffer.concat(frames.map((frame) => Buffer.concat([frame, Buffer.from('\n')])));
    };
    const room = new ChatRoom();
    const received: string[] = [];
    for (let index = 0; index < 50; index++) {
      room.join({
        deliver: () => undefined,
        deliverRun(run) {
          const carried = run.wireFor(framing, encode);
          received.push(`${carried.frames}:${carried.payloadBytes}:${Buffer.from(carried.wire)}`);
        },
      });
    }
    room.deliverRunFromRelay([bytes('a'), bytes('b\nc'), bytes('d')]);
    expect(new Set(received)).toEqual(new Set(['2:2:a\nd\n']));
    expect(received).toHaveLength(50);
    expect(encodes).toBe(1 + 3); // the run once, then each frame once
  });

  it('a sender key longer than any switchboard instance sends is not remembered', () => {
    // The dedupe map holds 65,536 senders; keys as long as a NATS header allows (about
    // 1 MiB) would make that gigabytes. Such a message is delivered, not deduplicated.
    const { remote, inbox, bridge } = bridgedMember();
    const origin = 'o'.repeat(100_000);
    remote.publish('lobby', { origin, sender: '1', seq: 5, payload: bytes('long1') });
    remote.publish('lobby', { origin, sender: '1', seq: 5, payload: bytes('long2') });
    remote.publish('lobby', {
      origin: 'A',
      sender: 's'.repeat(100_000),
      seq: 5,
      payload: bytes('long3'),
    });
    remote.publish('lobby', { origin: 'A', sender: '1', seq: 5, payload: bytes('short') });
    remote.publish('lobby', { origin: 'A', sender: '1', seq: 5, payload: bytes('short again') });
    expect(inbox).toEqual(['b1:long1', 'b1:long2', 'b1:long3', 'b1:short']);
    expect(bridge.stats).toMatchObject({ delivered: 4, duplicates: 1 });
    bridge.stop();
  });
});

const hasNats = natsServerAvailable();

describe.skipIf(!hasNats)('chat across instances over nats-server', () => {
  const children = new ChildSet();
  const servers: Server[] = [];
  const clients: LineClient[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) {
      client.destroy();
    }
    await Promise.all(servers.splice(0).map((server) => server.close({ timeout: 1 })));
    await children.stopAll(2000);
  });

  async function chatServer(
    busUrl: string,
    extra: { dispatch?: 'threads'; workers?: number; metrics?: string } = {},
  ): Promise<Server> {
    const server = await createServer({
      handler: 'chat',
      bus: busUrl,
      closeTimeout: 1000,
      ...extra,
    });
    servers.push(server);
    return server;
  }

  async function client(server: Server): Promise<LineClient> {
    const connected = await LineClient.connect(server.address);
    clients.push(connected);
    return connected;
  }

  /** Waits until both servers count `count` chat members (the join happens after accept). */
  async function joined(server: Server, count: number): Promise<void> {
    await waitUntil(() => server.connections === count, `${count} connections`);
  }

  it('a message with a header nats.js cannot parse is skipped; the bus keeps receiving', async () => {
    // Any NATS client can publish on the subject. nats.js parses headers lazily and
    // throws for a header name with a space; thrown inside the subscription callback,
    // that ended the connection's reader loop, so this instance heard nothing more from
    // the bus (until a ping timeout forced a reconnect).
    const nats = await startNats(children);
    const server = await chatServer(nats.url);
    const member = await client(server);
    await joined(server, 1);
    const raw = net.connect(nats.port, '127.0.0.1');
    raw.on('error', () => undefined);
    await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
    const header = 'NATS/1.0\r\nBad Name: 1\r\n\r\n';
    const hpub = (payload: string): string =>
      `HPUB switchboard.chat.lobby ${header.length} ${header.length + payload.length}\r\n${header}${payload}\r\n`;
    raw.write(
      `CONNECT {"verbose":false,"headers":true}\r\n${hpub('bad')}PUB switchboard.chat.lobby 5\r\nafter\r\nPING\r\n`,
    );
    try {
      expect(await member.waitForLines(1)).toEqual(['after']);
      expect(server.bus?.state).toBe('connected');
      expect(server.bus?.dropped).toBe(1);
    } finally {
      raw.destroy();
    }
  });

  /** A raw NATS client (not nats.js) that can publish anything with any envelope. */
  async function rawPublisher(port: number): Promise<{
    publish(headers: Record<string, string>, payload: string): void;
    close(): void;
  }> {
    const raw = net.connect(port, '127.0.0.1');
    raw.on('error', () => undefined);
    await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
    raw.write('CONNECT {"verbose":false,"headers":true}\r\n');
    return {
      publish(headers, payload) {
        const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
        const block = `NATS/1.0\r\n${lines.join('')}\r\n`;
        const total = block.length + payload.length;
        raw.write(`HPUB switchboard.chat.lobby ${block.length} ${total}\r\n${block}${payload}\r\n`);
      },
      close: () => raw.destroy(),
    };
  }

  it("a forged Sb-Seq of 2^53-1 under a real instance's origin and sender does not silence it", async () => {
    const nats = await startNats(children);
    const serverA = await chatServer(nats.url);
    const serverB = await chatServer(nats.url);
    const a1 = await client(serverA);
    const b1 = await client(serverB);
    await joined(serverA, 1);
    await joined(serverB, 1);
    a1.send('real-1');
    await waitUntil(() => b1.lines.includes('real-1'), 'real-1 across instances');
    const forger = await rawPublisher(nats.port);
    try {
      // a1 is the first (and only) sender on A: Sb-Sender 1.
      forger.publish(
        {
          'Sb-Origin': serverA.bus?.instanceId ?? '',
          'Sb-Sender': '1',
          'Sb-Seq': '9007199254740991',
        },
        'forged',
      );
      await waitUntil(
        () => b1.lines.includes('forged'),
        'the forged line (any publisher is trusted)',
      );
      a1.send('real-2');
      a1.send('real-3');
      await waitUntil(() => b1.lines.includes('real-3'), 'real lines after the forged one');
      expect(b1.lines).toEqual(['real-1', 'forged', 'real-2', 'real-3']);
    } finally {
      forger.close();
    }
  });

  it('an Sb-Seq that is not a plain decimal is no sequence number: such lines are not deduplicated', async () => {
    // Number() read "0x10" as 16, "1e3" as 1000, " 5 " as 5: each of these lines twice
    // was taken for a repeat and the second dropped.
    const nats = await startNats(children);
    const server = await chatServer(nats.url);
    const member = await client(server);
    await joined(server, 1);
    const publisher = await rawPublisher(nats.port);
    try {
      const sent: string[] = [];
      for (const seq of ['0x10', '1e3', '+7', '5.0', '00000000000000001']) {
        for (const copy of [1, 2]) {
          publisher.publish(
            { 'Sb-Origin': 'raw', 'Sb-Sender': '1', 'Sb-Seq': seq },
            `${seq}#${copy}`,
          );
          sent.push(`${seq}#${copy}`);
        }
      }
      // A plain decimal still deduplicates: the repeat of 3 is dropped.
      publisher.publish({ 'Sb-Origin': 'raw', 'Sb-Sender': '2', 'Sb-Seq': '3' }, 'three');
      publisher.publish({ 'Sb-Origin': 'raw', 'Sb-Sender': '2', 'Sb-Seq': '3' }, 'three again');
      publisher.publish({ 'Sb-Origin': 'raw', 'Sb-Sender': '2', 'Sb-Seq': '4' }, 'end');
      await waitUntil(() => member.lines.includes('end'), 'the last line');
      expect(member.lines).toEqual([...sent, 'three', 'end']);
    } finally {
      publisher.close();
    }
  });

  it('an instance restarted with the same instanceId is heard again from its first line', async () => {
    const nats = await startNats(children);
    const serverB = await chatServer(nats.url);
    const b1 = await client(serverB);
    await joined(serverB, 1);
    const instance = async (): Promise<{ server: Server; close(): Promise<void> }> => {
      const bus = await connectNatsBus({ servers: nats.url, instanceId: 'fixed-id' });
      const server = await createServer({ handler: 'chat', bus, closeTimeout: 1000 });
      return {
        server,
        async close() {
          await server.close({ timeout: 1 });
          await bus.close();
        },
      };
    };
    const first = await instance();
    try {
      const a1 = await client(first.server);
      await joined(first.server, 1);
      for (let i = 1; i <= 100; i += 1) {
        a1.send(`old-${i}`);
      }
      await waitUntil(() => b1.lines.includes('old-100'), 'the first life across instances');
      a1.destroy();
    } finally {
      await first.close();
    }
    const second = await instance();
    try {
      const a1 = await client(second.server);
      await joined(second.server, 1);
      // Sender 1 of origin fixed-id again, numbered from 1.
      a1.send('new-1');
      a1.send('new-2');
      await waitUntil(() => b1.lines.includes('new-2'), 'the restarted instance across instances');
      expect(linesFrom(b1.lines, 'new-')).toEqual(['new-1', 'new-2']);
      expect(linesFrom(b1.lines, 'old-')).toHaveLength(100);
    } finally {
      await second.close();
    }
  });

  it('a client on A and a client on B chat: every line once, per-sender order kept, no echo', async () => {
    const nats = await startNats(children);
    const serverA = await chatServer(nats.url, { metrics: '127.0.0.1:0' });
    // B relays chat on the main thread of the threads model.
    const serverB = await chatServer(nats.url, { dispatch: 'threads', workers: 1 });
    expect(serverA.bus?.state).toBe('connected');
    expect(serverA.bus?.instanceId).not.toBe(serverB.bus?.instanceId);
    const a1 = await client(serverA);
    const a2 = await client(serverA);
    const b1 = await client(serverB);
    await joined(serverA, 2);
    await joined(serverB, 1);

    const count = 200;
    // Interleaved senders on both instances; a2 only listens.
    for (let i = 1; i <= count; i += 1) {
      a1.send(`a1-${i}`);
      b1.send(`b1-${i}`);
    }
    a1.send('a1-end');
    b1.send('b1-end');
    // Each sender's end marker arrives after all its earlier lines (per-sender order),
    // so once the markers are in, any duplicate would already be visible.
    await waitUntil(
      () =>
        a1.lines.includes('b1-end') &&
        a2.lines.includes('a1-end') &&
        a2.lines.includes('b1-end') &&
        b1.lines.includes('a1-end'),
      'end markers on every client',
    );
    const expected = (name: string): string[] => [
      ...Array.from({ length: count }, (_, i) => `${name}-${i + 1}`),
      `${name}-end`,
    ];
    expect(linesFrom(a1.lines, 'b1-')).toEqual(expected('b1'));
    expect(linesFrom(a1.lines, 'a1-')).toEqual([]); // no echo to the sender
    expect(linesFrom(b1.lines, 'a1-')).toEqual(expected('a1'));
    expect(linesFrom(b1.lines, 'b1-')).toEqual([]);
    expect(linesFrom(a2.lines, 'a1-')).toEqual(expected('a1'));
    expect(linesFrom(a2.lines, 'b1-')).toEqual(expected('b1'));
    expect(a2.lines).toHaveLength(2 * (count + 1));
    expect(serverA.bus?.dropped).toBe(0);
    expect(serverB.bus?.published).toBe(count + 1);
    const scrape = await (await fetch(serverA.metricsUrl ?? '')).text();
    expect(scrape).toContain('switchboard_bus_state{state="connected"} 1');
    expect(scrape).toContain(`switchboard_bus_messages_total{outcome="delivered"} ${count + 1}`);
    expect(scrape).toContain('switchboard_bus_messages_total{outcome="gap"} 0');
  });

  it('nats-server restarted mid-traffic: local chat keeps working, both reconnect, chat spans again', async () => {
    const nats = await startNats(children);
    const states: BusStatusMessage[] = [];
    const unsubscribe = diagnosticChannels.busStatus.subscribe((message) => states.push(message));
    try {
      const serverA = await chatServer(nats.url);
      const serverB = await chatServer(nats.url);
      const a1 = await client(serverA);
      const a2 = await client(serverA);
      const b1 = await client(serverB);
      await joined(serverA, 2);
      await joined(serverB, 1);

      for (let i = 1; i <= 20; i += 1) {
        a1.send(`pre-${i}`);
      }
      await waitUntil(() => b1.lines.includes('pre-20'), 'pre traffic across instances');

      await nats.child.kill(); // a crash, not a graceful shutdown
      await waitForBusState([serverA, serverB], 'reconnecting');
      for (let i = 1; i <= 20; i += 1) {
        a1.send(`during-${i}`);
      }
      // Local delivery never waits for the bus.
      await waitUntil(() => a2.lines.includes('during-20'), 'local chat while the bus is down');
      expect(linesFrom(a2.lines, 'during-')).toHaveLength(20);
      await waitUntil(() => serverA.bus?.pendingMessages === 20, 'the outage lines pending on A');

      await startNats(children, { port: nats.port });
      await waitForBusState([serverA, serverB], 'connected', 10_000);
      expect(serverA.bus?.reconnects).toBe(1);
      expect(serverA.bus?.pendingMessages).toBe(0);

      for (let i = 1; i <= 20; i += 1) {
        a1.send(`post-${i}`);
        b1.send(`bpost-${i}`);
      }
      await waitUntil(
        () => b1.lines.includes('post-20') && a2.lines.includes('bpost-20'),
        'post traffic across instances',
      );
      expect(linesFrom(a2.lines, 'bpost-')).toHaveLength(20);
      expect(linesFrom(b1.lines, 'post-')).toEqual(
        Array.from({ length: 20 }, (_, i) => `post-${i + 1}`),
      );
      // The outage lines were replayed on reconnect: at most once and in order at B
      // (core NATS may lose them if A replays before B has re-subscribed).
      const during = linesFrom(b1.lines, 'during-').map((line) => Number(line.slice(7)));
      expect(during).toEqual([...new Set(during)].sort((x, y) => x - y));
      // Everything a1 sent arrives at B in the order sent.
      const order = b1.lines.filter((line) => /^(pre|during|post)-/.test(line));
      expect(order.indexOf('pre-20')).toBeLessThan(order.indexOf('post-1'));

      const seenA = states.filter((message) => message.instanceId === serverA.bus?.instanceId);
      expect(seenA.map((message) => message.state)).toEqual([
        'connected',
        'reconnecting',
        'connected',
      ]);
    } finally {
      unsubscribe();
    }
  });

  it('keeps at most maxPendingBytes while reconnecting, drops the rest, and closes while down', async () => {
    const nats = await startNats(children);
    const bus = await connectNatsBus({ servers: nats.url, maxPendingBytes: 250 });
    try {
      await nats.child.kill();
      await waitUntil(() => bus.status.state === 'reconnecting', 'the bus to notice the loss');
      const message = { origin: bus.instanceId, sender: '1', payload: new Uint8Array(100) };
      bus.publish('lobby', { ...message, seq: 1 }); // 100 B + 96 B overhead: kept
      bus.publish('lobby', { ...message, seq: 2 }); // would pass 250 B: dropped
      bus.publish('lobby', { ...message, seq: 3 });
      expect(bus.status).toMatchObject({ pendingMessages: 1, pendingBytes: 196, dropped: 2 });
    } finally {
      await bus.close();
    }
    expect(bus.status).toMatchObject({ state: 'disconnected', pendingMessages: 0, dropped: 3 });
    bus.publish('lobby', { origin: 'x', sender: '1', seq: 4, payload: new Uint8Array(1) });
    expect(bus.status.dropped).toBe(4);
  });

  it('fails the first connection with a stable code when no nats-server listens', async () => {
    await expect(
      connectNatsBus({ servers: 'nats://127.0.0.1:1', connectTimeout: 500 }),
    ).rejects.toMatchObject({
      code: expect.stringMatching(/SB_CONNECTION_REFUSED|SB_CONNECT_TIMEOUT/),
    });
  });
});
