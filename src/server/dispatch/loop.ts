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
import type { Channel } from '../../net/channel.js';
import type { ConnectionSet } from '../connection.js';
import { type ConnectionBody, type ConnectionInfo, markInputFirst } from '../connection-handler.js';
import { type BuiltinHandlerName, type ChatMember, ChatRoom, FrameRun } from '../handlers.js';
import type { ProxyPreamble } from '../raw-socket.js';

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
  // One await per batch of queued frames (batches()), not one per frame; and a send is
  // awaited only when its promise is not one already known to be fulfilled. Why that
  // is enough: below the socket's high-water mark send() returns one shared settled
  // promise, so after it was awaited once, the same object needs no await (a settled
  // promise stays settled); a drain wait or a failure is a new promise, awaited, so
  // backpressure and errors work as with `await channel.send()` per frame.
  let fulfilled: Promise<void> | undefined;
  for await (const frames of channel.batches()) {
    for (const frame of frames) {
      const sent = channel.send(frame);
      if (sent !== fulfilled) {
        await sent;
        fulfilled = sent;
      }
    }
  }
});

/** `discard`: frames are read and dropped, a batch per await. Input-first, like echo. */
export const discardBody = markInputFirst(async (channel: Channel): Promise<void> => {
  for await (const frames of channel.batches()) {
    // Reading is the point: it keeps the peer's writes flowing and the idle timer fed.
    frames.length = 0;
  }
});

/**
 * `chat`: each frame goes to every other member of `room`, in order.
 *
 * Fan-out cost (#14, #15): the body takes every frame queued on its channel at once
 * (one `receive()`, then `tryReceive()`), and the room hands that run to each member
 * as one chunk of wire bytes, encoded once and shared: one queued chunk per receiver
 * per run, no promise, closure or observer per message. A member whose queued output
 * passes `maxQueuedOutput` (a client that does not read) is cut at once with
 * `SB_OUTPUT_QUEUE_FULL`; the others are unaffected and lose nothing.
 */
export function chatBody(room: ChatRoom): ConnectionBody {
  return async (channel: Channel) => {
    const member: ChatMember = {
      deliver(frame) {
        member.deliverRun!(new FrameRun([frame]));
      },
      deliverRun(run) {
        let wire: Uint8Array;
        try {
          wire = run.wireFor(channel.framing, (frames) => channel.encodeRun(frames));
        } catch (error) {
          // The framing cannot carry one of the frames (not reachable with the built-in
          // framings, whose encoders write back whatever they decode): end this member
          // with the error rather than lose the frames silently.
          channel.destroy(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        // False when the channel failed or closed (its own serve() reports why), or
        // was just cut for passing maxQueuedOutput.
        channel.writeEncoded(wire, run.frames.length, run.payloadBytes);
      },
    };
    room.join(member);
    try {
      for (;;) {
        const first = await channel.receive();
        if (first === null) {
          return;
        }
        const frames = [first];
        // Only while frames are queued: tryReceive() then never throws, so a failure
        // that arrives behind them cannot make this run's frames go missing.
        while (channel.queuedFrames > 0) {
          frames.push(channel.tryReceive() as Uint8Array);
        }
        room.postRun(member, frames);
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
