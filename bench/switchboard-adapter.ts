/**
 * How the benchmarks drive switchboard: the one place that knows the Channel and
 * server APIs, so scenario files stay about measuring. Everything is imported lazily,
 * so a missing or broken area turns into a note row rather than a failed run.
 */
import type net from 'node:net';

import { type Library, loadLibrary, NotAvailableError } from './library.js';

export { NotAvailableError };

type NetApi = Library;

async function loadNet(): Promise<NetApi> {
  const api: Partial<NetApi> = await loadLibrary();
  if (typeof api.Channel !== 'function' || typeof api.Socket !== 'function') {
    throw new NotAvailableError('switchboard Channel (src/net) is not exported by src/index.ts');
  }
  return api as NetApi;
}

/** The framing every u32be subject uses; frames up to 64 MiB for the 1 MiB rows. */
const FRAMING = { framing: 'length:u32be', maxFrame: 64 * 1024 * 1024 } as const;

/** Receives u32be-framed messages on an accepted socket through a switchboard Channel. */
export async function switchboardReceiver(
  socket: net.Socket,
  onFrame: (length: number) => void,
): Promise<void> {
  const { Channel, Socket } = await loadNet();
  const channel = new Channel(Socket.from(socket), { ...FRAMING, maxQueuedInput: 4 * 1024 * 1024 });
  for await (const frame of channel) {
    onFrame(frame.length);
  }
}

/**
 * Receives u32be-framed messages through `channel.batches()`: every frame queued at the
 * moment, one `await` per batch instead of one per frame.
 */
export async function switchboardBatchReceiver(
  socket: net.Socket,
  onFrame: (length: number) => void,
): Promise<void> {
  const { Channel, Socket } = await loadNet();
  const channel = new Channel(Socket.from(socket), { ...FRAMING, maxQueuedInput: 4 * 1024 * 1024 });
  for await (const frames of channel.batches()) {
    for (const frame of frames) {
      onFrame(frame.length);
    }
  }
}

/** Sends `payload` as u32be frames through a switchboard Channel until the peer goes. */
export async function switchboardSender(socket: net.Socket, payload: Buffer): Promise<void> {
  const { Channel, Socket } = await loadNet();
  const channel = new Channel(Socket.from(socket), FRAMING);
  for (;;) {
    await channel.send(payload);
  }
}

/** Starts a switchboard u32be echo server (listen + Channel) in this process; resolves with its port. */
export async function switchboardEchoServer(): Promise<number> {
  const { Channel, listen } = await loadNet();
  const listener = await listen('127.0.0.1:0');
  const serve = async (): Promise<void> => {
    for (;;) {
      const socket = await listener.accept();
      const channel = new Channel(socket, FRAMING);
      void (async () => {
        try {
          for await (const message of channel) {
            await channel.send(message);
          }
        } catch {
          // The client went away: nothing to report in a benchmark.
        }
      })();
    }
  };
  void serve();
  const address = listener.address;
  if (address.kind !== 'tcp') {
    throw new Error('expected a TCP listener');
  }
  return address.port;
}

/** Connects a switchboard Channel; the returned ping sends one frame and awaits its echo. */
export async function switchboardPingClient(
  port: number,
  size: number,
): Promise<() => Promise<void>> {
  const { openChannel } = await loadNet();
  const channel = await openChannel(`127.0.0.1:${port}`, FRAMING);
  const payload = Buffer.alloc(size, 0x61);
  return async () => {
    await channel.send(payload);
    const echo = await channel.receive();
    if (echo === null) {
      throw new Error('the server closed the connection');
    }
  };
}

type ServerApi = Library;

/** Loads the server area; NotAvailableError when `createServer` is not exported. */
async function loadServer(): Promise<ServerApi> {
  const api: Partial<ServerApi> = await loadLibrary();
  if (typeof api.createServer !== 'function') {
    throw new NotAvailableError(
      'switchboard server (createServer in src/server) is not exported by src/index.ts',
    );
  }
  return api as ServerApi;
}

function portOf(address: string): number {
  const port = Number(/:(\d+)$/.exec(address)?.[1]);
  if (!Number.isInteger(port) || port <= 0) {
    throw new Error(`cannot read a port from ${address}`);
  }
  return port;
}

/** Starts a switchboard echo server with the given dispatch model; resolves with its port. */
export async function switchboardDispatchServer(mode: string): Promise<number> {
  const { createServer } = await loadServer();
  if (mode !== 'loop' && mode !== 'threads' && mode !== 'processes') {
    throw new Error(`unknown dispatch model ${mode}`);
  }
  const server = await createServer({
    listen: '127.0.0.1:0',
    framing: 'length:u32be',
    handler: 'echo',
    dispatch: mode,
    backlog: 1024,
  });
  return portOf(server.address);
}

/** Starts a switchboard `chat` server over `line` framing (loop dispatch); resolves with its port. */
export async function switchboardChatServer(): Promise<number> {
  const { createServer } = await loadServer();
  const server = await createServer({
    listen: '127.0.0.1:0',
    framing: 'line',
    handler: 'chat',
    backlog: 1024,
  });
  return portOf(server.address);
}
