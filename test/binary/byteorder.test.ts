/** src/binary/byteorder.ts: hton and ntoh on numbers, and unsigned readers/writers of 8..64 bits. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import {
  type BigUintBits,
  type Endianness,
  HOST_ENDIANNESS,
  htonl,
  htons,
  ntohl,
  ntohs,
  readBigUint,
  readUint,
  type UintBits,
  writeBigUint,
  writeUint,
} from '../../src/index.js';

const hostIsLittle = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

describe('hton / ntoh', () => {
  it('knows the host byte order', () => {
    expect(HOST_ENDIANNESS).toBe(hostIsLittle ? 'le' : 'be');
  });

  it('swap bytes on a little-endian host (network order is big-endian)', () => {
    expect(htons(1)).toBe(hostIsLittle ? 0x0100 : 1);
    expect(htons(0x1234)).toBe(hostIsLittle ? 0x3412 : 0x1234);
    expect(htonl(1)).toBe(hostIsLittle ? 0x01000000 : 1);
    expect(htonl(0x01020304)).toBe(hostIsLittle ? 0x04030201 : 0x01020304);
    // Results stay unsigned even when the top bit ends up set.
    expect(htonl(0xff)).toBe(hostIsLittle ? 0xff000000 : 0xff);
  });

  it('agree with what a DataView writes in network order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (short, long) => {
          const view = new DataView(new ArrayBuffer(6));
          view.setUint16(0, short, false);
          view.setUint32(2, long, false);
          // Reading network bytes in host order gives htons/htonl of the value.
          expect(view.getUint16(0, hostIsLittle)).toBe(htons(short));
          expect(view.getUint32(2, hostIsLittle)).toBe(htonl(long));
          expect(ntohs(htons(short))).toBe(short);
          expect(ntohl(htonl(long))).toBe(long);
        },
      ),
      { seed: 42, numRuns: 500 },
    );
  });

  it('reject values outside the C type, naming the range', () => {
    for (const bad of [-1, 0x10000, 1.5, Number.NaN]) {
      expect(() => htons(bad)).toThrow(InvalidArgumentError);
      expect(() => ntohs(bad)).toThrow('0..65535');
    }
    for (const bad of [-1, 2 ** 32, 0.5]) {
      expect(() => htonl(bad)).toThrow(InvalidArgumentError);
      expect(() => ntohl(bad)).toThrow('0..4294967295');
    }
  });
});

describe('readUint / writeUint / readBigUint / writeBigUint', () => {
  const widths: UintBits[] = [8, 16, 24, 32, 40, 48];
  const bigWidths: BigUintBits[] = [...widths, 56, 64];
  const orders: Endianness[] = ['be', 'le'];

  it('match Buffer for 8..48 bits in both orders, and round-trip', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...widths),
        fc.constantFrom(...orders),
        fc.nat({ max: 3 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (bits, order, offset, fraction) => {
          const value = Math.floor(fraction * (2 ** bits - 1));
          const bytes = new Uint8Array(offset + bits / 8 + 2).fill(0xee);
          writeUint(bytes, offset, value, bits, order);
          const reference = Buffer.alloc(bits / 8);
          if (order === 'be') {
            reference.writeUIntBE(value, 0, bits / 8);
          } else {
            reference.writeUIntLE(value, 0, bits / 8);
          }
          expect(Buffer.from(bytes.subarray(offset, offset + bits / 8)).equals(reference)).toBe(
            true,
          );
          expect(bytes[offset + bits / 8]).toBe(0xee);
          expect(readUint(bytes, offset, bits, order)).toBe(value);
        },
      ),
      { seed: 42, numRuns: 500 },
    );
  });

  it('match DataView for 64-bit bigints, and round-trip at every width', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...bigWidths),
        fc.constantFrom(...orders),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        (bits, order, wide) => {
          const value = wide & ((1n << BigInt(bits)) - 1n);
          const bytes = new Uint8Array(8);
          writeBigUint(bytes, 0, value, bits, order);
          expect(readBigUint(bytes, 0, bits, order)).toBe(value);
          if (bits === 64) {
            expect(new DataView(bytes.buffer).getBigUint64(0, order === 'le')).toBe(value);
          }
        },
      ),
      { seed: 42, numRuns: 500 },
    );
  });

  it('reads a u24be length the way the framing spec means it', () => {
    expect(readUint(Uint8Array.of(0x01, 0x02, 0x03), 0, 24, 'be')).toBe(0x010203);
    expect(readUint(Uint8Array.of(0x01, 0x02, 0x03), 0, 24, 'le')).toBe(0x030201);
  });

  it('reject fields that do not fit, bad widths and out-of-range values', () => {
    const bytes = new Uint8Array(4);
    expect(() => readUint(bytes, 2, 24, 'be')).toThrow(InvalidArgumentError);
    expect(() => readUint(bytes, -1, 8, 'be')).toThrow(InvalidArgumentError);
    expect(() => readUint(bytes, 0, 12 as UintBits, 'be')).toThrow('multiple of 8');
    expect(() => writeUint(bytes, 0, 256, 8, 'le')).toThrow('0..255');
    expect(() => writeUint(bytes, 0, -1, 16, 'le')).toThrow(InvalidArgumentError);
    expect(() => readBigUint(bytes, 0, 64, 'be')).toThrow(InvalidArgumentError);
    expect(() => writeBigUint(new Uint8Array(8), 0, 2n ** 64n, 64, 'be')).toThrow(
      InvalidArgumentError,
    );
    expect(() => writeBigUint(new Uint8Array(8), 0, -1n, 64, 'be')).toThrow(InvalidArgumentError);
  });
});
