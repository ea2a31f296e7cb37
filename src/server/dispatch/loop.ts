/**
 * The dispatch interface, and the `loop` model: every connection is served on
 * the main event loop (the HOWTO's select server; node's event loop is the
 * `select`).
 *
 * Theory of operation
 * -------------------
 * The server's accept path admits a connection (limits, PROXY header) and hands
 * the raw socket to a {@link Dispatcher}. `loop` and `threads` serve it in this
 * process through a {@link ConnectionSet} with a {@link ConnectionBody}: for
 * `loop` the body is the user's handler (or a built-in); for `threads` it is a
 * frame loop that runs each frame in the worker pool. `processes` sends the
 * socket to a worker process instead (processes.ts). Every model resolves
 * `serve()` when the connection has ended, so the accept path can release its
 * admission slot.
 */
import type * as net from 'node:net';
import { InvalidArgumentError } from '../../errors.js';
import type { Channel } from '../../net/channel.js';
import {
  type ConnectionBody,
  type ConnectionInfo,
  type ConnectionSet,
  markInputFirst,
  type ProxyPreamble,
} from '../connection.js';
import { type BuiltinHandlerName, type ChatMember, ChatRoom } from '../handlers.js';

/** The three dispatch models. */
export type DispatchModel = 'loop' | 'threads' | 'processes';

/** Traffic of connections still open. */
export interface LiveTraffic {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Input bytes the connections hold now (the input budget's total). */
  bufferedInput: number;
}

/** What the server's accept path needs from a dispatch model. */
export interface Dispatcher {
  readonly model: DispatchModel;
  /** Connections being served now. */
  readonly connections: number;
  /** Serves an admitted connection; resolves (never rejects) once it has ended. */
  serve(raw: net.Socket, proxy: ProxyPreamble | null): Promise<void>;
  /**
   * Optional form of {@link Dispatcher.serve} without a promise per connection (memory
   * per idle connection, #8): calls `onEnded(tag)` once the connection has ended.
   */
  serveWith?(
    raw: net.Socket,
    proxy: ProxyPreamble | null,
    onEnded: (tag: string) => void,
    tag: string,
  ): void;
  /** Frames and bytes of connections still open. */
  liveTraffic(): LiveTraffic;
  /**
   * Graceful end of every connection: aborts handler signals, waits up to
   * `timeout` ms (0 = no limit), destroys the rest; resolves with how many were destroyed.
   */
  drain(timeout: number): Promise<number>;
  /** Releases the model's resources (worker threads or processes). */
  close(): Promise<void>;
}

/** A dispatcher that serves connections in this process (`loop`, `threads`). */
export class LocalDispatcher implements Dispatcher {
  readonly model: DispatchModel;
  readonly #connections: ConnectionSet;
  readonly #release: () => Promise<void>;
  #nextId = 0;

  constructor(
    model: DispatchModel,
    connections: ConnectionSet,
    release: () => Promise<void> = async () => undefined,
  ) {
    this.model = model;
    this.#connections = connections;
    this.#release = release;
  }

  get connections(): number {
    return this.#connections.size;
  }

  serve(raw: net.Socket, proxy: ProxyPreamble | null): Promise<void> {
    this.#nextId += 1;
    return this.#connections.serve(raw, this.#nextId, proxy);
  }

  serveWith(
    raw: net.Socket,
    proxy: ProxyPreamble | null,
    onEnded: (tag: string) => void,
    tag: string,
  ): void {
    this.#nextId += 1;
    this.#connections.serveWith(raw, this.#nextId, proxy, onEnded, tag);
  }

  liveTraffic(): LiveTraffic {
    return this.#connections.liveStats();
  }

  drain(timeout: number): Promise<number> {
    return this.#connections.drain(timeout);
  }

  close(): Promise<void> {
    return this.#release();
  }
}

/**
 * `echo`: every frame is sent back, in order. Input-first (it does nothing before the
 * first frame), so its connections start dormant: see markInputFirst.
 */
export const echoBody = markInputFirst(async (channel: Channel): Promise<void> => {
  for (;;) {
    const frame = await channel.receive();
    if (frame === null) {
      return;
    }
    await channel.send(frame);
  }
});

/** `discard`: frames are read and dropped. Input-first, like echo. */
export const discardBody = markInputFirst(async (channel: Channel): Promise<void> => {
  while ((await channel.receive()) !== null) {
    // Reading is the point: it keeps the peer's writes flowing and the idle timer fed.
  }
});

/**
 * `chat`: each frame goes to every other member of `room`. A member whose output
 * queue overflows (a client that does not read) fails on its own
 * (`SB_OUTPUT_QUEUE_FULL` / `SB_WRITE_TIMEOUT`); the others are unaffected.
 */
export function chatBody(room: ChatRoom): ConnectionBody {
  return async (channel: Channel) => {
    const member: ChatMember = {
      deliver(frame) {
        channel.send(frame).catch((error: unknown) => {
          // Usually the member's channel failed or closed and its own serve() reports
          // why. A refusal that leaves the channel open (InvalidArgumentError: the
          // framing cannot carry the frame) would lose this frame silently: end the
          // member with it instead, so the loss is reported (#14; not reachable with
          // the built-in framings, whose encoders write back whatever they decode).
          if (error instanceof InvalidArgumentError) {
            channel.destroy(error);
          }
        });
      },
    };
    room.join(member);
    try {
      for (;;) {
        const frame = await channel.receive();
        if (frame === null) {
          return;
        }
        room.post(member, frame);
      }
    } finally {
      room.leave(member);
    }
  };
}

/** The connection body of a built-in handler (`chat` needs the server's room). */
export function builtinBody(name: BuiltinHandlerName, room: ChatRoom): ConnectionBody {
  switch (name) {
    case 'echo':
      return echoBody;
    case 'discard':
      return discardBody;
    case 'chat':
      return chatBody(room);
  }
}

/** A connection handler as users write it. */
export type ConnectionHandler = (channel: Channel, info: ConnectionInfo) => Promise<void> | void;

/** Loads a module whose default export is a {@link ConnectionHandler}. */
export async function loadConnectionHandler(moduleUrl: string): Promise<ConnectionHandler> {
  const loaded = (await import(moduleUrl)) as { default?: unknown };
  if (typeof loaded.default !== 'function') {
    throw new TypeError(`handler module ${moduleUrl} has no default export function`);
  }
  return loaded.default as ConnectionHandler;
}

export { ChatRoom };
