/**
 * Loopback helpers for real-socket tests: every listener, socket, channel and raw
 * server made through a {@link Loopback} is tracked and torn down by `cleanup()`
 * (call it in afterEach), in the spirit of undici's createTrackedServer.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Channel } from '../../src/net/channel.js';
import { type ConnectOptions, connect } from '../../src/net/connect.js';
import { type Listener, type ListenOptions, listen } from '../../src/net/listener.js';
import type { Socket } from '../../src/net/socket.js';

let ipv6Checked: boolean | undefined;

/** True when the host can listen on ::1 (cached). */
export async function hasIpv6Loopback(): Promise<boolean> {
  if (ipv6Checked === undefined) {
    ipv6Checked = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen({ host: '::1', port: 0 }, () => server.close(() => resolve(true)));
    });
  }
  return ipv6Checked;
}

type Closable = Socket | Channel | Listener;

/** Tracks resources of one test. */
export class Loopback {
  private readonly owned: Closable[] = [];
  private readonly rawServers: net.Server[] = [];
  private readonly rawSockets = new Set<net.Socket>();
  private readonly dirs: string[] = [];

  /** Tracks and returns `item`. */
  track<T extends Closable>(item: T): T {
    this.owned.push(item);
    return item;
  }

  /** listen() tracked. */
  async listen(address: string, options?: ListenOptions): Promise<Listener> {
    return this.track(await listen(address, options));
  }

  /** connect() tracked (leak tracking off: tests destroy sockets in cleanup). */
  async connect(address: string, options: ConnectOptions = {}): Promise<Socket> {
    return this.track(await connect(address, { trackLeaks: false, ...options }));
  }

  /** A listener plus one connected client/server socket pair over `address`. */
  async pair(
    address = '127.0.0.1:0',
    options: { listen?: ListenOptions; connect?: ConnectOptions } = {},
  ) {
    const listener = await this.listen(address, { trackLeaks: false, ...options.listen });
    const accepting = listener.accept({ timeout: 5000 });
    const client = await this.connect(listener.url, options.connect);
    const server = this.track(await accepting);
    return { listener, client, server };
  }

  /** A raw node server whose sockets are all destroyed at cleanup; resolves with its port. */
  async rawServer(onConnection: (socket: net.Socket) => void, host = '127.0.0.1'): Promise<number> {
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      this.rawSockets.add(socket);
      socket.on('close', () => this.rawSockets.delete(socket));
      socket.on('error', () => {});
      onConnection(socket);
    });
    this.rawServers.push(server);
    await new Promise<void>((resolve) => server.listen({ host, port: 0 }, resolve));
    return (server.address() as net.AddressInfo).port;
  }

  /** A fresh temp directory for Unix socket paths (removed at cleanup). */
  tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-net-'));
    this.dirs.push(dir);
    return dir;
  }

  /** Destroys everything tracked. */
  async cleanup(): Promise<void> {
    for (const item of this.owned.splice(0).reverse()) {
      if ('accept' in item) {
        await item.close();
      } else {
        item.destroy();
      }
    }
    for (const socket of this.rawSockets) {
      socket.destroy();
    }
    this.rawSockets.clear();
    await Promise.all(
      this.rawServers
        .splice(0)
        .map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
    for (const dir of this.dirs.splice(0)) {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
