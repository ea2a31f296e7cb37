/**
 * Helpers for the server tests: a manual clock, a seeded PRNG, echo clients, and
 * tracking of servers/sockets so afterEach can close everything.
 */
import * as net from 'node:net';
import { type Channel, type OpenChannelOptions, openChannel } from '../../src/net/channel.js';
import type { Clock } from '../../src/net/clock.js';
import { createServer, type Server, type ServerOptions } from '../../src/server/server.js';
import { seededRandom } from '../../src/testing/seeded-random.js';

/** A clock tests move by hand. Timers fire in due order during {@link ManualClock.advance}. */
export class ManualClock implements Clock {
  #now = 1_000_000;
  #nextHandle = 1;
  readonly #timers = new Map<number, { due: number; callback: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.#nextHandle++;
    this.#timers.set(handle, { due: this.#now + ms, callback });
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers scheduled and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due (bounded loop). */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (let fired = 0; fired < 10_000; fired++) {
      let nextHandle: number | undefined;
      let nextDue = Number.POSITIVE_INFINITY;
      for (const [handle, timer] of this.#timers) {
        if (timer.due <= target && timer.due < nextDue) {
          nextDue = timer.due;
          nextHandle = handle;
        }
      }
      if (nextHandle === undefined) {
        break;
      }
      const timer = this.#timers.get(nextHandle)!;
      this.#timers.delete(nextHandle);
      this.#now = timer.due;
      timer.callback();
    }
    this.#now = target;
  }
}

/** mulberry32: a small seeded PRNG, so random sizes are the same on every run. */
export { seededRandom };

/** Deterministic payloads: `count` messages of random sizes in [0, maxSize], tagged with client and index. */
export function makePayloads(
  random: () => number,
  client: number,
  count: number,
  maxSize: number,
): Uint8Array[] {
  const payloads: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    const size = Math.floor(random() * (maxSize + 1));
    const payload = new Uint8Array(size);
    for (let at = 0; at < size; at++) {
      payload[at] = (client * 31 + index * 7 + at) & 0xff;
    }
    if (size >= 4) {
      new DataView(payload.buffer).setUint16(0, client);
      new DataView(payload.buffer).setUint16(2, index);
    }
    payloads.push(payload);
  }
  return payloads;
}

/** Tracks servers and client sockets/channels for cleanup. */
export class Tracker {
  readonly servers: Server[] = [];
  readonly sockets: net.Socket[] = [];
  readonly channels: Channel[] = [];

  async server(options: ServerOptions): Promise<Server> {
    const server = await createServer(options);
    this.servers.push(server);
    return server;
  }

  async channel(
    address: string,
    framing: string,
    extra: Omit<OpenChannelOptions, 'framing'> = {},
  ): Promise<Channel> {
    const channel = await openChannel(address, { framing, trackLeaks: false, ...extra });
    this.channels.push(channel);
    return channel;
  }

  /** A raw node socket to `address` (`tcp://host:port`). */
  socket(address: string, localAddress?: string): Promise<net.Socket> {
    const { host, port } = hostPort(address);
    const socket = net.connect({
      host,
      port,
      ...(localAddress === undefined ? {} : { localAddress }),
    });
    socket.on('error', () => undefined);
    this.sockets.push(socket);
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
    });
  }

  async cleanup(): Promise<void> {
    for (const channel of this.channels.splice(0)) {
      channel.destroy();
    }
    for (const socket of this.sockets.splice(0)) {
      socket.destroy();
    }
    await Promise.all(this.servers.splice(0).map((server) => server.close({ timeout: 1000 })));
  }
}

/** Host and port of a `tcp://host:port` address. */
export function hostPort(address: string): { host: string; port: number } {
  const match = /^(?:tcp|tls):\/\/\[?([^\]]+)\]?:(\d+)$/.exec(address);
  if (match === null) {
    throw new Error(`not a tcp address: ${address}`);
  }
  return { host: match[1]!, port: Number(match[2]) };
}

/** Collects everything a raw socket receives until it closes. */
export function readAll(socket: net.Socket): Promise<{ data: Buffer; error: Error | null }> {
  const chunks: Buffer[] = [];
  let error: Error | null = null;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', (failure) => {
    error = failure;
  });
  return new Promise((resolve) => {
    socket.once('close', () => resolve({ data: Buffer.concat(chunks), error }));
  });
}

/**
 * One echo client: sends the first payload and waits for its echo (so the
 * connection is surely being served), calls `onReady`, then pipelines the rest
 * and checks every reply arrives once, in order. Returns the number verified.
 */
export async function echoClient(
  channel: Channel,
  payloads: readonly Uint8Array[],
  onReady: () => void = () => undefined,
): Promise<number> {
  const [first, ...rest] = payloads;
  let verified = 0;
  if (first !== undefined) {
    await channel.send(first);
    const reply = await channel.receive();
    expectSame(reply, first, 0);
    verified += 1;
  }
  onReady();
  const sending = (async () => {
    for (const payload of rest) {
      await channel.send(payload);
    }
  })();
  for (let index = 0; index < rest.length; index++) {
    const reply = await channel.receive();
    expectSame(reply, rest[index]!, index + 1);
    verified += 1;
  }
  await sending;
  return verified;
}

function expectSame(reply: Uint8Array | null, expected: Uint8Array, index: number): void {
  if (reply === null) {
    throw new Error(`reply ${index}: connection ended early`);
  }
  if (!Buffer.from(reply).equals(Buffer.from(expected))) {
    throw new Error(
      `reply ${index}: ${reply.byteLength} bytes differ from the ${expected.byteLength} sent`,
    );
  }
}

/** The suite's one bounded poll (test/helpers/until.ts), here for the server tests. */
export { until } from '../helpers/until.js';
