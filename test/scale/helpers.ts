/**
 * Helpers for the scale-out tests: a line-framed test client on plain
 * `node:net` (independent of the library under test), polling with a deadline,
 * and the interop availability of nats-server and haproxy.
 */
import * as net from 'node:net';
import { findTool } from '../../deploy/stack.js';
import type { BusState } from '../../src/server/bus.js';
import type { Server } from '../../src/server/server.js';
import { requireTool } from '../helpers/interop.js';

/** nats-server path, or null (the interop rule decides between skip and failure). */
export function natsServerAvailable(): boolean {
  const path = findTool('nats-server') ?? 'nats-server';
  return requireTool('nats-server', [path, '--version']);
}

/** haproxy path, or null (the interop rule decides between skip and failure). */
export function haproxyAvailable(): boolean {
  const path = findTool('haproxy') ?? 'haproxy';
  return requireTool('haproxy', [path, '-v']);
}

/** Polls `condition` every 20 ms until it holds; throws `what` after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until the bus of every server in `servers` is in `state`. */
export async function waitForBusState(
  servers: readonly Server[],
  state: BusState,
  timeoutMs = 5000,
): Promise<void> {
  await waitUntil(
    () => servers.every((server) => server.bus?.state === state),
    `every bus ${state}`,
    timeoutMs,
  );
}

/** A line client: every LF-terminated line received is appended to `lines`. */
export class LineClient {
  readonly socket: net.Socket;
  readonly lines: string[] = [];
  closed = false;
  #partial = '';

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      const parts = (this.#partial + text).split('\n');
      this.#partial = parts.pop() ?? '';
      this.lines.push(...parts);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
    });
  }

  /** Connects to `HOST:PORT` (or `tcp://HOST:PORT`). */
  static async connect(address: string, timeoutMs = 5000): Promise<LineClient> {
    const bare = address.replace(/^tcp:\/\//, '');
    const colon = bare.lastIndexOf(':');
    const socket = net.connect({ host: bare.slice(0, colon), port: Number(bare.slice(colon + 1)) });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${address} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    return new LineClient(socket);
  }

  /** The client's own port (what the server should see as the remote port via PROXY). */
  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  send(line: string): void {
    this.socket.write(`${line}\n`);
  }

  /** Waits until at least `count` lines arrived. */
  async waitForLines(count: number, timeoutMs = 5000): Promise<string[]> {
    await waitUntil(
      () => this.lines.length >= count,
      `${count} lines (have ${this.lines.length})`,
      timeoutMs,
    );
    return this.lines;
  }

  /** Waits until the server has closed the connection. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    await waitUntil(() => this.closed, 'the connection to close', timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** The lines of `lines` that start with `prefix`, in order. */
export function linesFrom(lines: readonly string[], prefix: string): string[] {
  return lines.filter((line) => line.startsWith(prefix));
}
