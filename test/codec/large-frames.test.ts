/**
 * Large frames are assembled as they arrive (issue #15 item 3; byte-queue.ts "Large
 * frames"): once half of a frame whose header gave its length has arrived, the queue
 * holds it in one buffer of its exact size and copies every later chunk into it on
 * push, so completing the frame copies nothing. Never sized from a header alone: the
 * allocation is at most twice the bytes received. Copies and allocations are counted
 * by the queue's work counters, never timed.
 */
import { describe, expect, it } from 'vitest';
import type { BaseDecoder } from '../../src/codec/base.js';
import { encodeEnvelope, SbpDecoder, SbpType } from '../../src/codec/sbp.js';
import { parseFraming } from '../../src/codec/spec.js';
import { type Decoder, type Framing, NEED_DATA } from '../../src/codec/types.js';
import { ascii, concat, feed, feedChunks, hex } from '../helpers/feed.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function wireFor(framing: Framing, payloads: Uint8Array[]): Uint8Array {
  const encoder = framing.createEncoder();
  return concat(payloads.flatMap((payload) => encoder.encode(payload)));
}

/** A payload whose bytes depend on their position (a misplaced byte changes it). */
function payloadOf(size: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let index = 0; index < size; index++) {
    bytes[index] = (index * 31 + seed) & 0xff;
  }
  return bytes;
}

/** Cuts `wire` into chunks of `size` bytes (views). */
function chunksOf(wire: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < wire.length; offset += size) {
    chunks.push(wire.subarray(offset, offset + size));
  }
  return chunks;
}

/** Every framing whose header gives the frame's length (tagged: see the last test). */
const SPECS = ['length:u32be', 'length:u16le', 'varint', 'netstring', 'digits:8', 'content-length'];

describe('large frames through feed(): whole, byte by byte, random chunks, trailing bytes', () => {
  for (const spec of SPECS) {
    it(`${spec}: large frames between small ones decode identically every way`, () => {
      const framing = parseFraming(spec, { maxFrame: 4 * MiB });
      // length:u16 caps frames at 65,535: its large frame is just above the threshold.
      const large = spec === 'length:u16le' ? 65_535 : 200 * KiB + 3;
      const payloads = [ascii('small'), payloadOf(large, 1), ascii(''), payloadOf(large, 2)];
      const wire = wireFor(framing, payloads);
      const trailing = wireFor(framing, [payloadOf(large, 3)]).subarray(0, large / 2 + 10);
      const result = feed(() => framing.createDecoder(), wire, { trailing, maxChunk: 4096 });
      expect(result.error).toBeUndefined();
      expect(result.hex).toEqual(payloads.map(hex));
    });
  }
});

describe('a 1 MiB frame over 16 chunks', () => {
  for (const spec of SPECS.filter((name) => name !== 'length:u16le')) {
    it(`${spec}: copied once, while it arrives, into one buffer of its size`, () => {
      const framing = parseFraming(spec, { maxFrame: 4 * MiB });
      const payload = payloadOf(MiB, 7);
      const wire = wireFor(framing, [payload]);
      const chunks = chunksOf(wire, 64 * KiB);
      expect(chunks.length).toBeGreaterThanOrEqual(16);
      const decoder = framing.createDecoder() as BaseDecoder;
      let received = 0;
      let frame: Uint8Array | typeof NEED_DATA = NEED_DATA;
      for (const [index, part] of chunks.entries()) {
        decoder.push(part);
        received += part.length;
        const copiedBefore = decoder.work.bytesCopied;
        frame = decoder.next();
        const { bytesAllocated, bytesCopied } = decoder.work;
        // Never more memory than twice what arrived, never sized from the header alone.
        expect(bytesAllocated).toBeLessThanOrEqual(2 * received);
        expect(decoder.buffered + decoder.reserved).toBeLessThanOrEqual(
          Math.max(2 * received, wire.length),
        );
        if (index === chunks.length - 1) {
          // The last chunk was copied on push: completing the frame copies nothing.
          expect(bytesCopied).toBe(copiedBefore);
        } else {
          expect(frame).toBe(NEED_DATA);
        }
      }
      expect(frame).not.toBe(NEED_DATA);
      const decoded = frame as Uint8Array;
      expect(Buffer.from(decoded).equals(Buffer.from(payload))).toBe(true);
      // One allocation of the frame's wire size, each byte copied exactly once.
      expect(decoder.work.bytesAllocated).toBe(wire.length);
      expect(decoder.work.bytesCopied).toBe(wire.length);
      expect(decoded.buffer.byteLength).toBe(wire.length);
      expect(decoder.buffered).toBe(0);
      expect(decoder.reserved).toBe(0);
      expect(decoder.next()).toBe(NEED_DATA);
    });
  }

  it('the chunk that completes a frame may carry the next ones: they decode, by reference', () => {
    const framing = parseFraming('length:u32be', { maxFrame: 4 * MiB });
    const payloads = [payloadOf(MiB, 1), ascii('tail'), payloadOf(MiB, 2), ascii('end')];
    const wire = wireFor(framing, payloads);
    // 100,000-byte chunks: frame boundaries fall inside chunks.
    const decoder = framing.createDecoder() as BaseDecoder;
    const result = feedChunks(decoder, chunksOf(wire, 100_000));
    expect(result.error).toBeUndefined();
    expect(result.hex).toEqual(payloads.map(hex));
    // The two large frames: one buffer each; the small ones are views, not copies.
    expect(decoder.work.bytesAllocated).toBe(2 * (MiB + 4));
    expect(decoder.work.bytesCopied).toBe(2 * (MiB + 4));
  });
});

