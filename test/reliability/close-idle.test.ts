/**
 * Graceful close does not wait for idle connections (issue #14, item 10).
 *
 * The close timeout here is an hour: before the fix, `server.close()` with an idle
 * client connected waited all of it (the echo body waits in `receive()` for a client
 * that never sends), so these tests could only time out. Now an idle connection (no
 * frame in progress, nothing queued, a body waiting for the next frame, no traffic for
 * `DEFAULTS.closeIdleQuiet` ms) ends at once, and cleanly: the client reads the end of
 * input (sbp: a CLOSE envelope), not a reset, and nothing is counted as destroyed or as
 * an error. A busy connection (a frame half received) still gets the timeout.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { diagnosticChannels } from '../../src/diagnostics.js';
import type { DispatchModel } from '../../src/index.js';
import { Tracker } from '../server/helpers.js';

const AN_HOUR = 3_600_000;
const tracker = new Tracker();
afterEach(() => tracker.cleanup());

function destroyedCounts(): { counts: number[]; stop: () => void } {
  const counts: number[] = [];
  const onClose = (message: { destroyed: number }): void => {
    counts.push(message.destroyed);
  };
  return { counts, stop: diagnosticChannels.serverClose.subscribe(onClose) };
}

describe.each<DispatchModel>(['loop', 'threads', 'processes'])(
  'close() with idle clients, dispatch %s (#14)',
  (dispatch) => {
    const workers = dispatch === 'loop' ? {} : { workers: 1 };

    it("the README's example: close() ends an idle client's connection without the close timeout", async () => {
      const server = await tracker.server({
        listen: '127.0.0.1:0',
        framing: 'length:u32be',
        handler: 'echo',
        dispatch,
        closeTimeout: AN_HOUR,
        ...workers,
      });
      const channel = await tracker.channel(server.address, 'length:u32be');
      await channel.send('ping');
      expect(new TextDecoder().decode((await channel.receive())!)).toBe('ping');
      // A second client that never sent anything (dormant on the server).
      const silent = await tracker.channel(server.address, 'length:u32be');
      const destroyed = destroyedCounts();
      try {
        await server.close();
        expect(destroyed.counts).toEqual([0]);
      } finally {
        destroyed.stop();
      }
      expect(await channel.receive()).toBeNull(); // a clean end of input, not a reset
      expect(await silent.receive()).toBeNull();
      expect(server.metrics.connectionsOpen).toBe(0);
      expect(server.metrics.errors).toEqual({});
    });

    it('sbp: the idle client gets a CLOSE envelope, then the end of input', async () => {
      const server = await tracker.server({
        listen: '127.0.0.1:0',
        framing: 'sbp',
        handler: 'echo',
        dispatch,
        closeTimeout: AN_HOUR,
        ...workers,
      });
      const channel = await tracker.channel(server.address, 'sbp');
      await channel.send('ping');
      expect(new TextDecoder().decode((await channel.receive())!)).toBe('ping');
      await server.close();
      expect(await channel.receive()).toBeNull();
      expect(channel.error).toBeUndefined();
      expect(server.metrics.errors).toEqual({});
    });
  },
);

describe('close() with a busy client (#14)', () => {
  it('a connection with a frame in progress gets the close timeout; the idle one beside it does not wait for it', async () => {
    const server = await tracker.server({
      listen: '127.0.0.1:0',
      framing: 'length:u32be',
      handler: 'echo',
    });
    const idle = await tracker.channel(server.address, 'length:u32be');
    await idle.send('ping');
    await idle.receive();
    const busy = await tracker.socket(server.address);
    busy.write(Buffer.from([0, 0, 0, 10, 1, 2])); // 2 of a 10-byte frame
    const idleEnded = idle.receive();
    const destroyed = destroyedCounts();
    let closed = false;
    const closing = server.close({ timeout: AN_HOUR }).then(() => {
      closed = true;
    });
    try {
      // The idle connection ends while close() still waits for the busy one.
      expect(await idleEnded).toBeNull();
      expect(closed).toBe(false);
      // The busy client finishes its frame: it is echoed, then its connection ends too.
      const echoed = new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        busy.on('data', (chunk: Buffer) => chunks.push(chunk));
        busy.on('end', () => resolve(Buffer.concat(chunks)));
      });
      busy.write(Buffer.from([3, 4, 5, 6, 7, 8, 9, 10]));
      expect([...(await echoed)]).toEqual([0, 0, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      await closing;
      expect(destroyed.counts).toEqual([0]);
    } finally {
      destroyed.stop();
    }
  });
});
