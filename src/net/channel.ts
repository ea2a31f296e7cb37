/**
 * Channel: a {@link Socket} plus a framing. Messages in, messages out, with every
 * deadline a long-lived connection needs.
 *
 * Theory of operation
 * -------------------
 * A read loop (net/channel-input.ts) runs whenever the socket reports a change: it
 * decodes whole frames into a bounded inbound queue (net/frame-queue.ts, which also
 * holds the waiting readers), so that control traffic and deadlines work while the
 * application is busy, and pauses at `maxQueuedInput` so that a fast peer meets TCP
 * flow control instead of our memory. The channel itself is the facade and the
 * lifecycle: it owns the socket, ties the parts together and wakes waiters after
 * every change (`notify()`).
 *
 * The parts, each its own module: the idle, frame and write deadlines
 * (net/channel-deadlines.ts); the output path, with per-tick write batching, the
 * `maxQueuedOutput` limit and `send()`'s drain wait (net/channel-output.ts, memory from
 * net/batch-arena.ts); the options (net/channel-options.ts); `sbp` mode's session
 * (net/sbp-session.ts); the web streams (net/channel-streams.ts). A failure (a broken
 * frame, a reset, a deadline, an output overflow) destroys the connection; `closed`
 * resolves with the error and every pending or later call rejects with it (sticky).
 *
 * `send()` encodes and queues; it resolves at once while the socket's queue is below its
 * high-water mark and otherwise waits for it to drain (backpressure). Large frames are
 * not copied: do not mutate a payload until `send()` settles.
 *
 * `sbp` mode (framing `'sbp'`, see codec/sbp.ts and docs/PROTOCOL.md): DATA envelopes
 * are the messages; everything else (PING/PONG, `request()` and its RESPONSE or
 * ERROR, incoming REQUESTs for `onRequest`, the heartbeat, CLOSE as an orderly end of
 * input) is the {@link SbpSession}, which only sbp channels have.
 */

import type { InspectOptionsStylized } from 'node:util';
import { checkOptionsObject } from '../arguments.js';
import type { Decoder, Encoder, Framing } from '../codec/types.js';
import { didYouMean } from '../did-you-mean.js';
import {
  ConnectionError,
  InvalidArgumentError,
  type SwitchboardError,
  toSwitchboardError,
} from '../errors.js';
import type { Address } from './address.js';
import { toBytes } from './bytes.js';
import { ChannelDeadlines } from './channel-deadlines.js';
import { ChannelInput, type InputAccount } from './channel-input.js';
import {
  CHANNEL_OPTION_NAMES,
  type ChannelOptionsFor,
  resolveChannelOptions,
  resolveFraming,
  splitOpenChannelOptions,
} from './channel-options.js';
import {
  ChannelOutput,
  COALESCE_LIMIT,
  encodeRun,
  handledRejection,
  type OutputAccount,
} from './channel-output.js';
import { channelReadable, channelWritable } from './channel-streams.js';
import {
  type CallOptions,
  type Clock,
  checkCallOptions,
  checkTimeout,
  type Observable,
} from './clock.js';
import { CONNECT_OPTION_NAMES, type ConnectOptions, connect } from './connect.js';
import { ChannelBatches, ChannelIterator, FrameQueue } from './frame-queue.js';
import { INSPECT, inspectSummary, type NodeInspectFunction } from './inspect.js';
import { type SbpRequestHandler, SbpSession } from './sbp-session.js';
import { afterIo } from './schedule.js';
import type { Socket } from './socket.js';

export type { InputAccount } from './channel-input.js';
export type { ChannelHeartbeatOptions } from './channel-options.js';
export type { OutputAccount } from './channel-output.js';

/** Handles a REQUEST in sbp mode; its result is sent back as the RESPONSE body. */
export type RequestHandler = SbpRequestHandler<Channel>;

/**
 * Options of a {@link Channel}. All times in ms (0 = off), sizes in bytes; each option
 * is documented in net/channel-options.ts.
 */
export interface ChannelOptions<F extends string = string> extends ChannelOptionsFor<Channel, F> {}

/** Options of {@link openChannel}: connect options plus channel options. */
export interface OpenChannelOptions<F extends string = string>
  extends ChannelOptions<F>,
    Omit<ConnectOptions, 'clock' | 'keepAlive' | 'keepAliveInitialDelay'> {}

/**
 * Counters of one channel: messages and their payload bytes (framing headers and, in
 * `sbp` mode, PING/PONG/CLOSE envelopes are not counted).
 */