describe('a lying header allocates nothing', () => {
  for (const [spec, header] of [
    ['length:u32be', Uint8Array.of(0x40, 0, 0, 0)],
    ['netstring', ascii('1073741824:')],
    ['digits:10', ascii('1073741824')],
    ['content-length', ascii('Content-Length: 1073741824\r\n\r\n')],
    ['varint', Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x04)],
  ] as const) {
    it(`${spec}: a 1 GiB claim with 10 bytes sent`, () => {
      const framing = parseFraming(spec, { maxFrame: 2 * 1024 * MiB });
      const decoder = framing.createDecoder() as BaseDecoder;
      const result = feedChunks(decoder, [header, ascii('0123456789')], false);
      expect(result.error).toBeUndefined();
      expect(result.frames).toEqual([]);
      expect(decoder.inFrame).toBe(true);
      expect(decoder.work.bytesAllocated).toBe(0);
      expect(decoder.reserved).toBe(0);
      expect(decoder.buffered).toBe(header.length + 10);
    });
  }

  it('allocates only once half of the claimed frame has really arrived', () => {
    const framing = parseFraming('length:u32be', { maxFrame: 4 * MiB });
    const decoder = framing.createDecoder() as BaseDecoder;
    const wire = wireFor(framing, [payloadOf(MiB)]);
    decoder.push(wire.subarray(0, wire.length / 2 - 1));
    expect(decoder.next()).toBe(NEED_DATA);
    expect(decoder.work.bytesAllocated).toBe(0);
    decoder.push(wire.subarray(wire.length / 2 - 1, wire.length / 2));
    expect(decoder.next()).toBe(NEED_DATA);
    expect(decoder.work.bytesAllocated).toBe(wire.length);
    expect(decoder.buffered + decoder.reserved).toBe(wire.length);
    // The rest never comes: end of input is SB_UNEXPECTED_EOF as before.
    expect(() => decoder.end()).toThrow(expect.objectContaining({ code: 'SB_UNEXPECTED_EOF' }));
  });
});

describe('sbp envelopes (net/envelope.ts, on the same BaseDecoder)', () => {
  const data = (body: Uint8Array): Uint8Array => concat(encodeEnvelope(SbpType.DATA, 0, body));
  /** What the decoder yields for a DATA envelope: the type byte, then the body. */
  const decoded = (body: Uint8Array): string => hex(concat([Uint8Array.of(SbpType.DATA), body]));

  it('large envelopes between small ones decode identically every way', () => {
    const bodies = [ascii('hi'), payloadOf(200 * KiB, 1), ascii(''), payloadOf(200 * KiB, 2)];
    const wire = concat(bodies.map(data));
    const trailing = data(payloadOf(200 * KiB, 3)).subarray(0, 100 * KiB + 10);
    const result = feed(() => new SbpDecoder(4 * MiB), wire, { trailing, maxChunk: 4096 });
    expect(result.error).toBeUndefined();
    expect(result.hex).toEqual(bodies.map(decoded));
  });

  it('a 1 MiB envelope over 16 chunks is copied once, as it arrives', () => {
    const wire = data(payloadOf(MiB, 5));
    const decoder = new SbpDecoder(4 * MiB);
    const chunks = chunksOf(wire, 64 * KiB);
    let frame: Uint8Array | typeof NEED_DATA = NEED_DATA;
    for (const part of chunks) {
      decoder.push(part);
      const copiedBefore = decoder.work.bytesCopied;
      frame = decoder.next();
      if (frame !== NEED_DATA) {
        expect(decoder.work.bytesCopied).toBe(copiedBefore);
      }
    }
    expect(hex(frame as Uint8Array)).toBe(decoded(payloadOf(MiB, 5)));
    expect(decoder.work.bytesAllocated).toBe(wire.length);
    expect(decoder.work.bytesCopied).toBe(wire.length);
  });

  it('a 1 GiB claim with 10 bytes sent allocates nothing', () => {
    const decoder = new SbpDecoder(2 * 1024 * MiB);
    const result = feedChunks(
      decoder,
      [Uint8Array.of(0x40, 0, 0, 0, 0), ascii('012345678')],
      false,
    );
    expect(result.error).toBeUndefined();
    expect(decoder.work.bytesAllocated).toBe(0);
    expect(decoder.reserved).toBe(0);
  });
});

describe('small frames keep the zero-copy path', () => {
  it('a frame inside one chunk is a view of that chunk, below and above the threshold', () => {
    const framing = parseFraming('length:u32be', { maxFrame: 4 * MiB });
    for (const size of [64, 256 * KiB]) {
      const wire = wireFor(framing, [payloadOf(size), payloadOf(size, 1)]);
      const decoder: Decoder = framing.createDecoder();
      decoder.push(wire);
      const first = decoder.next() as Uint8Array;
      const second = decoder.next() as Uint8Array;
      expect(first.buffer).toBe(wire.buffer);
      expect(second.buffer).toBe(wire.buffer);
      expect((decoder as BaseDecoder).work.bytesCopied).toBe(0);
    }
  });

  it('a frame below the threshold spanning chunks is still copied once, at completion', () => {
    const framing = parseFraming('length:u32be');
    const wire = wireFor(framing, [payloadOf(32 * KiB)]);
    const decoder = framing.createDecoder() as BaseDecoder;
    const result = feedChunks(decoder, chunksOf(wire, 4 * KiB));
    expect(result.frames).toHaveLength(1);
    expect(decoder.work.bytesAllocated).toBe(32 * KiB);
    expect(decoder.work.bytesCopied).toBe(32 * KiB);
  });
});
