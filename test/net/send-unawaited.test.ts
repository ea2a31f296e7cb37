/**
 * `void channel.send(x)` (shown in the batches() example) must never become an
 * unhandled rejection, whatever the peer does: a rejection ends a node process by
 * default, so a peer that resets or never reads could otherwise crash its server.
 */
import type * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Channel } from '../../src/net/channel.js';
import { Loopback } from '../helpers/loopback.js';
import { unhandledDuring } from '../helpers/unhandled-during.js';
import { until } from '../helpers/until.js';

const loop = new Loopback();
afterEach(() => loop.cleanup());

/** A client Channel and its raw peer, which the test can reset. */
async function channelWithResettablePeer(): Promise<{ channel: Channel; peer: () => net.Socket }> {
  let accepted: net.Socket | undefined;
  const port = await loop.rawServer((socket) => {
    accepted = socket;
  });
  const channel = loop.track(
    new Channel(await loop.connect(`127.0.0.1:${port}`), { framing: 'line' }),
  );
  await until(() => accepted !== undefined, 5000, 'the raw server accepts');
  return { channel, peer: () => accepted! };
}

describe('send() that nobody awaits', () => {
  it('after the peer reset the connection: no unhandled rejection; the error stays on the channel', async () => {
    const { channel, peer } = await channelWithResettablePeer();
    peer().resetAndDestroy();
    const seen = await unhandledDuring(async () => {
      await until(
        () => {
          void channel.send('ping');
          return channel.error !== undefined;
        },
        5000,
        'the channel sees the reset',
      );
      void channel.send('after the failure');
    });
    expect(seen).toEqual([]);
    await expect(channel.send('awaited')).rejects.toMatchObject({
      code: expect.stringMatching(/^SB_/),
    });
  });

  it('past maxQueuedOutput (a peer that never reads): no unhandled rejection, SB_OUTPUT_QUEUE_FULL kept', async () => {
    const { client } = await loop.pair();
    const channel = loop.track(new Channel(client, { framing: 'line', maxQueuedOutput: 1024 }));
    const seen = await unhandledDuring(async () => {
      for (let index = 0; index < 100; index += 1) {
        void channel.send('x'.repeat(100));
      }
    });
    expect(seen).toEqual([]);
    await expect(channel.send('awaited')).rejects.toMatchObject({ code: 'SB_OUTPUT_QUEUE_FULL' });
  });

  it('with a drain timeout: no unhandled rejection when the wait fails', async () => {
    const { channel, peer } = await channelWithResettablePeer();
    const big = 'y'.repeat(1024 * 1024);
    const seen = await unhandledDuring(async () => {
      // Above the high-water mark, each send waits for a drain with a deadline...
      for (let index = 0; index < 4; index += 1) {
        void channel.send(big, { timeout: 60_000 });
      }
      // ...which fails when the peer resets.
      peer().resetAndDestroy();
      await until(() => channel.error !== undefined, 5000, 'the channel sees the reset');
    });
    expect(seen).toEqual([]);
  });
});
