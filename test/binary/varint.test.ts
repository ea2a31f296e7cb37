/** Unsigned LEB128 helpers: golden vectors both ways, the 10-byte/64-bit overlong rule, round trips. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeBigVarint,
  decodeVarint,
  decodeVarintInto,
  encodeVarint,
  encodeVarintInto,
  MAX_VARINT_BYTES,
  readVarint,
  varintLength,
} from '../../src/binary/varint.js';
import { ByteQueue } from '../../src/codec/byte-queue.js';
import { fromHex, hex } from '../helpers/feed.js';

const GOLDEN: [value: bigint, encoded: string][] = [
  [0n, '00'],
  [1n, '01'],
  [127n, '7f'],
  [128n, '8001'],
  [300n, 'ac02'],
  [16_384n, '808001'],
  [2n ** 32n - 1n, 'ffffffff0f'],
  [2n ** 53n - 1n, 'ffffffffffffff0f'],
  [2n ** 63n, '80808080808080808001'],
  [2n ** 64n - 1n, 'ffffffffffffffffff01'],
];

describe('varint', () => {
  for (const [value, encoded] of GOLDEN) {
    it(`${value} <-> ${encoded}`, () => {
      expect(hex(encodeVarint(value))).toBe(encoded);
      expect(varintLength(value)).toBe(encoded.length / 2);
      expect(decodeBigVarint(fromHex(encoded))).toEqual({ value, length: encoded.length / 2 });
      const reading = decodeVarint(fromHex(encoded));
      expect(reading?.length).toBe(encoded.length / 2);
      if (value <= BigInt(Number.MAX_SAFE_INTEGER)) {
        expect(hex(encodeVarint(Number(value)))).toBe(encoded);
        expect(reading?.value).toBe(Number(value));
      } else {
        expect(reading?.value).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
      }
    });
  }

  it('returns undefined / false when the bytes end inside the varint (never throws for "need more")', () => {
    expect(decodeVarint(fromHex(''))).toBeUndefined();
    expect(decodeVarint(fromHex('8080'))).toBeUndefined();
    expect(decodeBigVarint(fromHex('ff'))).toBeUndefined();
    const out = { value: -1, length: -1 };
    expect(decodeVarintInto(fromHex('ac02'), 0, out, 1)).toBe(false);
    expect(decodeVarintInto(fromHex('00ac02'), 1, out)).toBe(true);
    expect(out).toEqual({ value: 300, length: 2 });
  });

  it('rejects more than 10 bytes or more than 64 bits with SB_VARINT_OVERLONG', () => {
    for (const bad of [
      'ffffffffffffffffff02',
      '8080808080808080807f',
      '80808080808080808080',
      '8080808080808080808000',
    ]) {
      expect(() => decodeVarint(fromHex(bad))).toThrow(
        expect.objectContaining({ code: 'SB_VARINT_OVERLONG', offset: 0 }),
      );
      expect(() => decodeBigVarint(fromHex(bad))).toThrow(
        expect.objectContaining({ code: 'SB_VARINT_OVERLONG' }),
      );
    }
    expect(MAX_VARINT_BYTES).toBe(10);
  });

  it('accepts non-minimal encodings within 10 bytes', () => {
    expect(decodeVarint(fromHex('8000'))).toEqual({ value: 0, length: 2 });
    expect(decodeBigVarint(fromHex('ff808080808080808000'))).toEqual({
      value: 127n,
      length: 10,
    });
  });

  it('refuses values it cannot encode', () => {
    for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, -1n, 2n ** 64n]) {
      expect(() => encodeVarint(bad)).toThrow(
        expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }),
      );
    }
    expect(() => encodeVarintInto(300, new Uint8Array(1))).toThrow(
      expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }),
    );
  });

  it('readVarint reads across the chunks of a ByteQueue', () => {
    const queue = new ByteQueue();
    const out = { value: 0, length: 0 };
    queue.push(fromHex('ff'));
    expect(readVarint(queue, 0, out)).toBe(false);
    queue.push(fromHex('ff'));
    queue.push(fromHex('03 61'));
    expect(readVarint(queue, 0, out)).toBe(true);
    expect(out).toEqual({ value: 0xffff, length: 3 });
  });

  it('round-trips every 64-bit value and every safe integer (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (value) => {
        const encoded = encodeVarint(value);
        expect(decodeBigVarint(encoded)).toEqual({ value, length: encoded.length });
      }),
      { seed: 42, numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.maxSafeNat(), (value) => {
        const encoded = encodeVarint(value);
        expect(hex(encoded)).toBe(hex(encodeVarint(BigInt(value))));
        expect(decodeVarint(encoded)).toEqual({ value, length: encoded.length });
      }),
      { seed: 42, numRuns: 500 },
    );
  });
});
