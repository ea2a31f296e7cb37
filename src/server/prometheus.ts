/**
 * The Prometheus `/metrics` endpoint: prom-client registries over a server's
 * {@link ServerMetrics}, served by `node:http` with limits of its own.
 *
 * Theory of operation
 * -------------------
 * Internal module. `prom-client` is an optional peer dependency, imported on
 * first use ({@link importOptional}: `SB_MISSING_DEPENDENCY` when absent); its
 * types appear only here, never in the public declarations.
 *
 * Registries: one per server and format, never prom-client's global one. The
 * collectors read the plain counters at scrape time, so the I/O path never
 * calls into prom-client. There are two registries, Prometheus text 0.0.4 and
 * OpenMetrics 1.0.0, because prom-client binds the format to the registry and,
 * rendering OpenMetrics, renames its counters in place (`x_total` becomes family
 * `x`): one metric object cannot serve both. The format is chosen per request
 * from the `Accept` header ({@link negotiateFormat}). Each registry also carries
 * prom-client's default `process_*` and `nodejs_*` collectors (of this process:
 * the primary under `processes` dispatch).
 *
 * Names follow the Prometheus rules: `switchboard_` prefix, the unit as a plural
 * suffix, `_total` last on counters:
 *
 * | name                                                     | type      | labels |
 * |----------------------------------------------------------|-----------|--------|
 * | switchboard_connections_open                             | gauge     |        |
 * | switchboard_connections_accepted_total                   | counter   |        |
 * | switchboard_connections_refused_total                    | counter   | reason |
 * | switchboard_buffered_input_bytes                         | gauge     |        |
 * | switchboard_received_frames_total / _sent_frames_total   | counter   |        |
 * | switchboard_received_bytes_total / _sent_bytes_total     | counter   |        |
 * | switchboard_errors_total                                 | counter   | code   |
 * | switchboard_handler_duration_seconds                     | histogram | kind   |
 * | switchboard_bus_state                                    | gauge     | state  |
 * | switchboard_bus_pending_bytes                            | gauge     |        |
 * | switchboard_bus_reconnects_total                         | counter   |        |
 * | switchboard_bus_messages_total                           | counter   | outcome |
 *
 * Limits: the endpoint is a second listening port, so it gets its own small
 * budget instead of none (the main port's `maxConnections` does not cover it).
 * At most `DEFAULTS.metricsMaxConnections` connections are kept open. When one
 * more arrives, the oldest connection with no request in progress is closed to
 * make room (or, when every slot has a request in progress, the new one is
 * closed): so idle connections can neither use up the process's file
 * descriptors, starving the main port, nor lock a scraper out. Each connection
 * must send a request and have it answered within
 * `DEFAULTS.metricsRequestTimeout` ms of connecting or of its previous
 * response, else it is destroyed (slowloris). Keep-alive idles end after 1 s. A
 * request sent before the previous one on its connection was answered
 * (pipelining) closes the connection.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Metric, Registry, RegistryContentType } from 'prom-client';
import { type Clock, systemClock } from '../net/clock.js';
import { DEFAULTS } from '../options.js';
import { BUS_STATES, type ChatBridge, type ChatBus } from './bus.js';
import { LATENCY_BUCKETS_SECONDS, type ServerMetrics } from './metrics.js';
import { importOptional } from './optional-dependency.js';

type PromClient = typeof import('prom-client');
type AnyRegistry = Registry<RegistryContentType>;

/** The two exposition formats the endpoint serves. */
export type MetricsFormat = 'prometheus' | 'openmetrics';

/** The registries of one endpoint, one per format. */
export type MetricsRegistries = Readonly<Record<MetricsFormat, AnyRegistry>>;

/** What the bus collectors read: a bus and, optionally, its bridge. */
export interface BusMetricsSource {
  readonly bus: ChatBus;
  readonly bridge: ChatBridge | null;
}

/** Loads prom-client, or throws `SB_MISSING_DEPENDENCY` naming it. */
function loadPromClient(): Promise<PromClient> {
  return importOptional('prom-client', () => import('prom-client'));
}

