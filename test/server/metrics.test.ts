import { afterEach, describe, expect, it } from 'vitest';
import {
  createMetricsRegistry,
  LatencyHistogram,
  type MetricsEndpoint,
  ServerMetrics,
  serveMetrics,
} from '../../src/server/metrics.js';
import { parsePrometheusText, sampleValue } from './prom-text.js';

const endpoints: MetricsEndpoint[] = [];
afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((endpoint) => endpoint.close()));
});

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
    const endpoint = await serveMetrics(createMetricsRegistry(metrics), '127.0.0.1', 0);
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
    expect(sampleValue(samples, 'switchboard_frames_received_total')).toBe(7);
    expect(sampleValue(samples, 'switchboard_bytes_received_total')).toBe(70);
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
    expect(sampleValue(again, 'switchboard_frames_received_total')).toBe(8);
  });

  it('two servers do not share a registry', async () => {
    const first = new ServerMetrics();
    const second = new ServerMetrics();
    first.framesOut = 1;
    second.framesOut = 2;
    const text1 = await createMetricsRegistry(first).metrics();
    const text2 = await createMetricsRegistry(second).metrics();
    expect(sampleValue(parsePrometheusText(text1), 'switchboard_frames_sent_total')).toBe(1);
    expect(sampleValue(parsePrometheusText(text2), 'switchboard_frames_sent_total')).toBe(2);
  });

  it('answers 404 elsewhere and 405 for other methods', async () => {
    const endpoint = await serveMetrics(createMetricsRegistry(new ServerMetrics()), '127.0.0.1', 0);
    endpoints.push(endpoint);
    expect((await fetch(endpoint.url.replace('/metrics', '/other'))).status).toBe(404);
    expect((await fetch(endpoint.url, { method: 'POST' })).status).toBe(405);
  });
});
