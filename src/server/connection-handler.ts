/**
 * The connection-handler contract: what a handler is handed ({@link ConnectionInfo}
 * beside its Channel), the handler's type, and the input-first mark that lets its
 * connections start dormant.
 *
 * Types and one WeakSet, no I/O: the built-in handlers (handlers.ts), which a
 * `threads` worker loads too, and the connection machinery (connection.ts) both take
 * the contract from here, so neither imports the other.
 */
import type { Channel } from '../net/channel.js';
import type { ProxyHeader } from './proxy-protocol.js';

/** What a connection handler learns about its connection. */
export interface ConnectionInfo {
  /** Connection id, unique within the server (`"17"`; `"w2-17"` in process worker 2). */
  readonly id: string;
  /** Client address, e.g. `tcp://203.0.113.7:51000`; from the PROXY header when proxied. */
  readonly remoteAddress: string;
  /** The server address the client reached; from the PROXY header when proxied. */
  readonly localAddress: string;
  /** The client's TLS certificate (mutual TLS), or undefined. */
  readonly peerCertificate: Record<string, unknown> | undefined;
  /** True when the addresses came from a PROXY protocol header. */
  readonly proxied: boolean;
  /** The parsed PROXY header (with its TLVs), or null. */
  readonly proxyHeader: ProxyHeader | null;
  /** Aborted when the server starts closing: a handler that loops forever should stop. */
  readonly signal: AbortSignal;
}

/**
 * @internal The {@link ConnectionInfo} an input-first body gets: `resumeState` (0 at the
 * start) is kept across the runs that going back to sleep causes (see markInputFirst).
 */
export interface ResumableInfo extends ConnectionInfo {
  resumeState: number;
}

/** A connection handler as users write it: serves one connection, returns when done. */
export type ConnectionHandler = (channel: Channel, info: ConnectionInfo) => Promise<void> | void;

/**
 * The body that serves a connection: a user's {@link ConnectionHandler}, a built-in,
 * or a dispatch model's frame loop (`threads`). The same type; the name says who wrote it.
 */
export type ConnectionBody = ConnectionHandler;

/**
 * Bodies that do nothing until the peer's first bytes (or its EOF) arrive and never
 * look at `info` before that: the built-in `echo` and `discard`, the threads pool.
 */
const INPUT_FIRST_BODIES = new WeakSet<ConnectionBody>();

/**
 * Declares that `body` starts by receiving and does nothing before the first frame
 * (or the end of input): its connections may then stay dormant — no Socket, Channel,
 * decoder or pending promise — until the peer sends something. Returns `body`.
 *
 * It also lets an idle connection go back to sleep (#15): while the body waits in
 * `receive()` with nothing in progress, `receive()` may return `null` although input
 * has not ended. The body must then return as at an end of input, with nothing left
 * to do; it is run again, on a new Channel, when the peer next sends (or ends, or
 * fails). What it must remember across runs goes in `info.resumeState`
 * ({@link ResumableInfo}).
 */
export function markInputFirst<T extends ConnectionBody>(body: T): T {
  INPUT_FIRST_BODIES.add(body);
  return body;
}

/** True when `body` was marked with {@link markInputFirst}. */
export function isInputFirst(body: ConnectionBody): boolean {
  return INPUT_FIRST_BODIES.has(body);
}
