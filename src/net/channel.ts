/**
 * Channel: a {@link Socket} plus a framing. Messages in, messages out, with every
 * deadline a long-lived connection needs.
 *
 * Theory of operation
 * -------------------
 * A read loop ("pump") runs whenever the socket reports a change, not when the user
 * calls `receive()`: it moves chunks from the socket into the decoder and whole frames
 * into a bounded inbound queue, so that control traffic (PING/PONG, RESPONSE, CLOSE in
 * `sbp` mode) and the idle/frame deadlines work even while the application is busy.
 * The pump stops when the queue holds `maxQueuedInput` bytes; the socket then fills
 * its own bounded buffer and pauses the kernel socket, so a fast peer meets TCP flow
 * control instead of our memory. `receive()` takes from the queue and restarts the pump.
 *
 * Pump state table (one pass; repeated until it blocks):
 *
 * | state                              | action                                        | next              |
 * | ---------------------------------- | --------------------------------------------- | ----------------- |
 * | failed or input done               | nothing                                       | stop              |
 * | queue >= maxQueuedInput            | pause; receive() resumes at half the limit    | stop              |
 * | decoder has a frame                | queue it (sbp: dispatch control envelopes)    | loop              |
 * | decoder needs data, socket has a   | push chunk, note activity (idle timer)        | loop              |
 * |   chunk                            |                                               |                   |
 * | decoder needs data, socket empty   | note whether a frame is started (frame timer) | stop (wait)       |
 * | socket at EOF                      | decoder.end(): leftover frames are queued;    | input done        |
 * |                                    |   a partial frame is SB_UNEXPECTED_EOF        |                   |
 * | decoder throws FrameError, socket  | fail: destroy the socket with that error      | failed            |
 * |   throws (reset), a deadline fires |                                               |                   |
 *
 * Deadlines use lazy timers (one timer per kind, re-armed only when it fires) and the
 * injected clock, so the hot path does no timer work per frame:
 * - `idleTimeout`: no bytes in either direction for N ms -> `SB_IDLE_TIMEOUT`: inbound
 *   bytes, and output the peer accepted (a write that reached the kernel) both count;
 *   time spent with a full inbound queue, i.e. waiting for our own reader, does not.
 * - `frameTimeout`: a frame started (decoder.inFrame) must complete within N ms ->
 *   `SB_FRAME_TIMEOUT` (slowloris).
 * - `writeTimeout`: queued output made no progress to the kernel for N ms ->
 *   `SB_WRITE_TIMEOUT` (a peer that stopped reading).
 * Each failure destroys the connection; `closed` resolves with the error and every
 * pending or later call rejects with it (sticky).
 *
 * Writes: `send()` encodes and queues. Frames up to 8 KiB are copied into a 16 KiB
 * batch (cut from a shared arena, encoded in place when the encoder has `encodeInto`)
 * that is handed to the socket once per tick (`process.nextTick`, i.e. after the
 * current microtasks) or when full: one system call for many small frames. Batches
 * that follow a full one in the same tick are 64 KiB (a bulk sender). Larger frames are written as header + body in one writev, without copying the payload (do not
 * mutate it until `send()` settles). `send()` resolves at once while the socket's
 * queue is below its high-water mark and otherwise waits for it to drain
 * (backpressure). More than `maxQueuedOutput` queued bytes (a caller that does not
 * await `send`) fails the channel with `SB_OUTPUT_QUEUE_FULL`.
 *
 * `sbp` mode (framing `'sbp'`, see codec/sbp.ts and docs/PROTOCOL.md): DATA envelopes
 * are the messages; everything else (PING/PONG, `request()` and its RESPONSE or
 * ERROR, incoming REQUESTs for `onRequest`, the heartbeat, CLOSE as an orderly end of
 * input) is the {@link SbpSession} of net/sbp-session.ts, which only sbp channels have.
 */
import type { CheckedFramingSpec, FramingSpec } from '../codec/framing-spec.js';
import { parseFraming } from '../codec/spec.js';
import { type Decoder, type Encoder, type Framing, NEED_DATA } from '../codec/types.js';
import {
  ConnectionError,
  InvalidArgumentError,
  type SwitchboardError,
  TimeoutError,
  toSwitchboardError,
} from '../errors.js';
import { DEFAULTS, resolveOptions } from '../options.js';
import type { Address } from './address.js';
import { toBytes } from './bytes.js';
import { channelReadable, channelWritable } from './channel-streams.js';
import { type CallOptions, type Clock, type Observable, systemClock, waitUntil } from './clock.js';
import { type ConnectOptions, connect } from './connect.js';
import { idleTimeoutError } from './idle-timeout.js';
import { type SbpRequestHandler, SbpSession } from './sbp-session.js';
import type { Socket } from './socket.js';

/**
 * @internal A share of a server-wide input budget (implemented by
 * server/input-budget.ts; declared here so that net/ does not import server/).
 */
export interface InputAccount {
  /** The channel now holds `held` input bytes. */
  update(held: number): void;
  /** The channel reads no more; its bytes leave the budget. Idempotent. */
  close(): void;
}

/** Heartbeat settings of a Channel (sbp mode only). */
export interface ChannelHeartbeatOptions {
  /** Ms between pings. Default `DEFAULTS.heartbeatInterval` (15 s). */
  interval?: number;
  /** Unanswered pings before `SB_PEER_UNRESPONSIVE`. Default `DEFAULTS.heartbeatMaxOutstanding` (2). */
  maxOutstanding?: number;
}

/** Handles a REQUEST in sbp mode; its result is sent back as the RESPONSE body. */
export type RequestHandler = SbpRequestHandler<Channel>;

