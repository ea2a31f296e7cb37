/**
 * Server limits: the option schema (units, defaults, what 0 means), the
 * {@link ConnectionLimits} every connection is served with, and the connection
 * admission bookkeeping.
 *
 * Theory of operation
 * -------------------
 * Admission is decided synchronously in the `'connection'` callback, before any
 * byte is read: a connection over `maxConnections` or `maxConnectionsPerIp` is
 * accepted by the kernel and refused by us at once (never left in the backlog,
 * where it would look like a hung server to the client). {@link AdmissionControl}
 * counts open connections in total and per client IP; every `admit()` that
 * returns `null` is matched by exactly one `release()`. With the PROXY protocol,
 * the per-IP count is charged again to the client address from the header once
 * it is known ({@link AdmissionControl.rebind}), so one proxy does not count as
 * one client.
 */
import { DEFAULTS, maxFrameRule, type OptionSchema, type ResolvedOptions } from '../options.js';
import type { RefusalReason } from './metrics.js';

/**
 * Numeric and boolean server options, validated by `resolveOptions`. Times in ms,
 * sizes in bytes. See docs/SERVER.md for the full table.
 */
export const SERVER_LIMITS_SCHEMA = {
  /** Concurrent connections served. Default 10000. 0 = unlimited. */
  maxConnections: { kind: 'count', default: DEFAULTS.maxConnections as number },
  /** Concurrent connections from one client IP. Default 0 = unlimited. */
  maxConnectionsPerIp: { kind: 'count', default: DEFAULTS.maxConnectionsPerIp as number },
  /** Largest frame, bytes (>= 1). Absent: the framing's own limit (8 MiB; line/delim 64 KiB). */
  maxFrame: maxFrameRule(undefined as number | undefined),
  /** Close a connection with no inbound bytes for this long, ms. Default 300000. 0 = off. */
  idleTimeout: { kind: 'ms', default: DEFAULTS.serverIdleTimeout as number },
  /** A started frame (and the PROXY header) must complete within this, ms. Default 30000. 0 = off. */
  frameTimeout: { kind: 'ms', default: DEFAULTS.serverFrameTimeout as number },
  /** Queued output must progress within this and be taken by the peer within 2 x this, ms. Default 30000. 0 = off. */
  writeTimeout: { kind: 'ms', default: DEFAULTS.writeTimeout as number },
  /** Bytes queued for a slow reader before the connection is cut, bytes. Default 16 MiB. */
  maxQueuedOutput: { kind: 'bytes', default: DEFAULTS.maxQueuedOutput as number, min: 1 },
  /**
   * Input bytes all connections together may hold (unread, unfinished frames, frames
   * not yet received), bytes. Default 256 MiB. Past it the connection holding the most
   * is cut (`SB_MEMORY_BUDGET`). `processes`: each worker gets total / workers.
   * `Infinity` = no budget (trusted peers only).
   */
  maxBufferedInputTotal: {
    kind: 'bytes',
    default: DEFAULTS.maxBufferedInputTotal as number,
    min: 1,
  },
  /**
   * Output bytes all connections together may hold (queued by switchboard plus node's
   * writable buffers), bytes. Default 256 MiB. Past it the connection holding the most
   * is cut (`SB_OUTPUT_BUDGET`). `processes`: each worker gets total / workers.
   * `Infinity` = no budget (trusted peers only).
   */
  maxBufferedOutputTotal: {
    kind: 'bytes',
    default: DEFAULTS.maxBufferedOutputTotal as number,
    min: 1,
  },
  /** sbp `onRequest`: a handler must answer within this, ms, or the client gets an ERROR. Default 30000. 0 = off. */
  requestTimeout: { kind: 'ms', default: DEFAULTS.requestTimeout as number },
  /** sbp `onRequest`: requests of one connection running at once; one more gets an ERROR. Default 64. */
  maxPendingRequests: { kind: 'count', default: DEFAULTS.maxPendingRequests as number, min: 1 },
  /** Kernel accept queue length (`listen(2)` backlog). Default 511. */
  backlog: { kind: 'count', default: DEFAULTS.backlog as number, min: 1 },
  /** Worker threads or processes for `threads`/`processes`. Default 0 = one per CPU. */
  workers: { kind: 'count', default: 0 },
  /** Graceful close: time for handlers to finish before the rest is destroyed, ms. Default 10000. 0 = no limit. */
  closeTimeout: { kind: 'ms', default: DEFAULTS.closeTimeout as number },
  /** `processes`: ms between liveness pings to each worker. Default 1000. 0 = off (a stopped worker is never noticed). */
  workerHeartbeatInterval: { kind: 'ms', default: DEFAULTS.workerHeartbeatInterval as number },
  /** `processes`: ms a worker may stay unresponsive before it is killed and replaced. Default 10000. 0 = never replaced. */
  workerUnresponsiveTimeout: {
    kind: 'ms',
    default: DEFAULTS.workerUnresponsiveTimeout as number,
  },
  /** Expect a PROXY protocol v1/v2 header on every connection. Default false. */
  proxyProtocol: { kind: 'boolean', default: false },
} as const satisfies OptionSchema;

