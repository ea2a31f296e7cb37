/**
 * Socket: a pull-based byte stream over `node:net` / `node:tls` (or any duplex-like
 * transport, see {@link SocketTransport}), with the HOWTO's verbs done right.
 *
 * Theory of operation
 * -------------------
 * The transport pushes chunks at us (`'data'`); callers pull with `recv*`. Between the
 * two sits one {@link ByteQueue} (codec/byte-queue.ts), the same input buffer every
 * decoder uses: chunks are kept by reference on arrival (small ones trickling in are
 * coalesced, see its "Coalescing"). Rules:
 *
 * 1. Bounded input. When the queue holds `readBufferLimit` bytes (or the bytes the
 *    current reader needs, if more: `recvExactly(n)` with a large `n`), the transport is
 *    paused, so the kernel's receive window closes and the peer slows down. It is
 *    resumed as soon as a reader takes bytes below that mark.
 * 2. Zero copy when possible. `recv(max)` hands out whole chunks or views of them; only
 *    `recvExactly`/`recvUntil` results that span chunks are concatenated, once.
 * 3. Linear delimiter search. `recvUntil` remembers how far it searched and resumes at
 *    `searched - (delimiter.length - 1)`: no byte is scanned twice (beyond the overlap),
 *    and the queue's cursor finds the chunk to resume in without walking the list
 *    from its head, so one byte per event-loop turn stays O(n) in total.
 * 4. Deadlines never corrupt the stream. A read that times out (`SB_TIMEOUT`) or is
 *    aborted (`SB_ABORTED`) consumed nothing and the socket stays usable. A `sendAll`
 *    that times out (`SB_WRITE_TIMEOUT`) or is aborted may have written part of its
 *    bytes, so the stream's framing is unknown: the socket is destroyed.
 * 5. One observer list. Every state change (data, EOF, error, drain, connect, close)
 *    calls the observers; blocked calls, `select()` and `Channel` are observers.
 * 6. Leaks are reported. The public {@link Socket} is a thin facade over an internal
 *    core that the transport's listeners reference; the core never references the
 *    facade. When a facade is garbage-collected while the connection is open, a
 *    FinalizationRegistry callback emits a process warning (type `SwitchboardWarning`,
 *    code `SB_SOCKET_LEAK`) with the stack captured at construction, then destroys the
 *    connection. A Socket wrapped in a Channel is reachable from the channel's read
 *    loop, so only bare Sockets are reported.
 *
 * Read-side states (what `recv` does in each):
 *
 * | state                         | recv(max)                   | recvExactly(n)              |
 * | ----------------------------- | --------------------------- | --------------------------- |
 * | bytes buffered                | returns up to max at once   | waits until n buffered      |
 * | empty, open                   | waits (deadline applies)    | waits (deadline applies)    |
 * | empty, EOF (peer shut down)   | returns a 0-length array    | UnexpectedEofError          |
 * | errored (reset, TLS, ...)     | throws the ConnectionError  | throws the ConnectionError  |
 * | closed locally                | throws SB_CONNECTION_CLOSED | throws SB_CONNECTION_CLOSED |
 *
 * Bytes that arrived before an EOF or an error are always delivered first.
 */

import { ByteQueue } from '../codec/byte-queue.js';
import {
  ConnectionError,
  FrameError,
  InvalidArgumentError,
  type SwitchboardError,
  TimeoutError,
  toSwitchboardError,
  UnexpectedEofError,
} from '../errors.js';
import { DEFAULTS, resolveOptions } from '../options.js';
import { type Address, formatAddress, type UnixAddress } from './address.js';
import { toBytes } from './bytes.js';
import { type CallOptions, type Clock, type Observable, systemClock, waitUntil } from './clock.js';

/**
 * Per-socket settings shared by {@link connect} and {@link listen} (where they apply to
 * every accepted socket). Times in ms.
 */
export interface SocketTuningOptions {
  /** TCP keepalive. Default `DEFAULTS.keepAlive` (true). */
  keepAlive?: boolean;
  /** TCP keepalive initial delay in ms. Default `DEFAULTS.keepAliveInitialDelay` (60 s). */
  keepAliveInitialDelay?: number;
  /** Disable Nagle's algorithm. Default true. */
  noDelay?: boolean;
  /** Inbound bytes buffered before the socket pauses. Default `DEFAULTS.readBufferLimit` (1 MiB). */
  readBufferLimit?: number;
  /** Leak warning on garbage collection while open. Default true. */
  trackLeaks?: boolean;
  /** Timer source. Default: the global timers. */
  clock?: Clock;
}

/** @internal resolveOptions schema of {@link SocketTuningOptions} (clock aside). */
export const SOCKET_TUNING_SCHEMA = {
  keepAlive: { kind: 'boolean', default: DEFAULTS.keepAlive as boolean },
  keepAliveInitialDelay: { kind: 'ms', default: DEFAULTS.keepAliveInitialDelay as number },
  noDelay: { kind: 'boolean', default: true as boolean },
  readBufferLimit: { kind: 'bytes', default: DEFAULTS.readBufferLimit as number, min: 1 },
  trackLeaks: { kind: 'boolean', default: true as boolean },
} as const;

/** @internal Applies the TCP part of resolved tuning (noDelay, keepalive) to a TCP transport. */
export function applyTcpTuning(
  transport: {
    setNoDelay(noDelay: boolean): unknown;
    setKeepAlive(on: boolean, delay: number): unknown;
  },
  tuning: { noDelay: boolean; keepAlive: boolean; keepAliveInitialDelay: number },
): void {
  transport.setNoDelay(tuning.noDelay);
  if (tuning.keepAlive) {
    transport.setKeepAlive(true, tuning.keepAliveInitialDelay);
  }
}

