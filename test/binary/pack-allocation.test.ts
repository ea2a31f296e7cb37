/**
 * A format whose size calcsize accepts but no buffer can hold ('99999999999s',
 * '5000000000x'): pack throws a coded StructError (CPython raises MemoryError), not
 * the engine's uncoded RangeError, which the CLI reported as SB_INTERNAL with a stack.
 */
import { describe, expect, it } from 'vitest';
import { calcsize, pack, Struct } from '../../src/index.js';

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
