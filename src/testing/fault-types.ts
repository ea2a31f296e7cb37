/**
 * The FaultProxy vocabulary: the public types of faults, options, events and counters
 * (what `switchboard/testing` exports), and the one error every FaultProxy check throws.
 * No behaviour lives here; the modules that act on these types import them from here.
 */
import type { Framing } from '../codec/types.js';
import { InvalidArgumentError } from '../errors.js';
import type { MessageAction, MessageFault } from './message-faults.js';

/** Which way bytes travel: `upstream` is client -> target, `downstream` is target -> client. */
export type FaultDirection = 'upstream' | 'downstream';

/** Where a fault applies. `both` applies it to each direction independently. */
export type FaultDirectionSpec = FaultDirection | 'both';

/**
 * A fault the proxy can inject. All times in ms, all sizes in bytes.
 *
 * - `latency`: delay every chunk by `ms`, plus a uniform jitter in `[-jitterMs, +jitterMs]`
 *   (never below 0, never reordering).
 * - `bandwidth`: forward at most `bytesPerSecond`.
 * - `slice`: deliver at most `maxBytes` per write (down to 1), yielding to the event loop
 *   (or waiting `delayMs`, fractions allowed) between writes so each piece leaves as its
 *   own segment. With `variationBytes`, each piece is `maxBytes ± variationBytes` (seeded),
 *   as Toxiproxy's slicer does.
 * - `resetAfter`: after `bytes` more bytes in this direction, reset (RST) both sides. With
 *   `delayMs`, the reset waits that long once the budget is reached (Toxiproxy's
 *   `reset_peer` timeout); the bytes after the budget are dropped meanwhile.
 * - `slowClose`: a FIN in this direction is forwarded `ms` late.
 * - `timeout`: drop this direction's bytes; `ms` after the fault applies to a connection,
 *   close it (FIN both ways). `ms` 0 holds the connection until the fault is removed,
 *   which closes the connections it held (Toxiproxy's `timeout`).
 * - `blackhole`: read and drop everything; the connection stays open and silent.
 * - `halfOpen`: stop forwarding (and reading) this direction without closing; bytes wait
 *   in the queue and the kernel buffers, and flow again when the fault is removed.
 * - `closeAfter`: after `bytes` more bytes in this direction, close both sides
 *   gracefully (FIN).
 */
export type Fault =
  | { type: 'latency'; ms: number; jitterMs?: number }
  | { type: 'bandwidth'; bytesPerSecond: number }
  | { type: 'slice'; maxBytes: number; delayMs?: number; variationBytes?: number }
  | { type: 'resetAfter'; bytes: number; delayMs?: number }
  | { type: 'blackhole' }
  | { type: 'halfOpen' }
  | { type: 'closeAfter'; bytes: number }
  | { type: 'slowClose'; ms: number }
  | { type: 'timeout'; ms: number }
  | MessageFault;

/** Options of {@link FaultProxy.addFault}. */
export interface AddFaultOptions {
  /**
   * Probability in [0, 1] that the fault applies to a given connection and direction,
   * rolled once per connection direction from the proxy's seed (Toxiproxy's `toxicity`,
   * rolled per link). Default 1.
   */
  toxicity?: number;
}

/** A TCP target `{ host, port }`. */
export interface FaultProxyTcpTarget {
  host: string;
  port: number;
}