/**
 * The subset of `net.Socket` a {@link Socket} needs. A `net.Socket`, a `tls.TLSSocket`
 * and the scripted fake in test/helpers/scripted-socket.ts all satisfy it.
 */
export interface SocketTransport {
  /**
   * Adds a listener for `'data'`, `'end'`, `'error'`, `'close'`, `'drain'`, `'connect'` or
   * `'secureConnect'`. (`Function` keeps node's overloads and EventEmitter's listeners assignable.)
   */
  on(event: string, listener: Function): unknown;
  /** Removes a listener added with {@link SocketTransport.on}. */
  removeListener(event: string, listener: Function): unknown;
  /** Queues bytes; `callback` runs once they reach the kernel (or with an error). */
  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean;
  /** Half-closes the write side once queued bytes are flushed. */
  end(callback?: () => void): unknown;
  /** Closes both directions at once (no flush); emits `'close'`. */
  destroy(error?: Error): unknown;
  /** Stops emitting `'data'` (and reading from the kernel). */
  pause(): unknown;
  /** Resumes emitting `'data'`. */
  resume(): unknown;
  /** Buffers writes until {@link SocketTransport.uncork} (one system call for several writes). */
  cork?(): void;
  /** Flushes writes buffered since {@link SocketTransport.cork}. */
  uncork?(): void;
  /** TCP keepalive (initial delay in ms). */
  setKeepAlive?(enable?: boolean, initialDelay?: number): unknown;
  /** Disables Nagle's algorithm. */
  setNoDelay?(noDelay?: boolean): unknown;
  /** Bytes queued in user space, not yet handed to the kernel. */
  readonly writableLength: number;
  readonly writableHighWaterMark: number;
  readonly destroyed: boolean;
  readonly connecting?: boolean;
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
  /** TLS only: the peer's certificate (an empty object when none). */
  getPeerCertificate?(detailed?: boolean): object | null;
  readonly authorized?: boolean;
}

/** Options of {@link Socket.from}. */
export interface SocketOptions {
  /** Inbound bytes buffered before the transport is paused. Default `DEFAULTS.readBufferLimit` (1 MiB). */
  readBufferLimit?: number;
  /** Timer source for deadlines. Default: the global timers. */
  clock?: Clock;
  /** Emit a process warning if the Socket is garbage-collected while open. Default true. */
  trackLeaks?: boolean;
  /** The transport is TLS (`'secureConnect'` marks it connected). Default: false. */
  tls?: boolean;
  /** For Unix transports, the address (node does not report Unix peer paths). */
  unixAddress?: UnixAddress;
}

/** Per-call options of {@link Socket.recvUntil}. */
export interface RecvUntilOptions extends CallOptions {
  /** Largest result (delimiter excluded), bytes. Default `DEFAULTS.maxLineFrame` (64 KiB). */
  max?: number;
  /** Return the delimiter at the end of the result. Default false. */
  includeDelimiter?: boolean;
}

/** Options of {@link Socket.close}. */
export interface CloseOptions {
  /** How long (ms) to wait for the peer to finish before destroying. Default `DEFAULTS.closeTimeout`. 0 = no limit. */
  timeout?: number;
}

const EMPTY = new Uint8Array(0);
const RESOLVED: Promise<void> = Promise.resolve();
const DEFAULT_RECV_MAX = 64 * 1024;

/**
 * The internal state shared by the transport's listeners. It never references the
 * public {@link Socket}, so an abandoned Socket can be garbage-collected and reported.
 */
class SocketCore implements Observable {
  readonly transport: SocketTransport;
  readonly clock: Clock;
  readonly readBufferLimit: number;
  readonly isTls: boolean;
  readonly unixAddress: UnixAddress | undefined;
  /**
   * Inbound bytes (no copy on arrival, see ByteQueue). Made on the first chunk: an idle
   * connection that never received a byte does not pay for one (memory per connection).
   */
  input: ByteQueue | undefined;
  /** Bytes the current reader needs; raises the pause threshold above readBufferLimit. */
  demand = 0;
  paused = false;
  /** Peer shut down its write side. */
  eof = false;
  /** The error that ended the connection (peer reset, TLS failure, local destroy(err)). */
  error: SwitchboardError | undefined;
  connected: boolean;
  writeEnded = false;
  /** close() was called: further input is discarded, not buffered. */
  discarding = false;
  /** The transport emitted 'close'. */
  closed = false;
  /** The local side destroyed or closed the socket (reads then fail with SB_CONNECTION_CLOSED). */
  closedLocally = false;
  /** Made on first read of {@link closedPromise}: a promise and its resolve closure per socket otherwise. */
  private closedWaiter: Promise<Error | undefined> | undefined;
  private resolveClosed: ((reason: Error | undefined) => void) | undefined;
  /** What `closedPromise` resolves with, once closed. */
  private closedReason: Error | undefined;
  /** The first observer (a Channel's) has a field of its own: a Set and its table cost ~170 bytes. */
  private firstObserver: (() => void) | undefined;
  private moreObservers: Set<() => void> | undefined;
  /** Cached endpoints (node forgets them once the socket is destroyed). */
  remote: Address | undefined;
  local: Address | undefined;
  /** Where the Socket was constructed, for the leak warning. */
  origin: { stack?: string } | undefined;

