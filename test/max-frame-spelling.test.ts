/**
 * One spelling of "use the framing's default" for maxFrame (#16): leave it out (or
 * pass `undefined`; the CLI: no `--max-frame`). `maxFrame: 0` used to mean "the
 * framing's default" to createServer and "only empty frames" to parseFraming; now
 * every API refuses it with SB_BAD_OPTION, naming the option and the way out.
 */
import { describe, expect, it } from 'vitest';
import { lengthFraming } from '../src/codec/length.js';
import { lineFraming } from '../src/codec/line.js';
import { taggedFraming } from '../src/codec/tagged.js';
import { openChannel, parseFraming } from '../src/index.js';
import { DEFAULTS } from '../src/options.js';
import { createServer } from '../src/server/server.js';

const refused = {
  code: 'SB_BAD_OPTION',
  message: expect.stringMatching(
    /option "maxFrame" must be >= 1 \(bytes\); leave it out for the framing's default/,
  ),
};

describe('maxFrame: absent or undefined is the framing default; 0 is refused', () => {
  it('parseFraming and the framing constructors', () => {
    expect(parseFraming('length').maxFrame).toBe(DEFAULTS.maxFrame);
    expect(parseFraming('length', {}).maxFrame).toBe(DEFAULTS.maxFrame);
    expect(parseFraming('line', { maxFrame: undefined }).maxFrame).toBe(DEFAULTS.maxLineFrame);
    expect(parseFraming('line', { maxFrame: 1 }).maxFrame).toBe(1);
    for (const build of [
      () => parseFraming('length', { maxFrame: 0 }),
      () => parseFraming('tagged:01=2', { maxFrame: 0 }),
      () => lineFraming({ maxFrame: 0 }),
      () => lengthFraming({ maxFrame: 0 }),
      () => taggedFraming({ 1: 2 }, { maxFrame: 0 }),
    ]) {
      expect(build).toThrow(expect.objectContaining(refused));
    }
  });

  it('createServer: absent is the framing default, 0 is refused', async () => {
    await expect(
      createServer({ handler: 'echo', framing: 'line', maxFrame: 0 }),
    ).rejects.toMatchObject(refused);
    const server = await createServer({ handler: 'echo', framing: 'line', maxFrame: undefined });
    try {
      const channel = await openChannel(server.address, { framing: 'line' });
      const long = 'x'.repeat(DEFAULTS.maxLineFrame);
      await channel.send(long);
      expect(Buffer.from((await channel.receive())!).toString()).toBe(long);
      await channel.close();
    } finally {
      await server.close();
    }
  });

  it('openChannel: 0 is refused before connecting', async () => {
    await expect(
      openChannel('127.0.0.1:9', { framing: 'line', maxFrame: 0 }),
    ).rejects.toMatchObject({ code: 'SB_BAD_OPTION' });
  });
});