export interface ChannelStats {
  /** Messages received (in `sbp` mode: DATA, REQUEST, RESPONSE and ERROR envelopes). */
  framesReceived: number;
  /** Messages sent (in `sbp` mode: DATA, REQUEST, RESPONSE and ERROR envelopes). */
  framesSent: number;
  /** Payload bytes of the messages received. */
  bytesReceived: number;
  /** Payload bytes of the messages sent. */
  bytesSent: number;
}

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * A framed, message-oriented connection. Create with {@link openChannel} or
 * `new Channel(socket, { framing })` over an accepted/connected {@link Socket}.
 */
export class Channel implements Observable, AsyncDisposable, AsyncIterable<Uint8Array> {
  /** The underlying socket (addresses, TLS peer certificate, ...). */
  readonly socket: Socket;
  /** The framing in use. */
  readonly framing: Framing;
  /** True when the framing is `sbp` (envelopes, request/response, heartbeats). */
  readonly envelope: boolean;
  /** Counters: frames and payload bytes in each direction. */
  readonly stats: ChannelStats = {
    framesReceived: 0,
    framesSent: 0,
    bytesReceived: 0,
    bytesSent: 0,
  };
  /** Made on first read of {@link closed}: a promise, a reaction and a closure per channel otherwise. */
  private closedPromise: Promise<Error | undefined> | undefined;
  /** Made on first read of {@link readable} / {@link writable}. */
  private readableStream: ReadableStream<Uint8Array> | undefined;
  private writableStream: WritableStream<Uint8Array | string> | undefined;

  private readonly decoder: Decoder;
  private readonly encoder: Encoder;
  private readonly clock: Clock;
  /** Decoded messages not yet received, and the readers waiting for them. */
  private readonly inbound: FrameQueue;
  /** A refill of the inbound queue is scheduled (resumeReading after a frame-count pause). */
  private resumeScheduled = false;
  /** Encoded frames on their way to the socket. */
  private readonly output: ChannelOutput;
  private readonly deadlines: ChannelDeadlines;
  /** The read loop: socket -> decoder -> inbound. */
  private readonly input: ChannelInput;
  /** sbp only: request ids, PING/PONG, heartbeat, CLOSE (undefined for other framings). */
  private readonly session: SbpSession<Channel> | undefined;
  /** Created on first observe() (select, waits with a deadline): most channels never need it. */
  private observers: Set<() => void> | undefined;
  private readonly unobserveSocket: () => void;

  private failure: SwitchboardError | undefined;
  private closing = false;
  /** destroy() without an error: receive() rejects with SB_CONNECTION_CLOSED. */
  private destroyedLocally = false;

  private closePromise: Promise<void> | undefined;
  private shutdownPromise: Promise<void> | undefined;
  /**
   * suspend() was called: the reader was answered as at an end of input, so that the
   * owner can put the idle connection to sleep (see {@link Channel.suspend}).
   */
  private suspended = false;

  /**
   * Wraps a connected socket. The channel owns it from now on.
   * @throws InvalidArgumentError `SB_BAD_OPTION` / `SB_BAD_FRAMING_SPEC` for bad options; heartbeat or
   *   onRequest without `sbp` framing is `SB_BAD_OPTION`.
   */
  constructor(socket: Socket, options: ChannelOptions) {
    if (typeof socket !== 'object' || socket === null || typeof socket.observe !== 'function') {
      throw new InvalidArgumentError('SB_INVALID_ARGUMENT', 'Channel: socket must be a Socket');
    }
    const resolved = resolveChannelOptions<Channel>(options);
    this.socket = socket;
    this.framing = resolved.framing;
    this.envelope = resolved.session !== undefined;
    this.decoder = this.framing.createDecoder();
    this.encoder = this.framing.createEncoder();
    this.clock = resolved.clock;
    this.inbound = new FrameQueue(this, this.clock, resolved.maxQueuedInput);
    this.output = new ChannelOutput(this, socket, resolved.maxQueuedOutput);
    this.deadlines = new ChannelDeadlines(
      this,
      socket,
      this.decoder,
      this.inbound,
      this.output,
      this.clock,
      resolved,
    );
    if (resolved.keepAlive !== undefined) {
      socket.setKeepAlive(resolved.keepAlive, resolved.keepAliveInitialDelay);
    }
    if (resolved.session !== undefined) {
      this.session = new SbpSession<Channel>(this, resolved.session);
    }
    this.input = new ChannelInput(
      this,
      socket,
      this.decoder,
      this.inbound,
      this.deadlines,
      this.session,
      this.stats,
      this.clock,
    );
    // Everything that can throw is done: from here on the channel owns the socket.
    // The one closure a channel keeps (the socket's observer); everything else is a
    // prototype method, and timer callbacks are created when first armed (memory per
    // idle connection).
    this.unobserveSocket = socket.observe(() => this.onSocketChange());
    socket.untrackLeaks();
    this.session?.start();
    this.deadlines.start();
    this.input.pump();
  }