  constructor(
    transport: SocketTransport,
    options: Required<Omit<SocketOptions, 'unixAddress' | 'trackLeaks'>> & SocketOptions,
  ) {
    this.transport = transport;
    this.clock = options.clock;
    this.readBufferLimit = options.readBufferLimit;
    this.isTls = options.tls;
    this.unixAddress = options.unixAddress;
    this.connected = transport.connecting !== true;
    // Shared module-level listeners find the core through a symbol slot on the
    // transport: no closures per connection (see CORE_SLOT).
    (transport as unknown as CoreSlot)[CORE_SLOT] = this;
    transport.on('data', onTransportData);
    transport.on('end', onTransportEnd);
    transport.on('error', onTransportError);
    transport.on('close', onTransportClose);
    transport.on('drain', onTransportDrain);
    transport.on(options.tls ? 'secureConnect' : 'connect', onTransportConnect);
    if (this.connected) {
      this.captureEndpoints();
    }
    if (transport.destroyed) {
      this.closed = true;
    }
  }

  /** Resolves (never rejects) once the transport closed: with the error that ended it, or undefined. */
  get closedPromise(): Promise<Error | undefined> {
    if (this.closedWaiter === undefined) {
      this.closedWaiter = this.closed
        ? Promise.resolve(this.closedReason)
        : new Promise((resolve) => {
            this.resolveClosed = resolve;
          });
    }
    return this.closedWaiter;
  }

  /** Observers are called in the order they came (the first one, then the rest). */
  observe(wake: () => void): () => void {
    if (this.firstObserver === undefined && this.moreObservers === undefined) {
      this.firstObserver = wake;
      return () => {
        if (this.firstObserver === wake) {
          this.firstObserver = undefined;
        }
      };
    }
    if (this.moreObservers === undefined) {
      this.moreObservers = new Set();
    }
    const more = this.moreObservers;
    more.add(wake);
    return () => {
      more.delete(wake);
    };
  }

  notify(): void {
    this.firstObserver?.();
    if (this.moreObservers !== undefined) {
      for (const wake of this.moreObservers) {
        wake();
      }
    }
  }

  onData(chunk: Uint8Array): void {
    if (this.discarding || chunk.length === 0) {
      return;
    }
    if (this.input === undefined) {
      this.input = new ByteQueue();
    }
    this.input.push(chunk);
    if (!this.paused && this.buffered >= this.pauseThreshold()) {
      this.paused = true;
      this.transport.pause();
    }
    this.notify();
  }

  onEnd(): void {
    this.eof = true;
    this.notify();
  }

  onError(error: Error): void {
    if (this.error === undefined) {
      this.error = toSwitchboardError(error);
    }
    this.notify();
  }

  onClose(): void {
    this.closed = true;
    this.connected = false;
    // The core is its own unregister token (held weakly by the registry).
    leakRegistry.unregister(this);
    this.closedReason = this.error;
    this.resolveClosed?.(this.error);
    this.notify();
  }

  onConnect(): void {
    this.connected = true;
    this.captureEndpoints();
    this.notify();
  }

  captureEndpoints(): void {
    const transport = this.transport;
    if (this.unixAddress !== undefined) {
      this.remote = this.unixAddress;
      this.local = this.unixAddress;
      return;
    }
    if (transport.remoteAddress !== undefined && transport.remotePort !== undefined) {
      this.remote = {
        kind: 'tcp',
        host: transport.remoteAddress,
        port: transport.remotePort,
        tls: this.isTls,
      };
    }
    if (transport.localAddress !== undefined && transport.localPort !== undefined) {
      this.local = {
        kind: 'tcp',
        host: transport.localAddress,
        port: transport.localPort,
        tls: this.isTls,
      };
    }
  }

  pauseThreshold(): number {
    return Math.max(this.demand, this.readBufferLimit);
  }

  /**
   * Resumes the transport once the buffer has drained to half the limit (hysteresis:
   * resuming at the first byte taken would flap pause/resume once per chunk), or at
   * once when the current reader needs more than is buffered.
   */
  maybeResume(): void {
    if (
      this.paused &&
      !this.closed &&
      (this.buffered * 2 <= this.readBufferLimit || this.buffered < this.demand)
    ) {
      this.paused = false;
      this.transport.resume();
    }
  }

  /** Bytes received and not yet taken. */
  get buffered(): number {
    return this.input === undefined ? 0 : this.input.length;
  }

  /** Takes up to `max` bytes (at least 1; buffered must be > 0) of the oldest chunk, as a view. */
  take(max: number): Uint8Array {
    const input = this.input!;
    const chunk = input.headChunk;
    const start = input.headStart;
    const result = input.takeFromHead(
      start,
      chunk.length - start <= max ? chunk.length : start + max,
    );
    this.maybeResume();
    return result;
  }

  /** True when the oldest buffered chunk holds at least `n` bytes (or all that is buffered). */
  headHolds(n: number): boolean {
    const input = this.input!;
    const available = input.headChunk.length - input.headStart;
    return available >= n || available === input.length;
  }

  /** Takes exactly `n` buffered bytes (n <= buffered); copies only when they span chunks. */
  takeExactly(n: number): Uint8Array {
    if (n === 0) {
      return EMPTY;
    }
    const result = this.input!.take(n);
    this.maybeResume();
    return result;
  }

  /** Discards `n` buffered bytes. */
  skip(n: number): void {
    if (n > 0) {
      this.input!.skip(n);
      this.maybeResume();
    }
  }

  /**
   * Offset (from the first buffered byte) of the first occurrence of `delimiter` at or
   * after `from`, or -1 (see ByteQueue.indexOf: its cursor makes repeated searches over
   * many small chunks linear).
   */
  indexOf(delimiter: Uint8Array, from: number): number {
    return this.input === undefined ? -1 : this.input.indexOf(delimiter, from);
  }

