/**
 * select() over Channels (#17): a channel is readable when receive() would not wait,
 * writable when send() would not wait, errored when it failed.
 */
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { Channel } from '../../src/net/channel.js';
import { select } from '../../src/net/select.js';
import { Socket } from '../../src/net/socket.js';
import { Loopback } from '../helpers/loopback.js';
import {
  data,
  eof,
  error,
  pending,
  type ScriptedOptions,
  ScriptedTransport,
  type Step,
  settle,
} from '../helpers/scripted-socket.js';

const loop = new Loopback();
afterEach(() => loop.cleanup());

function channelOver(steps: Step[], options?: ScriptedOptions) {
  const transport = new ScriptedTransport(steps, options);
  const channel = new Channel(Socket.from(transport, { trackLeaks: false }), { framing: 'line' });
  return { transport, channel };
}

const text = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : Buffer.from(bytes).toString('utf8');

describe('select with channels (scripted)', () => {
  it('a queued frame is readable; a partial frame is not; the result keeps the Channel type', async () => {
    const whole = channelOver([data('one\n'), pending()]);
    const partial = channelOver([data('par'), pending(), data('tial\n'), pending()]);
    await settle();
    const now = await select([whole.channel, partial.channel], [], { timeout: 0 });
    expectTypeOf(now.readable).toEqualTypeOf<Channel[]>();
    expect(now.readable).toEqual([whole.channel]);
    expect(now.errored).toEqual([]);
    expect(text(await whole.channel.receive())).toBe('one');
    // Nothing queued now: the frame was taken.
    expect((await select([whole.channel], [], { timeout: 0 })).readable).toEqual([]);

    const waiting = select([whole.channel, partial.channel], [], { timeout: 60_000 });
    partial.transport.release();
    expect((await waiting).readable).toEqual([partial.channel]);
    expect(text(await partial.channel.receive())).toBe('partial');
    whole.channel.destroy();
    partial.channel.destroy();
  });

  it('end of input is readable (receive returns null); a reset is errored', async () => {
    const ended = channelOver([eof()]);
    const broken = channelOver([error('ECONNRESET')]);
    const idle = channelOver([pending()]);
    await settle();
    const result = await select([ended.channel, broken.channel, idle.channel], [broken.channel], {
      timeout: 0,
    });
    expect(result.readable).toContain(ended.channel);
    expect(result.readable).not.toContain(idle.channel);
    expect(result.errored).toEqual([broken.channel]);
    expect(result.writable).toEqual([]);
    expect(await ended.channel.receive()).toBeNull();
    await expect(broken.channel.receive()).rejects.toMatchObject({ code: 'SB_CONNECTION_RESET' });
    idle.channel.destroy();
  });

  it('writable until the output queue passes its high-water mark, and again after drain', async () => {
    const { transport, channel } = channelOver([pending()], {
      stallWrites: true,
      highWaterMark: 64,
    });
    await settle();
    expect((await select([], [channel], { timeout: 0 })).writable).toEqual([channel]);
    void channel.send('x'.repeat(200)).catch(() => {});
    await settle();
    expect((await select([], [channel], { timeout: 0 })).writable).toEqual([]);
    const waiting = select([], [channel], { timeout: 60_000 });
    transport.flushWrites();
    expect((await waiting).writable).toEqual([channel]);
    await channel.close({ timeout: 1 });
    expect((await select([], [channel], { timeout: 0 })).writable).toEqual([]);
  });

  it('mixes sockets and channels', async () => {
    const { channel } = channelOver([data('m\n'), pending()]);
    const socket = Socket.from(new ScriptedTransport([data('raw')]), { trackLeaks: false });
    await settle();
    const result = await select<Channel | Socket, Socket>([channel, socket], [], { timeout: 0 });
    expect(result.readable).toEqual([channel, socket]);
    channel.destroy();
    socket.destroy();
  });
});

describe('select with channels (loopback)', () => {
  it('wakes for the channel whose peer sent a message', async () => {
    const first = await loop.pair();
    const second = await loop.pair();
    const a = loop.track(new Channel(first.client, { framing: 'length:u16be' }));
    const b = loop.track(new Channel(second.client, { framing: 'length:u16be' }));
    const bPeer = loop.track(new Channel(second.server, { framing: 'length:u16be' }));
    const waiting = select([a, b], [], { timeout: 10_000 });
    await bPeer.send('hello');
    const { readable } = await waiting;
    expect(readable).toEqual([b]);
    expect(text(await b.receive({ timeout: 1 }))).toBe('hello');
  });
});
