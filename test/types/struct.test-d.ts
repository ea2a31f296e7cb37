/**
 * Type tests (compiled by `npm run typecheck`, never run): unpack() and Struct infer a
 * tuple from a literal format and fall back to StructValue[] for a computed one (#17).
 * A wrong expectation here fails the typecheck.
 */
import { expectTypeOf } from 'vitest';
import {
  iterUnpack,
  Struct,
  type StructValue,
  type Unpacked,
  unpack,
  unpackFrom,
} from '../../src/index.js';

declare const bytes: Uint8Array;
declare const computed: string;

// The example.
expectTypeOf(unpack('!HHIq', bytes)).toEqualTypeOf<[number, number, number, bigint]>();
// Counts, bytes, booleans, padding, whitespace between items.
expectTypeOf(unpack('<2h?3sx', bytes)).toEqualTypeOf<[number, number, boolean, Uint8Array]>();
expectTypeOf(unpack('> h  i', bytes)).toEqualTypeOf<[number, number]>();
expectTypeOf(unpack('3H', bytes)).toEqualTypeOf<[number, number, number]>();
expectTypeOf(unpack('2c', bytes)).toEqualTypeOf<[Uint8Array, Uint8Array]>();
expectTypeOf(unpack('10p', bytes)).toEqualTypeOf<[Uint8Array]>();
expectTypeOf(unpack('0H', bytes)).toEqualTypeOf<[]>();
expectTypeOf(unpack('4x', bytes)).toEqualTypeOf<[]>();
expectTypeOf(unpack('', bytes)).toEqualTypeOf<[]>();
expectTypeOf(unpack('<efd', bytes)).toEqualTypeOf<[number, number, number]>();
expectTypeOf(unpack('<qQ', bytes)).toEqualTypeOf<[bigint, bigint]>();
expectTypeOf(unpack('nNP', bytes)).toEqualTypeOf<[bigint, bigint, bigint]>();
// l/L: 8 bytes (bigint) native, 4 bytes (number) with a standard byte order.
expectTypeOf(unpack('lL', bytes)).toEqualTypeOf<[bigint, bigint]>();
expectTypeOf(unpack('@l', bytes)).toEqualTypeOf<[bigint]>();
expectTypeOf(unpack('=l', bytes)).toEqualTypeOf<[number]>();
expectTypeOf(unpack('!L', bytes)).toEqualTypeOf<[number]>();
// Two-digit counts are expanded.
expectTypeOf<Unpacked<'12B'>['length']>().toEqualTypeOf<12>();
expectTypeOf<Unpacked<'99B'>['length']>().toEqualTypeOf<99>();

// Fallbacks to the wide type.
expectTypeOf(unpack(computed, bytes)).toEqualTypeOf<StructValue[]>();
expectTypeOf(unpack('100B', bytes)).toEqualTypeOf<StructValue[]>();
expectTypeOf(unpack('zz', bytes)).toEqualTypeOf<StructValue[]>();
expectTypeOf(unpack('3 h', bytes)).toEqualTypeOf<StructValue[]>();
expectTypeOf(unpack('3', bytes)).toEqualTypeOf<StructValue[]>();
expectTypeOf<Unpacked<`${string}H`>>().toEqualTypeOf<StructValue[]>();

// The other entry points.
expectTypeOf(unpackFrom('<Hq', bytes, 2)).toEqualTypeOf<[number, bigint]>();
for (const row of iterUnpack('<H?', bytes)) {
  expectTypeOf(row).toEqualTypeOf<[number, boolean]>();
}
const header = new Struct('!HHIq');
expectTypeOf(header.unpack(bytes)).toEqualTypeOf<[number, number, number, bigint]>();
expectTypeOf(header.unpackFrom(bytes)).toEqualTypeOf<[number, number, number, bigint]>();
expectTypeOf(header.format).toEqualTypeOf<'!HHIq'>();
const [version, , , id] = header.unpack(bytes);
expectTypeOf(version).toEqualTypeOf<number>();
expectTypeOf(id).toEqualTypeOf<bigint>();
// A typed Struct is still a Struct (assignable to the wide, computed-format form).
const wide: Struct = header;
expectTypeOf(wide.unpack(bytes)).toEqualTypeOf<StructValue[]>();
expectTypeOf(new Struct(computed).unpack(bytes)).toEqualTypeOf<StructValue[]>();

// Tuples catch mistakes: a fourth value does not exist, and a bigint is not a number.
// @ts-expect-error tuple of length 3 has no element at index 3
const [, , , fourth] = unpack('!HHI', bytes);
void fourth;
// @ts-expect-error bigint is not assignable to number
const asNumber: number = unpack('!q', bytes)[0];
void asNumber;