  /** Drops all buffered input (used by close()). */
  clearInput(): void {
    this.input?.skip(this.input.length);
    this.demand = 0;
  }

  /** The error a read or write on a dead socket should throw. */
  deadError(): SwitchboardError {
    return this.error ?? new ConnectionError('SB_CONNECTION_CLOSED', 'the socket is closed');
  }

  /**
   * Hands the transport back (see {@link Socket.release}): removes the six listeners and
   * the slot, so the transport's next owner gets every later event.
   */
  release(): void {
    const transport = this.transport;
    transport.removeListener('data', onTransportData);
    transport.removeListener('end', onTransportEnd);
    transport.removeListener('error', onTransportError);
    transport.removeListener('close', onTransportClose);
    transport.removeListener('drain', onTransportDrain);
    transport.removeListener(this.isTls ? 'secureConnect' : 'connect', onTransportConnect);
    (transport as unknown as { [CORE_SLOT]: SocketCore | undefined })[CORE_SLOT] = undefined;
    leakRegistry.unregister(this);
    this.firstObserver = undefined;
    this.moreObservers = undefined;
    if (this.paused) {
      this.paused = false;
      transport.resume();
    }
  }

  /** Destroys the transport, recording `error` as the reason. */
  destroy(error: SwitchboardError | undefined): void {
    if (error !== undefined && this.error === undefined) {
      this.error = error;
    }
    this.closedLocally = true;
    this.clearInput();
    if (!this.transport.destroyed) {
      this.transport.destroy();
    }
    this.notify();
  }
}

/**
 * Where a transport keeps its {@link SocketCore}. The transport's listeners are the shared
 * module-level functions below (EventEmitter calls a listener with `this` = the
 * emitter), so a connection costs no listener closures: six per-instance closures were
 * a third of an idle connection's footprint (and more under tsx, whose keepNames
 * rewrite gives each named closure its own property array).
 */
const CORE_SLOT = Symbol('switchboard.socketCore');

interface CoreSlot {
  [CORE_SLOT]: SocketCore;
}

function onTransportData(this: CoreSlot, chunk: Uint8Array): void {
  this[CORE_SLOT].onData(chunk);
}

function onTransportEnd(this: CoreSlot): void {
  this[CORE_SLOT].onEnd();
}

function onTransportError(this: CoreSlot, error: Error): void {
  this[CORE_SLOT].onError(error);
}

function onTransportClose(this: CoreSlot): void {
  this[CORE_SLOT].onClose();
}

function onTransportDrain(this: CoreSlot): void {
  this[CORE_SLOT].notify();
}

function onTransportConnect(this: CoreSlot): void {
  this[CORE_SLOT].onConnect();
}

const leakRegistry = new FinalizationRegistry<SocketCore>((core) => {
  if (core.closed || core.transport.destroyed) {
    return;
  }
  const where = core.origin?.stack?.split('\n').slice(1).join('\n') || '(stack not captured)';
  process.emitWarning(
    `a switchboard Socket was garbage-collected while open; close() it when done. It was created at:\n${where}`,
    { type: 'SwitchboardWarning', code: 'SB_SOCKET_LEAK' },
  );
  core.destroy(undefined);
});

function checkCount(where: string, name: string, value: number, min: number): void {
  if (
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    value < min ||
    (!Number.isInteger(value) && value !== Number.POSITIVE_INFINITY)
  ) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `${where}: ${name} must be an integer >= ${min}`,
    );
  }
}

const SOCKET_SCHEMA = {
  readBufferLimit: { kind: 'bytes', default: DEFAULTS.readBufferLimit as number, min: 1 },
  trackLeaks: { kind: 'boolean', default: true as boolean },
  tls: { kind: 'boolean', default: false as boolean },
} as const;

/**
 * A connected byte-stream socket with pull-based, deadline-aware reads and writes.
 * Create one with {@link connect}, {@link Listener.accept}, or {@link Socket.from}.
 *
 * Every blocking method takes `{ timeout, signal }`: `timeout` in ms (omitted or 0 =
 * no deadline), `signal` an AbortSignal. Errors are {@link SwitchboardError}s with
 * stable codes; see each method.
 */
export class Socket implements AsyncDisposable {
  /** @internal */
  readonly core: SocketCore;
  private closePromise: Promise<void> | undefined;
  private shutdownPromise: Promise<void> | undefined;

  /** @internal Use {@link Socket.from}, {@link connect} or {@link Listener.accept}. */
  constructor(transport: SocketTransport, options: SocketOptions = {}) {
    const resolved = resolveOptions('Socket', SOCKET_SCHEMA, options, {}, ['clock', 'unixAddress']);
    this.core = new SocketCore(transport, {
      readBufferLimit: resolved.readBufferLimit,
      clock: options.clock ?? systemClock,
      tls: resolved.tls,
      unixAddress: options.unixAddress,
    });
    if (resolved.trackLeaks && !transport.destroyed) {
      // Captured lazily (formatting happens only if a leak is reported). The constructor
      // frame is left out: V8 keeps each frame's receiver, and that one is this facade.
      const origin: { stack?: string } = {};
      Error.captureStackTrace(origin, Socket);
      this.core.origin = origin;
      // The core is the unregister token (not the facade), so the core never references the facade.
      leakRegistry.register(this, this.core, this.core);
    }
  }

  /**
   * Wraps an existing transport: a connected (or connecting) `net.Socket` or
   * `tls.TLSSocket`, or any object implementing {@link SocketTransport} (e.g. a scripted
   * fake in tests). The Socket takes ownership: it installs listeners and will destroy it.
   * For half-close to work, a `net.Socket` must be created with `allowHalfOpen: true`.
   */
  static from(transport: SocketTransport, options?: SocketOptions): Socket {
    return new Socket(transport, options);
  }

