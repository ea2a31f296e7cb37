/**
 * What a {@link Socket} runs on and is configured with: the {@link SocketTransport}
 * interface (the subset of `net.Socket` it needs), the per-socket options and their
 * resolveOptions schemas, and the TCP tuning that `connect` and `listen` apply.
 * Types and tables only; no state.
 */

import { DEFAULTS } from '../options.js';
import type { UnixAddress } from './address.js';
import type { CallOptions, Clock } from './clock.js';

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

/** @internal resolveOptions schema of {@link SocketOptions} (clock and unixAddress aside). */
export const SOCKET_SCHEMA = {
  readBufferLimit: { kind: 'bytes', default: DEFAULTS.readBufferLimit as number, min: 1 },
  trackLeaks: { kind: 'boolean', default: true as boolean },
  tls: { kind: 'boolean', default: false as boolean },
} as const;
