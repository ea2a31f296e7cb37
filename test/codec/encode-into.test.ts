/**
 * `Encoder.encodeInto` (the batching writer's fast path) must write exactly the bytes
 * `encode()` returns, for every layout, and fail the same way. Property test with a
 * fixed seed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LengthFramingOptions, lengthFraming, parseFraming } from '../../src/index.js';
import { concat } from '../helpers/feed.js';

const SEED = 42;

const LAYOUTS: LengthFramingOptions[] = [
  {},
  { lengthFieldLength: 1 },
  { lengthFieldLength: 2, littleEndian: true },
  { lengthFieldLength: 3 },
  { lengthFieldLength: 8, littleEndian: true },
  { lengthFieldLength: 2, initialBytesToStrip: 0 },
  { lengthFieldLength: 2, lengthIncludesHeader: true },
  { lengthFieldOffset: 2, lengthFieldLength: 3, initialBytesToStrip: 0 },
  { lengthFieldLength: 3, lengthAdjustment: 2, initialBytesToStrip: 0 },
  { lengthFieldOffset: 1, lengthFieldLength: 2, lengthAdjustment: 1, initialBytesToStrip: 3 },
  { lengthFieldOffset: 1, lengthFieldLength: 2, lengthAdjustment: -3, initialBytesToStrip: 3 },
];

describe('LengthEncoder.encodeInto', () => {
  for (const layout of LAYOUTS) {
    it(`writes what encode() returns: ${JSON.stringify(layout)}`, () => {
      const encoder = lengthFraming(layout).createEncoder();
      const encodeInto = encoder.encodeInto!.bind(encoder);
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(20), (payload, offset) => {
          let expected: Uint8Array | Error;
          try {
            expected = concat(encoder.encode(payload));
          } catch (error) {
            expected = error as Error;
          }
          const target = new Uint8Array(offset + 400).fill(0xee);
          if (expected instanceof Error) {
            expect(() => encodeInto(payload, target, offset)).toThrow(expected.message);
            return;
          }
          expect(encodeInto(payload, target, offset)).toBe(expected.length);
          expect(target.subarray(offset, offset + expected.length)).toEqual(expected);
          expect(target.subarray(0, offset).every((byte) => byte === 0xee)).toBe(true);
          expect(target.subarray(offset + expected.length).every((byte) => byte === 0xee)).toBe(
            true,
          );
        }),
        { seed: SEED, numRuns: 200 },
      );
    });
  }

  it('returns -1 and writes nothing when the frame does not fit', () => {
    const encoder = parseFraming('length:u32be').createEncoder();
    const target = new Uint8Array(10).fill(0xee);
    expect(encoder.encodeInto!(new Uint8Array(7), target, 0)).toBe(-1);
    expect(encoder.encodeInto!(new Uint8Array(6), target, 1)).toBe(-1);
    expect(target.every((byte) => byte === 0xee)).toBe(true);
    expect(encoder.encodeInto!(new Uint8Array(6).fill(1), target, 0)).toBe(10);
    expect([...target]).toEqual([0, 0, 0, 6, 1, 1, 1, 1, 1, 1]);
  });

  it('rejects a payload above maxFrame like encode()', () => {
    const encoder = parseFraming('length:u32be', { maxFrame: 8 }).createEncoder();
    const target = new Uint8Array(64);
    expect(() => encoder.encodeInto!(new Uint8Array(9), target, 0)).toThrow(
      expect.objectContaining({ code: 'SB_PAYLOAD_TOO_LARGE' }),
    );
  });
});
