/**
 * The server speaks the `sbp` envelope when given the spec string, in every dispatch
 * model (processes workers resolve the spec themselves).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Tracker } from './helpers.js';

const tracker = new Tracker();
afterEach(() => tracker.cleanup());

const text = (bytes: Uint8Array | null): string =>
  new TextDecoder().decode(bytes ?? new Uint8Array());

describe("framing 'sbp' on the server", () => {
  for (const dispatch of ['loop', 'processes'] as const) {
    it(`${dispatch}: echoes messages`, async () => {
      const server = await tracker.server({
        handler: 'echo',
        framing: 'sbp',
        dispatch,
        workers: 1,
      });
      const channel = await tracker.channel(server.address, 'sbp');
      await channel.send('one');
      expect(text(await channel.receive())).toBe('one');
      await channel.send('two');
      expect(text(await channel.receive())).toBe('two');
    });
  }

  it('refuses a misspelt spec naming it', async () => {
    await expect(tracker.server({ handler: 'echo', framing: 'sbpp' })).rejects.toMatchObject({
      code: 'SB_BAD_FRAMING_SPEC',
    });
  });
});