  /** True until the connection is established (a `startConnect` socket). */
  get connecting(): boolean {
    return !this.core.connected && !this.core.closed && this.core.error === undefined;
  }

  /** Bytes received and buffered, not yet read. */
  get bufferedAmount(): number {
    return this.core.buffered;
  }

  /** Bytes written but still queued in user space (not yet handed to the kernel). */
  get writableLength(): number {
    return this.core.transport.writableLength;
  }

  /** The write high-water mark: {@link Socket.send} accepts bytes only below it. */
  get writableHighWaterMark(): number {
    return this.core.transport.writableHighWaterMark;
  }

  /** The peer has shut down its write side (a read returns 0 bytes once the buffer is empty). */
  get eof(): boolean {
    return this.core.eof;
  }

  /** The error that broke the connection, if any (peer reset, TLS failure, destroy(err)). */
  get error(): SwitchboardError | undefined {
    return this.core.error;
  }

  /** True once the connection is closed (by either side) or destroyed. */
  get isClosed(): boolean {
    return this.core.closed || this.core.closedLocally;
  }

  /** The peer's address, structured. Undefined before connecting or for unknown peers. */
  get remote(): Address | undefined {
    return this.core.remote;
  }

  /** The local address, structured. */
  get local(): Address | undefined {
    return this.core.local;
  }

  /** The peer's address as text, e.g. `tcp://127.0.0.1:51234` or `unix:/tmp/s.sock` ('' if unknown). */
  get remoteAddress(): string {
    return this.core.remote === undefined ? '' : formatAddress(this.core.remote);
  }

  /** The local address as text ('' if unknown). */
  get localAddress(): string {
    return this.core.local === undefined ? '' : formatAddress(this.core.local);
  }

  /** For TLS sockets: the peer's certificate (undefined if none was presented or not TLS). */
  get peerCertificate(): Record<string, unknown> | undefined {
    const certificate = this.core.transport.getPeerCertificate?.(false);
    if (
      certificate === null ||
      certificate === undefined ||
      Object.keys(certificate).length === 0
    ) {
      return undefined;
    }
    return certificate as Record<string, unknown>;
  }

  /** For TLS sockets: whether the peer's certificate was verified against the trusted CAs. */
  get authorized(): boolean {
    return this.core.transport.authorized === true;
  }

  /**
   * Resolves (never rejects) when the connection has closed: with the error that ended
   * it (peer reset, TLS failure, a timeout that destroyed it, `destroy(err)`), or
   * `undefined` for a clean close.
   */
  get closed(): Promise<Error | undefined> {
    return this.core.closedPromise;
  }

  /**
   * @internal Non-blocking: the oldest buffered chunk whole (no copy, any size), a
   * zero-length array at EOF, or null. Channel's read loop uses it.
   */
  readChunk(): Uint8Array | null {
    const core = this.core;
    if (core.buffered > 0) {
      return core.take(Number.POSITIVE_INFINITY);
    }
    return this.recvNow();
  }

  /** @internal Registers an observer called on every state change (see module comment). */
  observe(wake: () => void): () => void {
    return this.core.observe(wake);
  }

  /**
   * Waits until the connection is established (useful after {@link startConnect}).
   * @throws TimeoutError `SB_CONNECT_TIMEOUT` after `timeout` ms (the socket is left connecting).
   * @throws ConnectionError `SB_CONNECTION_REFUSED`, `SB_HOST_UNREACHABLE`, `SB_TLS_ERROR`, ... if it failed.
   * @throws ConnectionError `SB_ABORTED` if `signal` aborted.
   */
  async ready(options?: CallOptions): Promise<void> {
    const core = this.core;
    await waitUntil(
      core,
      () => core.connected || core.error !== undefined || core.closed || core.closedLocally,
      options,
      core.clock,
      () =>
        new TimeoutError(
          'SB_CONNECT_TIMEOUT',
          `connection not established within ${options?.timeout} ms`,
        ),
    );
    if (!core.connected) {
      throw core.deadError();
    }
  }

  /**
   * Non-blocking read (the HOWTO's non-blocking `recv`): returns up to `max` bytes if
   * any are buffered, a zero-length array at EOF, or `null` if the call would block.
   * @throws the connection's error if it broke, or `SB_CONNECTION_CLOSED` after close/destroy.
   */
  recvNow(max: number = DEFAULT_RECV_MAX): Uint8Array | null {
    const core = this.core;
    if (core.buffered > 0) {
      if (core.headHolds(max)) {
        return core.take(max);
      }
      // Several chunks buffered and the first is short: one copy up to max.
      return core.takeExactly(Math.min(max, core.buffered));
    }
    if (core.error !== undefined || core.closedLocally) {
      throw core.deadError();
    }
    if (core.eof || core.closed) {
      return EMPTY;
    }
    return null;
  }

  /**
   * Reads up to `max` bytes (default 64 KiB): resolves as soon as at least one byte is
   * available, with whatever is buffered up to `max` (a view when it lies in one chunk). Resolves with a
   * zero-length Uint8Array at EOF: the peer will send nothing more, ever.
   * @throws TimeoutError `SB_TIMEOUT` if nothing arrived within `timeout` ms (nothing consumed; the socket stays usable).
   * @throws ConnectionError `SB_ABORTED` on abort (socket usable); `SB_CONNECTION_RESET` etc. if the connection broke;
   *   `SB_CONNECTION_CLOSED` after close()/destroy().
   */
  async recv(max: number = DEFAULT_RECV_MAX, options?: CallOptions): Promise<Uint8Array> {
    checkCount('recv', 'max', max, 1);
    for (;;) {
      const result = this.recvNow(max);
      if (result !== null) {
        return result;
      }
      await this.waitReadable(options);
    }
  }

