/**
 * `switchboard proxy --api` (Toxiproxy's HTTP API driven by toxiproxy-node-client), and
 * the framed tap, recording and `switchboard replay`, all black-box against dist/.
 */
import { Toxiproxy } from 'toxiproxy-node-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, killAll, runCli, startCli, startServe } from './cli-process.js';

vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS });

afterEach(() => {
  killAll();
});

describe('switchboard proxy --api', () => {
  it('serves the Toxiproxy API: a client creates a proxy and a toxic, traffic goes through', async () => {
    const { address } = await startServe([
      '--listen',
      '127.0.0.1:0',
      '--framing',
      'line',
      '--mode',
      'echo',
    ]);
    const api = startCli(['proxy', '--api', '127.0.0.1:0']);
    const out = await api.waitForStdout((text) => text.includes('\n'));
    const match = /^api listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
    expect(match, out).not.toBeNull();
    const client = new Toxiproxy(match![1]!);
    const proxy = await client.createProxy({
      name: 'echo',
      listen: '127.0.0.1:0',
      upstream: address,
    });
    await proxy.addToxic({
      name: 'slow',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 50, jitter: 0 },
    } as never);
    const started = performance.now();
    const result = await runCli(['send', proxy.listen, '--framing', 'line', 'through the api']);
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe('through the api\n');
    expect(performance.now() - started).toBeGreaterThanOrEqual(50);
    const refused = await fetch(`${match![1]}/proxies`, {
      method: 'POST',
      body: JSON.stringify({ name: 'far', listen: '127.0.0.1:0', upstream: '203.0.113.9:80' }),
    });
    expect(refused.status).toBe(400);
    api.child.kill('SIGINT');
    expect((await api.exited()).code).toBe(130);
  });

  it('refuses a non-loopback API address', async () => {
    const result = await runCli(['proxy', '--api', '0.0.0.0:0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/loopback/);
  });
});