/**
 * Builds the per-server registries (Prometheus text and OpenMetrics) whose
 * collectors read `metrics` (and `bus`, when given) at scrape time.
 * @throws InvalidArgumentError `SB_MISSING_DEPENDENCY` when prom-client is not installed.
 */
export async function createMetricsRegistries(
  metrics: ServerMetrics,
  bus: BusMetricsSource | null = null,
): Promise<MetricsRegistries> {
  const prom = await loadPromClient();
  const build = (contentType: RegistryContentType): AnyRegistry => {
    // setContentType, not the constructor argument, which prom-client's typings omit.
    const registry: AnyRegistry = new prom.Registry<RegistryContentType>();
    registry.setContentType(contentType);
    registerServerMetrics(prom, registry, metrics);
    if (bus !== null) {
      registerBusMetrics(prom, registry, bus);
    }
    prom.collectDefaultMetrics({ register: registry });
    return registry;
  };
  return Object.freeze({
    prometheus: build(prom.Registry.PROMETHEUS_CONTENT_TYPE),
    openmetrics: build(prom.Registry.OPENMETRICS_CONTENT_TYPE),
  });
}

/**
 * Counter makers for `registers` whose values are read at scrape time: `counter` sets
 * one value, `labelledCounter` one value per label value (e.g. errors by code).
 */
function scrapedCounters(prom: PromClient, registers: AnyRegistry[]) {
  const counter = (name: string, help: string, read: () => number): void => {
    new prom.Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  const labelledCounter = (
    name: string,
    help: string,
    label: string,
    read: () => Iterable<readonly [string, number]>,
  ): void => {
    new prom.Counter({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        this.reset();
        for (const [value, count] of read()) {
          this.inc({ [label]: value }, count);
        }
      },
    });
  };
  return { counter, labelledCounter };
}

function registerServerMetrics(prom: PromClient, registry: AnyRegistry, metrics: ServerMetrics) {
  const registers = [registry];
  const { counter, labelledCounter } = scrapedCounters(prom, registers);
  new prom.Gauge({
    name: 'switchboard_connections_open',
    help: 'Connections being served now.',
    registers,
    collect() {
      this.set(metrics.connectionsOpen);
    },
  });
  counter(
    'switchboard_connections_accepted_total',
    'Connections accepted and served.',
    () => metrics.connectionsAccepted,
  );
  labelledCounter(
    'switchboard_connections_refused_total',
    'Connections refused before being served, by reason.',
    'reason',
    () => Object.entries(metrics.connectionsRefused),
  );
  new prom.Gauge({
    name: 'switchboard_buffered_input_bytes',
    help: 'Input bytes held by open connections (unread, unfinished frames, undelivered frames).',
    registers,
    collect() {
      this.set(metrics.snapshot().bufferedInput);
    },
  });
  new prom.Gauge({
    name: 'switchboard_buffered_output_bytes',
    help: 'Output bytes held for open connections (queued by switchboard and in node socket buffers).',
    registers,
    collect() {
      this.set(metrics.snapshot().bufferedOutput);
    },
  });
  counter(
    'switchboard_received_frames_total',
    'Frames decoded from clients.',
    () => metrics.snapshot().framesIn,
  );
  counter(
    'switchboard_sent_frames_total',
    'Frames written to clients.',
    () => metrics.snapshot().framesOut,
  );
  counter(
    'switchboard_received_bytes_total',
    'Payload bytes received in frames.',
    () => metrics.snapshot().bytesIn,
  );
  counter(
    'switchboard_sent_bytes_total',
    'Payload bytes sent in frames.',
    () => metrics.snapshot().bytesOut,
  );
  labelledCounter(
    'switchboard_errors_total',
    'Errors that ended or refused a connection, by code.',
    'code',
    () => metrics.errors,
  );
  registry.registerMetric(latencyCollector(metrics));
}

/**
 * prom-client's Histogram can only be fed one observation at a time, but our
 * histogram is kept (and merged across worker processes) as plain bucket counts.
 * This collector renders those counts in the Prometheus histogram layout; the
 * registry only needs `name`, `help`, `type`, `aggregator` and `get()`.
 */
