/**
 * Server metrics: plain-number counters, read by the optional Prometheus
 * endpoint (prometheus.ts).
 *
 * Theory of operation
 * -------------------
 * The I/O path only does `metrics.framesIn += 1` style updates on a
 * {@link ServerMetrics} object: no allocation, no library call, no labels. The
 * Prometheus side lives in prometheus.ts and is loaded only when the server was
 * given a `metrics` address, so this module depends on nothing outside Node.
 * {@link reportConnectionError} pairs the error count with the frameError
 * diagnostics message, as every place that ends or refuses a connection does both.
 *
 * In the `processes` dispatch model, workers keep their own `ServerMetrics` and
 * send deltas to the primary ({@link MetricsDelta}), which merges them, so one
 * scrape of the primary covers every worker.
 */
import { diagnosticChannels } from '../diagnostics.js';
import type { ErrorCode, SwitchboardError } from '../errors.js';

/** Why a connection was refused before it was served. */
export type RefusalReason =
  | 'max_connections'
  | 'max_connections_per_ip'
  | 'proxy_header'
  | 'closing';

/**
 * What a handler latency measures: `frame` = one frame handled (threads, built-in
 * handlers); `connection` = one connection handler call, start to finish.
 */
export type LatencyKind = 'frame' | 'connection';

/** Upper bounds of the handler latency buckets, in seconds. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/** A latency histogram in plain numbers (cumulative only at export time). */
export class LatencyHistogram {
  /** Count per bucket (not cumulative); the last slot is `+Inf`. */
  readonly counts: number[] = new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0);
  /** Sum of all observations, in seconds. */
  sum = 0;
  /** Number of observations. */
  count = 0;

  /** Records one duration in ms. */
  observe(milliseconds: number): void {
    const seconds = milliseconds / 1000;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS_SECONDS.length && seconds > LATENCY_BUCKETS_SECONDS[bucket]!) {
      bucket++;
    }
    this.counts[bucket]! += 1;
    this.sum += seconds;
    this.count += 1;
  }

  /** Adds another histogram's (or a delta's) observations to this one. */
  merge(other: { counts: readonly number[]; sum: number; count: number }): void {
    for (let index = 0; index < this.counts.length; index++) {
      this.counts[index]! += other.counts[index] ?? 0;
    }
    this.sum += other.sum;
    this.count += other.count;
  }
}

/** A copy of every counter, safe to keep, serialize or send to another process. */
export interface MetricsSnapshot {
  connectionsOpen: number;
  connectionsAccepted: number;
  connectionsRefused: Record<RefusalReason, number>;
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Errors that ended or refused a connection, by code. */
  errors: Partial<Record<ErrorCode, number>>;
  /** Input bytes held by open connections now (gauge; bounded by maxBufferedInputTotal). */
  bufferedInput: number;
  /** Output bytes held for open connections now (gauge; bounded by maxBufferedOutputTotal). */
  bufferedOutput: number;
  handlerLatency: Record<LatencyKind, { counts: number[]; sum: number; count: number }>;
}

/** What a process worker sends the primary: counter increments since its last report. */
export type MetricsDelta = Omit<
  MetricsSnapshot,
  | 'connectionsOpen'
  | 'connectionsAccepted'
  | 'connectionsRefused'
  | 'bufferedInput'
  | 'bufferedOutput'
>;

/** Traffic of connections still open (a dispatcher's, or one worker process's). */
export interface LiveTraffic {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Input bytes the connections hold now (the input budget's total). */
  bufferedInput: number;
  /** Output bytes held for the connections now (the output budget's total). */
  bufferedOutput: number;
}

/** No connection open: all zeros (frozen; copy it to sum into). */
export const NO_LIVE_TRAFFIC: Readonly<LiveTraffic> = Object.freeze({
  framesIn: 0,
  framesOut: 0,
  bytesIn: 0,
  bytesOut: 0,
  bufferedInput: 0,
  bufferedOutput: 0,
});

/**
 * The counters of one server. Fields are public plain numbers on purpose: the
 * I/O path increments them directly.
 */
export class ServerMetrics {
  /** Connections being served now (gauge). */
  connectionsOpen = 0;
  /** Connections accepted and served since start. */
  connectionsAccepted = 0;
  /** Connections refused, by reason. */
  readonly connectionsRefused: Record<RefusalReason, number> = {
    max_connections: 0,
    max_connections_per_ip: 0,
    proxy_header: 0,
    closing: 0,
  };
  /** Frames decoded from clients. */
  framesIn = 0;
  /** Frames written to clients. */
  framesOut = 0;
  /** Payload bytes of frames decoded from clients. */
  bytesIn = 0;
  /** Payload bytes of frames written to clients. */
  bytesOut = 0;
  /** Errors that ended or refused a connection, by code. */
  readonly errors: Map<ErrorCode, number> = new Map();
  /** Handler latency histograms. */
  readonly handlerLatency: Record<LatencyKind, LatencyHistogram> = {
    frame: new LatencyHistogram(),
    connection: new LatencyHistogram(),
  };

