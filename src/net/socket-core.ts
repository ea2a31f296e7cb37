/**
 * SocketCore: the connection state behind a {@link Socket}, the one object the
 * transport's listeners reach.
 *
 * Theory of operation
 * -------------------
 * The transport pushes chunks at us (`'data'`); callers pull through the Socket facade.
 * Between the two sits one {@link ByteQueue} (codec/byte-queue.ts), the same input
 * buffer every decoder uses: chunks are kept by reference on arrival (small ones
 * trickling in are coalesced, see its "Coalescing"). The core owns:
 *
 * 1. Bounded input. When the queue holds `readBufferLimit` bytes (or the bytes the
 *    current reader needs, if more: `recvExactly(n)` with a large `n`, see `demand`),
 *    the transport is paused, so the kernel's receive window closes and the peer slows
 *    down. It is resumed once a reader has taken the buffer down to half the limit
 *    (hysteresis), or at once when the reader needs more than is buffered.
 * 2. One observer list. Every state change (data, EOF, error, drain, connect, close)
 *    calls the observers; blocked calls, `select()` and `Channel` are observers.
 * 3. Lifecycle flags: EOF, the error that ended the connection, closed by the
 *    transport, closed locally, discarding after close(); the cached endpoints (node
 *    forgets them once the socket is destroyed).
 * 4. Leaks are reported. The core never references the public Socket facade, so an
 *    abandoned facade can be garbage-collected: {@link leakRegistry} then emits a
 *    process warning (type `SwitchboardWarning`, code `SB_SOCKET_LEAK`) with the stack
 *    captured at construction, and destroys the connection.
 * 5. No closures per connection: the transport's listeners are shared module-level
 *    functions that find the core through a symbol slot on the transport (CORE_SLOT).
 */

import { ByteQueue } from '../codec/byte-queue.js';
import { ConnectionError, type SwitchboardError, toSwitchboardError } from '../errors.js';
import { type Address, normalizeHost, type UnixAddress } from './address.js';
import type { Clock, Observable } from './clock.js';
import type { SocketOptions, SocketTransport } from './socket-options.js';

/** The zero-length result of a read at EOF (and of a 0-byte read). */
export const EMPTY = new Uint8Array(0);

/**
 * The internal state shared by the transport's listeners. It never references the
 * public {@link Socket}, so an abandoned Socket can be garbage-collected and reported.
 */
export class SocketCore implements Observable {
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
  /**
   * Bytes the waiting readers need (the largest); raises the pause threshold above
   * readBufferLimit. Set only through {@link addDemand} and {@link removeDemand}.
   */
  demand = 0;
  /**
   * Each waiting reader's need, made by the first one. Not one number: with two
   * readers waiting (`recvExactly` twice), the first to finish reset it to 0 and the
   * other, needing more than readBufferLimit, then waited forever on a paused socket.
   */
  demands: number[] | undefined;
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
    if (!this.connected || options.tls) {
      // Not for a plain socket already connected (every accepted one): it never emits
      // 'connect', and one more event name spills the transport's `_events` object
      // into a property array that outlives the Socket (memory per idle connection, #15).
      transport.on(options.tls ? 'secureConnect' : 'connect', onTransportConnect);
    }
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
        host: normalizeHost(transport.remoteAddress),
        port: transport.remotePort,
        tls: this.isTls,
      };
    }
    if (transport.localAddress !== undefined && transport.localPort !== undefined) {
      this.local = {
        kind: 'tcp',
        host: normalizeHost(transport.localAddress),
        port: transport.localPort,
        tls: this.isTls,
      };
    }
  }

  /** A reader now waits for `n` bytes to be buffered (0: for nothing beyond the limit). */
  addDemand(n: number): void {
    if (this.demands === undefined) {
      this.demands = [];
    }
    this.demands.push(n);
    if (n > this.demand) {
      this.demand = n;
    }
    this.maybeResume();
  }

  /** The reader that waited for `n` bytes is done (a no-op after {@link clearInput}). */
  removeDemand(n: number): void {
    const demands = this.demands;
    const index = demands === undefined ? -1 : demands.indexOf(n);
    if (index < 0) {
      return;
    }
    demands!.splice(index, 1);
    let largest = 0;
    for (const demand of demands!) {
      largest = Math.max(largest, demand);
    }
    this.demand = largest;
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
    this.demands = undefined;
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

export const leakRegistry = new FinalizationRegistry<SocketCore>((core) => {
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
