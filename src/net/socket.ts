/**
 * Socket: a pull-based byte stream over `node:net` / `node:tls` (or any duplex-like
 * transport, see {@link SocketTransport}), with the HOWTO's verbs done right. This file
 * is the public facade and its verbs; the connection state behind it (input buffer,
 * flow control, observers, lifecycle, leak reporting) is {@link SocketCore}
 * (socket-core.ts), and the option types and transport interface are socket-options.ts.
 *
 * Theory of operation
 * -------------------
 * The transport pushes chunks into the core's input queue; callers pull with `recv*`.
 * Rules:
 *
 * 1. Bounded input (socket-core.ts): the transport pauses at `readBufferLimit`
 *    buffered bytes, or at what the current reader needs if more (`recvExactly(n)`).
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
 * 5. Writes coalesce within a tick: the first `write` of a tick goes out at once, later
 *    ones are corked and leave together when the microtask queue drains.
 * 6. Leaks are reported. The facade is what callers hold; the core never references
 *    it. When a facade is garbage-collected while the connection is open, the core
 *    warns (`SB_SOCKET_LEAK`) and destroys the connection. A Socket wrapped in a
 *    Channel is reachable from the channel's read loop, so only bare Sockets are
 *    reported.
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

import type { InspectOptionsStylized } from 'node:util';
import { checkOptionsObject } from '../arguments.js';
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
import { type Address, formatAddress } from './address.js';
import { toBytes } from './bytes.js';
import {
  type CallOptions,
  checkCallOptions,
  checkTimeout,
  clockOption,
  waitUntil,
} from './clock.js';
import { INSPECT, inspectSummary, type NodeInspectFunction } from './inspect.js';
import { EMPTY, leakRegistry, SocketCore } from './socket-core.js';
import {
  type CloseOptions,
  type RecvUntilOptions,
  SOCKET_SCHEMA,
  type SocketOptions,
  type SocketTransport,
} from './socket-options.js';

const RESOLVED: Promise<void> = Promise.resolve();

function ignoreRejection(): void {
  // sendAll's caller gets the rejection; the copy this handles is only for `void sendAll(x)`.
}
const DEFAULT_RECV_MAX = 64 * 1024;

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
  constructor(transport: SocketTransport, given: SocketOptions = {}) {
    const options = checkOptionsObject('Socket', given) ?? {};
    if (
      typeof transport !== 'object' ||
      transport === null ||
      typeof transport.on !== 'function' ||
      typeof transport.write !== 'function'
    ) {
      throw new InvalidArgumentError(
        'SB_INVALID_ARGUMENT',
        'Socket: transport must be a net.Socket',
      );
    }
    const resolved = resolveOptions('Socket', SOCKET_SCHEMA, options, {}, ['clock', 'unixAddress']);
    this.core = new SocketCore(transport, {
      readBufferLimit: resolved.readBufferLimit,
      clock: clockOption('Socket', options.clock),
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

  /**
   * What `util.inspect(socket)` / `console.log(socket)` show: state, addresses and the
   * bytes buffered each way; not the internals.
   */
  [INSPECT](depth: number, options: InspectOptionsStylized, inspect: NodeInspectFunction): string {
    const core = this.core;
    const state =
      core.error !== undefined
        ? 'failed'
        : this.isClosed
          ? 'closed'
          : this.connecting
            ? 'connecting'
            : core.eof
              ? 'peer ended'
              : 'open';
    const summary: Record<string, unknown> = {
      state,
      local: this.localAddress,
      remote: this.remoteAddress,
      tls: core.isTls,
      bufferedAmount: core.buffered,
      writableLength: core.transport.writableLength,
    };
    if (core.error !== undefined) {
      summary.error = core.error.code;
    }
    return inspectSummary('Socket', summary, depth, options, inspect);
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
  async ready(given?: CallOptions): Promise<void> {
    const options = checkCallOptions('ready', given);
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
  async recv(max: number = DEFAULT_RECV_MAX, given?: CallOptions): Promise<Uint8Array> {
    checkCount('recv', 'max', max, 1);
    const options = checkCallOptions('recv', given);
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
  async recvExactly(n: number, given?: CallOptions): Promise<Uint8Array> {
    checkCount('recvExactly', 'n', n, 0);
    const options = checkCallOptions('recvExactly', given);
    if (n === Number.POSITIVE_INFINITY) {
      throw new InvalidArgumentError('SB_INVALID_ARGUMENT', 'recvExactly: n must be finite');
    }
    const core = this.core;
    core.addDemand(n);
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
      core.removeDemand(n);
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
    given: RecvUntilOptions = {},
  ): Promise<Uint8Array | null> {
    const options: RecvUntilOptions = checkCallOptions('recvUntil', given) ?? {};
    if (options.includeDelimiter !== undefined && typeof options.includeDelimiter !== 'boolean') {
      throw new InvalidArgumentError(
        'SB_INVALID_ARGUMENT',
        'recvUntil: includeDelimiter must be a boolean',
      );
    }
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
    const demand = max === Number.POSITIVE_INFINITY ? 0 : max + needle.length;
    core.addDemand(demand);
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
      core.removeDemand(demand);
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
      return this.writeToTransport(bytes);
    }
    // The first write of a tick goes out at once (latency); later ones in the same tick
    // are corked and leave together when the microtask queue drains (throughput).
    const accepted = this.writeToTransport(bytes);
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
    return this.writeToTransport(bytes);
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
      accepted = this.writeToTransport(chunk);
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

  /**
   * @internal Time (clock ms) the last write reached the kernel; used for write timeouts
   * and the idle deadline.
   */
  lastWriteDoneAt = 0;

  /**
   * @internal Told when a write queued behind a backlog completed, i.e. node's writable
   * buffer shrank (a Channel reporting its output to the server's output budget).
   */
  writeObserver: { written(): void } | undefined = undefined;

  /**
   * Hands `bytes` to the transport and keeps {@link lastWriteDoneAt}. With nothing queued
   * ahead of them, node gives the bytes to the kernel within this call, so the time is
   * stamped now and the write takes no completion callback. Why: a callback makes node
   * schedule a tick per write to call it (`afterWriteTick`), a share of a small
   * request/reply round trip. Behind a backlog the bytes go later: only then does the
   * write carry the callback that stamps the time. (A write the kernel took only part
   * of is stamped when it began; the next write, queued behind it, carries the
   * callback.)
   */
  private writeToTransport(bytes: Uint8Array): boolean {
    const transport = this.core.transport;
    if (transport.writableLength === 0) {
      const accepted = transport.write(bytes);
      this.lastWriteDoneAt = this.core.clock.now();
      return accepted;
    }
    return transport.write(bytes, this.onWriteDone);
  }
  /** Created on first write, like {@link uncorkCallback}. */
  private writeDoneCallback: (() => void) | undefined;

  private get onWriteDone(): () => void {
    if (this.writeDoneCallback === undefined) {
      this.writeDoneCallback = () => {
        this.lastWriteDoneAt = this.core.clock.now();
        this.writeObserver?.written();
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
   *
   * `void socket.sendAll(x)` is safe, as `void channel.send(x)` is: a rejection nobody
   * awaits is not reported as unhandled (a peer's reset cannot end the process); the
   * socket keeps the failure (a reset) or is destroyed (a timeout, an abort), so the
   * next call reports it.
   */
  sendAll(bytes: Uint8Array | string, options?: CallOptions): Promise<void> {
    const sending = this.sendEverything(bytes, options);
    sending.catch(ignoreRejection);
    return sending;
  }

  private async sendEverything(bytes: Uint8Array | string, given?: CallOptions): Promise<void> {
    const options = checkCallOptions('sendAll', given);
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
   * @throws InvalidArgumentError (at once, not as a rejection) `SB_BAD_OPTION` for options
   *   that are not an object, `SB_INVALID_ARGUMENT` for a bad timeout.
   */
  close(given: CloseOptions = {}): Promise<void> {
    const options = checkOptionsObject('close', given) ?? {};
    const timeout = options.timeout === undefined ? DEFAULTS.closeTimeout : options.timeout;
    checkTimeout('close', timeout);
    if (this.closePromise === undefined) {
      this.closePromise = this.closeGracefully(timeout);
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
    if (typeof enable !== 'boolean' || !Number.isSafeInteger(initialDelay) || initialDelay < 0) {
      throw new InvalidArgumentError(
        'SB_INVALID_ARGUMENT',
        'setKeepAlive: enable must be a boolean, initialDelay an integer of ms >= 0',
      );
    }
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