/** Options of {@link FaultProxy.start}. */
export interface FaultProxyOptions {
  /**
   * Where the proxy listens, `HOST:PORT` or `[v6]:PORT` on a loopback host.
   * Default `127.0.0.1:0` (a free port; read it from {@link FaultProxy.port}).
   */
  listen?: string;
  /**
   * Where connections are forwarded: `HOST:PORT`, `[v6]:PORT`, `tcp://HOST:PORT`,
   * `{ host, port }`, or a unix socket (`unix:/path` or an absolute path). Loopback only.
   */
  target: string | FaultProxyTcpTarget;
  /**
   * A framing (spec string such as `line`, or a {@link Framing}): each direction is decoded
   * with it, which message faults and {@link FaultProxyOptions.onMessage} need. Bytes are
   * still forwarded exactly as received where no message fault applies; a framing error
   * makes that direction fall back to plain bytes (event `framingError`, counted).
   */
  framing?: string | Framing;
  /**
   * Called for each whole message decoded in each direction (needs `framing`), as it
   * arrives at the proxy. Must not throw. The tap and the recorder are built on it.
   */
  onMessage?: (message: FaultProxyMessage) => void;
  /** PRNG seed for jitter. Default 1. Same seed, same jitter schedule. */
  seed?: number;
  /**
   * Bytes a pipe queues before it pauses its source socket. Default 256 KiB.
   * With latency `L` ms, a direction's throughput is capped near `highWaterMark / L`.
   */
  highWaterMark?: number;
  /**
   * Condemned connections the proxy holds at once: those a fault has decided to end but
   * that still hold both sockets (a `resetAfter` waiting out its `delayMs`, a `timeout`
   * fault holding them, a `closeAfter` FIN waiting for the peer's). Past it the oldest is
   * reset at once (event `evict`), so a client that reconnects in a loop into a
   * `timeout` or `reset_peer` toxic cannot pile up sockets. Default 256.
   */
  maxCondemnedConnections?: number;
  /**
   * Proxied connections open at once. One more is destroyed as it is accepted (event
   * `error`), so a client that connects in a loop cannot exhaust the test process's
   * memory or file descriptors. Default 1024.
   */
  maxConnections?: number;
  /** Called synchronously for each notable event (see {@link FaultProxyEvent}). Must not throw. */
  onEvent?: (event: FaultProxyEvent) => void;
}

/** A decoded message, reported through {@link FaultProxyOptions.onMessage}. */
export interface FaultProxyMessage {
  connection: number;
  direction: FaultDirection;
  /** The payload as the framing's decoder returns it. */
  payload: Uint8Array;
  /** Its size on the wire (header and delimiters included). */
  wireBytes: number;
  /**
   * True for plain bytes after this direction's framing failed (`payload` is then the
   * chunk as received): the direction is counted in bytes from then on.
   */
  raw: boolean;
}

/** Events reported through {@link FaultProxyOptions.onEvent}. `connection` numbers start at 1. */
export type FaultProxyEvent =
  | { type: 'open'; connection: number }
  | { type: 'close'; connection: number }
  | { type: 'delay'; connection: number; direction: FaultDirection; ms: number }
  | { type: 'drop'; connection: number; direction: FaultDirection; bytes: number }
  | { type: 'reset'; connection: number; direction: FaultDirection }
  | { type: 'closeAfter'; connection: number; direction: FaultDirection }
  /** A condemned connection reset early: more than `maxCondemnedConnections` were held. */
  | { type: 'evict'; connection: number }
  | {
      type: 'framingError';
      connection: number;
      direction: FaultDirection;
      code: string;
      message: string;
    }
  | { type: 'message'; connection: number; direction: FaultDirection; action: MessageAction }
  | { type: 'error'; message: string };

/** Counters since the proxy started. Bytes are counted as written to the sink. */
export interface FaultProxyStats {
  /** Connections accepted in total. */
  connections: number;
  /** Connections currently open. */
  activeConnections: number;
  /** Bytes forwarded client -> target. */
  bytesUpstream: number;
  /** Bytes forwarded target -> client. */
  bytesDownstream: number;
  /** Bytes dropped by `blackhole` (and after a cut). */
  bytesDropped: number;
  /** Connections reset by `resetAfter`. */
  resets: number;
  /** Connections closed by `closeAfter`. */
  gracefulCloses: number;
  /** Connection directions whose framing failed and that fell back to plain bytes. */
  framingErrors: number;
  /** Messages a message fault acted on. */
  messagesAffected: number;
}

/** A caller's mistake, reported as SB_INVALID_ARGUMENT with a "FaultProxy:" prefix. */
export function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SB_INVALID_ARGUMENT', `FaultProxy: ${message}`);
}