  /** Resolves (never rejects) when the connection is closed: with the error that ended it, or undefined. */
  get closed(): Promise<Error | undefined> {
    if (this.closedPromise === undefined) {
      this.closedPromise = this.socket.closed.then((reason) => this.failure ?? reason);
    }
    return this.closedPromise;
  }

  /**
   * The messages as a web `ReadableStream` (made on first use, then the same one), with
   * backpressure: a message is received only when the stream's reader asks for it.
   * Closes at a clean end of input, errors with the channel's error; `cancel()` closes
   * the channel. Do not also call {@link receive}. See net/channel-streams.ts.
   *
   * @example
   * ```ts
   * import { createServer, openChannel } from 'switchboard';
   *
   * await using server = await createServer({ listen: '127.0.0.1:0', framing: 'line', handler: 'echo' });
   * await using channel = await openChannel(server.address, { framing: 'line' });
   * // Web streams over the channel: `pipeTo(other.writable)` relays at the slower side's pace.
   * const writer = channel.writable.getWriter();
   * await writer.write('hello');
   * writer.releaseLock();
   * const reader = channel.readable.getReader();
   * const { value } = await reader.read();
   * console.log(new TextDecoder().decode(value)); // hello
   * reader.releaseLock();
   * ```
   */
  get readable(): ReadableStream<Uint8Array> {
    if (this.readableStream === undefined) {
      this.readableStream = channelReadable(this);
    }
    return this.readableStream;
  }

  /**
   * A web `WritableStream` of messages (a string is UTF-8; made on first use): each
   * write is {@link send} and waits as it does for a slow peer; `close()` is
   * {@link shutdown}, `abort()` is {@link destroy}.
   */
  get writable(): WritableStream<Uint8Array | string> {
    if (this.writableStream === undefined) {
      this.writableStream = channelWritable(this);
    }
    return this.writableStream;
  }

  /** The peer's address as text (see {@link Socket.remoteAddress}). */
  get remoteAddress(): string {
    return this.socket.remoteAddress;
  }

  /** The peer's address, structured. */
  get remote(): Address | undefined {
    return this.socket.remote;
  }

  /** The error that failed the channel, if any. */
  get error(): SwitchboardError | undefined {
    return this.failure;
  }

  /** Frames received and not yet taken by {@link receive}. */
  get queuedFrames(): number {
    return this.inbound.size;
  }

  /**
   * What `util.inspect(channel)` / `console.log(channel)` show: state, addresses,
   * framing, queued frames and bytes each way, the counters; not the internals.
   */
  [INSPECT](depth: number, options: InspectOptionsStylized, inspect: NodeInspectFunction): string {
    const socket = this.socket;
    const state =
      this.failure !== undefined
        ? 'failed'
        : socket.isClosed
          ? 'closed'
          : this.closing
            ? 'closing'
            : socket.connecting
              ? 'connecting'
              : 'open';
    const summary: Record<string, unknown> = {
      state,
      framing: this.framing.spec,
      local: socket.localAddress,
      remote: socket.remoteAddress,
      queuedFrames: this.inbound.size,
      queuedInputBytes: this.inbound.bytes + socket.bufferedAmount,
      queuedOutputBytes: this.output.unflushed + socket.writableLength,
      stats: { ...this.stats },
    };
    if (this.failure !== undefined) {
      summary.error = this.failure.code;
    }
    return inspectSummary('Channel', summary, depth, options, inspect);
  }

  /**
   * True when {@link receive} would not wait: a message is queued, or it would return
   * `null` (end of input, closing) or throw (the channel failed). Used by `select()`.
   */
  isReadable(): boolean {
    return this.inbound.isReceivable() || this.destroyedLocally;
  }

  /**
   * True when {@link send} would queue without waiting: the channel is open for writing
   * and the socket's output queue is below its high-water mark. Used by `select()`.
   */
  isWritable(): boolean {
    return (
      this.failure === undefined &&
      !this.closing &&
      this.shutdownPromise === undefined &&
      this.socket.isWritable()
    );
  }

  /**
   * @internal Reports this channel's buffered input to `account` from now on: after
   * every pass of the read loop and whenever a frame is taken (the server's
   * `maxBufferedInputTotal`; a cut arrives as `destroy(SB_MEMORY_BUDGET)`).
   */
  setInputAccount(account: InputAccount): void {
    this.input.setAccount(account);
  }

  /**
   * @internal Reports the output this channel holds for its peer (its batch plus the
   * socket's writable buffer) to `account` from now on: after every frame queued and
   * batch flushed, and on every socket event (the server's `maxBufferedOutputTotal`;
   * a cut arrives as `destroy(SB_OUTPUT_BUDGET)`).
   */
  setOutputAccount(account: OutputAccount): void {
    this.output.setAccount(account);
  }

