/**
 * Heartbeat: dead-peer detection that knows nothing about sockets.
 *
 * Theory of operation: every `interval` ms the heartbeat looks at how many pings are
 * still unanswered. If that count has reached `maxOutstanding`, the peer is stale:
 * {@link HeartbeatHost.onStale} is called once and the heartbeat stops. Otherwise it
 * sends one more ping and counts it. Any pong ({@link Heartbeat.pong}) resets the count
 * to 0. A silent peer is therefore reported exactly `interval × (maxOutstanding + 1)`
 * ms after start (or after its last pong): `maxOutstanding` pings, then one more
 * interval to let the last one be answered.
 *
 * Timers come from an injected {@link Clock}; the host is two methods, so tests drive
 * it without a socket (as nats.js's heartbeats do, but without real sleeps).
 */
import { InvalidArgumentError } from '../errors.js';
import { DEFAULTS, resolveOptions } from '../options.js';
import { type Clock, clockOption } from './clock.js';

/** What a {@link Heartbeat} needs from its connection. */
export interface HeartbeatHost {
  /** Sends one ping. A rejected promise is ignored (the connection reports its own errors). */
  sendPing(): void | Promise<void>;
  /** Called once when `maxOutstanding` pings went unanswered. The host should disconnect. */
  onStale(): void;
}

/** Heartbeat settings. */
export interface HeartbeatOptions {
  /** Ms between pings. Default `DEFAULTS.heartbeatInterval` (15 s). Must be > 0. */
  interval?: number;
  /** Unanswered pings before the peer is declared stale. Default `DEFAULTS.heartbeatMaxOutstanding` (2). */
  maxOutstanding?: number;
  /** Timer source. Default: the global timers. */
  clock?: Clock;
}

/** @internal The heartbeat options' schema (createServer validates its `heartbeat` with it). */
export const HEARTBEAT_SCHEMA = {
  interval: { kind: 'ms', default: DEFAULTS.heartbeatInterval as number, min: 1 },
  maxOutstanding: { kind: 'count', default: DEFAULTS.heartbeatMaxOutstanding as number, min: 1 },
} as const;

/** Pings a peer periodically and reports it stale when pongs stop coming. */
export class Heartbeat {
  /** Ms between pings. */
  readonly interval: number;
  /** Unanswered pings tolerated. */
  readonly maxOutstanding: number;
  private readonly host: HeartbeatHost;
  private readonly clock: Clock;
  private timer: unknown;
  private unanswered = 0;
  private running = false;

  /** @throws InvalidArgumentError `SB_BAD_OPTION` for a non-positive interval or maxOutstanding. */
  constructor(host: HeartbeatHost, options: HeartbeatOptions = {}) {
    if (
      host === null ||
      typeof host !== 'object' ||
      typeof host.sendPing !== 'function' ||
      typeof host.onStale !== 'function'
    ) {
      throw new InvalidArgumentError(
        'SB_INVALID_ARGUMENT',
        'Heartbeat: host must have sendPing() and onStale()',
      );
    }
    const resolved = resolveOptions('heartbeat', HEARTBEAT_SCHEMA, options, {}, ['clock']);
    this.interval = resolved.interval;
    this.maxOutstanding = resolved.maxOutstanding;
    this.host = host;
    this.clock = clockOption('heartbeat', options.clock);
  }

  /** Pings sent and not yet answered. */
  get outstanding(): number {
    return this.unanswered;
  }

  /** True between {@link start} and {@link stop} (or staleness). */
  get isRunning(): boolean {
    return this.running;
  }

  /** Starts the ping schedule (idempotent). */
  start(): void {
    if (this.running) {
      return;
    }
    this.running = true;
    this.unanswered = 0;
    this.schedule();
  }

  /** Stops pinging (idempotent). */
  stop(): void {
    this.running = false;
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Records a pong from the peer: the outstanding count goes back to 0. */
  pong(): void {
    this.unanswered = 0;
  }

  private schedule(): void {
    this.timer = this.clock.setTimeout(this.tick, this.interval);
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    if (!this.running) {
      return;
    }
    if (this.unanswered >= this.maxOutstanding) {
      this.stop();
      this.host.onStale();
      return;
    }
    this.unanswered += 1;
    this.schedule();
    try {
      const sent = this.host.sendPing();
      if (sent !== undefined && typeof sent.then === 'function') {
        sent.then(undefined, ignore);
      }
    } catch {
      // A failing send means the connection is breaking; it reports that itself.
    }
  };
}

function ignore(): void {}
