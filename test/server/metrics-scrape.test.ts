import { afterEach, describe, expect, it } from 'vitest';
import { readAll, Tracker, until } from './helpers.js';
import { parsePrometheusText, sampleValue } from './prom-text.js';

const tracker = new Tracker();
afterEach(() => tracker.cleanup());

async function scrape(url: string): Promise<ReturnType<typeof parsePrometheusText>> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return parsePrometheusText(await response.text());
}

describe('/metrics scraped over HTTP', () => {
  for (const dispatch of ['loop', 'processes'] as const) {
    it(`${dispatch}: counts match the traffic sent`, async () => {
      const server = await tracker.server({
        handler: 'echo',
        framing: 'line',
        dispatch,
        workers: 2,
        maxConnections: 10,
        maxFrame: 100,
        metrics: '127.0.0.1:0',
      });
      expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const clients = await Promise.all(
        Array.from({ length: 10 }, () => tracker.channel(server.address, 'line')),
      );
      let bytes = 0;
      for (const [index, client] of clients.entries()) {
        for (let message = 0; message < 30; message++) {
          const payload = `client ${index} message ${message}`;
          bytes += payload.length;
          await client.send(payload);
          await client.receive();
        }
      }
      await until(() => server.connections === 10);
      // One refused (over maxConnections), while all ten are open.
      await readAll(await tracker.socket(server.address));
      const live = await scrape(server.metricsUrl!);
      expect(sampleValue(live, 'switchboard_connections_open')).toBe(10);
      expect(
        sampleValue(live, 'switchboard_connections_refused_total', { reason: 'max_connections' }),
      ).toBe(1);
      // Close them, then one that breaks the framing (frame over maxFrame).
      await Promise.all(clients.map((client) => client.close()));
      await until(() => server.connections === 0);
      const breaker = await tracker.socket(server.address);
      const ended = readAll(breaker);
      breaker.write(`${'z'.repeat(200)}\n`);
      await ended;
      await until(() => server.metrics.errors.SB_FRAME_TOO_LARGE === 1);
      const samples = await scrape(server.metricsUrl!);
      expect(sampleValue(samples, 'switchboard_connections_open')).toBe(0);
      expect(sampleValue(samples, 'switchboard_connections_accepted_total')).toBe(11);
      expect(sampleValue(samples, 'switchboard_received_frames_total')).toBe(300);
      expect(sampleValue(samples, 'switchboard_sent_frames_total')).toBe(300);
      expect(sampleValue(samples, 'switchboard_received_bytes_total')).toBe(bytes);
      expect(sampleValue(samples, 'switchboard_sent_bytes_total')).toBe(bytes);
      expect(
        sampleValue(samples, 'switchboard_errors_total', { code: 'SB_TOO_MANY_CONNECTIONS' }),
      ).toBe(1);
      expect(sampleValue(samples, 'switchboard_errors_total', { code: 'SB_FRAME_TOO_LARGE' })).toBe(
        1,
      );
      expect(
        sampleValue(samples, 'switchboard_handler_duration_seconds_count', { kind: 'connection' }),
      ).toBe(11);
    });
  }

  it('threads: frame latency is observed per frame', async () => {
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      dispatch: 'threads',
      workers: 1,
      metrics: '127.0.0.1:0',
    });
    const client = await tracker.channel(server.address, 'line');
    for (let message = 0; message < 25; message++) {
      await client.send('x');
      await client.receive();
    }
    const samples = await scrape(server.metricsUrl!);
    expect(
      sampleValue(samples, 'switchboard_handler_duration_seconds_count', { kind: 'frame' }),
    ).toBe(25);
    expect(sampleValue(samples, 'switchboard_received_frames_total')).toBe(25);
  });

  it('the endpoint closes with the server', async () => {
    const server = await tracker.server({ handler: 'echo', metrics: '127.0.0.1:0' });
    const url = server.metricsUrl!;
    await server.close();
    await expect(fetch(url)).rejects.toThrow();
  });
});
