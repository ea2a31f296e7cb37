/**
 * Per-call options from plain JavaScript: `{ timeout, signal }` (and recvUntil's,
 * close's) are checked where the call starts, whatever the socket holds. Before,
 * `recvUntil('\n', null)` and `close(null)` were TypeErrors, and a bad timeout was
 * seen only when the call had to wait: `sendAll(x, { timeout: 'soon' })` wrote its
 * bytes and resolved, `recv(10, 5)` returned data already buffered, and
 * `close({ timeout: 'x' })` destroyed the connection at once. The Channel's
 * `heartbeat` option had the same hole: 5 gave the defaults, 'yes' an unknown option "0".
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Channel } from '../../src/index.js';
import type { CallOptions } from '../../src/net/clock.js';
import { Loopback } from '../helpers/loopback.js';
import { until } from '../helpers/until.js';

const loop = new Loopback();
afterEach(() => loop.cleanup());

const badCallOptions: [what: string, options: unknown, code: string][] = [
  ['a number', 5, 'SB_BAD_OPTION'],
  ['a string', 'soon', 'SB_BAD_OPTION'],
  ['an array', [], 'SB_BAD_OPTION'],
  ['a string timeout', { timeout: 'soon' }, 'SB_INVALID_ARGUMENT'],
  ['a negative timeout', { timeout: -1 }, 'SB_INVALID_ARGUMENT'],
  ['a NaN timeout', { timeout: Number.NaN }, 'SB_INVALID_ARGUMENT'],
  ['a signal that is not one', { signal: 'stop' }, 'SB_INVALID_ARGUMENT'],
];

describe('Socket call options, checked even when the call would not wait', () => {
  for (const [what, options, code] of badCallOptions) {
    it(`${what}: ${code} from recv, recvExactly, recvUntil, sendAll, ready`, async () => {
      const { client, server } = await loop.pair();
      await server.sendAll('hello\n');
      await until(() => client.bufferedAmount >= 6, 5000, 'the line arrives');
      const given = options as CallOptions;
      const expected = { code };
      await expect(client.recv(10, given)).rejects.toMatchObject(expected);
      await expect(client.recvExactly(6, given)).rejects.toMatchObject(expected);
      await expect(client.recvUntil('\n', given)).rejects.toMatchObject(expected);
      await expect(client.ready(given)).rejects.toMatchObject(expected);
      await expect(client.sendAll('not sent\n', given)).rejects.toMatchObject(expected);
      // Nothing was consumed, nothing was sent, the socket is still open.
      expect(client.bufferedAmount).toBe(6);
      await client.sendAll('sent\n');
      expect(new TextDecoder().decode(await server.recvUntil('\n', { timeout: 5000 }))).toBe(
        'sent',
      );
    });
  }

  it('recvUntil(delimiter, null) is no options; includeDelimiter must be a boolean', async () => {
    const { client, server } = await loop.pair();
    await server.sendAll('a\nb\n');
    const first = await client.recvUntil('\n', null as unknown as undefined);
    expect(new TextDecoder().decode(first!)).toBe('a');
    await expect(
      client.recvUntil('\n', { includeDelimiter: 'yes' as unknown as boolean }),
    ).rejects.toMatchObject({ code: 'SB_INVALID_ARGUMENT' });
  });

  it('close(null) is no options; a bad close timeout throws at once and closes nothing', async () => {
    const { client, server } = await loop.pair();
    expect(() => client.close({ timeout: 'x' as unknown as number })).toThrow(
      expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }),
    );
    expect(() => client.close(5 as unknown as undefined)).toThrow(
      expect.objectContaining({ code: 'SB_BAD_OPTION' }),
    );
    expect(client.isClosed).toBe(false);
    const channel = new Channel(server, { framing: 'line' });
    expect(() => channel.close({ timeout: -5 })).toThrow(
      expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }),
    );
    await channel.send('still open');
    await Promise.all([client.close(null as unknown as undefined), channel.close()]);
  });
});

describe('Channel heartbeat option', () => {
  for (const heartbeat of [5, 'yes', [], () => true]) {
    it(`heartbeat: ${JSON.stringify(heartbeat) ?? 'a function'} is SB_BAD_OPTION naming it`, async () => {
      const { client } = await loop.pair();
      expect(
        () => new Channel(client, { framing: 'sbp', heartbeat: heartbeat as unknown as boolean }),
      ).toThrow(
        expect.objectContaining({
          code: 'SB_BAD_OPTION',
          message: expect.stringContaining('option "heartbeat" must be true, false or'),
        }),
      );
    });
  }

  it('heartbeat: null is off, as absent', async () => {
    const { client } = await loop.pair();
    const channel = new Channel(client, {
      framing: 'sbp',
      heartbeat: null as unknown as boolean,
    });
    await channel.close();
  });
});

describe('Channel.request call options', () => {
  it('null, a string timeout, a non-signal and a non-message are rejections, nothing left pending', async () => {
    const { client } = await loop.pair();
    const channel = new Channel(client, { framing: 'sbp' });
    const calls: [unknown, unknown, string][] = [
      ['hi', 5, 'SB_BAD_OPTION'],
      ['hi', { timeout: 'soon' }, 'SB_INVALID_ARGUMENT'],
      ['hi', { signal: 'stop' }, 'SB_INVALID_ARGUMENT'],
      [42, {}, 'SB_INVALID_ARGUMENT'],
    ];
    for (const [message, options, code] of calls) {
      let returned: Promise<Uint8Array> | undefined;
      expect(() => {
        returned = channel.request(message as string, options as CallOptions);
      }).not.toThrow();
      await expect(returned).rejects.toMatchObject({ code });
    }
    expect(channel.stats.framesSent).toBe(0);
    // null is no options: the request goes out (and fails with the close below).
    const pending = channel.request('hi', null as unknown as undefined);
    const closing = channel.close();
    await expect(pending).rejects.toMatchObject({ code: 'SB_CONNECTION_CLOSED' });
    await closing;
  });
});
