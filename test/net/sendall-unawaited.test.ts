/**
 * `void socket.sendAll(x)` must never become an unhandled rejection, as for
 * `void channel.send(x)` (send-unawaited.test.ts): a rejection ends a node process by
 * default, so a peer that resets (or a caller aborts a write it never awaited) could end its client.
 */
import type * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Socket } from '../../src/net/socket.js';
import { Loopback } from '../helpers/loopback.js';
import { unhandledDuring } from '../helpers/unhandled-during.js';
import { until } from '../helpers/until.js';

const loop = new Loopback();
afterEach(() => loop.cleanup());

async function socketWithRawPeer(): Promise<{ socket: Socket; peer: () => net.Socket }> {
  let accepted: net.Socket | undefined;
  const port = await loop.rawServer((raw) => {
    accepted = raw;
    raw.pause(); // never reads: what we send stays queued
  });
  const socket = loop.track(await loop.connect(`127.0.0.1:${port}`));
  await until(() => accepted !== undefined, 5000, 'the raw server accepts');
  return { socket, peer: () => accepted! };
}

/** More than the kernel's buffers on both sides take, so sendAll is still waiting. */
const BIG = new Uint8Array(32 * 1024 * 1024);

describe('sendAll() that nobody awaits', () => {
  it('rejected by the peer resetting: not unhandled; the socket keeps the reset', async () => {
    const { socket, peer } = await socketWithRawPeer();
    const seen = await unhandledDuring(async () => {
      void socket.sendAll(BIG);
      peer().resetAndDestroy();
      await until(() => socket.isClosed, 5000, 'the socket sees the reset');
    });
    expect(seen).toEqual([]);
    await expect(socket.recv()).rejects.toMatchObject({ code: 'SB_CONNECTION_RESET' });
  });

  it('rejected by its abort signal: not unhandled; the socket is destroyed', async () => {
    const { socket } = await socketWithRawPeer();
    const controller = new AbortController();
    const seen = await unhandledDuring(async () => {
      void socket.sendAll(BIG, { signal: controller.signal });
      controller.abort();
      await until(() => socket.isClosed, 5000, 'the abort destroys the socket');
    });
    expect(seen).toEqual([]);
  });

  it('an awaiting caller still gets the rejection', async () => {
    const { socket, peer } = await socketWithRawPeer();
    const sending = socket.sendAll(BIG);
    peer().resetAndDestroy();
    await expect(sending).rejects.toMatchObject({ code: 'SB_CONNECTION_RESET' });
  });
});
