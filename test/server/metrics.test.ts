import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { BusStatus, ChatBus } from '../../src/server/bus.js';
import { LatencyHistogram, ServerMetrics } from '../../src/server/metrics.js';
import {
  createMetricsRegistries,
  type MetricsEndpoint,
  negotiateFormat,
  serveMetrics,
} from '../../src/server/prometheus.js';
import { requireTool } from '../helpers/interop.js';
import { ManualClock, until } from './helpers.js';
import { parsePrometheusText, sampleValue } from './prom-text.js';

const endpoints: MetricsEndpoint[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) {
    socket.destroy();
  }
  await Promise.all(endpoints.splice(0).map((endpoint) => endpoint.close()));
});

/** What Prometheus 2.x sends when scraping (it prefers OpenMetrics). */
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

/** A bus as the bus collectors see it: only its status is read. */
function busWithStatus(status: BusStatus): ChatBus {
  return {
    instanceId: status.instanceId,
    status,
    publish: () => undefined,
    subscribe: () => () => undefined,
    flush: async () => undefined,
    close: async () => undefined,
  };
}

async function endpointFor(
  metrics: ServerMetrics,
  limits: Parameters<typeof serveMetrics>[3] = {},
): Promise<MetricsEndpoint> {
  const endpoint = await serveMetrics(
    await createMetricsRegistries(metrics),
    '127.0.0.1',
    0,
    limits,
  );
  endpoints.push(endpoint);
  return endpoint;
}

/** An idle raw TCP connection to the endpoint; resolves once connected. */
function idleConnection(url: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.on('error', () => undefined);
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

function closedPromise(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) {
      resolve();
    } else {
      socket.once('close', () => resolve());
    }
  });
}

describe('LatencyHistogram', () => {
  it('puts observations in the first bucket whose bound is >= the value', () => {
    const histogram = new LatencyHistogram();
    histogram.observe(0.1); // 0.0001 s: first bucket (le is inclusive)
    histogram.observe(3); // 0.003 s -> 0.005 bucket
    histogram.observe(60_000); // beyond 10 s -> +Inf
    expect(histogram.counts[0]).toBe(1);
    expect(histogram.counts[4]).toBe(1);
    expect(histogram.counts.at(-1)).toBe(1);
    expect(histogram.count).toBe(3);
    expect(histogram.sum).toBeCloseTo(60.0031, 6);
  });
});

describe('ServerMetrics', () => {
  it('takeDelta returns increments and resets them; mergeDelta adds them', () => {
    const worker = new ServerMetrics();
    worker.framesIn += 3;
    worker.bytesOut += 10;
    worker.recordError('SB_IDLE_TIMEOUT');
    worker.handlerLatency.frame.observe(1);
    const delta = worker.takeDelta();
    expect(worker.framesIn).toBe(0);
    expect(worker.handlerLatency.frame.count).toBe(0);
    const primary = new ServerMetrics();
    primary.mergeDelta(delta);
    primary.mergeDelta(delta);
    expect(primary.snapshot()).toMatchObject({
      framesIn: 6,
      bytesOut: 20,
      errors: { SB_IDLE_TIMEOUT: 2 },
      handlerLatency: { frame: { count: 2 } },
    });
  });
});

