/**
 * Compile-time parser of struct format strings: `Unpacked<'!HHIq'>` is
 * `[number, number, number, bigint]`, so `unpack`, `unpackFrom`, `iterUnpack` and a
 * `Struct` built from a literal format give a typed tuple.
 *
 * It follows the run-time grammar (format.ts, CPython's): an optional first byte-order
 * character (`@ = < > !`; none means `@`, native), then items, each an optional decimal
 * count and a format character, with whitespace allowed between items. Values by
 * character (as in struct.ts's table):
 *
 * | format | value |
 * |---|---|
 * | `b B h H i I e f d`, and `l L` with a standard byte order (`= < > !`) | number |
 * | `q Q`, `n N P`, and native `l L` (8 bytes on x86-64) | bigint |
 * | `?` | boolean |
 * | `c` | Uint8Array (one per count) |
 * | `s`, `p` | Uint8Array (one per item: the count is its length) |
 * | `x` | nothing (padding) |
 *
 * It falls back to the wide `StructValue[]`: for a computed format (type `string`),
 * for anything the run-time parser would reject (an unknown character, whitespace
 * inside a count, a trailing count), for a count of 100 or more, and for formats
 * longer than {@link MaxParsedFormatLength} characters (to keep type instantiation shallow).
 */
/**
 * A value `pack` takes or `unpack` returns: `number` for integers of up to 4 bytes
 * and for floats, `bigint` for 8-byte integers (`q Q n N P`, native `l L`), `boolean`
 * for `?`, `Uint8Array` for `c`, `s` and `p`.
 */
export type StructValue = number | bigint | boolean | Uint8Array;

type Digit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';
type Whitespace = ' ' | '\t' | '\n' | '\r' | '\v' | '\f';
/** The byte-order characters that may open a format (`@` native, the default). */
export type StructByteOrder = '@' | '=' | '<' | '>' | '!';

/** Characters of a format the type-level parser reads; documents the limit. */
export type MaxParsedFormatLength = 256;

/** The value type of one format character, or `never` when it is not one. */
type ValueOf<Char extends string, Native extends boolean> = Char extends
  | 'b'
  | 'B'
  | 'h'
  | 'H'
  | 'i'
  | 'I'
  | 'e'
  | 'f'
  | 'd'
  ? number
  : Char extends 'l' | 'L'
    ? Native extends true
      ? bigint
      : number
    : Char extends 'q' | 'Q' | 'n' | 'N' | 'P'
      ? bigint
      : Char extends '?'
        ? boolean
        : Char extends 'c'
          ? Uint8Array
          : never;

/** `V` repeated `D` times, for one decimal digit `D`. */
type DigitTuple<D extends Digit, V> = {
  '0': [];
  '1': [V];
  '2': [V, V];
  '3': [V, V, V];
  '4': [V, V, V, V];
  '5': [V, V, V, V, V];
  '6': [V, V, V, V, V, V];
  '7': [V, V, V, V, V, V, V];
  '8': [V, V, V, V, V, V, V, V];
  '9': [V, V, V, V, V, V, V, V, V];
}[D];

type Times10<T extends unknown[]> = [...T, ...T, ...T, ...T, ...T, ...T, ...T, ...T, ...T, ...T];

/** `V` repeated `Count` times (a decimal string; '' = once), built digit by digit. */
type Repeat<V, Count extends string, Acc extends unknown[] = []> = Count extends ''
  ? [V]
  : Count extends `${infer D extends Digit}${infer Rest}`
    ? Rest extends ''
      ? [...Times10<Acc>, ...DigitTuple<D, V>]
      : Repeat<V, Rest, [...Times10<Acc>, ...DigitTuple<D, V>]>
    : Acc;

/**
 * The item parser behind {@link Unpacked} (tail-recursive): `Acc` holds the values so
 * far, `Count` the digits read of the current item, `Depth` one entry per character.
 */
type ParseItems<
  Format extends string,
  Native extends boolean,
  Acc extends unknown[],
  Count extends string,
  Depth extends unknown[],
> = Depth['length'] extends MaxParsedFormatLength
  ? StructValue[]
  : Format extends `${infer Char}${infer Rest}`
    ? Char extends Digit
      ? Count extends `${Digit}${Digit}`
        ? StructValue[] // a count of 100 or more: use the wide type
        : ParseItems<Rest, Native, Acc, `${Count}${Char}`, [...Depth, 0]>
      : Char extends Whitespace
        ? Count extends ''
          ? ParseItems<Rest, Native, Acc, '', [...Depth, 0]>
          : StructValue[] // whitespace inside an item: the run-time parser rejects it
        : Char extends 'x'
          ? ParseItems<Rest, Native, Acc, '', [...Depth, 0]>
          : Char extends 's' | 'p'
            ? ParseItems<Rest, Native, [...Acc, Uint8Array], '', [...Depth, 0]>
            : [ValueOf<Char, Native>] extends [never]
              ? StructValue[] // not a format character
              : ParseItems<
                  Rest,
                  Native,
                  [...Acc, ...Repeat<ValueOf<Char, Native>, Count>],
                  '',
                  [...Depth, 0]
                >
    : Count extends ''
      ? Acc
      : StructValue[]; // a count with no format character after it

/**
 * The values `unpack(format, ...)` returns, as a tuple when `Format` is a literal the
 * type-level parser reads (see the module comment), otherwise `StructValue[]`.
 *
 * @example
 * ```ts
 * import type { Unpacked } from 'switchboard';
 *
 * const header: Unpacked<'!HHIq'> = [1, 2, 3, 4n]; // [number, number, number, bigint]
 * const mixed: Unpacked<'<2h?3sx'> = [1, 2, true, new Uint8Array(3)];
 * console.log(header.length, mixed.length); // 4 4
 * ```
 */
export type Unpacked<Format extends string> = string extends Format
  ? StructValue[]
  : Format extends `${infer First extends StructByteOrder}${infer Rest}`
    ? ParseItems<Rest, First extends '@' ? true : false, [], '', []>
    : ParseItems<Format, true, [], '', []>;
