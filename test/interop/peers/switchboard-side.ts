/**
 * The switchboard end of the interop tests, written only with the public API:
 * echo servers, either the switchboard server itself (`createServer` with the
 * built-in `echo` handler) or a hand-written accept loop (a Listener whose
 * connections are wrapped in Channels), and a client that sends messages through
 * a Channel and collects the replies.
 *
 * With `eof` framing a connection carries one message, ended by the sender's
 * shutdown: the server echoes it after the client's EOF, the client sends one
 * message, shuts down its write side and reads the reply until EOF.
 */
import {
  Channel,
  createServer,
  type DispatchModel,
  type ErrorCode,
  type Listener,
  listen,
  openChannel,
} from '../../../src/index.js';

/** Deadline (ms) for every single network call the tests make. */
export const CALL_TIMEOUT = 5_000;

/** A running switchboard echo server. */
export interface EchoServer {
  readonly port: number;
  /** Errors the per-connection echo loops ended with (expected: none). */
  readonly errors: Error[];
  /** Connections accepted so far. */
  connections(): number;
  /** Error codes that ended connections (createServer's metrics; empty for the accept loop). */
  errorCodes(): Partial<Record<ErrorCode, number>>;
  close(): Promise<void>;
}

/** Which switchboard server plays the echo server. */
export type EchoKind = 'createServer' | 'channel-loop';

async function echo(channel: Channel, errors: Error[]): Promise<void> {
  try {
    for (;;) {
      const message = await channel.receive();
      if (message === null) {
        break;
      }
      await channel.send(message, { timeout: CALL_TIMEOUT });
    }
  } catch (error) {
    errors.push(error as Error);
  } finally {
    await channel.close({ timeout: CALL_TIMEOUT });
  }
}

/**
 * Listens on 127.0.0.1 port 0 and echoes every frame back in the same framing:
 * `createServer({ handler: 'echo' })` (default) or a Listener + Channel accept loop.
 */
export async function startEchoServer(
  framing: string,
  kind: EchoKind = 'createServer',
  dispatch: DispatchModel = 'loop',
): Promise<EchoServer> {
  return kind === 'createServer'
    ? startBuiltinEcho(framing, dispatch)
    : startChannelLoopEcho(framing);
}

async function startBuiltinEcho(framing: string, dispatch: DispatchModel): Promise<EchoServer> {
  const server = await createServer({
    listen: '127.0.0.1:0',
    framing,
    handler: 'echo',
    dispatch,
    // One worker is enough to prove the hand-over; it keeps the test light.
    ...(dispatch === 'loop' ? {} : { workers: 1 }),
  });
  const port = Number(/:(\d+)$/.exec(server.address)?.[1]);
  return {
    port,
    errors: [],
    connections: () => server.metrics.connectionsAccepted,
    errorCodes: () => server.metrics.errors,
    close: () => server.close({ timeout: CALL_TIMEOUT }),
  };
}

async function startChannelLoopEcho(framing: string): Promise<EchoServer> {
  const listener: Listener = await listen('127.0.0.1:0');
  const errors: Error[] = [];
  const loops = new Set<Promise<void>>();
  let accepted = 0;
  const acceptLoop = (async () => {
    for await (const socket of listener) {
      accepted += 1;
      const loop = echo(new Channel(socket, { framing }), errors);
      loops.add(loop);
      void loop.finally(() => loops.delete(loop));
    }
  })();
  const port = listener.address.kind === 'tcp' ? listener.address.port : 0;
  return {
    port,
    errors,
    connections: () => accepted,
    errorCodes: () => ({}),
    async close() {
      await listener.close();
      await acceptLoop;
      await Promise.all(loops);
    },
  };
}

/**
 * Connects to 127.0.0.1:`port`, sends `messages` (pipelined), and returns one reply
 * per message (for `eof`: sends the one message, shuts down, returns the reply).
 */
export async function exchange(
  port: number,
  framing: string,
  messages: readonly Uint8Array[],
): Promise<Uint8Array[]> {
  const channel = await openChannel(`127.0.0.1:${port}`, { framing, timeout: CALL_TIMEOUT });
  try {
    for (const message of messages) {
      await channel.send(message, { timeout: CALL_TIMEOUT });
    }
    const replies: Uint8Array[] = [];
    if (framing === 'eof') {
      await channel.shutdown();
      for (
        let reply = await channel.receive({ timeout: CALL_TIMEOUT });
        reply !== null;
        reply = await channel.receive({ timeout: CALL_TIMEOUT })
      ) {
        replies.push(reply);
      }
      return replies;
    }
    for (let index = 0; index < messages.length; index++) {
      const reply = await channel.receive({ timeout: CALL_TIMEOUT });
      if (reply === null) {
        throw new Error(`the peer closed after ${index} of ${messages.length} replies`);
      }
      replies.push(reply);
    }
    return replies;
  } finally {
    await channel.close({ timeout: CALL_TIMEOUT });
  }
}

/** Lowercase hex of each message (for comparing with the peers' JSON output). */
export function toHexList(messages: readonly Uint8Array[]): string[] {
  return messages.map((message) => Buffer.from(message).toString('hex'));
}
