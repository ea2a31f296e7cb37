/**
 * Options: one defaults table, documented units, loud validation.
 *
 * Every default switchboard uses lives in {@link DEFAULTS}. All durations are in
 * milliseconds; for every timeout `0` means "off". Sizes are in bytes.
 * {@link resolveOptions} validates a caller's options against a schema, names
 * the offending option in its error, rejects unknown and renamed options, and
 * never mutates the caller's object.
 */
import { didYouMean } from './did-you-mean.js';
import { InvalidArgumentError } from './errors.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The defaults table (SPEC §8). Times in ms, sizes in bytes. */
export const DEFAULTS = Object.freeze({
  /** Largest frame a decoder accepts and an encoder writes: 8 MiB. */
  maxFrame: 8 * MiB,
  /** Largest frame for `line` and `delim` framings: 64 KiB. */
  maxLineFrame: 64 * KiB,
  /** Largest header block (up to and including CRLFCRLF) for `content-length` framing: 8 KiB. */
  maxHeaderBlock: 8 * KiB,
  /** Client idle timeout: 0 = off. */
  clientIdleTimeout: 0,
  /** Server idle timeout: 5 minutes. */
  serverIdleTimeout: 300_000,
  /** A started frame must complete within this on the server (slowloris): 30 s. */
  serverFrameTimeout: 30_000,
  /** Client frame timeout: 0 = off. */
  clientFrameTimeout: 0,
  /** Queued output must progress within this, and be taken by the peer within 2 x this: 30 s. */
  writeTimeout: 30_000,
  /** Connection establishment deadline: 30 s. */
  connectTimeout: 30_000,
  /** Bytes queued for a slow reader before the connection is cut: 16 MiB. */
  maxQueuedOutput: 16 * MiB,
  /** Bytes a Socket buffers inbound before pausing the kernel socket: 1 MiB. */
  readBufferLimit: 1 * MiB,
  /**
   * Server-wide budget for input held by all connections together (unread bytes,
   * unfinished frames, frames not yet received): 256 MiB. Past it, the connection
   * holding the most is cut with `SB_MEMORY_BUDGET`.
   */
  maxBufferedInputTotal: 256 * MiB,
  /**
   * Server-wide budget for output held for all connections together (switchboard's
   * queues plus node's writable buffers): 256 MiB, as for input, so the two budgets
   * bound a server's buffered bytes at 512 MiB whatever its peers do. A peer that
   * reads drains its queue within a round trip, so only peers that stopped (or
   * nearly stopped) reading hold output for long: 10,000 healthy chat clients hold
   * far less than this. Past it, the connection holding the most is cut with
   * `SB_OUTPUT_BUDGET`.
   */
  maxBufferedOutputTotal: 256 * MiB,
  /** Concurrent connections a server accepts. */
  maxConnections: 10_000,
  /** Concurrent connections per client IP: 0 = unlimited. */
  maxConnectionsPerIp: 0,
  /** listen() backlog. */
  backlog: 511,
  /** Graceful server close: time to let handlers finish before destroying: 10 s. */
  closeTimeout: 10_000,
  /**
   * Graceful server close: a connection with no frame in progress, nothing queued and no
   * traffic for this long is idle and ends at once rather than after closeTimeout: 25 ms.
   */
  closeIdleQuiet: 25,
  /**
   * Idle connections of input-first bodies (echo, discard, the threads pool) are checked
   * this often: one idle at two checks in a row, with no message either way between them
   * (so after 250–500 ms of quiet), drops its Socket and Channel until the peer sends
   * again (memory per idle connection, #15): 250 ms.
   */
  sleepCheckInterval: 250,
  /** Heartbeat ping interval when heartbeats are asked for. */
  heartbeatInterval: 15_000,
  /** Unanswered pings before the peer is declared unresponsive. */
  heartbeatMaxOutstanding: 2,
  /** sbp: an `onRequest` handler must answer within this, or the requester gets an ERROR: 30 s. */
  requestTimeout: 30_000,
  /** sbp: REQUESTs of one connection whose handler is still running; one more is refused with an ERROR. */
  maxPendingRequests: 64,
  /**
   * `threads`: unfinished `onRequest` jobs the pool holds per worker, timed-out ones
   * included (nothing can cancel a handler that never settles); one more is refused
   * with `SB_TOO_MANY_REQUESTS`: 1024.
   */
  threadsMaxRequestsPerWorker: 1024,
  /** TCP keepalive on by default. */
  keepAlive: true,
  /** TCP keepalive initial delay. */
  keepAliveInitialDelay: 60_000,
  /** Connections the `/metrics` endpoint keeps open; the oldest idle one is closed to admit another. */
  metricsMaxConnections: 16,
  /** A `/metrics` request must arrive and be answered within this, from connect or the previous response: 10 s. */
  metricsRequestTimeout: 10_000,
  /** Default listen/connect host. */
  host: '127.0.0.1',
  /**
   * `processes`: the primary pings each worker this often over IPC; a worker whose
   * ping stays unanswered for `workerHeartbeatMaxMissed` intervals is unresponsive and
   * gets no new connections: 1 s.
   */
  workerHeartbeatInterval: 1_000,
  /**
   * `processes`: heartbeat ticks in a row that find a worker's ping unanswered before
   * it is unresponsive; one late answer under load is not a stopped worker: 3.
   */
  workerHeartbeatMaxMissed: 3,
  /** `processes`: a worker unresponsive this long is killed and replaced: 10 s. */
  workerUnresponsiveTimeout: 10_000,
  /** Lowest TLS version accepted. */
  minTlsVersion: 'TLSv1.2',
} as const);