describe('Prometheus endpoint', () => {
  it('serves the per-server registry at /metrics with values read at scrape time', async () => {
    const metrics = new ServerMetrics();
    const endpoint = await serveMetrics(await createMetricsRegistries(metrics), '127.0.0.1', 0);
    endpoints.push(endpoint);
    metrics.connectionsAccepted = 5;
    metrics.connectionsOpen = 2;
    metrics.recordRefusal('max_connections');
    metrics.framesIn = 7;
    metrics.bytesIn = 70;
    metrics.recordError('SB_FRAME_TOO_LARGE');
    metrics.handlerLatency.frame.observe(2);
    const response = await fetch(endpoint.url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const samples = parsePrometheusText(await response.text());
    expect(sampleValue(samples, 'switchboard_connections_accepted_total')).toBe(5);
    expect(sampleValue(samples, 'switchboard_connections_open')).toBe(2);
    expect(
      sampleValue(samples, 'switchboard_connections_refused_total', { reason: 'max_connections' }),
    ).toBe(1);
    expect(sampleValue(samples, 'switchboard_received_frames_total')).toBe(7);
    expect(sampleValue(samples, 'switchboard_received_bytes_total')).toBe(70);
    expect(sampleValue(samples, 'switchboard_errors_total', { code: 'SB_FRAME_TOO_LARGE' })).toBe(
      1,
    );
    expect(
      sampleValue(samples, 'switchboard_handler_duration_seconds_count', { kind: 'frame' }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'switchboard_handler_duration_seconds_bucket', {
        kind: 'frame',
        le: '0.001',
      }),
    ).toBe(0);
    expect(
      sampleValue(samples, 'switchboard_handler_duration_seconds_bucket', {
        kind: 'frame',
        le: '0.0025',
      }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'switchboard_handler_duration_seconds_bucket', {
        kind: 'frame',
        le: '+Inf',
      }),
    ).toBe(1);

    metrics.framesIn = 8;
    const again = parsePrometheusText(await (await fetch(endpoint.url)).text());
    expect(sampleValue(again, 'switchboard_received_frames_total')).toBe(8);
  });

  it('two servers do not share a registry', async () => {
    const first = new ServerMetrics();
    const second = new ServerMetrics();
    first.framesOut = 1;
    second.framesOut = 2;
    const text1 = await (await createMetricsRegistries(first)).prometheus.metrics();
    const text2 = await (await createMetricsRegistries(second)).prometheus.metrics();
    expect(sampleValue(parsePrometheusText(text1), 'switchboard_sent_frames_total')).toBe(1);
    expect(sampleValue(parsePrometheusText(text2), 'switchboard_sent_frames_total')).toBe(2);
  });

  it('a pipelined request closes the connection instead of being collected', async () => {
    // One 1.7 MiB write of 50,000 pipelined GETs made node parse them all at once, and
    // each started its own collection: the process grew from 60 to 390 MiB, per
    // connection, while the client read nothing. Scrapers never pipeline.
    let collections = 0;
    let answer: (text: string) => void = () => undefined;
    const registry = {
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      metrics: () => {
        collections += 1;
        return new Promise<string>((resolve) => {
          answer = resolve;
        });
      },
    };
    const registries = { prometheus: registry, openmetrics: registry } as unknown as Parameters<
      typeof serveMetrics
    >[0];
    const endpoint = await serveMetrics(registries, '127.0.0.1', 0);
    endpoints.push(endpoint);
    const socket = await idleConnection(endpoint.url);
    const closed = closedPromise(socket);
    let isClosed = false;
    void closed.then(() => {
      isClosed = true;
    });
    socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(50));
    await until(() => isClosed || collections >= 50, 5000);
    expect(isClosed).toBe(true);
    expect(collections).toBe(1);
    answer('late\n');
    // A scraper's requests one after another on one keep-alive connection still work.
    answer = (text) => text;
    let served = 0;
    registry.metrics = async () => {
      served += 1;
      return 'ok\n';
    };
    for (let index = 0; index < 3; index++) {
      expect((await fetch(endpoint.url)).status).toBe(200);
    }
    expect(served).toBe(3);
  });

  it('answers 404 elsewhere and 405 for other methods', async () => {
    const endpoint = await serveMetrics(
      await createMetricsRegistries(new ServerMetrics()),
      '127.0.0.1',
      0,
    );
    endpoints.push(endpoint);
    expect((await fetch(endpoint.url.replace('/metrics', '/other'))).status).toBe(404);
    expect((await fetch(endpoint.url, { method: 'POST' })).status).toBe(405);
  });
});

