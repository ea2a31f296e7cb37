/**
 * A large echo to a client that half-closed (issue #14, item 9): the client sends one
 * 4 MiB frame and shuts down its write side, then reads. The reply is delivered in full
 * and the connection ends without an error, in every dispatch model. Before the fix,
 * `threads` delivered it but logged `SB_CONNECTION_CLOSED`: the body returned while its
 * last send still waited for the socket to drain, and the graceful close that followed
 * failed that send.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DispatchModel } from '../../src/index.js';
import { readAll, Tracker, until } from '../server/helpers.js';

const SIZE = 4 * 1024 * 1024;
const tracker = new Tracker();
afterEach(() => tracker.cleanup());

describe.each<DispatchModel>(['loop', 'threads', 'processes'])(
  'a 4 MiB echo to a half-closed client, dispatch %s (#14)',
  (dispatch) => {
    it('is delivered in full and logged as a clean close', async () => {
      const server = await tracker.server({
        listen: '127.0.0.1:0',
        framing: 'length:u32be',
        handler: 'echo',
        dispatch,
        ...(dispatch === 'loop' ? {} : { workers: 1 }),
      });
      const payload = Buffer.alloc(SIZE);
      for (let index = 0; index < SIZE; index++) {
        payload[index] = (index * 7 + 3) & 0xff;
      }
      const header = Buffer.alloc(4);
      header.writeUInt32BE(SIZE);
      const socket = await tracker.socket(server.address);
      const received = readAll(socket);
      socket.write(header);
      socket.end(payload);
      const { data, error } = await received;
      expect(error).toBeNull();
      expect(data.length).toBe(SIZE + 4);
      expect(data.subarray(0, 4).equals(header)).toBe(true);
      expect(data.subarray(4).equals(payload)).toBe(true);
      await until(() => server.metrics.connectionsOpen === 0);
      expect(server.metrics.errors).toEqual({});
    });
  },
);
