/**
 * Parser for CPython `struct` format strings (3.11 semantics), compiled once into a
 * flat list of field operations that struct.ts runs to pack and unpack.
 *
 * Theory of operation:
 * - The first character may pick the mode: `@` (default) native byte order, native
 *   sizes and native alignment; `=` native order, standard sizes, no alignment; `<`
 *   little-endian; `>` and `!` big-endian (both standard sizes, no alignment). A
 *   prefix anywhere else is a bad character, as in CPython.
 * - Then items: optional whitespace, an optional decimal repeat count, one format
 *   character. Whitespace is allowed between items but not between a count and its
 *   character (`'4 h'` is rejected, as CPython does).
 * - "Native" means CPython on x86-64 Linux (LP64): `l`, `L`, `n`, `N`, `P` are 8 bytes;
 *   every item is aligned to its own size before it is placed, including repeat count 0
 *   (`'@b0i'` is 4 bytes), and the struct is never padded at its end. The native byte
 *   order is the host's (little-endian on every platform Node ships for, in practice).
 * - `s` and `p` take one value whatever their count; `x` takes none; every other
 *   character takes `count` values.
 * - Each item becomes one {@link FieldOp} with its byte offset, so packing never
 *   re-reads the format. Integer ops carry an {@link IntRule}: the range the format
 *   accepts and CPython's exact error message for values outside it.
 *
 * Deliberate difference: CPython accepts sizes up to 2**63 - 1; here any count or total
 * size above Number.MAX_SAFE_INTEGER is "total struct size too long".
 */

import { StructError } from '../errors.js';

/** True on little-endian hosts; native (`@`, `=`) byte order follows the host as in CPython. */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Operation kinds. Numbers (not strings) so the pack/unpack loops switch on small integers. */
export const OpKind = {
  Int8: 0,
  Uint8: 1,
  Int16: 2,
  Uint16: 3,
  Int32: 4,
  Uint32: 5,
  /** Signed 8-byte integer (`q`, `n`, native `l`); unpacks to bigint. */
  Int64: 6,
  /** Unsigned 8-byte integer (`Q`, `N`, `P`, native `L`); unpacks to bigint. */
  Uint64: 7,
  Bool: 8,
  Char: 9,
  Bytes: 10,
  Pascal: 11,
  Float16: 12,
  /** Standard-size `f`: a finite double that rounds to infinity is an error. */
  Float32: 13,
  /** Native `@f`: CPython casts to C float, so overflow becomes ±infinity. */
  Float32Cast: 14,
  Float64: 15,
} as const;

/** One of the {@link OpKind} values. */
export type OpKindValue = (typeof OpKind)[keyof typeof OpKind];

/**
 * What an integer field accepts. CPython first converts the value to a C type (`long`,
 * `unsigned long`, ...) and then checks the format's own range; each step has its own
 * message, which depends on the mode (see {@link intRule}).
 */
export interface IntRule {
  /** Smallest accepted value, as a number (exact). */
  readonly numberMin: number;
  /** One more than the largest accepted value, as a number (exact: a power of two). */
  readonly numberLimit: number;
  /** Lower end of the C conversion range (e.g. LONG_MIN for `long`). */
  readonly convertMin: bigint;
  /** Upper end of the C conversion range (e.g. ULONG_MAX for `unsigned long`). */
  readonly convertMax: bigint;
  /** Message when the value is outside the C conversion range. */
  readonly convertMessage: string;
  /** Smallest value the format accepts (inside the conversion range). */
  readonly min: bigint;
  /** Largest value the format accepts (inside the conversion range). */
  readonly max: bigint;
  /** Message when the value converts but is outside the format's range. */
  readonly rangeMessage: string;
}

/** One compiled item of a format: `count` values of one kind starting at `offset`. */
export interface FieldOp {
  /** What to write or read: one of {@link OpKind}. */
  readonly kind: OpKindValue;
  /** Byte offset of the first value within the struct. */
  readonly offset: number;
  /** Number of values (always 1 for `s` and `p`). */
  readonly count: number;
  /** Bytes per value; for `s` and `p`, the whole field. */
  readonly size: number;
  /** Byte order of multi-byte values. */
  readonly littleEndian: boolean;
  /** Present for integer kinds. */
  readonly intRule: IntRule | undefined;
}

