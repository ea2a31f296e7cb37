/**
 * `serve`'s numeric flags (#16): each sets the createServer option it names, the
 * library accepts every one of them by that name, and a bad value is a usage error
 * (SB_BAD_OPTION, exit 2 in main.ts) naming the flag. In-process, through the
 * command's own parser (no dist).
 */
import { describe, expect, it } from 'vitest';
import { parseCommandArgs } from '../../src/cli/args.js';
import { command, serverOptions } from '../../src/cli/serve.js';
import { createServer } from '../../src/server/server.js';

const BASE = ['--listen', '127.0.0.1:0', '--framing', 'line', '--mode', 'echo'];

async function optionsFor(extra: string[]): Promise<Record<string, unknown>> {
  return { ...(await serverOptions(parseCommandArgs(command, [...BASE, ...extra]))) };
}

describe('serve numeric flags', () => {
  it('map one to one onto createServer options, which the library accepts by name', async () => {
    const options = await optionsFor([
      '--dispatch',
      'processes',
      '--max-frame',
      '2k',
      '--max-connections',
      '50',
      '--max-connections-per-ip',
      '3',
      '--idle-timeout',
      '60000',
      '--frame-timeout',
      '5000',
      '--write-timeout',
      '7000',
      '--max-queued-output',
      '1m',
      '--max-buffered-input-total',
      '64m',
      '--max-buffered-output-total',
      '48m',
      '--backlog',
      '64',
      '--close-timeout',
      '2000',
      '--workers',
      '2',
      '--worker-heartbeat-interval',
      '250',
      '--worker-unresponsive-timeout',
      '3000',
    ]);
    expect(options).toMatchObject({
      dispatch: 'processes',
      maxFrame: 2048,
      maxConnections: 50,
      maxConnectionsPerIp: 3,
      idleTimeout: 60_000,
      frameTimeout: 5000,
      writeTimeout: 7000,
      maxQueuedOutput: 1024 * 1024,
      maxBufferedInputTotal: 64 * 1024 * 1024,
      maxBufferedOutputTotal: 48 * 1024 * 1024,
      backlog: 64,
      closeTimeout: 2000,
      workers: 2,
      workerHeartbeatInterval: 250,
      workerUnresponsiveTimeout: 3000,
    });
    // Every name is a real ServerOptions key: createServer refuses unknown ones by name.
    // (On the loop, so no workers start; the worker options are accepted and unused.)
    const server = await createServer({ ...options, dispatch: 'loop' } as never);
    await server.close();
  });

  it('leave out what is not given: the library default applies', async () => {
    const options = await optionsFor([]);
    for (const key of ['maxFrame', 'maxQueuedOutput', 'writeTimeout', 'backlog', 'workers']) {
      expect(options, key).not.toHaveProperty(key);
    }
  });

  it('refuse bad values with SB_BAD_OPTION naming the flag', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--max-frame', '0'], /--max-frame must be >= 1 .*leave it out for the framing's default/],
      [['--max-queued-output', '0'], /--max-queued-output must be >= 1/],
      [['--max-queued-output', 'lots'], /--max-queued-output must be an integer >= 1 \(bytes/],
      [['--write-timeout', '1.5'], /--write-timeout must be a non-negative integer \(ms\)/],
      [['--backlog', '0'], /--backlog must be >= 1/],
      [['--max-connections-per-ip', '2k'], /--max-connections-per-ip must be a non-negative/],
      [
        ['--worker-heartbeat-interval', '100'],
        /--worker-heartbeat-interval applies to --dispatch processes, not loop/,
      ],
      [
        ['--dispatch', 'threads', '--worker-unresponsive-timeout', '100'],
        /--worker-unresponsive-timeout applies to --dispatch processes, not threads/,
      ],
    ];
    for (const [extra, message] of cases) {
      await expect(optionsFor(extra), extra.join(' ')).rejects.toMatchObject({
        code: 'SB_BAD_OPTION',
        message: expect.stringMatching(message),
      });
    }
  });
});