  /**
   * Frames and bytes of connections still open (their channels count them; they
   * are folded into the totals when the connection ends). Set by the server.
   */
  liveTraffic: (() => LiveTraffic) | null = null;

  /** Counts one error by code. */
  recordError(code: ErrorCode): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /** Counts one refused connection. */
  recordRefusal(reason: RefusalReason): void {
    this.connectionsRefused[reason] += 1;
  }

  /** Adds a worker's delta (processes model). */
  mergeDelta(delta: MetricsDelta): void {
    this.framesIn += delta.framesIn;
    this.framesOut += delta.framesOut;
    this.bytesIn += delta.bytesIn;
    this.bytesOut += delta.bytesOut;
    for (const [code, count] of Object.entries(delta.errors) as [ErrorCode, number][]) {
      this.errors.set(code, (this.errors.get(code) ?? 0) + count);
    }
    this.handlerLatency.frame.merge(delta.handlerLatency.frame);
    this.handlerLatency.connection.merge(delta.handlerLatency.connection);
  }

  /** A deep copy of every counter. */
  snapshot(): MetricsSnapshot {
    const latency = (histogram: LatencyHistogram) => ({
      counts: [...histogram.counts],
      sum: histogram.sum,
      count: histogram.count,
    });
    const live = this.liveTraffic?.() ?? NO_LIVE_TRAFFIC;
    return {
      connectionsOpen: this.connectionsOpen,
      connectionsAccepted: this.connectionsAccepted,
      connectionsRefused: { ...this.connectionsRefused },
      framesIn: this.framesIn + live.framesIn,
      framesOut: this.framesOut + live.framesOut,
      bytesIn: this.bytesIn + live.bytesIn,
      bytesOut: this.bytesOut + live.bytesOut,
      errors: Object.fromEntries(this.errors),
      bufferedInput: live.bufferedInput,
      bufferedOutput: live.bufferedOutput,
      handlerLatency: {
        frame: latency(this.handlerLatency.frame),
        connection: latency(this.handlerLatency.connection),
      },
    };
  }

  /**
   * Returns the increments since the previous call and resets the per-frame
   * counters (used by process workers, whose primary owns the totals).
   */
  takeDelta(): MetricsDelta {
    const {
      connectionsOpen,
      connectionsAccepted,
      connectionsRefused,
      bufferedInput,
      bufferedOutput,
      ...snapshot
    } = this.snapshot();
    const delta: MetricsDelta = {
      ...snapshot,
      framesIn: this.framesIn,
      framesOut: this.framesOut,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
    };
    this.framesIn = 0;
    this.framesOut = 0;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.errors.clear();
    for (const histogram of Object.values(this.handlerLatency)) {
      histogram.counts.fill(0);
      histogram.sum = 0;
      histogram.count = 0;
    }
    return delta;
  }
}

/**
 * What the server does with an error that ended or refused a connection: counts it
 * (`switchboard_errors_total`) and publishes it on the frameError diagnostics channel.
 * `connectionId` is null for a connection refused before it got one (or an error of a
 * worker rather than of one connection); `remoteAddress` is '' where it is not known.
 */
export function reportConnectionError(
  metrics: ServerMetrics,
  where: { serverId: number; connectionId: string | null; remoteAddress: string },
  error: SwitchboardError,
): void {
  metrics.recordError(error.code);
  diagnosticChannels.frameError.publish({
    serverId: where.serverId,
    connectionId: where.connectionId,
    remoteAddress: where.remoteAddress,
    code: error.code,
    error,
  });
}
