/**
 * A reply queued between a socket's 'error' and its 'close' must not throw from the
 * end-of-tick flush. net.Socket emits 'error' (a failed write: EPIPE, ECONNRESET) on one
 * tick and 'close' only once the handle has closed, a later event-loop phase; a frame a
 * handler sends in between (under threads: a reply from the pool) was batched, and the
 * process.nextTick flush called socket.writeBatch, which threw the socket's error out of
 * the nextTick callback: an uncaught exception that killed `serve --dispatch threads`
 * under a socket fuzzer. The flush must treat an errored socket as dead, like a closed one.
 */
import { describe, expect, it } from 'vitest';
import { Channel } from '../../src/net/channel.js';
import { Socket } from '../../src/net/socket.js';
import { data, eof, ScriptedTransport } from '../helpers/scripted-socket.js';

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('a frame sent after the socket errored, before it closed', () => {
  it('is dropped and the channel fails with the socket error; nothing throws', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => {
      uncaught.push(error);
    };
    // vitest installs its own listener; ours records what would have killed a server.
    process.on('uncaughtException', onUncaught);
    try {
      // The peer half-closed after one request (the reader is done; replies still go out).
      const transport = new ScriptedTransport([data('request\n'), eof()]);
      const socket = Socket.from(transport, { trackLeaks: false });
      const channel = new Channel(socket, { framing: 'line' });
      expect(Buffer.from((await channel.receive())!).toString()).toBe('request');
      expect(await channel.receive()).toBeNull();
      // The reply is batched for the end of the tick; then, before the flush runs,
      // 'error' arrives without 'close', as net.Socket emits a failed write.
      const sent = channel.send('reply').catch((error: unknown) => error);
      transport.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      await settle();
      await settle();
      expect(uncaught).toEqual([]);
      expect(transport.writes).toHaveLength(0);
      const outcome = await sent;
      if (outcome !== undefined) {
        expect((outcome as { code?: string }).code).toBe('SB_CONNECTION_RESET');
      }
      // The channel failed with the socket's error: the next send says so.
      await expect(channel.send('more')).rejects.toMatchObject({ code: 'SB_CONNECTION_RESET' });
      transport.destroy();
      await settle();
      channel.destroy();
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
