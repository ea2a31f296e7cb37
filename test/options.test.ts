import { describe, expect, it } from 'vitest';
import { DEFAULTS, resolveOptions } from '../src/options.js';

const schema = {
  idleTimeout: { kind: 'ms', default: 0 },
  maxFrame: { kind: 'bytes', default: DEFAULTS.maxFrame, min: 1 },
  keepAlive: { kind: 'boolean', default: true },
} as const;

describe('resolveOptions', () => {
  it('fills defaults without mutating the input', () => {
    const input = Object.freeze({ idleTimeout: 5 });
    expect(resolveOptions('test', schema, input)).toEqual({
      idleTimeout: 5,
      maxFrame: 8 * 1024 * 1024,
      keepAlive: true,
    });
  });

  it('names the option in every validation error', () => {
    expect(() => resolveOptions('conn', schema, { idleTimeout: -1 })).toThrow(
      /conn: option "idleTimeout" must be >= 0 \(ms\)/,
    );
    expect(() => resolveOptions('conn', schema, { maxFrame: 0 })).toThrow(
      /"maxFrame" must be >= 1/,
    );
    expect(() => resolveOptions('conn', schema, { maxFrame: 1.5 })).toThrow(/integer/);
    expect(() => resolveOptions('conn', schema, { keepAlive: 'yes' })).toThrow(/boolean/);
    expect(() => resolveOptions('conn', schema, { idleTimout: 1 })).toThrow(
      /unknown option "idleTimout" \(did you mean "idleTimeout"\?\)/,
    );
    expect(() => resolveOptions('conn', schema, { frobnicate: 1 })).toThrow(
      /unknown option "frobnicate"$/,
    );
    expect(() =>
      resolveOptions('conn', schema, { timeout: 1 }, { timeout: 'idleTimeout' }),
    ).toThrow(/use "idleTimeout" instead/);
  });

  it('guesses the options it passes through too: createServer({ framming })', async () => {
    expect(() => resolveOptions('conn', schema, { framming: 'line' }, {}, ['framing'])).toThrow(
      /unknown option "framming" \(did you mean "framing"\?\)/,
    );
    const { createServer } = await import('../src/server/server.js');
    const { openChannel } = await import('../src/net/channel.js');
    await expect(
      createServer({ framming: 'line', handler: 'echo' } as unknown as Parameters<
        typeof createServer
      >[0]),
    ).rejects.toThrow(/createServer: unknown option "framming" \(did you mean "framing"\?\)/);
    await expect(
      openChannel('127.0.0.1:1', { framing: 'line', hartbeat: {} } as unknown as Parameters<
        typeof openChannel
      >[1]),
    ).rejects.toThrow(/openChannel: unknown option "hartbeat" \(did you mean "heartbeat"\?\)/);
    // A Channel option's typo, and a connect option's, each named as openChannel's.
    await expect(
      openChannel('127.0.0.1:1', { framing: 'line', idleTimout: 5 } as unknown as Parameters<
        typeof openChannel
      >[1]),
    ).rejects.toThrow(/openChannel: unknown option "idleTimout" \(did you mean "idleTimeout"\?\)/);
    await expect(
      openChannel('127.0.0.1:1', { framing: 'line', keepalive: true } as unknown as Parameters<
        typeof openChannel
      >[1]),
    ).rejects.toThrow(/openChannel: unknown option "keepalive" \(did you mean "keepAlive"\?\)/);
  });

  it('accepts Infinity as an explicit "unbounded"', () => {
    expect(resolveOptions('x', schema, { maxFrame: Number.POSITIVE_INFINITY }).maxFrame).toBe(
      Number.POSITIVE_INFINITY,
    );
  });

  it('has all times in ms and finite limits by default', () => {
    expect(DEFAULTS.serverIdleTimeout).toBe(300_000);
    expect(DEFAULTS.maxLineFrame).toBe(65_536);
    expect(DEFAULTS.maxQueuedOutput).toBe(16 * 1024 * 1024);
    expect(DEFAULTS.host).toBe('127.0.0.1');
  });
});