/** A parsed format string. Immutable; shared by every {@link Struct} built from the same text. */
export interface CompiledFormat {
  /** The format string as given. */
  readonly format: string;
  /** Packed size in bytes (CPython `calcsize`). */
  readonly size: number;
  /** How many values `pack` takes and `unpack` returns. */
  readonly valueCount: number;
  /** The items in format order (`x` items have none; their bytes stay zero). */
  readonly ops: readonly FieldOp[];
}

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;
const ULONG_MAX = 2n ** 64n - 1n;
const OUT_OF_RANGE = 'argument out of range';
const TOO_LARGE = 'int too large to convert';

type Mode = 'native' | 'little' | 'big';

interface IntRuleSpec {
  signed: boolean;
  bytes: number;
  /** C conversion: signed long, unsigned long, or the 64-bit range itself. */
  convert: 'long' | 'ulong' | 'pointer' | 'self';
  /** Overrides the message of the C conversion step. */
  convertMessage?: string;
  /** `null`: CPython's generic "'%c' format requires LO <= number <= HI". */
  rangeMessage: string | null;
}

function makeIntRule(code: string, spec: IntRuleSpec): IntRule {
  const bits = BigInt(spec.bytes * 8);
  const min = spec.signed ? -(2n ** (bits - 1n)) : 0n;
  const max = spec.signed ? 2n ** (bits - 1n) - 1n : 2n ** bits - 1n;
  let convertMin = LONG_MIN;
  let convertMax = LONG_MAX;
  if (spec.convert === 'ulong') {
    convertMin = 0n;
    convertMax = ULONG_MAX;
  } else if (spec.convert === 'pointer') {
    convertMin = LONG_MIN;
    convertMax = ULONG_MAX;
  } else if (spec.convert === 'self') {
    convertMin = min;
    convertMax = max;
  }
  const accepted =
    spec.convert === 'pointer' ? { low: convertMin, high: convertMax } : { low: min, high: max };
  return {
    numberMin: Number(accepted.low),
    numberLimit: Number(accepted.high + 1n),
    convertMin,
    convertMax,
    convertMessage: spec.convertMessage ?? OUT_OF_RANGE,
    min: accepted.low,
    max: accepted.high,
    rangeMessage: spec.rangeMessage ?? `'${code}' format requires ${min} <= number <= ${max}`,
  };
}

/**
 * The integer rule for `code` in `mode`, reproducing CPython 3.11's messages. CPython
 * packs `@` items with its native functions, and also standard-size items whose byte
 * order and size match the host's (it swaps the native functions in); big-endian and
 * size-mismatched items (`<l`, `<L`) use the portable functions, whose messages differ.
 */
function intRule(code: string, mode: Mode, littleEndian: boolean): IntRule {
  const usesNativeFunctions =
    mode === 'native' || (littleEndian === HOST_IS_LITTLE_ENDIAN && code !== 'l' && code !== 'L');
  const sizeBytes = itemSize(code, mode);
  switch (code) {
    case 'b':
      return makeIntRule(code, {
        signed: true,
        bytes: 1,
        convert: 'long',
        rangeMessage: 'byte format requires -128 <= number <= 127',
      });
    case 'B':
      return makeIntRule(code, {
        signed: false,
        bytes: 1,
        convert: 'long',
        rangeMessage: 'ubyte format requires 0 <= number <= 255',
      });
    case 'h':
      return makeIntRule(code, {
        signed: true,
        bytes: 2,
        convert: 'long',
        rangeMessage: usesNativeFunctions
          ? 'short format requires -32768 <= number <= 32767'
          : null,
      });
    case 'H':
      return makeIntRule(code, {
        signed: false,
        bytes: 2,
        convert: usesNativeFunctions ? 'long' : 'ulong',
        rangeMessage: usesNativeFunctions ? 'ushort format requires 0 <= number <= 65535' : null,
      });
    case 'i':
    case 'l':
      return makeIntRule(code, {
        signed: true,
        bytes: sizeBytes,
        convert: 'long',
        rangeMessage: null,
      });
    case 'I':
    case 'L':
      return makeIntRule(code, {
        signed: false,
        bytes: sizeBytes,
        convert: 'ulong',
        rangeMessage: null,
      });
    case 'q':
    case 'n':
      return makeIntRule(code, {
        signed: true,
        bytes: 8,
        convert: 'self',
        convertMessage: usesNativeFunctions ? OUT_OF_RANGE : TOO_LARGE,
        rangeMessage: null,
      });
    case 'Q':
    case 'N':
      return makeIntRule(code, {
        signed: false,
        bytes: 8,
        convert: 'self',
        convertMessage: usesNativeFunctions ? OUT_OF_RANGE : TOO_LARGE,
        rangeMessage: null,
      });
    case 'P':
      return makeIntRule(code, {
        signed: false,
        bytes: 8,
        convert: 'pointer',
        convertMessage: TOO_LARGE,
        rangeMessage: null,
      });
    default:
      throw new Error(`intRule: not an integer format character: ${code}`);
  }
}