  /**
   * Reads exactly `n` bytes (the HOWTO's `myreceive` loop). A view when they lie in one
   * chunk, else one concatenation. The read buffer may grow to `n` for this call.
   * @throws UnexpectedEofError `SB_UNEXPECTED_EOF` if the peer shut down first (the partial bytes stay buffered).
   * @throws TimeoutError `SB_TIMEOUT` (nothing consumed; the socket stays usable); ConnectionError as for {@link recv}.
   */
  async recvExactly(n: number, options?: CallOptions): Promise<Uint8Array> {
    checkCount('recvExactly', 'n', n, 0);
    if (n === Number.POSITIVE_INFINITY) {
      throw new InvalidArgumentError('SB_INVALID_ARGUMENT', 'recvExactly: n must be finite');
    }
    const core = this.core;
    core.demand = n;
    core.maybeResume();
    try {
      for (;;) {
        if (core.buffered >= n) {
          return core.takeExactly(n);
        }
        if (core.error !== undefined || core.closedLocally) {
          throw core.deadError();
        }
        if (core.eof || core.closed) {
          throw new UnexpectedEofError(`connection ended after ${core.buffered} of ${n} bytes`);
        }
        await this.waitReadable(options, () => core.buffered >= n);
      }
    } finally {
      core.demand = 0;
    }
  }

  /**
   * Reads up to and consuming `delimiter`; returns the bytes before it (plus the
   * delimiter when `includeDelimiter`). Resolves `null` at a clean EOF (nothing buffered).
   * The search never rescans bytes already searched.
   * @throws FrameError `SB_FRAME_TOO_LARGE` if `max` bytes (default 64 KiB) arrive without a delimiter.
   * @throws UnexpectedEofError `SB_UNEXPECTED_EOF` if the peer shut down after a partial line.
   * @throws TimeoutError `SB_TIMEOUT` (nothing consumed; the socket stays usable); ConnectionError as for {@link recv}.
   */
  async recvUntil(
    delimiter: Uint8Array | string,
    options: RecvUntilOptions = {},
  ): Promise<Uint8Array | null> {
    const needle = toBytes('recvUntil', delimiter);
    if (needle.length === 0) {
      throw new InvalidArgumentError(
        'SB_INVALID_ARGUMENT',
        'recvUntil: the delimiter must not be empty',
      );
    }
    const max = options.max ?? DEFAULTS.maxLineFrame;
    checkCount('recvUntil', 'max', max, 0);
    const core = this.core;
    const overlap = needle.length - 1;
    core.demand = max === Number.POSITIVE_INFINITY ? 0 : max + needle.length;
    core.maybeResume();
    let searchFrom = 0;
    try {
      for (;;) {
        const index = core.buffered >= needle.length ? core.indexOf(needle, searchFrom) : -1;
        if (index >= 0) {
          if (index > max) {
            throw new FrameError(
              'SB_FRAME_TOO_LARGE',
              `recvUntil: no delimiter within max ${max} bytes (found at ${index})`,
            );
          }
          if (options.includeDelimiter === true) {
            return core.takeExactly(index + needle.length);
          }
          const result = core.takeExactly(index);
          core.skip(needle.length);
          return result;
        }
        searchFrom = Math.max(0, core.buffered - overlap);
        if (core.buffered - overlap > max) {
          throw new FrameError(
            'SB_FRAME_TOO_LARGE',
            `recvUntil: no delimiter within max ${max} bytes (${core.buffered} buffered)`,
          );
        }
        if (core.error !== undefined || core.closedLocally) {
          throw core.deadError();
        }
        if (core.eof || core.closed) {
          if (core.buffered === 0) {
            return null;
          }
          throw new UnexpectedEofError(
            `connection ended inside a ${core.buffered}-byte line without its delimiter`,
          );
        }
        const seen = core.buffered;
        await this.waitReadable(options, () => core.buffered > seen);
      }
    } finally {
      core.demand = 0;
    }
  }

  /**
   * Waits until a read would not block: bytes are buffered (more than `already`, via the
   * `more` predicate), EOF, an error, or close.
   * @throws TimeoutError `SB_TIMEOUT`; ConnectionError `SB_ABORTED`.
   */
  waitReadable(options?: CallOptions, more?: () => boolean): Promise<void> {
    const core = this.core;
    return waitUntil(
      core,
      () =>
        (more === undefined ? core.buffered > 0 : more()) ||
        core.eof ||
        core.error !== undefined ||
        core.closed ||
        core.closedLocally,
      options,
      core.clock,
      () => new TimeoutError('SB_TIMEOUT', `no data within ${options?.timeout} ms`),
    );
  }

  /**
   * Waits until the socket can accept bytes: connected and below the write high-water
   * mark (or dead, so that the next call reports the error).
   * @throws TimeoutError `SB_TIMEOUT`; ConnectionError `SB_ABORTED`.
   */
  waitWritable(options?: CallOptions): Promise<void> {
    const core = this.core;
    return waitUntil(
      core,
      () => this.isWritable() || core.error !== undefined || core.closed || core.closedLocally,
      options,
      core.clock,
      () => new TimeoutError('SB_TIMEOUT', `socket not writable within ${options?.timeout} ms`),
    );
  }

