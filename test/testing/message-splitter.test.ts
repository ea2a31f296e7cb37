/**
 * MessageSplitter over every framing: whatever the chunking (whole, byte by byte,
 * random splits), the segments put back together are the input byte for byte, and each
 * whole message segment is exactly one frame's wire bytes. Seeded fast-check.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseFraming } from '../../src/codec/spec.js';
import { NEED_DATA } from '../../src/codec/types.js';
import { MessageSplitter } from '../../src/testing/message-splitter.js';

const SPECS = [
  'line',
  'length:u16be',
  'length:u32le',
  'netstring',
  'varint',
  'digits:4',
  'delim:00',
  'tagged:01=4,02=length:u8',
  'content-length',
  'mllp',
  'sbp',
];

/** Splits `bytes` at the given cut points (sorted, deduplicated). */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    if (point > start) {
      chunks.push(bytes.subarray(start, point));
      start = point;
    }
  }
  return chunks;
}

/** Payloads a framing can carry (the line family cannot carry its delimiter, tagged needs a type). */
function payloadFor(spec: string, random: Uint8Array): Uint8Array {
  if (spec === 'line' || spec === 'mllp') {
    return Uint8Array.from(random, (byte) => 0x61 + (byte % 26));
  }
  if (spec === 'delim:00') {
    return Uint8Array.from(random, (byte) => 1 + (byte % 255));
  }
  if (spec === 'digits:4') {
    return random.subarray(0, 9999);
  }
  if (spec.startsWith('tagged')) {
    return Uint8Array.from([0x02, Math.min(random.length, 255), ...random.subarray(0, 255)]);
  }
  if (spec === 'sbp') {
    return random;
  }
  return random;
}

describe('MessageSplitter', () => {
  for (const spec of SPECS) {
    it(`${spec}: segments rebuild the input exactly; whole messages are single frames`, () => {
      const framing = parseFraming(spec);
      const encoder = framing.createEncoder();
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 8 }),
          fc.array(fc.nat(2000), { maxLength: 12 }),
          fc.boolean(),
          fc.boolean(),
          (randoms, cuts, hold, byteByByte) => {
            const wires: Buffer[] = [];
            for (const random of randoms) {
              let parts: Uint8Array[];
              try {
                parts = encoder.encode(payloadFor(spec, random));
              } catch {
                continue; // a payload this framing refuses (e.g. an sbp body it must wrap)
              }
              wires.push(Buffer.concat(parts));
            }
            const input = Buffer.concat(wires);
            const chunks = byteByByte
              ? Array.from(input, (_, index) => input.subarray(index, index + 1))
              : split(input, cuts);
            const splitter = new MessageSplitter(framing);
            const out: Buffer[] = [];
            const whole: Buffer[] = [];
            for (const chunk of chunks) {
              for (const segment of splitter.push(chunk, hold)) {
                out.push(segment.bytes);
                if (segment.message?.whole === true) {
                  whole.push(segment.bytes);
                  // A whole message segment decodes alone to exactly its payload.
                  const decoder = framing.createDecoder();
                  decoder.push(segment.bytes);
                  const frame = decoder.next();
                  expect(frame).not.toBe(NEED_DATA);
                  expect(Buffer.from(frame as Uint8Array)).toEqual(
                    Buffer.from(segment.message.payload),
                  );
                  expect(decoder.buffered).toBe(0);
                }
              }
            }
            for (const segment of splitter.end().segments) {
              out.push(segment.bytes);
            }
            expect(splitter.failure).toBeUndefined();
            expect(Buffer.concat(out)).toEqual(input);
            if (hold) {
              // Holding, every message leaves whole, as its own segment.
              expect(whole).toEqual(wires);
            }
          },
        ),
        { seed: 18, numRuns: 150 },
      );
    });
  }

  it('a framing error passes every byte through and sticks', () => {
    const splitter = new MessageSplitter(parseFraming('length:u16be', { maxFrame: 4 }));
    const first = splitter.push(Buffer.from([0, 2, 0x61, 0x62, 0, 9, 1, 2]), true);
    expect(first.map((segment) => segment.message?.whole ?? 'raw')).toEqual([true, 'raw']);
    expect(Buffer.concat(first.map((segment) => segment.bytes))).toEqual(
      Buffer.from([0, 2, 0x61, 0x62, 0, 9, 1, 2]),
    );
    expect(splitter.failure?.code).toBe('SB_FRAME_TOO_LARGE');
    expect(splitter.push(Buffer.from('later'), true)).toEqual([{ bytes: Buffer.from('later') }]);
  });
});