/** The kinds of value an option can hold, each with its own validation. */
export type OptionKind = 'ms' | 'bytes' | 'count' | 'boolean' | 'string';

/** One row of an options schema. */
export interface OptionRule<T> {
  kind: OptionKind;
  default: T;
  /** Smallest allowed value for numeric kinds (default 0). */
  min?: number;
  /** Said after the "must be >= min" error: what to write instead (e.g. leave the option out). */
  belowMin?: string;
}

/**
 * The `maxFrame` rule of every framing, Channel and server: a limit of at least 1 byte.
 * There is one way to ask for the framing's default: leave `maxFrame` out (or pass
 * `undefined`; the CLI: no `--max-frame`). `maxFrame: 0` is refused with `SB_BAD_OPTION`
 * rather than read as "default" in one place and "only empty frames" in another.
 * `fallback` is what an absent option resolves to: the framing's own default, or
 * `undefined` where the framing is built later.
 */
export function maxFrameRule<T extends number | undefined>(fallback: T): OptionRule<T> {
  return {
    kind: 'bytes',
    default: fallback,
    min: 1,
    belowMin: "leave it out for the framing's default",
  };
}

/** A schema: option name → rule. */
export type OptionSchema = Record<string, OptionRule<unknown>>;

/** The resolved type of a schema. */
export type ResolvedOptions<S extends OptionSchema> = {
  [K in keyof S]: S[K]['default'];
};

function validate(where: string, name: string, rule: OptionRule<unknown>, value: unknown): void {
  const label = `${where}: option "${name}"`;
  switch (rule.kind) {
    case 'boolean':
      if (typeof value !== 'boolean') {
        throw new InvalidArgumentError('SB_BAD_OPTION', `${label} must be a boolean`);
      }
      return;
    case 'string':
      if (typeof value !== 'string') {
        throw new InvalidArgumentError('SB_BAD_OPTION', `${label} must be a string`);
      }
      return;
    default: {
      const min = rule.min ?? 0;
      const unit = rule.kind === 'ms' ? ' (ms)' : rule.kind === 'bytes' ? ' (bytes)' : '';
      if (typeof value !== 'number' || Number.isNaN(value)) {
        throw new InvalidArgumentError('SB_BAD_OPTION', `${label} must be a number${unit}`);
      }
      if (value !== Number.POSITIVE_INFINITY && !Number.isInteger(value)) {
        throw new InvalidArgumentError('SB_BAD_OPTION', `${label} must be an integer${unit}`);
      }
      if (value < min) {
        const hint = rule.belowMin === undefined ? '' : `; ${rule.belowMin}`;
        throw new InvalidArgumentError('SB_BAD_OPTION', `${label} must be >= ${min}${unit}${hint}`);
      }
    }
  }
}

/**
 * Validates `input` against `schema` and returns a new object with defaults
 * filled in. Unknown options throw (with the replacement's name when the option
 * was renamed, via `renamed`). `undefined` values mean "use the default".
 */
export function resolveOptions<S extends OptionSchema>(
  where: string,
  schema: S,
  input: object | undefined,
  renamed: Record<string, string> = {},
  passThrough: readonly string[] = [],
): ResolvedOptions<S> {
  const resolved: Record<string, unknown> = {};
  for (const [name, rule] of Object.entries(schema)) {
    resolved[name] = rule.default;
  }
  if (input === undefined || input === null) {
    return resolved as ResolvedOptions<S>;
  }
  if (typeof input !== 'object') {
    throw new InvalidArgumentError('SB_BAD_OPTION', `${where}: options must be an object`);
  }
  for (const [name, value] of Object.entries(input)) {
    if (passThrough.includes(name)) {
      continue;
    }
    const rule = schema[name];
    if (rule === undefined) {
      const replacement = renamed[name];
      // The pass-through names are options too (createServer's `framing`, `handler`):
      // `framming` is as much a typo of one of them as `idleTimout` is of a limit.
      const guess =
        replacement === undefined
          ? didYouMean(name, [...Object.keys(schema), ...passThrough])
          : undefined;
      const hint =
        replacement !== undefined
          ? `; use "${replacement}" instead`
          : guess !== undefined
            ? ` (did you mean "${guess}"?)`
            : '';
      throw new InvalidArgumentError('SB_BAD_OPTION', `${where}: unknown option "${name}"${hint}`);
    }
    if (value === undefined) {
      continue;
    }
    validate(where, name, rule, value);
    resolved[name] = value;
  }
  return resolved as ResolvedOptions<S>;
}