  /** @internal Output bytes held for the peer now: the batch plus node's writable buffer. */
  get heldOutput(): number {
    return this.output.held;
  }

  /**
   * @internal Counts `bytes` (negative: releases them) of frames already received
   * that the owner still holds, e.g. frames handed to the `threads` pool and not yet
   * answered, in this channel's input account.
   */
  holdInput(bytes: number): void {
    this.input.hold(bytes);
  }

  /**
   * Registers `wake`, called whenever the state may have changed (what `select()`
   * waits on); returns the unregistering function. Public because the class
   * implements `Observable` (net/clock.ts).
   */
  observe(wake: () => void): () => void {
    if (this.observers === undefined) {
      this.observers = new Set();
    }
    const observers = this.observers;
    observers.add(wake);
    return () => {
      observers.delete(wake);
    };
  }

  private notify(): void {
    this.output.settleDrain();
    this.inbound.wake();
    if (this.observers !== undefined) {
      for (const wake of this.observers) {
        wake();
      }
    }
  }

  // ---- read side -------------------------------------------------------------------

  private onSocketChange(): void {
    this.input.pump();
    if (this.socket.isClosed) {
      this.cleanup();
    }
  }

  /** @internal The read loop queued frames or ended the input (InputOwner): wake whoever waits. */
  inputChanged(): void {
    this.notify();
  }

  /** @internal True once close() or destroy() began (InputOwner). */
  get isClosing(): boolean {
    return this.closing;
  }

  /** @internal True when select() or a wait with a deadline observes the channel (InputOwner). */
  get observed(): boolean {
    return this.observers !== undefined && this.observers.size > 0;
  }

  /** @internal Output bytes not yet handed to the socket (InputOwner). */
  get unflushedOutput(): number {
    return this.output.unflushed;
  }

  /** @internal The inbound queue drained to half its limit: read again (FrameQueueOwner). */
  resumeReading(): void {
    // A queue that paused on its frame count (thousands of tiny frames) is refilled from
    // setImmediate, not at once: the take that drained it is one of a run of thousands
    // in one microtask chain (a handler reading queued frames back to back), and reading
    // on from inside it let one peer's stream of empty frames (1 MiB: a million) keep
    // the event loop from every other connection, timer and accept for ~0.5 s. A byte
    // pause (large frames) resumes at once: a hop per frame would cost throughput.
    if (!this.inbound.pausedOnCount) {
      this.input.pump();
      return;
    }
    if (this.resumeScheduled) {
      return;
    }
    this.resumeScheduled = true;
    afterIo(() => {
      this.resumeScheduled = false;
      this.input.pump();
    });
  }

  /** @internal Frames were taken: tell the input account (FrameQueueOwner). */
  reportInput(): void {
    this.input.reportInput();
  }

  /**
   * @internal True when a reader of the empty inbound queue would not wait: the channel
   * failed or was destroyed, is closing or suspended, or its input ended (FrameQueueOwner).
   */
  readingOver(): boolean {
    return this.failure !== undefined || this.input.done || this.closing || this.suspended;
  }

  /** @internal What a reader meets once {@link readingOver}: the error to throw, or null (FrameQueueOwner). */
  readEnd(): Error | null {
    if (this.failure !== undefined) {
      return this.failure;
    }
    if (this.destroyedLocally) {
      return new ConnectionError('SB_CONNECTION_CLOSED', 'the channel was destroyed');
    }
    return null;
  }

  /** @internal A reader started waiting (FrameQueueOwner; only while endInputWhenIdle is on). */
  readerWaits(): void {
    this.input.readerWaits();
  }

  /**
   * Receives the next message. Resolves `null` at a clean end of input (the peer shut
   * down between frames, or sent CLOSE in sbp mode).
   * @throws UnexpectedEofError `SB_UNEXPECTED_EOF` if the peer shut down mid-frame.
   * @throws FrameError (e.g. `SB_FRAME_TOO_LARGE`, `SB_BAD_ENVELOPE`) if the peer broke the framing.
   * @throws TimeoutError `SB_TIMEOUT` when `timeout` passes (the channel stays usable);
   *   `SB_IDLE_TIMEOUT`, `SB_FRAME_TIMEOUT`, `SB_WRITE_TIMEOUT`, `SB_PEER_UNRESPONSIVE` when a
   *   channel deadline failed the connection.
   * @throws ConnectionError `SB_CONNECTION_RESET` etc. if the connection broke, `SB_ABORTED` on abort,
   *   `SB_CONNECTION_CLOSED` after close()/destroy(); `SB_OUTPUT_QUEUE_FULL` if output overflowed.
   */
  receive(options?: CallOptions): Promise<Uint8Array | null> {
    return this.inbound.receive(options);
  }