/** Size in bytes of one `code` item, or -1 when `code` is not valid in `mode`. */
function itemSize(code: string, mode: Mode): number {
  switch (code) {
    case 'x':
    case 'c':
    case 'b':
    case 'B':
    case '?':
    case 's':
    case 'p':
      return 1;
    case 'h':
    case 'H':
    case 'e':
      return 2;
    case 'i':
    case 'I':
    case 'f':
      return 4;
    case 'l':
    case 'L':
      return mode === 'native' ? 8 : 4;
    case 'q':
    case 'Q':
    case 'd':
      return 8;
    case 'n':
    case 'N':
    case 'P':
      return mode === 'native' ? 8 : -1;
    default:
      return -1;
  }
}

function opKindOf(code: string, mode: Mode): OpKindValue {
  switch (code) {
    case 'b':
      return OpKind.Int8;
    case 'B':
      return OpKind.Uint8;
    case 'h':
      return OpKind.Int16;
    case 'H':
      return OpKind.Uint16;
    case 'i':
      return OpKind.Int32;
    case 'I':
      return OpKind.Uint32;
    case 'l':
      return mode === 'native' ? OpKind.Int64 : OpKind.Int32;
    case 'L':
      return mode === 'native' ? OpKind.Uint64 : OpKind.Uint32;
    case 'q':
    case 'n':
      return OpKind.Int64;
    case 'Q':
    case 'N':
    case 'P':
      return OpKind.Uint64;
    case '?':
      return OpKind.Bool;
    case 'c':
      return OpKind.Char;
    case 's':
      return OpKind.Bytes;
    case 'p':
      return OpKind.Pascal;
    case 'e':
      return OpKind.Float16;
    case 'f':
      return mode === 'native' ? OpKind.Float32Cast : OpKind.Float32;
    case 'd':
      return OpKind.Float64;
    default:
      throw new Error(`opKindOf: unexpected format character: ${code}`);
  }
}

const INTEGER_CODES = 'bBhHiIlLqQnNP';

/** Python's `Py_ISSPACE` for ASCII: space, \t, \n, \v, \f, \r. */
function isFormatSpace(charCode: number): boolean {
  return charCode === 0x20 || (charCode >= 0x09 && charCode <= 0x0d);
}

function isDigit(charCode: number): boolean {
  return charCode >= 0x30 && charCode <= 0x39;
}

const TOO_LONG = 'total struct size too long';

/**
 * Parses `format` into a {@link CompiledFormat}.
 *
 * @throws {@link StructError} with CPython's message for a bad character, a count with no
 *   character after it, an embedded NUL, or a size above Number.MAX_SAFE_INTEGER.
 */