describe('Prometheus naming, default collectors and formats', () => {
  it('names units as suffixes with _total last, and adds the process_*/nodejs_* collectors', async () => {
    const metrics = new ServerMetrics();
    metrics.bytesIn = 70;
    metrics.bytesOut = 71;
    metrics.framesIn = 3;
    metrics.framesOut = 4;
    const text = await (await createMetricsRegistries(metrics)).prometheus.metrics();
    const samples = parsePrometheusText(text);
    expect(sampleValue(samples, 'switchboard_received_bytes_total')).toBe(70);
    expect(sampleValue(samples, 'switchboard_sent_bytes_total')).toBe(71);
    expect(sampleValue(samples, 'switchboard_received_frames_total')).toBe(3);
    expect(sampleValue(samples, 'switchboard_sent_frames_total')).toBe(4);
    expect(text).not.toMatch(/switchboard_bytes_received|switchboard_frames_received/);
    // prom-client counts CPU from when its collectors were registered, just above: a
    // scrape at once can read 0 (seen under load), so presence is what is checked.
    expect(sampleValue(samples, 'process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);
    expect(sampleValue(samples, 'process_start_time_seconds')).toBeGreaterThan(0);
    expect(sampleValue(samples, 'nodejs_heap_size_total_bytes')).toBeGreaterThan(0);
    expect(samples.some((sample) => sample.name === 'nodejs_version_info')).toBe(true);
  });

  it.each([
    [undefined, 'prometheus'],
    ['', 'prometheus'],
    [PROMETHEUS_ACCEPT, 'openmetrics'],
    ['application/openmetrics-text', 'openmetrics'],
    ['Application/OpenMetrics-Text; version=0.0.1', 'openmetrics'],
    ['text/plain', 'prometheus'],
    ['*/*', 'prometheus'],
    ['application/openmetrics-text, */*', 'openmetrics'],
    ['application/openmetrics-text;q=0', 'prometheus'],
    ['application/openmetrics-text;q=0.5, text/plain', 'prometheus'],
    ['text/plain;q=0.2, application/openmetrics-text;q=0.9', 'openmetrics'],
    ['application/json', 'prometheus'],
    ['application/openmetrics-text;q=nonsense', 'prometheus'],
  ] as const)('Accept %j gets %s', (accept, format) => {
    expect(negotiateFormat(accept)).toBe(format);
  });

  it('serves OpenMetrics when the scraper asks for it, the text format otherwise', async () => {
    const metrics = new ServerMetrics();
    metrics.bytesIn = 70;
    const endpoint = await endpointFor(metrics);
    const open = await fetch(endpoint.url, { headers: { accept: PROMETHEUS_ACCEPT } });
    expect(open.headers.get('content-type')).toBe(
      'application/openmetrics-text; version=1.0.0; charset=utf-8',
    );
    expect(open.headers.get('vary')).toBe('Accept');
    const openText = await open.text();
    expect(openText.endsWith('\n# EOF\n')).toBe(true);
    // OpenMetrics: the counter family has no _total, its sample does.
    expect(openText).toContain('# TYPE switchboard_received_bytes counter\n');
    expect(openText).toContain('\nswitchboard_received_bytes_total 70\n');
    expect(openText).toContain('# TYPE process_cpu_user_seconds counter\n');

    const plain = await fetch(endpoint.url);
    expect(plain.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const plainText = await plain.text();
    expect(plainText).toContain('# TYPE switchboard_received_bytes_total counter\n');
    expect(plainText).not.toContain('# EOF');
    // Serving OpenMetrics first left the text registry's names alone (separate registries).
    expect(sampleValue(parsePrometheusText(plainText), 'switchboard_received_bytes_total')).toBe(
      70,
    );
  });
});

const hasPromtool = requireTool('promtool', ['promtool', '--version']);
/** promtool's findings about prom-client's default collectors (not ours). */
const PROM_CLIENT_LINT = new Set(
  [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ].map((name) => `${name} non-counter metrics should not have "_total" suffix`),
);

describe.skipIf(!hasPromtool)('promtool check metrics', () => {
  it('finds no problem in a full scrape (server, latency histogram, bus, defaults)', async () => {
    const metrics = new ServerMetrics();
    metrics.connectionsAccepted = 3;
    metrics.recordRefusal('max_connections');
    metrics.recordError('SB_FRAME_TOO_LARGE');
    metrics.handlerLatency.frame.observe(2);
    metrics.handlerLatency.connection.observe(20);
    const bus = busWithStatus({
      state: 'connected',
      instanceId: 'abc',
      server: '127.0.0.1:4222',
      reconnects: 1,
      published: 5,
      received: 4,
      dropped: 0,
      pendingMessages: 0,
      pendingBytes: 0,
    });
    const registries = await createMetricsRegistries(metrics, { bus, bridge: null });
    const text = await registries.prometheus.metrics();
    expect(text).toContain('switchboard_bus_state{state="connected"} 1');
    const check = spawnSync('promtool', ['check', 'metrics'], {
      input: text,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(check.error).toBeUndefined();
    // Exit 1 is a parse error, 3 lint findings. prom-client's own default collectors
    // carry three gauges named *_total (kept: dashboards use those names); every
    // other finding fails the test.
    const findings = `${check.stdout}${check.stderr}`
      .split('\n')
      .filter((line) => line.trim() !== '')
      .filter((line) => !PROM_CLIENT_LINT.has(line.trim()));
    expect(findings).toEqual([]);
    expect([0, 3]).toContain(check.status);
  });

  it('the check can fail: promtool reports a counter without _total', () => {
    const check = spawnSync('promtool', ['check', 'metrics'], {
      input:
        '# HELP x_received_bytes Bytes.\n# TYPE x_received_bytes counter\nx_received_bytes 1\n',
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(check.status).toBe(3);
    expect(`${check.stdout}${check.stderr}`).toContain('x_received_bytes');
  });
});

describe('/metrics endpoint limits (#14 item 8)', () => {
  it('keeps at most maxConnections open: the oldest idle one makes room, a scrape still gets in', async () => {
    const endpoint = await endpointFor(new ServerMetrics(), { maxConnections: 4 });
    const idle: net.Socket[] = [];
    for (let index = 0; index < 4; index++) {
      idle.push(await idleConnection(endpoint.url));
    }
    await until(() => endpoint.connections === 4);
    const fifth = await idleConnection(endpoint.url);
    await closedPromise(idle[0]!); // the oldest idle connection was closed
    await until(() => endpoint.connections === 4);
    expect(fifth.destroyed).toBe(false);
    const response = await fetch(endpoint.url);
    expect(response.status).toBe(200);
    await response.text();
    expect(endpoint.connections).toBeLessThanOrEqual(4);
  });

  it('200 idle connections leave it holding maxConnections, and it keeps answering', async () => {
    const endpoint = await endpointFor(new ServerMetrics(), { maxConnections: 8 });
    const opened = await Promise.all(
      Array.from({ length: 200 }, () => idleConnection(endpoint.url)),
    );
    await until(() => opened.filter((socket) => !socket.destroyed).length <= 8);
    expect(endpoint.connections).toBeLessThanOrEqual(8);
    expect((await fetch(endpoint.url)).status).toBe(200);
  });

  it('a request must arrive within requestTimeout of connecting (slowloris)', async () => {
    const clock = new ManualClock();
    const endpoint = await endpointFor(new ServerMetrics(), { requestTimeout: 10_000, clock });
    const socket = await idleConnection(endpoint.url);
    socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n'); // headers never finished
    await until(() => endpoint.connections === 1);
    const closed = closedPromise(socket);
    clock.advance(9_999);
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.destroyed).toBe(false);
    clock.advance(1);
    await closed;
    await until(() => endpoint.connections === 0);
    expect(clock.pending).toBe(0);
  });

  it('the deadline restarts after each answered request (keep-alive)', async () => {
    const clock = new ManualClock();
    const endpoint = await endpointFor(new ServerMetrics(), { requestTimeout: 10_000, clock });
    const socket = await idleConnection(endpoint.url);
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    clock.advance(9_000);
    socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => received.includes('# HELP switchboard_connections_open'));
    await until(() => clock.pending === 1);
    clock.advance(9_000); // 18 s after connecting, 9 s after the response
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.destroyed).toBe(false);
    const closed = closedPromise(socket);
    clock.advance(1_000);
    await closed;
  });
});