  /**
   * The next queued message, synchronously: never waits and never reads from the
   * socket itself (the read loop runs on its own, see the module comment). Returns
   * `undefined` when no message is queued yet (wait with {@link receive}, `select()` or
   * {@link batches}), and `null` at a clean end of input or after {@link close}, as
   * {@link receive} resolves `null`. Messages queued before a failure are returned
   * first, as {@link receive} does; then the error is thrown, every time (sticky).
   * Mixes freely with {@link receive}, `for await` and {@link batches}: each message is
   * taken by exactly one of them, in order.
   * @throws as {@link receive} (the channel's error; `SB_CONNECTION_CLOSED` after `destroy()`),
   *   except `SB_TIMEOUT` and `SB_ABORTED`, which need a wait.
   *
   * @example
   * ```ts
   * import { createServer, openChannel } from 'switchboard';
   *
   * await using server = await createServer({ listen: '127.0.0.1:0', framing: 'line', handler: 'echo' });
   * await using channel = await openChannel(server.address, { framing: 'line' });
   * await channel.send('one');
   * await channel.send('two');
   * const first = await channel.receive(); // waits for the echo
   * // Whatever else already arrived is taken without a promise or an await per message.
   * const lines = [new TextDecoder().decode(first ?? new Uint8Array())];
   * while (lines.length < 2) {
   *   const next = channel.tryReceive();
   *   if (next === undefined) {
   *     lines.push(new TextDecoder().decode((await channel.receive()) ?? new Uint8Array()));
   *   } else if (next !== null) {
   *     lines.push(new TextDecoder().decode(next));
   *   } else {
   *     break; // clean end of input
   *   }
   * }
   * console.log(lines.join(' ')); // one two
   * ```
   */
  tryReceive(): Uint8Array | null | undefined {
    return this.inbound.tryReceive();
  }

  /**
   * The messages in batches: `for await (const frames of channel.batches())` yields
   * every message queued at that moment as one array (never empty), oldest first, and
   * waits only when none is queued. One promise and one `await` per batch instead of
   * per message, which is what a busy reader pays for with `for await` over the channel.
   * Otherwise the same as that loop: it ends at a clean end of input (or after
   * {@link close}, once the queued messages are yielded), and throws as {@link receive}
   * does (queued messages first, then the sticky error). Backpressure is unchanged: the
   * read loop pauses while `maxQueuedInput` bytes are queued and nobody pulls, so a
   * batch holds at most about `maxQueuedInput` bytes (plus one frame); taking a batch
   * empties the queue and restarts reading. `break` leaves the channel open, as with
   * `for await` over the channel. Mixes with {@link receive}, {@link tryReceive} and
   * `for await`: each message goes to exactly one reader, in order.
   *
   * @example
   * ```ts
   * import { createServer, openChannel } from 'switchboard';
   *
   * await using server = await createServer({ listen: '127.0.0.1:0', framing: 'line', handler: 'echo' });
   * await using channel = await openChannel(server.address, { framing: 'line' });
   * for (let i = 0; i < 100; i += 1) {
   *   void channel.send(`message ${i}`); // below the high-water mark: resolves at once
   * }
   * let received = 0;
   * for await (const frames of channel.batches()) {
   *   received += frames.length; // every message that had arrived, in order
   *   if (received === 100) {
   *     break;
   *   }
   * }
   * console.log(received); // 100
   * ```
   */
  batches(): AsyncIterable<Uint8Array[]> {
    return new ChannelBatches(this.inbound);
  }