/** Options of a {@link Channel}. All times in ms (0 = off), sizes in bytes. */
export interface ChannelOptions<F extends string = string> {
  /**
   * The framing: a spec string (`'line'`, `'length:u32be'`, `'sbp'`, ...) or a Framing.
   * Required. Through {@link openChannel} a literal spec is type-checked
   * ({@link FramingSpec}); a computed `string` is checked at run time.
   */
  framing: CheckedFramingSpec<F> | Framing;
  /** Largest frame, when `framing` is a string. Default: the framing's own (8 MiB; line/delim 64 KiB). */
  maxFrame?: number;
  /** No inbound bytes for this long -> `SB_IDLE_TIMEOUT`. Default `DEFAULTS.clientIdleTimeout` (0 = off). */
  idleTimeout?: number;
  /** A started frame must complete within this -> `SB_FRAME_TIMEOUT`. Default `DEFAULTS.clientFrameTimeout` (0 = off). */
  frameTimeout?: number;
  /** Queued output must make progress within this -> `SB_WRITE_TIMEOUT`. Default `DEFAULTS.writeTimeout` (30 s). */
  writeTimeout?: number;
  /** Bytes of output queued before `SB_OUTPUT_QUEUE_FULL`. Default `DEFAULTS.maxQueuedOutput` (16 MiB). */
  maxQueuedOutput?: number;
  /** Bytes of decoded frames held for `receive()` before reading pauses. Default `DEFAULTS.readBufferLimit` (1 MiB). */
  maxQueuedInput?: number;
  /** TCP keepalive on the socket (when given). Connect-time default: `DEFAULTS.keepAlive`. */
  keepAlive?: boolean;
  /** TCP keepalive initial delay, ms. Default `DEFAULTS.keepAliveInitialDelay`. */
  keepAliveInitialDelay?: number;
  /** sbp only: ping the peer; `true` = default interval and maxOutstanding. Default off. */
  heartbeat?: boolean | ChannelHeartbeatOptions;
  /**
   * sbp only: answers incoming REQUESTs. Without it a REQUEST fails the channel
   * (`SB_BAD_ENVELOPE`). A handler that throws, rejects, returns something other than
   * bytes or a string, or misses `requestTimeout`, is answered with an ERROR envelope
   * (the requester's `request()` rejects with `SB_REQUEST_FAILED`); the channel stays up.
   */
  onRequest?: RequestHandler;
  /**
   * sbp only: an `onRequest` handler must answer within this, ms, or the requester gets
   * an ERROR (`SB_HANDLER_TIMEOUT`; a late answer is dropped). Default
   * `DEFAULTS.requestTimeout` (30 s). 0 = no deadline.
   */
  requestTimeout?: number;
  /**
   * sbp only: REQUESTs whose handler is still running; one more is answered with an ERROR
   * (`SB_TOO_MANY_REQUESTS`) without running it. Default `DEFAULTS.maxPendingRequests` (64).
   */
  maxPendingRequests?: number;
  /**
   * sbp only: told of each request the channel answered with an ERROR (the handler's
   * failure, as `SB_HANDLER_ERROR` with the thrown error as `cause`, `SB_HANDLER_TIMEOUT`
   * or `SB_TOO_MANY_REQUESTS`). Must not throw. Default: none.
   */
  onRequestError?: (error: SwitchboardError) => void;
  /** Timer source. Default: the global timers (so `vi.useFakeTimers()` works). */
  clock?: Clock;
}

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

const CHANNEL_SCHEMA = {
  maxFrame: { kind: 'bytes', default: undefined as number | undefined },
  idleTimeout: { kind: 'ms', default: DEFAULTS.clientIdleTimeout as number },
  frameTimeout: { kind: 'ms', default: DEFAULTS.clientFrameTimeout as number },
  writeTimeout: { kind: 'ms', default: DEFAULTS.writeTimeout as number },
  maxQueuedOutput: { kind: 'bytes', default: DEFAULTS.maxQueuedOutput as number, min: 1 },
  maxQueuedInput: { kind: 'bytes', default: DEFAULTS.readBufferLimit as number, min: 1 },
  keepAlive: { kind: 'boolean', default: undefined as boolean | undefined },
  keepAliveInitialDelay: { kind: 'ms', default: DEFAULTS.keepAliveInitialDelay as number },
  requestTimeout: { kind: 'ms', default: DEFAULTS.requestTimeout as number },
  maxPendingRequests: { kind: 'count', default: DEFAULTS.maxPendingRequests as number, min: 1 },
} as const;

/** Frames up to this size (bytes) are copied into a batch buffer before writing. */
const COALESCE_LIMIT = 8 * 1024;
/** Room reserved for a batch; a full one is written at once. */
const BATCH_SIZE = 16 * 1024;
/** Size of the batches that follow a full one in the same tick (see Channel.newBatch). */
const LARGE_BATCH_SIZE = 64 * 1024;
/** Size of one shared batch arena (see BatchArena). */
const ARENA_SIZE = 64 * 1024;

/**
 * Memory for output batches: a bump allocator shared by every channel (the trick behind
 * `Buffer.allocUnsafe`'s pool, at batch size). Why: a fresh 16 KiB Buffer per flush is a
 * malloc plus an ArrayBuffer for the garbage collector to sweep, and with one small
 * frame per flush (a request/reply exchange) it was the largest single cost of a round
 * trip. A batch reserves BATCH_SIZE bytes; when it is flushed and no batch was reserved
 * after it, the unused tail goes back, so a lone 68-byte reply uses 72 bytes of an
 * arena. Why this shared state is safe: a region is never reused (the socket may hold a
 * written region until the kernel takes it), and an arena is garbage once every region
 * cut from it has been written. A slow peer can pin at most one arena per queued batch.
 */
class BatchArena {
  private memory: Buffer = Buffer.alloc(0);
  private used = 0;

  /** A new batch of BATCH_SIZE bytes. */
  reserve(): Buffer {
    if (this.memory.length - this.used < BATCH_SIZE) {
      // allocUnsafeSlow: an ArrayBuffer of our own, uninitialized (batches are written
      // before they are sent, and only their written part is sent).
      this.memory = Buffer.allocUnsafeSlow(ARENA_SIZE);
      this.used = 0;
    }
    const start = this.used;
    this.used = start + BATCH_SIZE;
    return this.memory.subarray(start, start + BATCH_SIZE);
  }

  /** `batch` is done with its first `length` bytes: the rest returns if it is the newest region. */
  release(batch: Buffer, length: number): void {
    if (batch.buffer === this.memory.buffer && batch.byteOffset + BATCH_SIZE === this.used) {
      // Keep regions 8-byte aligned, as node's pool does.
      this.used = batch.byteOffset + ((length + 7) & ~7);
    }
  }
}

const batchArena = new BatchArena();
/** An emptied inbound queue keeps its array up to this many slots. */
const MAX_KEPT_SLOTS = 64;
const PASS_THROUGH = ['framing', 'heartbeat', 'onRequest', 'onRequestError', 'clock'];