function latencyCollector(metrics: ServerMetrics): Metric {
  const name = 'switchboard_handler_duration_seconds';
  const help =
    'Handler latency: kind="frame" per frame, kind="connection" per connection handler call.';
  const collector = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    collect: () => undefined,
    get: async () => {
      const values: {
        metricName: string;
        labels: Record<string, string | number>;
        value: number;
      }[] = [];
      for (const [kind, histogram] of Object.entries(metrics.handlerLatency)) {
        let cumulative = 0;
        LATENCY_BUCKETS_SECONDS.forEach((bound, index) => {
          cumulative += histogram.counts[index]!;
          values.push({
            metricName: `${name}_bucket`,
            labels: { le: bound, kind },
            value: cumulative,
          });
        });
        values.push({
          metricName: `${name}_bucket`,
          labels: { le: '+Inf', kind },
          value: histogram.count,
        });
        values.push({ metricName: `${name}_sum`, labels: { kind }, value: histogram.sum });
        values.push({ metricName: `${name}_count`, labels: { kind }, value: histogram.count });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
  return collector as unknown as Metric;
}

/**
 * The bus metrics: `switchboard_bus_state{state}` (1 for the current state, 0
 * for the others), `switchboard_bus_pending_bytes`, `switchboard_bus_reconnects_total`,
 * `switchboard_bus_messages_total{outcome="published|received|dropped|delivered|duplicate|gap|resync"}`.
 */
function registerBusMetrics(
  prom: PromClient,
  registry: AnyRegistry,
  source: BusMetricsSource,
): void {
  const registers = [registry];
  new prom.Gauge({
    name: 'switchboard_bus_state',
    help: 'Chat bus connection state (1 = current state).',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const current = source.bus.status.state;
      for (const state of BUS_STATES) {
        this.set({ state }, state === current ? 1 : 0);
      }
    },
  });
  new prom.Gauge({
    name: 'switchboard_bus_pending_bytes',
    help: 'Bytes of chat messages waiting for the bus to reconnect.',
    registers,
    collect() {
      this.set(source.bus.status.pendingBytes);
    },
  });
  const { counter, labelledCounter } = scrapedCounters(prom, registers);
  counter(
    'switchboard_bus_reconnects_total',
    'Reconnects to the chat bus.',
    () => source.bus.status.reconnects,
  );
  labelledCounter(
    'switchboard_bus_messages_total',
    'Chat bus messages by outcome.',
    'outcome',
    () => {
      const status = source.bus.status;
      const outcomes: [string, number][] = [
        ['published', status.published],
        ['received', status.received],
        ['dropped', status.dropped],
      ];
      const stats = source.bridge?.stats;
      if (stats !== undefined) {
        outcomes.push(
          ['delivered', stats.delivered],
          ['duplicate', stats.duplicates],
          ['gap', stats.gaps],
          ['resync', stats.resyncs],
        );
      }
      return outcomes;
    },
  );
}

/**
 * Picks the exposition format for an `Accept` header, as Prometheus's own
 * negotiation does: media ranges by quality (highest first; the more specific
 * one first on a tie); the first that names OpenMetrics wins it, the first that
 * covers `text/plain` wins the text format. No header, or nothing acceptable:
 * the text format (every scraper reads it).
 */
export function negotiateFormat(accept: string | undefined): MetricsFormat {
  if (accept === undefined || accept.trim() === '') {
    return 'prometheus';
  }
  const ranges = accept
    .split(',')
    .map((part, order) => {
      const [type = '', ...parameters] = part.split(';').map((piece) => piece.trim());
      let quality = 1;
      for (const parameter of parameters) {
        const [key, value] = parameter.split('=').map((piece) => piece.trim());
        if (key?.toLowerCase() === 'q' && value !== undefined) {
          const parsed = Number(value);
          quality = Number.isFinite(parsed) ? parsed : 0;
        }
      }
      const media = type.toLowerCase();
      const specificity = media === '*/*' ? 0 : media.endsWith('/*') ? 1 : 2;
      return { media, quality, specificity, order };
    })
    .filter((range) => range.quality > 0)
    .sort((a, b) => b.quality - a.quality || b.specificity - a.specificity || a.order - b.order);
  for (const { media } of ranges) {
    if (media === 'application/openmetrics-text') {
      return 'openmetrics';
    }
    if (media === 'text/plain' || media === 'text/*' || media === '*/*') {
      return 'prometheus';
    }
  }
  return 'prometheus';
}

/** A running `/metrics` endpoint. */
export interface MetricsEndpoint {
  /** `http://HOST:PORT/metrics` with the real port. */
  readonly url: string;
  /** Connections open now (at most `maxConnections`). */
  readonly connections: number;
  /** Stops the HTTP server (idempotent). */
  close(): Promise<void>;
}

/** Limits of a `/metrics` endpoint (defaults: `DEFAULTS.metrics*`). */
export interface MetricsEndpointLimits {
  /** Connections kept open at once (the oldest idle one is closed to admit another). */
  maxConnections?: number;
  /** A request must be received and answered within this, ms, from connect or the previous response. */
  requestTimeout?: number;
  /** Timer source for the request deadline (tests pass a fake one). */
  clock?: Clock;
}

/**
 * Serves `registries` at `GET /metrics` on `host:port` with `node:http`: the
 * format the `Accept` header asks for, with its content type. Other paths get
 * 404, other methods 405. See the module comment for the limits.
 */
export async function serveMetrics(
  registries: MetricsRegistries,
  host: string,
  port: number,
  limits: MetricsEndpointLimits = {},
): Promise<MetricsEndpoint> {
  const maxConnections = limits.maxConnections ?? DEFAULTS.metricsMaxConnections;
  const requestTimeout = limits.requestTimeout ?? DEFAULTS.metricsRequestTimeout;
  const clock = limits.clock ?? systemClock;
  /** Every open connection and its deadline timer, oldest connection first. */
  const deadlines = new Map<Socket, unknown>();
  /** Connections with a request being received or answered. */
  const busy = new Set<Socket>();
  const forget = (socket: Socket): void => {
    clock.clearTimeout(deadlines.get(socket));
    deadlines.delete(socket);
    busy.delete(socket);
  };
  const armDeadline = (socket: Socket): void => {
    clock.clearTimeout(deadlines.get(socket));
    deadlines.set(
      socket,
      clock.setTimeout(() => socket.destroy(), requestTimeout),
    );
  };
  const server = http.createServer((request, response) => {
    const socket = request.socket;
    if (busy.has(socket)) {
      // Pipelining: node parses a whole burst at once, and each request would start its
      // own collection (one 1.7 MiB write of GETs held 330 MiB while the client read
      // nothing). Scrapers send one request at a time, so the connection is closed.
      socket.destroy();
      return;
    }
    busy.add(socket);
    response.once('close', () => {
      busy.delete(socket);
      if (!socket.destroyed && deadlines.has(socket)) {
        armDeadline(socket); // the next request's time starts now
      }
    });
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' })
        .end('method not allowed\n');
      return;
    }
    const registry = registries[negotiateFormat(request.headers.accept)];
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': registry.contentType, vary: 'Accept' });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      () => {
        response
          .writeHead(500, { 'content-type': 'text/plain' })
          .end('metrics collection failed\n');
      },
    );
  });
  server.keepAliveTimeout = 1000;
  server.on('connection', (socket: Socket) => {
    if (deadlines.size >= maxConnections) {
      // Full: make room by closing the oldest connection with no request in
      // progress (an idle one), or refuse this one when every slot is busy.
      let idle: Socket | undefined;
      for (const open of deadlines.keys()) {
        if (!busy.has(open)) {
          idle = open;
          break;
        }
      }
      if (idle === undefined) {
        socket.destroy();
        return;
      }
      forget(idle);
      idle.destroy();
    }
    armDeadline(socket);
    socket.once('close', () => forget(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const shownHost = bound.address.includes(':') ? `[${bound.address}]` : bound.address;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${shownHost}:${bound.port}/metrics`,
    get connections() {
      return deadlines.size;
    },
    close() {
      if (closing === null) {
        closing = new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
          for (const socket of deadlines.keys()) {
            socket.destroy(); // idle ones that never sent a request
          }
        });
      }
      return closing;
    },
  };
}