export function compileFormat(format: string): CompiledFormat {
  if (format.includes('\0')) {
    throw new StructError('embedded null character');
  }
  let mode: Mode = 'native';
  let littleEndian = HOST_IS_LITTLE_ENDIAN;
  let index = 0;
  switch (format[0]) {
    case '@':
      index = 1;
      break;
    case '=':
      mode = HOST_IS_LITTLE_ENDIAN ? 'little' : 'big';
      index = 1;
      break;
    case '<':
      mode = 'little';
      littleEndian = true;
      index = 1;
      break;
    case '>':
    case '!':
      mode = 'big';
      littleEndian = false;
      index = 1;
      break;
  }

  const ops: FieldOp[] = [];
  let size = 0;
  let valueCount = 0;
  while (index < format.length) {
    let charCode = format.charCodeAt(index++);
    if (isFormatSpace(charCode)) {
      continue;
    }
    let count = 1;
    if (isDigit(charCode)) {
      count = charCode - 0x30;
      charCode = format.charCodeAt(index++);
      while (isDigit(charCode)) {
        const digit = charCode - 0x30;
        if (count > (Number.MAX_SAFE_INTEGER - digit) / 10) {
          throw new StructError(TOO_LONG);
        }
        count = count * 10 + digit;
        charCode = format.charCodeAt(index++);
      }
      if (Number.isNaN(charCode)) {
        throw new StructError('repeat count given without format specifier');
      }
    }
    const code = String.fromCharCode(charCode);
    const bytesPerItem = itemSize(code, mode);
    if (bytesPerItem < 0) {
      throw new StructError('bad char in struct format');
    }
    // Native alignment: every item except the byte-sized ones starts at a multiple of
    // its own size; CPython aligns even for a zero count and never pads the end.
    if (mode === 'native' && bytesPerItem > 1 && size % bytesPerItem !== 0) {
      size += bytesPerItem - (size % bytesPerItem);
    }
    if (count > (Number.MAX_SAFE_INTEGER - size) / bytesPerItem) {
      throw new StructError(TOO_LONG);
    }
    if (code === 's' || code === 'p') {
      ops.push(makeOp(code, mode, littleEndian, size, 1, count));
      valueCount += 1;
    } else if (code !== 'x' && count > 0) {
      ops.push(makeOp(code, mode, littleEndian, size, count, bytesPerItem));
      valueCount += count;
    }
    size += count * bytesPerItem;
  }
  return { format, size, valueCount, ops };
}

function makeOp(
  code: string,
  mode: Mode,
  littleEndian: boolean,
  offset: number,
  count: number,
  size: number,
): FieldOp {
  return {
    kind: opKindOf(code, mode),
    offset,
    count,
    size,
    littleEndian,
    intRule: INTEGER_CODES.includes(code) ? sharedIntRule(code, mode, littleEndian) : undefined,
  };
}

// An IntRule holds six bigints and two messages (about 400 bytes), and there are only
// 13 codes x 3 modes x 2 byte orders of them: one per item would make a long format
// such as 'i' * 1_000_000 cost 450 MB, so items share one rule per combination.
const intRules = new Map<string, IntRule>();

function sharedIntRule(code: string, mode: Mode, littleEndian: boolean): IntRule {
  const key = `${code}${mode}${littleEndian ? '<' : '>'}`;
  let rule = intRules.get(key);
  if (rule === undefined) {
    rule = intRule(code, mode, littleEndian);
    intRules.set(key, rule);
  }
  return rule;
}

/**
 * What one value of a format is, as `pack` takes it and `unpack` returns it: `int` a
 * number; `int64` a bigint (`q Q n N P`, and native `l L`, which are 8 bytes on LP64);
 * `float` a number (`e f d`); `bool` (`?`); `bytes` a Uint8Array (`c s p`).
 */
export type StructValueKind = 'int' | 'int64' | 'float' | 'bool' | 'bytes';

/** `count` consecutive values of one {@link StructValueKind}. */
export interface StructValueRun {
  readonly kind: StructValueKind;
  readonly count: number;
}

const VALUE_KIND_OF_OP: Record<OpKindValue, StructValueKind> = {
  [OpKind.Int8]: 'int',
  [OpKind.Uint8]: 'int',
  [OpKind.Int16]: 'int',
  [OpKind.Uint16]: 'int',
  [OpKind.Int32]: 'int',
  [OpKind.Uint32]: 'int',
  [OpKind.Int64]: 'int64',
  [OpKind.Uint64]: 'int64',
  [OpKind.Bool]: 'bool',
  [OpKind.Char]: 'bytes',
  [OpKind.Bytes]: 'bytes',
  [OpKind.Pascal]: 'bytes',
  [OpKind.Float16]: 'float',
  [OpKind.Float32]: 'float',
  [OpKind.Float32Cast]: 'float',
  [OpKind.Float64]: 'float',
};

/**
 * The values `format` packs and unpacks, in order, as runs of one kind (`'<2hq'` gives
 * `[{kind: 'int', count: 2}, {kind: 'int64', count: 1}]`; `x` takes no value, `s` and `p`
 * one each). For tools that read or print values as text, such as the CLI's
 * `pack`/`unpack`. Runs, not one entry per value, so that a huge repeat count costs
 * nothing until the caller has checked it.
 *
 * @throws {@link StructError} with CPython's message when the format is invalid.
 */
export function structValueRuns(format: string): StructValueRun[] {
  return compileFormat(format).ops.map((op) => ({
    kind: VALUE_KIND_OF_OP[op.kind],
    count: op.count,
  }));
}