function resolveFraming(
  framing: string | Framing | undefined,
  maxFrame: number | undefined,
): Framing {
  if (framing === undefined) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      'Channel: option "framing" is required (e.g. "line", "length:u32be", "sbp")',
    );
  }
  if (typeof framing !== 'string') {
    return framing;
  }
  const options = maxFrame === undefined ? {} : { maxFrame };
  return parseFraming(framing, options);
}

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
  private readonly idleTimeout: number;
  private readonly frameTimeout: number;
  private readonly writeTimeout: number;
  private readonly maxQueuedOutput: number;
  private readonly maxQueuedInput: number;
  private readonly maxFrame: number;
  /** sbp only: request ids, PING/PONG, heartbeat, CLOSE (undefined for other framings). */
  private readonly session: SbpSession<Channel> | undefined;
  /** Created on first observe() (select, waits with a deadline): most channels never need it. */
  private observers: Set<() => void> | undefined;
  /**
   * The one reader parked without a deadline (fast path), settled by notify(): its
   * promise's resolve and reject, and what it wants (see ReaderMode): the frame
   * (receive()), an IteratorResult (for await) or a batch (batches()). Fields rather
   * than an object: one allocation less per message for a reader that keeps up.
   */
  private parkedResolve: ((value: unknown) => void) | undefined;
  private parkedReject: ((error: Error) => void) | undefined;
  private parkedMode: ReaderMode = READ_FRAME;
  /** Shared by further readers waiting without a deadline; resolved by notify(). */
  private readableSignal: Promise<void> | undefined;
  private resolveReadable: (() => void) | undefined;
  private readonly unobserveSocket: () => void;
  /**
   * The one drain wait shared by every send() without a deadline while the socket is
   * above its high-water mark: settled by notify() once the socket drains (or the
   * channel fails), so a caller that sends without awaiting costs one promise per
   * drain, not a promise and an observer per message (#14).
   */
  private drainSignal: Promise<void> | undefined;
  private resolveDrain: (() => void) | undefined;
  private rejectDrain: ((error: Error) => void) | undefined;

  /**
   * Inbound frames not yet received: `inbound[inboundHead..inboundTail)`, oldest first.
   * Slots from `inboundTail` on are EMPTY: an emptied queue keeps its array (see
   * takeFrame).
   */
  private inbound: Uint8Array[] = [];
  private inboundHead = 0;
  private inboundTail = 0;
  private queuedBytes = 0;
  private inputDone = false;
  /** The pump stopped because the inbound queue is full (restarts at half). */
  private readingPaused = false;
  /** Small frames waiting to be written together (see writeChunks). */
  private outBuffer: Buffer | undefined;
  private outLength = 0;
  private flushScheduled = false;
  private failure: SwitchboardError | undefined;
  private closing = false;
  /** destroy() without an error: receive() rejects with SB_CONNECTION_CLOSED. */
  private destroyedLocally = false;
  private pumping = false;
  private repump = false;
  /**
   * Where the server's input budget learns how many input bytes this channel holds
   * (server/input-budget.ts); undefined for a channel outside a server.
   */
  private inputAccount: InputAccount | undefined;
  /** Input bytes received by this channel that its owner still holds elsewhere (see holdInput). */
  private heldElsewhere = 0;

  /** [checkIdle, checkFrame, checkWrite] as timer callbacks; each created when its deadline is first armed. */
  private timerCallbacks: ((() => void) | undefined)[] = NO_TIMER_CALLBACKS;
  private idleTimer: unknown;
  private lastActivityAt = 0;
  private frameTimer: unknown;
  private frameStartedAt = 0;
  private writeTimer: unknown;
  private writeWatchStartedAt = 0;

  private closePromise: Promise<void> | undefined;
  private shutdownPromise: Promise<void> | undefined;
  /** endInputWhenIdle() was called: input ends at the next idle moment (see there). */
  private endWhenIdle = false;
  /** Its quiet period (ms), the last traffic seen since (clock ms), and its timer. */
  private idleQuiet = 0;
  private quietSince = 0;
  private quietTimer: unknown;
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
    const resolved = resolveOptions('Channel', CHANNEL_SCHEMA, options, {}, PASS_THROUGH);
    this.socket = socket;
    this.framing = resolveFraming(options?.framing, resolved.maxFrame);
    this.envelope = this.framing.spec === 'sbp';
    this.decoder = this.framing.createDecoder();
    this.encoder = this.framing.createEncoder();
    this.maxFrame = this.framing.maxFrame;
    this.clock = options.clock ?? systemClock;
    this.idleTimeout = resolved.idleTimeout;
    this.frameTimeout = resolved.frameTimeout;
    this.writeTimeout = resolved.writeTimeout;
    this.maxQueuedOutput = resolved.maxQueuedOutput;
    this.maxQueuedInput = resolved.maxQueuedInput;
    if (options.onRequest !== undefined && typeof options.onRequest !== 'function') {
      throw new InvalidArgumentError(
        'SB_BAD_OPTION',
        'Channel: option "onRequest" must be a function',
      );
    }
    if (options.onRequestError !== undefined && typeof options.onRequestError !== 'function') {
      throw new InvalidArgumentError(
        'SB_BAD_OPTION',
        'Channel: option "onRequestError" must be a function',
      );
    }
    const heartbeat = options.heartbeat;
    if (
      !this.envelope &&
      (options.onRequest !== undefined || (heartbeat !== undefined && heartbeat !== false))
    ) {
      throw new InvalidArgumentError(
        'SB_BAD_OPTION',
        `Channel: options "heartbeat" and "onRequest" need framing "sbp", not "${this.framing.spec}"`,
      );
    }
    if (resolved.keepAlive !== undefined) {
      socket.setKeepAlive(resolved.keepAlive, resolved.keepAliveInitialDelay);
    }
    if (this.envelope) {
      this.session = new SbpSession<Channel>(this, {
        clock: this.clock,
        maxFrame: this.maxFrame,
        onRequest: options.onRequest,
        onRequestError: options.onRequestError,
        requestTimeout: resolved.requestTimeout,
        maxPendingRequests: resolved.maxPendingRequests,
        heartbeat:
          heartbeat === undefined || heartbeat === false
            ? undefined
            : heartbeat === true
              ? {}
              : heartbeat,
      });
    }
    // Everything that can throw is done: from here on the channel owns the socket.
    // The one closure a channel keeps (the socket's observer); everything else is a
    // prototype method, and timer callbacks are created when first armed (memory per
    // idle connection).
    this.unobserveSocket = socket.observe(() => this.onSocketChange());
    socket.untrackLeaks();
    this.session?.start();
    if (this.idleTimeout > 0) {
      this.lastActivityAt = this.clock.now();
      this.idleTimer = this.clock.setTimeout(this.timerCallback(CHECK_IDLE), this.idleTimeout);
    }
    this.pump();
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
    return this.inboundTail - this.inboundHead;
  }

  /**
   * True when {@link receive} would not wait: a message is queued, or it would return
   * `null` (end of input, closing) or throw (the channel failed). Used by `select()`.
   */
  isReadable(): boolean {
    return this.isReceivable() || this.destroyedLocally;
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
    this.inputAccount = account;
    this.reportInput();
  }

  /**
   * @internal Counts `bytes` (negative: releases them) of frames already received
   * that the owner still holds, e.g. frames handed to the `threads` pool and not yet
   * answered, in this channel's input account.
   */
  holdInput(bytes: number): void {
    this.heldElsewhere += bytes;
    if (this.inputAccount !== undefined) {
      this.reportInput();
    }
  }

  /**
   * Input bytes this channel holds: unread in the socket, in the decoder (the
   * unfinished frame, and the room reserved for it), decoded but not yet received, and held by its owner
   * ({@link holdInput}). O(1).
   */
  private reportInput(): void {
    const account = this.inputAccount!;
    if (this.socket.isClosed) {
      // Nothing more is read; what is left goes with the channel (cleanup closes the account).
      account.close();
      return;
    }
    // `reserved`: the unfilled part of a large frame's buffer (codec/byte-queue.ts) is
    // memory too, at most as much again as the frame's bytes received.
    account.update(
      this.socket.bufferedAmount +
        this.decoder.buffered +
        (this.decoder.reserved ?? 0) +
        this.queuedBytes +
        this.heldElsewhere,
    );
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
    if (this.resolveDrain !== undefined) {
      this.settleDrain();
    }
    if (this.parkedResolve !== undefined && this.isReceivable()) {
      // Resolve the parked reader with its result directly: no wake-up-and-recheck hops.
      this.settleParked();
    }
    const resolveReadable = this.resolveReadable;
    if (resolveReadable !== undefined && this.isReceivable()) {
      this.readableSignal = undefined;
      this.resolveReadable = undefined;
      resolveReadable();
    }
    if (this.observers !== undefined) {
      for (const wake of this.observers) {
        wake();
      }
    }
  }

  // ---- read side -------------------------------------------------------------------

  private onSocketChange(): void {
    this.pump();
    if (this.socket.isClosed) {
      this.cleanup();
    }
  }

  private pump(): void {
    if (this.pumping) {
      this.repump = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.repump = false;
        this.pumpOnce();
      } while (this.repump);
    } finally {
      this.pumping = false;
    }
    if (this.inputAccount !== undefined) {
      this.reportInput();
    }
    if (this.endWhenIdle) {
      this.checkEndWhenIdle();
    }
    this.notify();
  }

  private pumpOnce(): void {
    const decoder = this.decoder;
    if (this.readingPaused) {
      return;
    }
    while (this.failure === undefined && !this.inputDone) {
      if (this.queuedBytes >= this.maxQueuedInput) {
        this.readingPaused = true;
        break;
      }
      let frame: Uint8Array | typeof NEED_DATA;
      try {
        frame = decoder.next();
      } catch (error) {
        this.fail(toSwitchboardError(error));
        return;
      }
      if (frame !== NEED_DATA) {
        this.frameStartedAt = 0;
        this.deliver(frame);
        continue;
      }
      let chunk: Uint8Array | null;
      try {
        chunk = this.socket.readChunk();
      } catch (error) {
        const wrapped = toSwitchboardError(error);
        if (this.closing && wrapped.code === 'SB_CONNECTION_CLOSED') {
          // Our own close()/destroy() ended the socket: not a failure.
          this.inputDone = true;
          return;
        }
        this.fail(wrapped);
        return;
      }
      if (chunk === null) {
        break;
      }
      if (chunk.length === 0) {
        this.finishInput();
        return;
      }
      if (this.idleTimeout > 0) {
        this.lastActivityAt = this.clock.now();
      }
      if (this.endWhenIdle) {
        this.quietSince = this.clock.now();
      }
      decoder.push(chunk);
    }
    if (this.frameTimeout > 0 && this.failure === undefined && !this.inputDone) {
      this.watchFrame();
    }
  }

  /** EOF from the socket: leftover complete frames are delivered, a partial one is an error. */
  private finishInput(): void {
    try {
      this.decoder.end();
      for (;;) {
        const frame = this.decoder.next();
        if (frame === NEED_DATA) {
          break;
        }
        this.deliver(frame);
        if (this.failure !== undefined || this.inputDone) {
          return;
        }
      }
    } catch (error) {
      this.fail(toSwitchboardError(error));
      return;
    }
    this.endInput();
  }

  private endInput(): void {
    this.inputDone = true;
    this.stopFrameTimer();
    if (this.session !== undefined) {
      this.session.rejectPending(
        new ConnectionError(
          'SB_CONNECTION_CLOSED',
          'the peer closed the channel before responding',
        ),
      );
    }
  }

  private deliver(frame: Uint8Array): void {
    const session = this.session;
    if (session === undefined) {
      this.countReceived(frame);
      this.enqueue(frame);
      return;
    }
    let message: Uint8Array | null | undefined;
    try {
      message = session.receive(frame);
    } catch (error) {
      this.fail(toSwitchboardError(error));
      return;
    }
    if (message === null) {
      this.endInput(); // the peer's CLOSE
    } else if (message !== undefined) {
      this.countReceived(message);
      this.enqueue(message);
    }
  }

  /**
   * Stats count messages, not wire frames: in `sbp` mode DATA, REQUEST and RESPONSE
   * envelopes and their bodies (PING, PONG and CLOSE are the channel's own traffic),
   * matching what `send`, `request` and `respond` count on the way out.
   */
  private countReceived(body: Uint8Array): void {
    this.stats.framesReceived += 1;
    this.stats.bytesReceived += body.length;
  }

  private enqueue(body: Uint8Array): void {
    this.inbound[this.inboundTail] = body;
    this.inboundTail += 1;
    this.queuedBytes += body.length;
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
    // Fast path without an async function frame: a frame is already queued.
    if (this.inboundHead < this.inboundTail) {
      return Promise.resolve(this.takeFrame());
    }
    if (this.canPark(options)) {
      return new Promise<Uint8Array | null>((resolve, reject) => {
        this.park(resolve as (value: unknown) => void, reject, READ_FRAME);
      });
    }
    return this.receiveSlow(options, READ_FRAME) as Promise<Uint8Array | null>;
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
    if (this.inboundHead < this.inboundTail) {
      return this.takeFrame();
    }
    if (this.failure !== undefined) {
      throw this.failure;
    }
    if (this.destroyedLocally) {
      throw new ConnectionError('SB_CONNECTION_CLOSED', 'the channel was destroyed');
    }
    if (this.inputDone || this.closing || this.suspended) {
      return null;
    }
    return undefined;
  }

  /** A reader may park in the single direct slot: no deadline, nobody parked, nothing to report yet. */
  private canPark(options: CallOptions | undefined): boolean {
    return (
      this.parkedResolve === undefined &&
      (options === undefined || ((options.timeout ?? 0) === 0 && options.signal === undefined)) &&
      !this.isReceivable()
    );
  }

  private park(
    resolve: (value: unknown) => void,
    reject: (error: Error) => void,
    mode: ReaderMode,
  ): void {
    this.parkedResolve = resolve;
    this.parkedReject = reject;
    this.parkedMode = mode;
    if (this.endWhenIdle) {
      this.checkEndWhenIdle();
    }
  }

  /** Settles the parked reader from the current state (called by notify() when receivable). */
  private settleParked(): void {
    const resolve = this.parkedResolve!;
    const reject = this.parkedReject!;
    const mode = this.parkedMode;
    this.parkedResolve = undefined;
    this.parkedReject = undefined;
    if (this.inboundHead < this.inboundTail) {
      resolve(this.take(mode));
    } else if (this.failure !== undefined) {
      reject(this.failure);
    } else if (this.destroyedLocally) {
      reject(new ConnectionError('SB_CONNECTION_CLOSED', 'the channel was destroyed'));
    } else {
      resolve(mode === READ_FRAME ? null : DONE);
    }
  }

  /** Takes what a reader of `mode` gets when at least one frame is queued. */
  private take(mode: ReaderMode): unknown {
    if (mode === READ_FRAME) {
      return this.takeFrame();
    }
    if (mode === READ_ITERATOR) {
      return { value: this.takeFrame(), done: false };
    }
    return { value: this.takeAll(), done: false };
  }

  /**
   * Waits (with `options`' deadline) until a reader of `mode` can be answered, then
   * answers it as settleParked() would: the value `take(mode)`, or the end (`null` /
   * DONE), or throws.
   */
  private async receiveSlow(options: CallOptions | undefined, mode: ReaderMode): Promise<unknown> {
    for (;;) {
      if (this.inboundHead < this.inboundTail) {
        return this.take(mode);
      }
      if (this.failure !== undefined) {
        throw this.failure;
      }
      if (this.destroyedLocally) {
        throw new ConnectionError('SB_CONNECTION_CLOSED', 'the channel was destroyed');
      }
      if (this.inputDone || this.closing || this.suspended) {
        return mode === READ_FRAME ? null : DONE;
      }
      if (options === undefined || ((options.timeout ?? 0) === 0 && options.signal === undefined)) {
        // No deadline: share one promise among waiting readers (no observer bookkeeping).
        if (this.readableSignal === undefined) {
          this.readableSignal = new Promise<void>((resolve) => {
            this.resolveReadable = resolve;
          });
        }
        if (this.endWhenIdle) {
          this.checkEndWhenIdle();
        }
        await this.readableSignal;
        continue;
      }
      await waitUntil(
        this,
        () => this.isReceivable(),
        options,
        this.clock,
        () => new TimeoutError('SB_TIMEOUT', `no message within ${options?.timeout} ms`),
      );
    }
  }

  private isReceivable(): boolean {
    return (
      this.inboundHead < this.inboundTail ||
      this.failure !== undefined ||
      this.inputDone ||
      this.closing ||
      this.suspended
    );
  }

  private takeFrame(): Uint8Array {
    const frame = this.inbound[this.inboundHead]!;
    this.inbound[this.inboundHead] = EMPTY;
    this.inboundHead += 1;
    if (this.inboundHead === this.inboundTail) {
      // Why not `inbound.length = 0`: that frees the array's storage and the next frame
      // allocates it again (~80 ns, once per message in a request/reply exchange).
      if (this.inbound.length > MAX_KEPT_SLOTS) {
        this.inbound = [];
      }
      this.inboundHead = 0;
      this.inboundTail = 0;
    } else if (this.inboundHead >= 1024 && this.inboundHead * 2 >= this.inboundTail) {
      this.inbound.splice(0, this.inboundHead);
      this.inboundTail -= this.inboundHead;
      this.inboundHead = 0;
    }
    this.queuedBytes -= frame.length;
    // Hysteresis: restart reading at half the limit, not at the first frame taken.
    if (this.readingPaused && this.queuedBytes * 2 <= this.maxQueuedInput) {
      this.readingPaused = false;
      this.pump();
    } else if (this.inputAccount !== undefined) {
      this.reportInput();
    }
    return frame;
  }

  /**
   * Every queued frame at once, oldest first; the queue is left empty. Why the whole
   * array is handed over when the queue starts at slot 0 (the usual case: the queue
   * restarts at 0 whenever it empties): no copy, and no slots to clear.
   */
  private takeAll(): Uint8Array[] {
    const head = this.inboundHead;
    const tail = this.inboundTail;
    let frames: Uint8Array[];
    if (head === 0) {
      frames = this.inbound;
      frames.length = tail;
      this.inbound = [];
    } else {
      frames = this.inbound.slice(head, tail);
      this.inbound = [];
    }
    this.inboundHead = 0;
    this.inboundTail = 0;
    this.queuedBytes = 0;
    if (this.readingPaused) {
      this.readingPaused = false;
      this.pump();
    } else if (this.inputAccount !== undefined) {
      this.reportInput();
    }
    return frames;
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
    return new ChannelBatches(this);
  }

  /** @internal The body of {@link ChannelBatches.next}. */
  batchNext(): Promise<IteratorResult<Uint8Array[]>> {
    if (this.inboundHead < this.inboundTail) {
      return Promise.resolve({ value: this.takeAll(), done: false });
    }
    if (this.canPark(undefined)) {
      return new Promise<IteratorResult<Uint8Array[]>>((resolve, reject) => {
        this.park(resolve as (value: unknown) => void, reject, READ_BATCH);
      });
    }
    return this.receiveSlow(undefined, READ_BATCH) as Promise<IteratorResult<Uint8Array[]>>;
  }

  /**
   * `for await (const message of channel)`: every message until a clean end of input;
   * throws as {@link receive} does. Hand-written rather than an async generator: one
   * promise per message, no generator machinery in the hot path.
   */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return new ChannelIterator(this);
  }

  /** @internal The body of {@link ChannelIterator.next}. */
  iteratorNext(): Promise<IteratorResult<Uint8Array>> {
    if (this.inboundHead < this.inboundTail) {
      return Promise.resolve({ value: this.takeFrame(), done: false });
    }
    if (this.canPark(undefined)) {
      return new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
        this.park(resolve as (value: unknown) => void, reject, READ_ITERATOR);
      });
    }
    return this.receiveSlow(undefined, READ_ITERATOR) as Promise<IteratorResult<Uint8Array>>;
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
    let size = 0;
    for (const chunk of chunks) {
      size += chunk.length;
    }
    this.checkQueue(size);
    if (size <= COALESCE_LIMIT) {
      // Small frames are copied into one batch buffer, written once per tick: one
      // system call for many frames instead of one (or a writev) per frame.
      let batch = this.outBuffer;
      if (batch === undefined || this.outLength + size > batch.length) {
        batch = this.newBatch();
      }
      let offset = this.outLength;
      for (const chunk of chunks) {
        batch.set(chunk, offset);
        offset += chunk.length;
      }
      this.outLength = offset;
      this.scheduleFlush();
    } else {
      this.flushOutput();
      this.socket.writeChunks(chunks);
    }
    this.watchWrite();
  }

  /**
   * send() of a small payload when the encoder can write straight into the batch
   * (`encodeInto`): the same bytes as {@link writeChunks}, without allocating a header
   * and a chunk list per frame. Returns false when the encoder has no such fast path.
   */
  private writeSmall(payload: Uint8Array): boolean {
    const encoder = this.encoder;
    if (encoder.encodeInto === undefined) {
      return false;
    }
    let batch = this.outBuffer;
    let size = batch === undefined ? -1 : encoder.encodeInto(payload, batch, this.outLength);
    if (size < 0) {
      batch = this.newBatch();
      size = encoder.encodeInto(payload, batch, 0);
      if (size < 0) {
        return false;
      }
    }
    // Checked after encoding, which is when the size is known; the bytes written past
    // outLength count only once outLength moves.
    this.checkQueue(size);
    this.outLength += size;
    this.scheduleFlush();
    this.watchWrite();
    return true;
  }

  /** Fails the channel with SB_OUTPUT_QUEUE_FULL if `size` more bytes would pass maxQueuedOutput. */
  private checkQueue(size: number): void {
    const queued = this.socket.writableLength + this.outLength;
    // One frame larger than the cap may still go out when nothing else is queued.
    if (queued > 0 && queued + size > this.maxQueuedOutput) {
      const error = new ConnectionError(
        'SB_OUTPUT_QUEUE_FULL',
        `output queue of ${queued} bytes + ${size} exceeds maxQueuedOutput ${this.maxQueuedOutput}`,
      );
      this.fail(error);
      throw error;
    }
  }

  /** Flushes the current batch (if any) and starts an empty one. */
  private newBatch(): Buffer {
    // Replacing a batch that filled up within this tick means a bulk sender: it gets
    // LARGE_BATCH_SIZE batches of their own memory (one system call per 64 KiB; the
    // allocation is spread over many frames). A tick's first batch comes from the arena.
    const bulk = this.outBuffer !== undefined;
    this.flushOutput();
    const batch = bulk ? Buffer.allocUnsafeSlow(LARGE_BATCH_SIZE) : batchArena.reserve();
    this.outBuffer = batch;
    return batch;
  }

  /** Writes the batch once this tick's microtasks are done (process.nextTick). */
  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(flushScheduledOutput, this);
    }
  }

  /** Arms the write-progress timer (lazily: one timer while output is pending). */
  private watchWrite(): void {
    if (this.writeTimeout > 0 && this.writeTimer === undefined) {
      this.writeWatchStartedAt = this.clock.now();
      this.writeTimer = this.clock.setTimeout(this.timerCallback(CHECK_WRITE), this.writeTimeout);
    }
  }

  /** Hands the batch to the socket (its bytes are not reused: the socket owns them now). */
  private flushOutput(endOfTick = false): void {
    const length = this.outLength;
    if (length === 0) {
      return;
    }
    const batch = this.outBuffer!;
    this.outBuffer = undefined;
    this.outLength = 0;
    batchArena.release(batch, length);
    const socketError = this.socket.error;
    if (this.failure === undefined && socketError !== undefined && !this.socket.isClosed) {
      // net.Socket emits 'error' (a failed write) a phase before 'close': a frame sent in
      // between is dropped with the connection, which fails with the socket's error. A
      // write here would throw it, from a process.nextTick callback: uncaught.
      this.fail(socketError);
      return;
    }
    if (this.failure === undefined && !this.socket.isClosed) {
      const bytes = batch.subarray(0, length);
      try {
        if (endOfTick) {
          // The tick's last batch: nothing follows it to coalesce with, so skip the
          // socket's cork-until-the-next-microtask (a cork and a microtask per round trip).
          this.socket.writeBatch(bytes);
        } else {
          // A full batch mid-tick: write() corks, so the batches that follow in this tick
          // wait in our queue (where maxQueuedOutput sees them) and leave together.
          this.socket.write(bytes);
        }
      } catch (error) {
        // The socket died (a reset) before the channel heard of it. This runs from
        // process.nextTick and from close(): a throw here would be an uncaught
        // exception or a rejection nobody handles (#14). Fail the channel instead:
        // the batch is lost either way, and every caller learns why.
        this.fail(toSwitchboardError(error));
      }
    }
  }

  /** @internal Runs from process.nextTick (see the module-level flushScheduledOutput). */
  flushScheduledOutput(): void {
    this.flushScheduled = false;
    this.flushOutput(true);
  }

  /**
   * Sends one message (a string is UTF-8). Resolves once it is queued and the socket's
   * queue is below its high-water mark (backpressure: otherwise waits for drain).
   * The payload is not copied: do not mutate it until the promise settles.
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
        this.queueChunks(this.session.encodeData(payload));
      } else if (payload.length > COALESCE_LIMIT || !this.writeSmall(payload)) {
        this.queueChunks(this.encoder.encode(payload));
      }
      this.stats.framesSent += 1;
      this.stats.bytesSent += payload.length;
    } catch (error) {
      return Promise.reject(error);
    }
    const socket = this.socket;
    if (socket.writableLength >= socket.writableHighWaterMark) {
      if (options === undefined || ((options.timeout ?? 0) === 0 && options.signal === undefined)) {
        return this.sharedDrain();
      }
      return this.waitDrain(options);
    }
    return RESOLVED;
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
      this.socket.isClosed
    ) {
      return false;
    }
    const size = wire.length;
    try {
      this.checkQueue(size);
    } catch {
      return false; // checkQueue failed the channel
    }
    if (size <= COALESCE_LIMIT) {
      let batch = this.outBuffer;
      if (batch === undefined || this.outLength + size > batch.length) {
        batch = this.newBatch();
      }
      batch.set(wire, this.outLength);
      this.outLength += size;
      this.scheduleFlush();
    } else {
      this.flushOutput();
      if (this.failure !== undefined) {
        return false;
      }
      try {
        this.socket.writeBatch(wire);
      } catch (error) {
        // The socket died before the channel heard of it: fail rather than throw into the relay.
        this.fail(toSwitchboardError(error));
        return false;
      }
    }
    this.watchWrite();
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
    let payloadBytes = 0;
    for (const message of messages) {
      payloadBytes += message.length;
    }
    // Room for the payloads and a typical header each; grown when that is not enough.
    let out = Buffer.allocUnsafe(payloadBytes + messages.length * 8 + 16);
    let used = 0;
    for (const message of messages) {
      const chunks =
        this.session === undefined
          ? this.encoder.encode(message)
          : this.session.encodeData(message);
      for (const chunk of chunks) {
        if (used + chunk.length > out.length) {
          const grown = Buffer.allocUnsafe(Math.max(out.length * 2, used + chunk.length));
          grown.set(out.subarray(0, used));
          out = grown;
        }
        out.set(chunk, used);
        used += chunk.length;
      }
    }
    return out.subarray(0, used);
  }

  /** The drain wait shared by sends without a deadline (see {@link drainSignal}). */
  private sharedDrain(): Promise<void> {
    if (this.drainSignal === undefined) {
      this.drainSignal = new Promise<void>((resolve, reject) => {
        this.resolveDrain = resolve;
        this.rejectDrain = reject;
      });
      // One promise for many callers, some of which may not await it: its rejection
      // must not count as unhandled (each awaiting caller still gets it).
      this.drainSignal.catch(ignoreRejection);
    }
    return this.drainSignal;
  }

  /** Settles the shared drain wait once the socket is below its high-water mark or dead. */
  private settleDrain(): void {
    const socket = this.socket;
    let error: Error | undefined;
    if (this.failure !== undefined) {
      error = this.failure;
    } else if (socket.isClosed) {
      error = socket.error ?? new ConnectionError('SB_CONNECTION_CLOSED', 'the channel is closed');
    } else if (socket.writableLength >= socket.writableHighWaterMark) {
      return;
    }
    const resolve = this.resolveDrain!;
    const reject = this.rejectDrain!;
    this.drainSignal = undefined;
    this.resolveDrain = undefined;
    this.rejectDrain = undefined;
    if (error === undefined) {
      resolve();
    } else {
      reject(error);
    }
  }

  private async waitDrain(options: CallOptions | undefined): Promise<void> {
    const socket = this.socket;
    try {
      await waitUntil(
        socket,
        () =>
          socket.writableLength < socket.writableHighWaterMark ||
          this.failure !== undefined ||
          socket.isClosed,
        options,
        this.clock,
        () =>
          new TimeoutError('SB_WRITE_TIMEOUT', `output not drained within ${options?.timeout} ms`),
      );
    } catch (error) {
      const wrapped = toSwitchboardError(error);
      this.fail(wrapped);
      throw wrapped;
    }
    if (this.failure !== undefined) {
      throw this.failure;
    }
    if (socket.isClosed) {
      throw socket.error ?? new ConnectionError('SB_CONNECTION_CLOSED', 'the channel is closed');
    }
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
    try {
      this.checkOpen('request');
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.inputDone) {
      return Promise.reject(
        new ConnectionError('SB_CONNECTION_CLOSED', 'request: the peer closed the channel'),
      );
    }
    return this.session.request(message, options);
  }

  // ---- deadlines -------------------------------------------------------------------

  /** The callback a deadline timer of `kind` runs (one set per channel, made on first use). */
  private timerCallback(kind: TimerKind): () => void {
    if (this.timerCallbacks === NO_TIMER_CALLBACKS) {
      this.timerCallbacks = [undefined, undefined, undefined];
    }
    let callback = this.timerCallbacks[kind];
    if (callback === undefined) {
      callback =
        kind === CHECK_IDLE
          ? () => this.checkIdle()
          : kind === CHECK_FRAME
            ? () => this.checkFrame()
            : () => this.checkWrite();
      this.timerCallbacks[kind] = callback;
    }
    return callback;
  }

  private checkIdle(): void {
    this.idleTimer = undefined;
    if (this.failure !== undefined || this.inputDone || this.socket.isClosed) {
      return;
    }
    const now = this.clock.now();
    if (this.readingPaused) {
      // We stopped reading (our receiver is slow): the peer is not idle.
      this.lastActivityAt = now;
    }
    // Output the peer keeps accepting is activity too (#14: a chat client that only
    // reads is alive), as with HAProxy's `timeout client`: a write that reached the
    // kernel means the peer's TCP took the bytes before it (its window was open).
    const idleFor = now - Math.max(this.lastActivityAt, this.socket.lastWriteDoneAt);
    if (idleFor >= this.idleTimeout) {
      this.fail(idleTimeoutError(this.idleTimeout));
      return;
    }
    this.idleTimer = this.clock.setTimeout(
      this.timerCallback(CHECK_IDLE),
      this.idleTimeout - idleFor,
    );
  }

  private watchFrame(): void {
    if (!this.decoder.inFrame) {
      this.frameStartedAt = 0;
      return;
    }
    if (this.frameStartedAt === 0) {
      this.frameStartedAt = this.clock.now();
      if (this.frameTimer === undefined) {
        this.frameTimer = this.clock.setTimeout(this.timerCallback(CHECK_FRAME), this.frameTimeout);
      }
    }
  }

  private checkFrame(): void {
    this.frameTimer = undefined;
    if (
      this.failure !== undefined ||
      this.inputDone ||
      this.frameStartedAt === 0 ||
      !this.decoder.inFrame
    ) {
      this.frameStartedAt = 0;
      return;
    }
    const elapsed = this.clock.now() - this.frameStartedAt;
    if (elapsed >= this.frameTimeout) {
      this.fail(
        new TimeoutError(
          'SB_FRAME_TIMEOUT',
          `a frame started ${elapsed} ms ago is still incomplete (frameTimeout ${this.frameTimeout} ms, ${this.decoder.buffered} bytes buffered)`,
        ),
      );
      return;
    }
    this.frameTimer = this.clock.setTimeout(
      this.timerCallback(CHECK_FRAME),
      this.frameTimeout - elapsed,
    );
  }

  private stopFrameTimer(): void {
    if (this.frameTimer !== undefined) {
      this.clock.clearTimeout(this.frameTimer);
      this.frameTimer = undefined;
    }
    this.frameStartedAt = 0;
  }

  private checkWrite(): void {
    this.writeTimer = undefined;
    const socket = this.socket;
    if (this.failure !== undefined || socket.isClosed || socket.writableLength === 0) {
      return;
    }
    const now = this.clock.now();
    const progressAt = Math.max(this.writeWatchStartedAt, socket.lastWriteDoneAt);
    const stalledFor = now - progressAt;
    if (stalledFor >= this.writeTimeout) {
      this.fail(
        new TimeoutError(
          'SB_WRITE_TIMEOUT',
          `${socket.writableLength} queued bytes made no progress for writeTimeout ${this.writeTimeout} ms`,
        ),
      );
      return;
    }
    this.writeTimer = this.clock.setTimeout(
      this.timerCallback(CHECK_WRITE),
      this.writeTimeout - stalledFor,
    );
  }

  // ---- shutdown --------------------------------------------------------------------

  private flushThenShutdown(): Promise<void> {
    this.flushOutput();
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
    if (this.quietTimer !== undefined) {
      this.clock.clearTimeout(this.quietTimer);
      this.quietTimer = undefined;
    }
    if (this.idleTimer !== undefined) {
      this.clock.clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    if (this.writeTimer !== undefined) {
      this.clock.clearTimeout(this.writeTimer);
      this.writeTimer = undefined;
    }
    this.stopFrameTimer();
    if (this.socket.isClosed) {
      this.inputAccount?.close();
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
  close(options: { timeout?: number } = {}): Promise<void> {
    if (this.closePromise === undefined) {
      if (this.shutdownPromise === undefined) {
        this.session?.sendClose(); // (shutdown() sent it already otherwise)
      }
      this.closing = true;
      if (this.idleTimer !== undefined) {
        this.clock.clearTimeout(this.idleTimer);
        this.idleTimer = undefined;
      }
      this.stopFrameTimer();
      if (this.session !== undefined) {
        this.session.stopHeartbeat();
        this.session.stopAnswering();
        this.session.rejectPending(
          new ConnectionError('SB_CONNECTION_CLOSED', 'the channel was closed before a response'),
        );
      }
      this.notify();
      this.flushOutput();
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
      this.inbound = [];
      this.inboundHead = 0;
      this.inboundTail = 0;
      this.queuedBytes = 0;
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
    if (this.endWhenIdle) {
      return;
    }
    this.endWhenIdle = true;
    this.idleQuiet = quiet;
    this.quietSince = this.clock.now();
    this.checkEndWhenIdle();
  }

  private checkEndWhenIdle(): void {
    if (this.quietTimer !== undefined) {
      this.clock.clearTimeout(this.quietTimer);
      this.quietTimer = undefined;
    }
    if (this.inputDone || this.closing || this.failure !== undefined) {
      return;
    }
    const socket = this.socket;
    if (this.inboundHead < this.inboundTail || this.decoder.inFrame || socket.isClosed) {
      return; // a message is queued or in progress: busy (or the socket reports its end)
    }
    const readerWaits =
      this.parkedResolve !== undefined ||
      this.resolveReadable !== undefined ||
      (this.observers !== undefined && this.observers.size > 0);
    if (!readerWaits) {
      return; // the handler is busy with the last message; checked when it reads again
    }
    // Queued output is traffic still going on: a write's completion notifies nobody, so
    // the timer below checks again (the write timeout covers a peer that stopped reading).
    const outputQueued = this.outLength > 0 || socket.writableLength > 0;
    const lastTraffic = Math.max(this.quietSince, socket.lastWriteDoneAt);
    const quietFor = outputQueued ? 0 : this.clock.now() - lastTraffic;
    if (quietFor < this.idleQuiet) {
      // Checked again after the poll phase that follows the timer (setImmediate): bytes
      // already waiting in the kernel when the timer fires (a busy event loop) are read
      // first, and count as traffic, instead of being cut off.
      this.quietTimer = this.clock.setTimeout(() => {
        this.quietTimer = undefined;
        setImmediate(() => this.checkEndWhenIdle());
      }, this.idleQuiet - quietFor);
      return;
    }
    this.endInput();
    if (!this.pumping) {
      this.notify();
    }
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
      this.parkedResolve !== undefined &&
      this.resolveReadable === undefined &&
      (this.observers === undefined || this.observers.size === 0) &&
      this.isIdleAndEmpty()
    );
  }

  /** The state conditions of {@link canSuspend} and {@link canDetach}, reader aside. */
  private isIdleAndEmpty(): boolean {
    const socket = this.socket;
    return (
      this.inboundHead === this.inboundTail &&
      this.failure === undefined &&
      !this.inputDone &&
      !this.closing &&
      !this.endWhenIdle &&
      this.shutdownPromise === undefined &&
      this.closePromise === undefined &&
      this.closedPromise === undefined &&
      this.readableStream === undefined &&
      this.writableStream === undefined &&
      (this.session === undefined || this.session.isQuiet()) &&
      this.heldElsewhere === 0 &&
      !this.readingPaused &&
      this.decoder.buffered === 0 &&
      !this.decoder.inFrame &&
      this.outLength === 0 &&
      !this.flushScheduled &&
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
      this.parkedResolve === undefined &&
      this.resolveReadable === undefined &&
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
    if (this.idleTimeout === 0) {
      return 0;
    }
    return Math.max(this.lastActivityAt, this.socket.lastWriteDoneAt) + this.idleTimeout;
  }

  /**
   * @internal Lets go of the connection without closing it (only after {@link canDetach}):
   * timers are cancelled, the input account closed (its bytes, 0, leave the budget), the
   * Socket gives the transport back ({@link Socket.release}), and the channel is inert:
   * later calls fail with `SB_CONNECTION_CLOSED` and touch no transport.
   */
  detach(): void {
    this.session?.stopHeartbeat();
    for (const timer of [this.idleTimer, this.writeTimer, this.quietTimer]) {
      if (timer !== undefined) {
        this.clock.clearTimeout(timer);
      }
    }
    this.idleTimer = undefined;
    this.writeTimer = undefined;
    this.quietTimer = undefined;
    this.stopFrameTimer();
    this.inputAccount?.close();
    this.inputAccount = undefined;
    if (this.outBuffer !== undefined) {
      batchArena.release(this.outBuffer, 0);
      this.outBuffer = undefined;
    }
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

/** What a waiting reader wants: receive()'s frame, for await's IteratorResult, or a batches() array. */
const READ_FRAME = 0;
const READ_ITERATOR = 1;
const READ_BATCH = 2;
type ReaderMode = typeof READ_FRAME | typeof READ_ITERATOR | typeof READ_BATCH;

const CHECK_IDLE = 0;
const CHECK_FRAME = 1;
const CHECK_WRITE = 2;
type TimerKind = typeof CHECK_IDLE | typeof CHECK_FRAME | typeof CHECK_WRITE;

/** process.nextTick target: passing the channel as an argument needs no closure. */
function flushScheduledOutput(channel: Channel): void {
  channel.flushScheduledOutput();
}

/**
 * The `for await` iterator of a {@link Channel}: prototype methods rather than
 * closures, one promise per message, no generator machinery in the hot path.
 */
class ChannelIterator implements AsyncIterator<Uint8Array> {
  constructor(private readonly channel: Channel) {}

  next(): Promise<IteratorResult<Uint8Array>> {
    return this.channel.iteratorNext();
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    return Promise.resolve(DONE);
  }
}

/**
 * What {@link Channel.batches} returns: an AsyncIterable that is its own iterator
 * (prototype methods, one promise per batch).
 */
class ChannelBatches implements AsyncIterableIterator<Uint8Array[]> {
  constructor(private readonly channel: Channel) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Uint8Array[]>> {
    return this.channel.batchNext();
  }

  return(): Promise<IteratorResult<Uint8Array[]>> {
    return Promise.resolve(DONE);
  }
}

const EMPTY = new Uint8Array(0);

/** Shared placeholder until a channel arms its first deadline. */
const NO_TIMER_CALLBACKS: ((() => void) | undefined)[] = [];
const RESOLVED: Promise<void> = Promise.resolve();
function ignoreRejection(): void {
  // See Channel.sharedDrain.
}
const DONE: IteratorResult<never> = Object.freeze({ value: undefined, done: true });

/** Options of {@link openChannel}: connect options plus channel options. */
export interface OpenChannelOptions<F extends string = string>
  extends ChannelOptions<F>,
    Omit<ConnectOptions, 'clock' | 'keepAlive' | 'keepAliveInitialDelay'> {}

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
  // Validate the channel options before opening a connection.
  resolveFraming(options?.framing, options?.maxFrame);
  const {
    framing,
    maxFrame,
    idleTimeout,
    frameTimeout,
    writeTimeout,
    maxQueuedOutput,
    maxQueuedInput,
    heartbeat,
    onRequest,
    requestTimeout,
    maxPendingRequests,
    onRequestError,
    ...connectOptions
  } = options;
  const socket = await connect(address, connectOptions);
  try {
    return new Channel(socket, {
      framing,
      maxFrame,
      idleTimeout,
      frameTimeout,
      writeTimeout,
      maxQueuedOutput,
      maxQueuedInput,
      heartbeat,
      onRequest,
      requestTimeout,
      maxPendingRequests,
      onRequestError,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
  } catch (error) {
    socket.destroy();
    throw error;
  }
}