  /** @internal True when connected, open for writing and below the high-water mark. */
  isWritable(): boolean {
    const core = this.core;
    return (
      core.connected &&
      !core.writeEnded &&
      !core.closed &&
      !core.closedLocally &&
      core.error === undefined &&
      core.transport.writableLength < core.transport.writableHighWaterMark
    );
  }

  private checkWritable(where: string): void {
    const core = this.core;
    if (core.error !== undefined || core.closed || core.closedLocally) {
      throw core.deadError();
    }
    if (core.writeEnded) {
      throw new ConnectionError('SB_CONNECTION_CLOSED', `${where}: the write side was shut down`);
    }
  }

  /**
   * The HOWTO's `send`: accepts as many bytes as fit below the write high-water mark
   * right now (at least 1 if there is any room) and returns that count; 0 means "no room
   * now, or still connecting": wait with `select`/{@link waitWritable} and call again.
   * The accepted bytes are copied, so `bytes` may be reused at once.
   * @throws ConnectionError `SB_CONNECTION_CLOSED` after shutdown/close, or the connection's error.
   */
  send(bytes: Uint8Array | string): number {
    const data = toBytes('send', bytes);
    this.checkWritable('send');
    const transport = this.core.transport;
    if (!this.core.connected || data.length === 0) {
      return 0;
    }
    const room = transport.writableHighWaterMark - transport.writableLength;
    if (room <= 0) {
      return 0;
    }
    const count = Math.min(room, data.length);
    transport.write(Uint8Array.prototype.slice.call(data, 0, count));
    return count;
  }

  /**
   * Queues bytes without waiting (not copied: do not mutate `bytes` afterwards) and
   * returns false when the queue is above the high-water mark (then wait with
   * {@link waitWritable} or {@link sendAll}). The first write of a tick is sent at
   * once; later writes in the same tick are coalesced into one system call.
   * @throws ConnectionError `SB_CONNECTION_CLOSED` after shutdown/close, or the connection's error.
   */
  write(bytes: Uint8Array): boolean {
    this.checkWritable('write');
    const transport = this.core.transport;
    if (this.corked || transport.cork === undefined) {
      return transport.write(bytes, this.onWriteDone);
    }
    // The first write of a tick goes out at once (latency); later ones in the same tick
    // are corked and leave together when the microtask queue drains (throughput).
    const accepted = transport.write(bytes, this.onWriteDone);
    this.corked = true;
    transport.cork();
    // A reaction on a settled promise rather than queueMicrotask: node's queueMicrotask
    // wraps each callback in an AsyncResource and a bound function, a measurable share
    // of a small request/reply round trip. Same timing (a microtask); uncork cannot throw.
    RESOLVED.then(this.uncork);
    return accepted;
  }

  /**
   * @internal Queues bytes at once, without {@link write}'s coalescing of the writes that
   * follow in the same tick (no cork, no microtask): for a caller that writes the last
   * batch of its tick (Channel). Order with earlier writes is kept (a corked transport
   * buffers it behind them). Returns false when the queue is above the high-water mark.
   */
  writeBatch(bytes: Uint8Array): boolean {
    this.checkWritable('write');
    return this.core.transport.write(bytes, this.onWriteDone);
  }

  /**
   * Queues several chunks (e.g. a frame's header and body) as one system call (writev),
   * without copying them. Returns false when the queue is above the high-water mark.
   * @throws ConnectionError `SB_CONNECTION_CLOSED` after shutdown/close, or the connection's error.
   */
  writeChunks(chunks: readonly Uint8Array[]): boolean {
    this.checkWritable('writeChunks');
    const transport = this.core.transport;
    const cork = !this.corked && transport.cork !== undefined && chunks.length > 1;
    if (cork) {
      transport.cork!();
    }
    let accepted = true;
    for (const chunk of chunks) {
      accepted = transport.write(chunk, this.onWriteDone);
    }
    if (cork) {
      transport.uncork?.();
    }
    return accepted;
  }

  private corked = false;
  /** Created on first use: an idle connection never needs it (memory per connection). */
  private uncorkCallback: (() => void) | undefined;

  private get uncork(): () => void {
    if (this.uncorkCallback === undefined) {
      this.uncorkCallback = () => {
        this.corked = false;
        this.core.transport.uncork?.();
      };
    }
    return this.uncorkCallback;
  }

  /** @internal Time (clock ms) the last write reached the kernel; used for write timeouts. */
  lastWriteDoneAt = 0;
  /** Created on first write, like {@link uncorkCallback}. */
  private writeDoneCallback: (() => void) | undefined;

  private get onWriteDone(): () => void {
    if (this.writeDoneCallback === undefined) {
      this.writeDoneCallback = () => {
        this.lastWriteDoneAt = this.core.clock.now();
      };
    }
    return this.writeDoneCallback;
  }

  /**
   * @internal Gives the transport back without closing it: the Socket stops listening to
   * it and is inert from then on (a server's idle connection going back to sleep). Only
   * for a Socket that holds no input (`bufferedAmount === 0`), has seen no EOF, error or
   * close and has no write queued: those would be lost with it. The caller installs its
   * own listeners first, so that no event of the transport goes unheard.
   */
  release(): void {
    this.core.release();
  }

  /**
   * @internal The caller (a Channel) owns this socket from now on and keeps it reachable
   * while it is open, so the leak warning can never fire: drop the registration and the
   * captured stack (memory per connection).
   */
  untrackLeaks(): void {
    leakRegistry.unregister(this.core);
    this.core.origin = undefined;
  }

