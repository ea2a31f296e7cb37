/**
 * Channel and openChannel check `framing` and `maxFrame` as createServer and the stream
 * adapters do: a maxFrame beside a ready Framing must be its own (it applies to spec
 * strings), and a bad maxFrame is an error naming the Channel's option, not parseFraming.
 */
import { describe, expect, it } from 'vitest';
import { parseFraming } from '../../src/codec/spec.js';
import type { Framing } from '../../src/codec/types.js';
import { Channel, type ChannelOptions, openChannel } from '../../src/net/channel.js';
import { Socket } from '../../src/net/socket.js';
import { ScriptedTransport } from '../helpers/scripted-socket.js';

function newChannel(options: ChannelOptions): Channel {
  const socket = Socket.from(new ScriptedTransport([]), { trackLeaks: false });
  try {
    return new Channel(socket, options);
  } finally {
    socket.destroy();
  }
}

const framing = parseFraming('length:u16be', { maxFrame: 100 });
const mismatch = /option "maxFrame" applies to framing spec strings/;

describe('Channel framing options', () => {
  it('refuses a maxFrame other than the Framing object’s own with SB_BAD_OPTION', () => {
    expect(() => newChannel({ framing, maxFrame: 50 })).toThrow(
      expect.objectContaining({ code: 'SB_BAD_OPTION', message: expect.stringMatching(mismatch) }),
    );
    expect(() => newChannel({ framing, maxFrame: 50 })).toThrow(/^Channel: /);
  });

  it('accepts a Framing object alone or with its own maxFrame', () => {
    expect(newChannel({ framing }).framing).toBe(framing);
    expect(newChannel({ framing, maxFrame: 100 }).framing).toBe(framing);
  });

  it('applies maxFrame to a spec string', () => {
    expect(newChannel({ framing: 'line', maxFrame: 7 }).framing.maxFrame).toBe(7);
  });

  it.each([0, -1, 1.5, 'big'])('names the Channel option for maxFrame %j', (maxFrame) => {
    const options = { framing: 'line', maxFrame } as unknown as ChannelOptions;
    expect(() => newChannel(options)).toThrow(
      expect.objectContaining({
        code: 'SB_BAD_OPTION',
        message: expect.stringMatching(/^Channel: option "maxFrame"/),
      }),
    );
  });

  it.each([
    ['null', null],
    ['a number', 42],
    ['an empty object', {}],
    ['an object without createEncoder', { createDecoder: () => undefined }],
  ])('refuses framing %s (neither a spec string nor a Framing) with SB_BAD_OPTION', (_, bad) => {
    const options = { framing: bad } as unknown as ChannelOptions;
    expect(() => newChannel(options)).toThrow(
      expect.objectContaining({
        code: 'SB_BAD_OPTION',
        message: 'Channel: option "framing" must be a spec string or a Framing',
      }),
    );
  });
});

describe('openChannel framing options (checked before connecting)', () => {
  // Nothing listens on port 1: a check that let the call through would reject with
  // SB_CONNECTION_REFUSED instead.
  const address = '127.0.0.1:1';

  it('refuses a maxFrame other than the Framing object’s own with SB_BAD_OPTION', async () => {
    await expect(openChannel(address, { framing, maxFrame: 50 })).rejects.toMatchObject({
      code: 'SB_BAD_OPTION',
      message: expect.stringMatching(/^openChannel: option "maxFrame" applies to framing spec/),
    });
  });

  it('names the openChannel option for maxFrame 0', async () => {
    await expect(openChannel(address, { framing: 'line', maxFrame: 0 })).rejects.toMatchObject({
      code: 'SB_BAD_OPTION',
      message: expect.stringMatching(/^openChannel: option "maxFrame" must be >= 1/),
    });
  });

  it('names openChannel when framing is missing', async () => {
    const options = {} as unknown as Parameters<typeof openChannel>[1];
    await expect(openChannel(address, options)).rejects.toMatchObject({
      code: 'SB_BAD_OPTION',
      message: expect.stringMatching(/^openChannel: option "framing" is required/),
    });
  });
});

// createServer and the stream adapters refuse the same mismatch (their own tests pin
// that); this pins that all three say one thing (codec/spec.ts checkMaxFrameForFraming).
describe('one rule for Channel, createServer and the stream adapters', () => {
  it('words the mismatch alike', async () => {
    const { createServer } = await import('../../src/server/server.js');
    const { decodeStream } = await import('../../src/codec/streams.js');
    const messages: string[] = [];
    const collect = (run: () => unknown): void => {
      try {
        run();
      } catch (error) {
        messages.push((error as Error).message.replace(/^\w+: /, ''));
      }
    };
    collect(() => newChannel({ framing, maxFrame: 50 }));
    collect(() => decodeStream(framing as Framing, { maxFrame: 50 }));
    await createServer({ listen: '127.0.0.1:0', handler: 'echo', framing, maxFrame: 50 }).then(
      (server) => server.close(),
      (error: Error) => messages.push(error.message.replace(/^\w+: /, '')),
    );
    expect(messages).toHaveLength(3);
    expect(new Set(messages).size).toBe(1);
  });
});