  /**
   * `for await (const message of channel)`: every message until a clean end of input;
   * throws as {@link receive} does. Hand-written rather than an async generator: one
   * promise per message, no generator machinery in the hot path. That one `await` per
   * message is the language's cost: to read many small messages fast, take every queued
   * one per `await` with {@link batches}, or drain with {@link tryReceive} between awaits.
   */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return new ChannelIterator(this.inbound);
  }

  // ---- write side ------------------------------------------------------------------

  private checkOpen(where: string): void {
    if (this.failure !== undefined) {
      throw this.failure;
    }
    if (this.closing || this.shutdownPromise !== undefined) {
      throw new ConnectionError(
        'SB_CONNECTION_CLOSED',
        `${where}: the channel is closed for writing`,
      );
    }
  }

  /** @internal Queues encoded chunks, enforcing maxQueuedOutput and arming the write timer. */
  queueChunks(chunks: Uint8Array[]): void {
    this.output.queueChunks(chunks);
    this.deadlines.watchWrite();
  }

  /**
   * Sends one message (a string is UTF-8). Resolves once it is queued and the socket's
   * queue is below its high-water mark (backpressure: otherwise waits for drain).
   * The payload is not copied: do not mutate it until the promise settles.
   * `void channel.send(x)` is safe: a rejection nobody awaits is not reported as
   * unhandled (it cannot end the process); the channel keeps the failure, and every
   * later call (receive, send, close) reports it.
   * @throws InvalidArgumentError `SB_PAYLOAD_TOO_LARGE` if the framing cannot carry it (e.g. > maxFrame).
   * @throws ConnectionError `SB_OUTPUT_QUEUE_FULL` (channel failed), `SB_CONNECTION_CLOSED`, or the channel's error.
   * @throws TimeoutError `SB_WRITE_TIMEOUT` if the drain wait passes `timeout` (the channel is destroyed:
   *   the message is partly sent).
   */
  send(message: Uint8Array | string, options?: CallOptions): Promise<void> {
    // Not an async function: the common case returns a shared resolved promise.
    try {
      this.checkOpen('send');
      const payload = toBytes('send', message);
      if (this.session !== undefined) {
        this.output.queueChunks(this.session.encodeData(payload));
      } else if (
        payload.length > COALESCE_LIMIT ||
        !this.output.queueSmall(this.encoder, payload)
      ) {
        this.output.queueChunks(this.encoder.encode(payload));
      }
      this.deadlines.watchWrite();
      this.stats.framesSent += 1;
      this.stats.bytesSent += payload.length;
    } catch (error) {
      return handledRejection(error);
    }
    return this.output.drain(options, this.clock) ?? RESOLVED;
  }

  /**
   * @internal Queues `wire`, the bytes of `frames` whole messages already encoded in
   * this channel's framing (by {@link encodeRun}, possibly for another channel with the
   * same framing), carrying `payloadBytes` payload bytes. For a fan-out relay: one
   * encoding of a run of messages is shared by every receiver, and queuing it creates
   * no promise, closure or observer. A channel whose output would pass
   * `maxQueuedOutput` fails at once with `SB_OUTPUT_QUEUE_FULL` (IRC's "SendQ
   * exceeded"). Returns false, queuing nothing, when the channel is failed or closed
   * for writing. `wire` is not copied when large: do not mutate it afterwards.
   */
  writeEncoded(wire: Uint8Array, frames: number, payloadBytes: number): boolean {
    if (
      this.failure !== undefined ||
      this.closing ||
      this.shutdownPromise !== undefined ||
      this.socket.isClosed ||
      !this.output.queueWire(wire)
    ) {
      return false;
    }
    this.deadlines.watchWrite();
    this.stats.framesSent += frames;
    this.stats.bytesSent += payloadBytes;
    return true;
  }

  /**
   * @internal The wire bytes of `messages` in this channel's framing, in one buffer
   * (sbp: DATA envelopes), for {@link writeEncoded}.
   * @throws InvalidArgumentError as {@link send} does for a message the framing cannot carry.
   */
  encodeRun(messages: readonly Uint8Array[]): Uint8Array {
    const session = this.session;
    const encoder = this.encoder;
    return encodeRun(
      messages,
      session === undefined
        ? (message) => encoder.encode(message)
        : (message) => session.encodeData(message),
    );
  }

  /**
   * sbp only: sends `message` as a REQUEST with a fresh id and resolves with the body of
   * the matching RESPONSE.
   * @throws TimeoutError `SB_TIMEOUT` if no response within `timeout` ms (the channel stays usable;
   *   a late response is ignored).
   * @throws ConnectionError `SB_ABORTED`; `SB_CONNECTION_CLOSED` if the channel closed first; the channel's error.
   * @throws InvalidArgumentError `SB_BAD_OPTION` when the framing is not sbp.
   */
  request(message: Uint8Array | string, options: CallOptions = {}): Promise<Uint8Array> {
    if (this.session === undefined) {
      return Promise.reject(
        new InvalidArgumentError(
          'SB_BAD_OPTION',
          `request() needs framing "sbp", not "${this.framing.spec}"`,
        ),
      );
    }
    let checked: CallOptions;
    try {
      this.checkOpen('request');
      // Checked here: the session read `null.signal` (a TypeError thrown, not a
      // rejection), ignored `timeout: 'soon'`, and a signal that was not one threw
      // after the request was registered, leaving it pending until the channel closed.
      checked = checkCallOptions('request', options) ?? {};
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.input.done) {
      return Promise.reject(
        new ConnectionError('SB_CONNECTION_CLOSED', 'request: the peer closed the channel'),
      );
    }
    try {
      return this.session.request(message, checked);
    } catch (error) {
      // A message that is not bytes or a string: a rejection, as every other failure.
      return Promise.reject(error);
    }
  }

  // ---- shutdown --------------------------------------------------------------------

  private flushThenShutdown(): Promise<void> {
    this.output.flush();
    return this.socket.shutdown('write');
  }

  /** Fails the channel: sticky error, connection destroyed, waiters woken. */
  private fail(error: SwitchboardError): void {
    if (this.failure !== undefined) {
      return;
    }
    this.failure = error;
    this.socket.destroy(error);
    this.cleanup();
    if (this.session !== undefined) {
      this.session.stopAnswering();
      this.session.rejectPending(error);
    }
    this.notify();
  }

  private cleanup(): void {
    this.session?.stopHeartbeat();
    this.input.stopQuietTimer();
    this.deadlines.stop();
    if (this.socket.isClosed) {
      this.input.closeAccount();
      this.output.closeAccount();
      this.unobserveSocket();
      this.session?.rejectPending(
        this.failure ?? new ConnectionError('SB_CONNECTION_CLOSED', 'the channel closed'),
      );
    }
  }

  /**
   * Half-closes: no more messages from us (sbp: a CLOSE envelope first), but receiving
   * continues until the peer's end of input. Idempotent.
   */
  shutdown(): Promise<void> {
    if (this.shutdownPromise === undefined) {
      this.session?.sendClose();
      this.shutdownPromise =
        this.failure === undefined && !this.socket.isClosed
          ? this.flushThenShutdown()
          : Promise.resolve();
    }
    return this.shutdownPromise;
  }

  /**
   * Graceful close, idempotent: stops heartbeats and deadlines, flushes queued output
   * (sbp: after a CLOSE envelope), shuts down the write side, waits for the peer to
   * close (at most `timeout` ms, default `DEFAULTS.closeTimeout`), then destroys.
   * Nothing more is read: `receive()` returns the messages already queued, then `null`.
   * Never rejects.
   */
  close(given: { timeout?: number } = {}): Promise<void> {
    // Checked before the channel starts closing, so a bad option changes nothing.
    const options = checkOptionsObject('close', given) ?? {};
    checkTimeout('close', options.timeout);
    if (this.closePromise === undefined) {
      if (this.shutdownPromise === undefined) {
        this.session?.sendClose(); // (shutdown() sent it already otherwise)
      }
      this.closing = true;
      this.deadlines.stopReading();
      if (this.session !== undefined) {
        this.session.stopHeartbeat();
        this.session.stopAnswering();
        this.session.rejectPending(
          new ConnectionError('SB_CONNECTION_CLOSED', 'the channel was closed before a response'),
        );
      }
      this.notify();
      this.output.flush();
      this.closePromise = this.socket.close(options).then(() => this.cleanup());
    }
    return this.closePromise;
  }

  /**
   * Destroys the connection at once; queued messages are dropped. Pending and later
   * calls reject with `error` (or `SB_CONNECTION_CLOSED`); {@link closed} resolves with it.
   */
  destroy(error?: Error): void {
    if (error === undefined) {
      this.closing = true;
      this.destroyedLocally = true;
      this.inbound.clear();
      this.socket.destroy();
      this.cleanup();
      if (this.session !== undefined) {
        this.session.stopAnswering();
        this.session.rejectPending(
          new ConnectionError('SB_CONNECTION_CLOSED', 'the channel was destroyed'),
        );
      }
      this.notify();
      return;
    }
    this.fail(toSwitchboardError(error));
  }

  /**
   * @internal Ends input at the first idle moment: no message partly received or
   * waiting in the queue, no output queued, a reader waiting for the next message, and
   * no traffic either way for `quiet` ms (counted from this call). Then `receive()`
   * returns `null` as at a clean end of input (what the peer sends later is not read);
   * sending still works. The server's graceful close uses it (#14): an idle connection
   * ends after `quiet` ms instead of the close timeout; a busy one as soon as it is idle.
   * `quiet` is there because a peer's next message may be on its way: a client that keeps
   * talking is busy, one that has said nothing for `quiet` ms is taken to be done.
   */
  endInputWhenIdle(quiet: number): void {
    this.inbound.watchesReaders = true;
    this.input.endWhenIdle(quiet);
  }

  // ---- sleeping (a server's idle connection drops its Channel) ----------------------

  /**
   * @internal True when the connection is idle with nothing anywhere: one reader parked
   * without a deadline, no frame queued or partly received, no input buffered in the
   * Socket, no output queued or unflushed, no bytes held by the owner, and nothing that
   * needs this Channel while the peer is silent (a heartbeat, an onRequest handler, a
   * pending request, a close or shutdown under way, endInputWhenIdle, select() or stream
   * observers, a `closed` promise). Then {@link suspend} loses nothing. O(1).
   */
  canSuspend(): boolean {
    return (
      this.inbound.hasParkedReader &&
      !this.inbound.hasSignalWaiters &&
      (this.observers === undefined || this.observers.size === 0) &&
      this.isIdleAndEmpty()
    );
  }

  /** The state conditions of {@link canSuspend} and {@link canDetach}, reader aside. */
  private isIdleAndEmpty(): boolean {
    const socket = this.socket;
    return (
      this.inbound.size === 0 &&
      this.failure === undefined &&
      !this.input.done &&
      !this.closing &&
      !this.input.endsWhenIdle &&
      this.shutdownPromise === undefined &&
      this.closePromise === undefined &&
      this.closedPromise === undefined &&
      this.readableStream === undefined &&
      this.writableStream === undefined &&
      (this.session === undefined || this.session.isQuiet()) &&
      this.input.held === 0 &&
      !this.input.yielding &&
      !this.inbound.paused &&
      this.decoder.buffered === 0 &&
      !this.decoder.inFrame &&
      !this.output.pending &&
      socket.bufferedAmount === 0 &&
      socket.writableLength === 0 &&
      !socket.eof &&
      socket.error === undefined &&
      !socket.isClosed
    );
  }

  /**
   * @internal Answers the parked reader as at a clean end of input (`null`, or the end
   * of `for await` / {@link batches}), and every later read the same way until
   * {@link resume}, without ending anything: the read loop keeps running, so whatever
   * arrives meanwhile is queued as usual. The server's input-first bodies return on it;
   * then the owner either {@link detach}es the idle connection or, if anything arrived,
   * resumes and runs the body again.
   */
  suspend(): void {
    this.suspended = true;
    this.notify();
  }

  /** @internal Undoes {@link suspend}: reads wait (or take what was queued meanwhile) again. */
  resume(): void {
    this.suspended = false;
  }

  /**
   * @internal After {@link suspend}, with no reader left: true when nothing arrived or
   * was queued meanwhile and the connection is still open, so {@link detach} loses nothing.
   */
  canDetach(): boolean {
    return (
      this.suspended &&
      !this.inbound.hasParkedReader &&
      !this.inbound.hasSignalWaiters &&
      (this.observers === undefined || this.observers.size === 0) &&
      this.isIdleAndEmpty()
    );
  }

  /**
   * @internal The clock time (this channel's clock, ms) at which the idle deadline falls
   * given the traffic so far: the last byte received or written to the kernel plus
   * `idleTimeout`; 0 when the idle timeout is off.
   */
  idleDeadline(): number {
    return this.deadlines.idleDeadline();
  }

  /**
   * @internal Lets go of the connection without closing it (only after {@link canDetach}):
   * timers are cancelled, the input account closed (its bytes, 0, leave the budget), the
   * Socket gives the transport back ({@link Socket.release}), and the channel is inert:
   * later calls fail with `SB_CONNECTION_CLOSED` and touch no transport.
   */
  detach(): void {
    this.session?.stopHeartbeat();
    this.deadlines.stop();
    this.input.stopQuietTimer();
    this.input.dropAccount();
    this.output.closeAccount();
    this.output.discard();
    this.unobserveSocket();
    this.socket.release();
    this.closing = true;
    this.destroyedLocally = true;
  }

  /** `await using channel = await openChannel(...)` closes it gracefully. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Refuses an option openChannel does not take, naming openChannel and guessing among
 * the Channel's and connect()'s options alike: an unknown name used to reach connect(),
 * which said `connect: unknown option "idleTimout"` with no guess, since connect() knows
 * only its own names and the caller never called connect.
 */
