/** ByteQueue unit tests: views vs copies, reads across chunks, search resumption, compaction. */
import { describe, expect, it } from 'vitest';
import { ByteQueue } from '../../src/codec/byte-queue.js';
import { fromHex, hex } from '../helpers/feed.js';

function queueOf(...chunks: string[]): ByteQueue {
  const queue = new ByteQueue();
  for (const part of chunks) {
    queue.push(fromHex(part));
  }
  return queue;
}

describe('ByteQueue', () => {
  it('take returns a view within one chunk and the chunk itself when it is exactly the frame', () => {
    const chunk = fromHex('01020304');
    const queue = new ByteQueue();
    queue.push(chunk);
    const view = queue.take(2, 1);
    expect(hex(view)).toBe('0203');
    expect(view.buffer).toBe(chunk.buffer);
    expect(queue.length).toBe(1);
    expect(queue.consumed).toBe(3);
    const whole = fromHex('0506');
    queue.skip(1);
    queue.push(whole);
    expect(queue.take(2)).toBe(whole);
    expect(queue.length).toBe(0);
  });

  it('take across chunks copies once; a small frame is cut from a zeroed slab of its own queue', () => {
    // Chunks above 128 bytes, so that none is coalesced into the spare.
    const queue = queueOf('11'.repeat(200), '22'.repeat(200), '33'.repeat(200));
    const frame = queue.take(300);
    expect(hex(frame)).toBe('11'.repeat(200) + '22'.repeat(100));
    expect(queue.bytesCopied).toBe(300);
    // The slab holds this frame, then zeros: nothing that was not this queue's input.
    const slab = new Uint8Array(frame.buffer);
    const end = frame.byteOffset + frame.length;
    expect(
      slab.every((byte, index) => byte === 0 || (index >= frame.byteOffset && index < end)),
    ).toBe(true);
    const next = queue.take(150);
    expect(hex(next)).toBe('22'.repeat(100) + '33'.repeat(50));
    expect(next.buffer).toBe(frame.buffer); // one slab, not an ArrayBuffer per frame
    expect(hex(frame)).toBe('11'.repeat(200) + '22'.repeat(100)); // earlier frames stay intact
    expect(queue.length).toBe(150);
    expect(queue.consumed).toBe(450);
  });

  it('counts the uncut rest of the slab as reserved, and holds none once empty', () => {
    // A peer that keeps one byte queued must not pin a slab outside the input budget.
    const queue = queueOf('11'.repeat(200), '22'.repeat(200));
    expect(queue.reserved).toBe(0);
    const frame = queue.take(300); // spans both chunks: cut from a new slab
    const slabSize = frame.buffer.byteLength;
    expect(queue.reserved).toBe(slabSize - 304); // 300 rounded up to 8-byte alignment
    queue.take(99);
    expect(queue.length).toBe(1);
    expect(queue.reserved).toBe(slabSize - 304); // a view of one chunk: nothing cut
    queue.take(1);
    expect(queue.length).toBe(0);
    expect(queue.reserved).toBe(0); // the slab goes with the queue's last byte
  });

  it('take across chunks copies a frame above the slab limit into an exact-size array', () => {
    const big = 'ab'.repeat(3000);
    const queue = queueOf(big, big);
    const frame = queue.take(6000);
    expect(frame.buffer.byteLength).toBe(6000);
  });

  it('reads integers and bytes across chunk boundaries', () => {
    const queue = queueOf('ff', 'fe01', '02', '0304050607');
    expect(queue.byteAt(0)).toBe(0xff);
    expect(queue.byteAt(3)).toBe(0x02);
    expect(queue.readUint(0, 4, false)).toBe(0xfffe0102);
    expect(queue.readUint(0, 4, true)).toBe(0x0201feff);
    expect(queue.readUint(1, 3, false)).toBe(0xfe0102);
    // Above 2^53 the value is the nearest double: still larger than any safe integer.
    expect(queue.readUint(1, 8, false)).toBe(Number(0xfe01020304050607n));
    expect(hex(queue.peek(1, 4))).toBe('fe010203');
    expect(queue.length).toBe(9);
  });

  it('indexOfByte resumes where told and counts what it examined', () => {
    const queue = queueOf('6161', '61', '6162');
    expect(queue.indexOfByte(0x62, 0)).toBe(4);
    expect(queue.bytesSearched).toBe(5);
    expect(queue.indexOfByte(0x63, 0)).toBe(-1);
    expect(queue.indexOfByte(0x62, 5)).toBe(-1);
    queue.skip(2);
    expect(queue.indexOfByte(0x62, 1)).toBe(2);
  });

  it('indexOf finds a multi-byte needle across chunks, skipping false starts', () => {
    const queue = queueOf('0d', '0d0a', '0d', '0a');
    expect(queue.indexOf(fromHex('0d0a'), 0)).toBe(1);
    expect(queue.indexOf(fromHex('0d0a'), 2)).toBe(3);
    expect(queue.indexOf(fromHex('0d0a0d0a'), 0)).toBe(1);
    // Cut by the end of the buffer: not found yet.
    const cut = queueOf('61', '0d');
    expect(cut.indexOf(fromHex('0d0a'), 0)).toBe(-1);
    cut.push(fromHex('0a'));
    expect(cut.indexOf(fromHex('0d0a'), cut.length - 2)).toBe(1);
  });

  it('stays correct over many pushes and takes (compaction of consumed chunks)', () => {
    const queue = new ByteQueue();
    for (let round = 0; round < 1000; round++) {
      queue.push(Uint8Array.of(round & 0xff));
      queue.push(Uint8Array.of((round + 1) & 0xff, (round + 2) & 0xff));
      // Keep one byte buffered across rounds so consumed chunks pile up before compaction.
      const frame = queue.take(2, round === 0 ? 0 : 1);
      expect(hex(frame)).toBe(hex(Uint8Array.of(round & 0xff, (round + 1) & 0xff)));
    }
    queue.skip(queue.length);
    expect(queue.length).toBe(0);
    expect(queue.consumed).toBe(3000);
  });

  it('coalesces small chunks pushed into a non-empty queue (slowloris input stays cheap)', () => {
    const queue = new ByteQueue();
    const first = fromHex('00');
    queue.push(first);
    const pushed: Uint8Array[] = [];
    for (let index = 1; index < 5000; index++) {
      const chunk = Uint8Array.of(index & 0xff);
      pushed.push(chunk);
      queue.push(chunk);
    }
    expect(queue.length).toBe(5000);
    // Reading across the whole queue walks a handful of owned buffers, not 5000 chunks.
    expect(queue.byteAt(4999)).toBe(4999 & 0xff);
    expect(queue.cursorSteps).toBeLessThan(20);
    const frame = queue.take(5000);
    expect(frame.length).toBe(5000);
    for (let index = 0; index < 5000; index++) {
      expect(frame[index]).toBe(index & 0xff);
    }
    expect(pushed.some((chunk) => chunk.buffer === frame.buffer)).toBe(false);
  });

  it('keeps a chunk pushed into an empty queue by reference (zero-copy)', () => {
    const queue = new ByteQueue();
    const chunk = fromHex('61 62');
    queue.push(chunk);
    expect(queue.take(2)).toBe(chunk);
  });

  it('frames already taken from a coalesced buffer are not overwritten by later pushes', () => {
    const queue = new ByteQueue();
    queue.push(fromHex('01'));
    queue.push(fromHex('02'));
    queue.push(fromHex('03'));
    const frame = queue.take(2);
    queue.push(fromHex('04'));
    queue.push(fromHex('05'));
    expect(hex(frame)).toBe('0102');
    expect(hex(queue.take(3))).toBe('030405');
  });
});