  /**
   * Sends every byte (the HOWTO's `mysend` loop) and resolves once they have been handed
   * to the kernel. Honours backpressure: first waits for `'drain'` if the queue is full.
   * `bytes` is not copied; do not mutate it until the promise settles.
   * @throws TimeoutError `SB_WRITE_TIMEOUT` if not flushed within `timeout` ms, and
   *   ConnectionError `SB_ABORTED` on abort: in both cases part of `bytes` may have been
   *   sent, so the socket is destroyed (the stream's framing is unknown).
   * @throws ConnectionError `SB_CONNECTION_CLOSED` after shutdown/close, `SB_CONNECTION_RESET` if the peer reset.
   */
  async sendAll(bytes: Uint8Array | string, options?: CallOptions): Promise<void> {
    const data = toBytes('sendAll', bytes);
    this.checkWritable('sendAll');
    const core = this.core;
    const deadline =
      options?.timeout !== undefined && options.timeout > 0
        ? core.clock.now() + options.timeout
        : 0;
    const timeoutError = (): TimeoutError =>
      new TimeoutError(
        'SB_WRITE_TIMEOUT',
        `sendAll: ${data.length} bytes not flushed within ${options?.timeout} ms`,
      );
    try {
      if (
        !core.connected ||
        core.transport.writableLength >= core.transport.writableHighWaterMark
      ) {
        await this.waitWritable(options).catch((error: unknown) => {
          throw error instanceof TimeoutError ? timeoutError() : error;
        });
        this.checkWritable('sendAll');
      }
      if (data.length === 0) {
        return;
      }
      let flushed = false;
      let writeError: Error | undefined;
      core.transport.write(data, (error) => {
        flushed = true;
        if (error !== undefined && error !== null) {
          writeError = error;
        }
        core.notify();
      });
      const remaining = deadline === 0 ? undefined : Math.max(1, deadline - core.clock.now());
      await waitUntil(
        core,
        () => flushed || core.error !== undefined || core.closed || core.closedLocally,
        { timeout: remaining, signal: options?.signal },
        core.clock,
        timeoutError,
      );
      if (writeError !== undefined || !flushed) {
        throw writeError === undefined ? core.deadError() : toSwitchboardError(writeError);
      }
    } catch (error) {
      const wrapped = toSwitchboardError(error);
      // SB_TIMEOUT here is the caller's AbortSignal.timeout(): as partial as an abort.
      if (
        wrapped.code === 'SB_WRITE_TIMEOUT' ||
        wrapped.code === 'SB_ABORTED' ||
        wrapped.code === 'SB_TIMEOUT'
      ) {
        core.destroy(wrapped);
      }
      throw wrapped;
    }
  }

  /**
   * Half-closes: sends FIN after queued bytes ("I'm done sending, still listening").
   * The peer's reads then return EOF. Idempotent; resolves when the FIN is queued to the
   * kernel (or the socket closed).
   */
  shutdown(how: 'write' = 'write'): Promise<void> {
    if (how !== 'write') {
      throw new InvalidArgumentError(
        'SB_INVALID_ARGUMENT',
        `shutdown: unsupported direction "${String(how)}"; use 'write'`,
      );
    }
    if (this.shutdownPromise === undefined) {
      const core = this.core;
      core.writeEnded = true;
      this.shutdownPromise = new Promise<void>((resolve) => {
        if (core.closed || core.transport.destroyed) {
          resolve();
          return;
        }
        const unobserve = core.observe(() => {
          if (core.closed) {
            unobserve();
            resolve();
          }
        });
        core.transport.end(() => {
          unobserve();
          resolve();
        });
      });
      core.notify();
    }
    return this.shutdownPromise;
  }

  /**
   * Graceful close, idempotent (later calls join the first): discards unread input,
   * flushes queued output, sends FIN, and waits for the peer to close its side (so
   * that our last bytes are not lost to a reset), at most `timeout` ms (default
   * `DEFAULTS.closeTimeout`), then destroys. Never rejects.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this.closePromise === undefined) {
      this.closePromise = this.closeGracefully(options.timeout ?? DEFAULTS.closeTimeout);
    }
    return this.closePromise;
  }

  private async closeGracefully(timeout: number): Promise<void> {
    const core = this.core;
    if (core.closed) {
      core.closedLocally = true;
      return;
    }
    if (core.error !== undefined) {
      core.destroy(undefined);
      await core.closedPromise;
      return;
    }
    core.discarding = true;
    core.clearInput();
    core.maybeResume();
    if (core.paused) {
      core.paused = false;
      core.transport.resume();
    }
    void this.shutdown('write');
    try {
      await waitUntil(
        core,
        () => core.closed,
        { timeout },
        core.clock,
        () => new TimeoutError('SB_TIMEOUT', 'close: peer did not finish'),
      );
    } catch {
      // The peer did not close its side in time: fall back to destroy.
    }
    core.closedLocally = true;
    if (!core.closed) {
      core.destroy(undefined);
      await core.closedPromise;
    }
    core.notify();
  }

  /** Turns TCP keepalive on or off (`initialDelay` in ms). No-op for transports without it. */
  setKeepAlive(enable: boolean, initialDelay: number = DEFAULTS.keepAliveInitialDelay): void {
    if (this.core.unixAddress === undefined) {
      this.core.transport.setKeepAlive?.(enable, initialDelay);
    }
  }

  /**
   * Destroys the connection at once (no flush; unread input is dropped). Pending and
   * later calls fail with `error` (wrapped if needed) or `SB_CONNECTION_CLOSED`;
   * {@link closed} resolves with it.
   */
  destroy(error?: Error): void {
    this.core.destroy(error === undefined ? undefined : toSwitchboardError(error));
  }

  /** `await using socket = await connect(...)` closes it gracefully. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