function checkOpenChannelOptionNames(options: object): void {
  const known: readonly string[] = [...CHANNEL_OPTION_NAMES, ...CONNECT_OPTION_NAMES];
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      const guess = didYouMean(name, known);
      throw new InvalidArgumentError(
        'SB_BAD_OPTION',
        `openChannel: unknown option "${name}"${guess === undefined ? '' : ` (did you mean "${guess}"?)`}`,
      );
    }
  }
}

/**
 * Connects and wraps the socket in a {@link Channel}: `connect(address, options)` then
 * `new Channel(socket, options)`.
 * @throws as {@link connect} (e.g. `SB_CONNECTION_REFUSED`, `SB_CONNECT_TIMEOUT`, `SB_TLS_ERROR`) and
 *   as the Channel constructor (`SB_BAD_OPTION`, `SB_BAD_FRAMING_SPEC`).
 */
export async function openChannel<F extends string = string>(
  address: string | Address,
  options: OpenChannelOptions<F>,
): Promise<Channel> {
  // Validate the framing before opening a connection.
  resolveFraming(options?.framing, options?.maxFrame, 'openChannel');
  checkOpenChannelOptionNames(options);
  const split = splitOpenChannelOptions<Channel>(options);
  const socket = await connect(address, split.connect);
  try {
    return new Channel(socket, split.channel);
  } catch (error) {
    socket.destroy();
    throw error;
  }
}