/**
 * The server options every connection is served with. They travel as one object
 * wherever connections are served (ConnectionSettings, a worker process's config), so
 * a new per-connection limit is one name here plus its entry in the schema above
 * (and its public doc in ServerOptions).
 */
export const CONNECTION_LIMIT_NAMES = [
  'idleTimeout',
  'frameTimeout',
  'writeTimeout',
  'maxQueuedOutput',
  'maxBufferedInputTotal',
  'maxBufferedOutputTotal',
] as const satisfies readonly (keyof typeof SERVER_LIMITS_SCHEMA)[];

/** The per-connection limits, resolved (see {@link CONNECTION_LIMIT_NAMES}). Times in ms, sizes in bytes. */
export type ConnectionLimits = Readonly<
  Pick<ResolvedOptions<typeof SERVER_LIMITS_SCHEMA>, (typeof CONNECTION_LIMIT_NAMES)[number]>
>;

/** The {@link ConnectionLimits} out of the resolved server options. */
export function connectionLimits(
  resolved: ResolvedOptions<typeof SERVER_LIMITS_SCHEMA>,
): ConnectionLimits {
  const limits: Partial<Record<(typeof CONNECTION_LIMIT_NAMES)[number], number>> = {};
  for (const name of CONNECTION_LIMIT_NAMES) {
    limits[name] = resolved[name];
  }
  return limits as ConnectionLimits;
}

/** Counts open connections, in total and per client IP, and decides admission. */
export class AdmissionControl {
  readonly #maxConnections: number;
  readonly #maxPerIp: number;
  readonly #perIp = new Map<string, number>();
  #open = 0;

  /** `0` for either limit means unlimited. */
  constructor(maxConnections: number, maxConnectionsPerIp: number) {
    this.#maxConnections = maxConnections;
    this.#maxPerIp = maxConnectionsPerIp;
  }

  /** Connections admitted and not yet released. */
  get open(): number {
    return this.#open;
  }

  /**
   * Admits one connection from `ip`, or returns why not. An admitted
   * connection must be `release()`d exactly once, with the IP it is charged to.
   */
  admit(ip: string): RefusalReason | null {
    if (this.#maxConnections > 0 && this.#open >= this.#maxConnections) {
      return 'max_connections';
    }
    if (this.#maxPerIp > 0 && (this.#perIp.get(ip) ?? 0) >= this.#maxPerIp) {
      return 'max_connections_per_ip';
    }
    this.#open += 1;
    this.#chargeIp(ip, 1);
    return null;
  }

  /**
   * Moves an admitted connection's per-IP charge from `fromIp` to `toIp` (the PROXY
   * client address). Returns `'max_connections_per_ip'` when `toIp` is full; the
   * charge then stays on `fromIp` and the caller refuses and releases as usual.
   */
  rebind(fromIp: string, toIp: string): RefusalReason | null {
    if (fromIp === toIp) {
      return null;
    }
    if (this.#maxPerIp > 0 && (this.#perIp.get(toIp) ?? 0) >= this.#maxPerIp) {
      return 'max_connections_per_ip';
    }
    this.#chargeIp(fromIp, -1);
    this.#chargeIp(toIp, 1);
    return null;
  }

  /** Releases an admitted connection charged to `ip`. */
  release(ip: string): void {
    this.#open -= 1;
    this.#chargeIp(ip, -1);
  }

  #chargeIp(ip: string, change: number): void {
    if (this.#maxPerIp === 0) {
      return; // unlimited: keep no per-IP map at all
    }
    const next = (this.#perIp.get(ip) ?? 0) + change;
    if (next <= 0) {
      this.#perIp.delete(ip);
    } else {
      this.#perIp.set(ip, next);
    }
  }
}
