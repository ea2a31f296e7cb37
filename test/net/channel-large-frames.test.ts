/**
 * A Channel over large frames (issue #15 item 3): the room a decoder reserves for a
 * frame being assembled counts in the server's input budget, and 1 MiB frames cross a
 * real loopback connection intact.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Channel, type InputAccount } from '../../src/net/channel.js';
import { FRAME_OVERHEAD_BYTES } from '../../src/net/frame-queue.js';
import { Socket } from '../../src/net/socket.js';
import { Loopback } from '../helpers/loopback.js';
import { data, pending, ScriptedTransport, settle } from '../helpers/scripted-socket.js';

const MiB = 1024 * 1024;

function frameOf(size: number, seed: number): Buffer {
  const frame = Buffer.alloc(4 + size);
  frame.writeUInt32BE(size, 0);
  for (let index = 0; index < size; index++) {
    frame[4 + index] = (index + seed) & 0xff;
  }
  return frame;
}

const loop = new Loopback();
afterEach(async () => {
  await loop.cleanup();
});

describe('Channel input accounting with a large frame', () => {
  it('reports the bytes received plus the room reserved for the rest of the frame', async () => {
    const wire = frameOf(MiB, 1);
    const cut = 600 * 1024;
    const transport = new ScriptedTransport([
      data(wire.subarray(0, 100 * 1024)),
      pending(),
      data(wire.subarray(100 * 1024, cut)),
      pending(),
      data(wire.subarray(cut)),
      pending(),
    ]);
    const socket = Socket.from(transport, { trackLeaks: false, readBufferLimit: 4 * MiB });
    const channel = new Channel(socket, { framing: 'length:u32be', maxQueuedInput: 4 * MiB });
    const reported: number[] = [];
    const account: InputAccount = {
      update: (held) => reported.push(held),
      close: () => {},
    };
    channel.setInputAccount(account);
    await settle();
    // A sixth of the frame: nothing reserved, the bytes received are what is held.
    expect(reported.at(-1)).toBe(100 * 1024);
    transport.release();
    await settle();
    // Past half: one buffer of the frame's size holds it; all of it counts.
    expect(reported.at(-1)).toBe(wire.length);
    transport.release();
    await settle();
    // Complete and queued for receive(): the payload (and the queued frame's overhead) is what is held.
    expect(reported.at(-1)).toBe(MiB + FRAME_OVERHEAD_BYTES);
    const frame = channel.tryReceive();
    expect(frame?.length).toBe(MiB);
    expect(reported.at(-1)).toBe(0);
    channel.destroy();
  });
});

describe('1 MiB frames over loopback', () => {
  it('arrive intact and in order, with frame boundaries anywhere in the reads', async () => {
    const { client, server } = await loop.pair();
    const receiver = loop.track(
      new Channel(server, { framing: 'length:u32be', maxQueuedInput: 4 * MiB }),
    );
    const count = 8;
    // Odd sizes so that frame boundaries fall inside the socket's reads.
    const sizes = Array.from({ length: count }, (_, index) => MiB + index * 977);
    client.write(Buffer.concat(sizes.map((size, index) => frameOf(size, index))));
    void client.shutdown('write');
    let index = 0;
    for await (const frames of receiver.batches()) {
      for (const frame of frames) {
        expect(frame.length).toBe(sizes[index]);
        expect(Buffer.from(frame).equals(frameOf(sizes[index]!, index).subarray(4))).toBe(true);
        index += 1;
      }
    }
    expect(index).toBe(count);
  });
});
