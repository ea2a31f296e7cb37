/**
 * A format whose size calcsize accepts but no buffer can hold ('99999999999s',
 * '5000000000x'): pack throws a coded StructError (CPython raises MemoryError), not
 * the engine's uncoded RangeError, which the CLI reported as SB_INTERNAL with a stack.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileFormat } from '../../src/binary/format.js';
import { cachedFormat } from '../../src/binary/struct-compiled.js';
import { calcsize, pack, Struct, unpack } from '../../src/index.js';

describe('pack of a struct too large to allocate', () => {
  it('is SB_STRUCT_ERROR, on the free function and on Struct', () => {
    expect(calcsize('99999999999s')).toBe(99_999_999_999);
    for (const attempt of [
      () => pack('99999999999s', new Uint8Array(0)),
      () => pack('5000000000x'),
      () => new Struct('<99999999999s').pack(Uint8Array.of(1)),
    ]) {
      expect(attempt).toThrow(expect.objectContaining({ code: 'SB_STRUCT_ERROR' }));
    }
    // An ordinary pack is unaffected.
    expect(pack('!H', 258)).toEqual(Uint8Array.of(1, 2));
  });
});

/**
 * A long format string (one item per character, as a peer could send one) must not
 * cost hundreds of bytes per item, nor stay in the format cache: each item carried
 * its own integer rule (six bigints, two messages, ~400 bytes), and the cache kept
 * 100 formats whatever their length, so 8 distinct 1 MiB formats held 3.9 GB.
 */
describe('memory held for a long format string', () => {
  it('items of one code, mode and byte order share one integer rule', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('', '@', '=', '<', '>', '!'),
        fc.constantFrom(...'bBhHiIlLqQ'),
        fc.integer({ min: 2, max: 50 }),
        (prefix, code, count) => {
          const { ops } = compileFormat(prefix + code.repeat(count));
          expect(ops).toHaveLength(count);
          expect(new Set(ops.map((op) => op.intRule)).size).toBe(1);
        },
      ),
      { seed: 0x5b0f, numRuns: 60 },
    );
    // Rules still differ where CPython's messages do.
    expect(() => pack('<h', 40000)).toThrow('short format requires -32768 <= number <= 32767');
    expect(() => pack('>h', 40000)).toThrow("'h' format requires -32768 <= number <= 32767");
  });

  it('is not kept in the format cache past 4096 characters', () => {
    const short = `<${'h'.repeat(4095)}`;
    const long = `<${'h'.repeat(4096)}`;
    const first = cachedFormat(short);
    const firstLong = cachedFormat(long);
    // Another format in between, so the one-entry fast path does not answer.
    cachedFormat('<b');
    expect(cachedFormat(short)).toBe(first);
    cachedFormat('<b');
    expect(cachedFormat(long)).not.toBe(firstLong);
    // Both still work, on every call.
    expect(calcsize(long)).toBe(2 * 4096);
    expect(unpack(long, new Uint8Array(2 * 4096))).toHaveLength(4096);
  });
});
