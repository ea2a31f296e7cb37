/**
 * CPython-compatible `struct`: pack JS values into bytes and back, following Python
 * 3.11's `struct` module (formats, sizes, native alignment on x86-64 Linux, and the
 * same error conditions and messages).
 *
 * Theory of operation:
 * - A format string is compiled once (format.ts) into a flat list of field operations
 *   with precomputed byte offsets. Two engines run that list: the interpreter here
 *   (writeFields/readFields), and straight-line functions generated from it
 *   (codegen.ts), 2-3x faster but a few hundred µs to make. Both share every check.
 * - One compiled struct per format string, in a small bounded cache as CPython's
 *   module-level functions keep. A {@link Struct} generates code at construction (it is
 *   made to be reused); the free functions ({@link pack}, {@link unpack}, ...) start a
 *   new format on the interpreter and switch the cache entry to generated code after
 *   {@link GENERATE_AFTER_USES} uses, so one-off formats never pay for generation.
 *   Formats with too many values to unroll, or a host that forbids code generation,
 *   stay on the interpreter.
 * - Packing checks each value just before writing it, in format order, so the first
 *   bad value is the one reported, as in CPython. Bytes between fields (`x`,
 *   alignment) are zero.
 * - Unpacking never shares memory with the input: `c`, `s` and `p` values are copies.
 *
 * Value mapping (see {@link StructValue}):
 *
 * | format | packs from | unpacks to |
 * |---|---|---|
 * | `b B h H i I`, standard `l L` | integral number, bigint, boolean | number |
 * | `q Q n N P`, native `l L` (8 bytes) | integral number, bigint, boolean | bigint |
 * | `e f d` | number, bigint, boolean | number |
 * | `?` | anything (JS truthiness) | boolean |
 * | `c` | 1-byte Uint8Array | 1-byte Uint8Array |
 * | `s`, `p` | Uint8Array (padded with zeros or truncated) | Uint8Array |
 *
 * Deliberate differences from CPython: an integral number such as `1.0` packs into an
 * integer field (JS cannot tell it from `1`; CPython rejects the float `1.0`); `?` uses
 * JS truthiness (NaN and 0n are false, an empty Uint8Array is true); `NaN` packs as the
 * positive quiet NaN, and a NaN that unpack read keeps its sign and payload but comes
 * back quiet (V8 quiets signalling NaNs; CPython copies them bit for bit); sizes above
 * Number.MAX_SAFE_INTEGER are rejected;
 * unpacking `0p` gives an empty Uint8Array (CPython raises SystemError); CPython's
 * OverflowError for `e` and `f` overflow is a StructError here, like every other
 * rejection.
 */

import { InvalidArgumentError, StructError } from '../errors.js';
import { type CodegenHelpers, generateCodec, MAX_GENERATED_VALUES } from './codegen.js';
import {
  type CompiledFormat,
  compileFormat,
  type IntRule,
  OpKind,
  type OpKindValue,
} from './format.js';
import type { StructValue, Unpacked } from './struct-types.js';

// StructValue lives with the format types (struct-types.ts), which need it.
export type { StructValue };

const TWO_POW_32 = 4294967296;

// ---------------------------------------------------------------------------
// Value conversion (each mirrors one CPython check, with its message)
// ---------------------------------------------------------------------------

/** An integer value as a bigint, or CPython's "not an integer" error. */
function integerAsBigInt(value: unknown): bigint {
  if (typeof value === 'bigint') {
    return value;
  }
  if (typeof value === 'number' && Number.isInteger(value)) {
    return BigInt(value);
  }
  if (typeof value === 'boolean') {
    // Python's bool is an int subclass: struct.pack('h', True) packs 1.
    return value ? 1n : 0n;
  }
  throw new StructError('required argument is not an integer');
}

/** Slow path for integers: bigints, booleans, out-of-range values and non-integers. */
function checkedInteger(value: unknown, rule: IntRule): bigint {
  const integer = integerAsBigInt(value);
  if (integer < rule.convertMin || integer > rule.convertMax) {
    throw new StructError(rule.convertMessage);
  }
  if (integer < rule.min || integer > rule.max) {
    throw new StructError(rule.rangeMessage);
  }
  return integer;
}

/** An integer of up to 4 bytes, checked against `rule`. */
function smallInteger(value: unknown, rule: IntRule): number {
  if (
    typeof value === 'number' &&
    value >= rule.numberMin &&
    value < rule.numberLimit &&
    Number.isInteger(value)
  ) {
    return value;
  }
  return Number(checkedInteger(value, rule));
}

function floatValue(value: unknown): number {
  if (typeof value === 'number') {
    return value;
  }
  if (typeof value === 'bigint') {
    const converted = Number(value);
    // CPython: int too large for a double fails float conversion.
    if (!Number.isFinite(converted)) {
      throw new StructError('required argument is not a float');
    }
    return converted;
  }
  if (typeof value === 'boolean') {
    return value ? 1 : 0;
  }
  throw new StructError('required argument is not a float');
}

/**
 * IEEE 754 binary16 bits of `value`, rounding half to even; a port of CPython's
 * PyFloat_Pack2 so that every rounding and overflow decision matches.
 *
 * @throws {@link StructError} "float too large to pack with e format" when `value` is
 *   finite but rounds beyond the largest half (65504), i.e. |value| >= 65520.
 */
export function float16Bits(value: number): number {
  if (value === 0) {
    return Object.is(value, -0) ? 0x8000 : 0;
  }
  if (Number.isNaN(value)) {
    return 0x7e00;
  }
  const sign = value < 0 ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  if (magnitude === Number.POSITIVE_INFINITY) {
    return sign | 0x7c00;
  }
  // Everything from 65520 up rounds past the largest half (65504).
  if (magnitude >= 65536) {
    throw new StructError('float too large to pack with e format');
  }
  // frexp, normalised to fraction in [1, 2): magnitude = fraction * 2**exponent.
  let exponent = Math.floor(Math.log2(magnitude));
  let fraction = magnitude / 2 ** exponent;
  if (fraction >= 2) {
    fraction /= 2;
    exponent += 1;
  } else if (fraction < 1) {
    fraction *= 2;
    exponent -= 1;
  }
  if (exponent < -25) {
    fraction = 0;
    exponent = 0;
  } else if (exponent < -14) {
    fraction *= 2 ** (14 + exponent); // gradual underflow
    exponent = 0;
  } else {
    exponent += 15;
    fraction -= 1; // drop the implicit leading 1
  }
  fraction *= 1024;
  let mantissa = Math.floor(fraction);
  const remainder = fraction - mantissa;
  if (remainder > 0.5 || (remainder === 0.5 && (mantissa & 1) === 1)) {
    mantissa += 1;
    if (mantissa === 1024) {
      mantissa = 0;
      exponent += 1;
      if (exponent === 31) {
        throw new StructError('float too large to pack with e format');
      }
    }
  }
  return sign | (exponent << 10) | mantissa;
}

/** The number an IEEE 754 binary16 bit pattern encodes. */
export function float16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) {
    return sign * mantissa * 2 ** -24;
  }
  if (exponent === 31) {
    return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  }
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function bytesValue(value: unknown, code: 's' | 'p'): Uint8Array {
  if (value instanceof Uint8Array) {
    return value;
  }
  throw new StructError(`argument for '${code}' must be a bytes object`);
}

// ---------------------------------------------------------------------------
// Byte access
//
// Integers are written and read with byte arithmetic on the Uint8Array itself. A
// DataView would be simpler, but creating one costs more than a whole small pack: it
// needs `bytes.buffer`, which makes V8 move a fresh on-heap Uint8Array off the heap.
// Floats and 8-byte bigints go through one 8-byte conversion scratch instead.
// ---------------------------------------------------------------------------

// Module state, but never observable: every use writes the scratch and copies it out
// (or in and reads it) within one synchronous function, so no value outlives a call.
const scratchView = new DataView(new ArrayBuffer(8));
const scratchBytes = new Uint8Array(scratchView.buffer);
// The same 8 bytes in host order, for the generated code (codegen.ts).
const scratchWords = new Int32Array(scratchView.buffer);
const scratchInt64 = new BigInt64Array(scratchView.buffer);
const scratchUint64 = new BigUint64Array(scratchView.buffer);
const scratchFloat64 = new Float64Array(scratchView.buffer);
const scratchFloat32 = new Float32Array(scratchView.buffer, 0, 1);

function copyFromScratch(bytes: Uint8Array, position: number, width: number): void {
  for (let index = 0; index < width; index++) {
    bytes[position + index] = scratchBytes[index]!;
  }
}

function copyToScratch(bytes: Uint8Array, position: number, width: number): void {
  for (let index = 0; index < width; index++) {
    scratchBytes[index] = bytes[position + index]!;
  }
}

// Uint8Array stores take the value modulo 256, so negative values need no masking.
function write16(bytes: Uint8Array, position: number, value: number, little: boolean): void {
  if (little) {
    bytes[position] = value;
    bytes[position + 1] = value >>> 8;
  } else {
    bytes[position] = value >>> 8;
    bytes[position + 1] = value;
  }
}

function write32(bytes: Uint8Array, position: number, value: number, little: boolean): void {
  if (little) {
    bytes[position] = value;
    bytes[position + 1] = value >>> 8;
    bytes[position + 2] = value >>> 16;
    bytes[position + 3] = value >>> 24;
  } else {
    bytes[position] = value >>> 24;
    bytes[position + 1] = value >>> 16;
    bytes[position + 2] = value >>> 8;
    bytes[position + 3] = value;
  }
}

function readUint16(bytes: Uint8Array, position: number, little: boolean): number {
  return little
    ? bytes[position]! | (bytes[position + 1]! << 8)
    : (bytes[position]! << 8) | bytes[position + 1]!;
}

/** The 32 bits at `position` as a signed int32; `>>> 0` makes them unsigned. */
function readInt32(bytes: Uint8Array, position: number, little: boolean): number {
  return little
    ? bytes[position]! |
        (bytes[position + 1]! << 8) |
        (bytes[position + 2]! << 16) |
        (bytes[position + 3]! << 24)
    : (bytes[position]! << 24) |
        (bytes[position + 1]! << 16) |
        (bytes[position + 2]! << 8) |
        bytes[position + 3]!;
}

/**
 * Writes an 8-byte integer of any JS type, checked against `rule`. The generated
 * codecs call this for everything but an in-range bigint.
 */
function write64(
  bytes: Uint8Array,
  position: number,
  value: unknown,
  rule: IntRule,
  littleEndian: boolean,
): void {
  if (
    typeof value === 'number' &&
    value >= rule.numberMin &&
    value < rule.numberLimit &&
    Number.isInteger(value)
  ) {
    // Split without allocating a bigint; exact for every integral double in range.
    const high = Math.floor(value / TWO_POW_32);
    const low = value - high * TWO_POW_32;
    if (littleEndian) {
      write32(bytes, position, low, true);
      write32(bytes, position + 4, high, true);
    } else {
      write32(bytes, position, high, false);
      write32(bytes, position + 4, low, false);
    }
    return;
  }
  const integer =
    typeof value === 'bigint' && value >= rule.min && value <= rule.max
      ? value
      : checkedInteger(value, rule);
  // Both setters store modulo 2**64, so either gives the right bits for any value
  // that passed the check (P accepts LONG_MIN..ULONG_MAX).
  scratchView.setBigUint64(0, integer, littleEndian);
  copyFromScratch(bytes, position, 8);
}

/** Below this many bytes a plain loop beats `set(subarray(...))`, which allocates a view. */
const SMALL_COPY = 64;

function copyRange(
  target: Uint8Array,
  targetStart: number,
  source: Uint8Array,
  sourceStart: number,
  length: number,
): void {
  if (length <= SMALL_COPY) {
    for (let index = 0; index < length; index++) {
      target[targetStart + index] = source[sourceStart + index]!;
    }
  } else {
    target.set(source.subarray(sourceStart, sourceStart + length), targetStart);
  }
}

/** A copy (never a view) of `length` bytes, as a plain Uint8Array even when `bytes` is a Buffer. */
function copyBytes(bytes: Uint8Array, start: number, length: number): Uint8Array {
  const copy = new Uint8Array(length);
  copyRange(copy, 0, bytes, start, length);
  return copy;
}

/** The byte of a `c` value: a Uint8Array of length 1, as CPython requires. */
function charByte(value: unknown): number {
  if (!(value instanceof Uint8Array) || value.length !== 1) {
    throw new StructError('char format requires a bytes object of length 1');
  }
  return value[0]!;
}

/** A standard-size `f` value: CPython rejects a finite double that rounds to infinity. */
function float32Value(value: number): number {
  if (Number.isFinite(value) && !Number.isFinite(Math.fround(value))) {
    throw new StructError('float too large to pack with f format');
  }
  return value;
}

/** Writes an `s` field of `size` bytes: the value truncated, or padded by the zeroed target. */
function writeBytes(bytes: Uint8Array, position: number, value: unknown, size: number): void {
  const source = bytesValue(value, 's');
  copyRange(bytes, position, source, 0, Math.min(source.length, size));
}

/** Writes a `p` field of `size` bytes: a length byte (at most 255), then the bytes. */
function writePascal(bytes: Uint8Array, position: number, value: unknown, size: number): void {
  const source = bytesValue(value, 'p');
  if (size > 0) {
    const length = Math.min(source.length, size - 1);
    bytes[position] = Math.min(length, 255);
    copyRange(bytes, position + 1, source, 0, length);
  }
}

/** The value of a `p` field of `size` bytes; the length byte is capped at size - 1, as CPython reads it. */
function readPascal(bytes: Uint8Array, position: number, size: number): Uint8Array {
  const length = size === 0 ? 0 : Math.min(bytes[position]!, size - 1);
  return copyBytes(bytes, position + 1, length);
}

/** Writes a `f` (standard or native) or `d` field from any JS value, through the scratch. */
function writeFloat(
  bytes: Uint8Array,
  position: number,
  value: unknown,
  kind: OpKindValue,
  littleEndian: boolean,
): void {
  const number = floatValue(value);
  if (kind === OpKind.Float64) {
    scratchView.setFloat64(0, number, littleEndian);
    copyFromScratch(bytes, position, 8);
    return;
  }
  scratchView.setFloat32(0, kind === OpKind.Float32 ? float32Value(number) : number, littleEndian);
  copyFromScratch(bytes, position, 4);
}

/** An 8-byte integer or a `f`/`d` float, read through the scratch. */
function readThroughScratch(
  bytes: Uint8Array,
  position: number,
  kind: OpKindValue,
  littleEndian: boolean,
): bigint | number {
  switch (kind) {
    case OpKind.Int64:
      copyToScratch(bytes, position, 8);
      return scratchView.getBigInt64(0, littleEndian);
    case OpKind.Uint64:
      copyToScratch(bytes, position, 8);
      return scratchView.getBigUint64(0, littleEndian);
    case OpKind.Float64:
      copyToScratch(bytes, position, 8);
      return scratchView.getFloat64(0, littleEndian);
    default:
      copyToScratch(bytes, position, 4);
      return scratchView.getFloat32(0, littleEndian);
  }
}

// ---------------------------------------------------------------------------
// The pack and unpack loops
// ---------------------------------------------------------------------------

/** Writes `values` into `bytes` at `base`. The caller has checked the count and bounds. */
function writeFields(
  layout: CompiledFormat,
  bytes: Uint8Array,
  base: number,
  values: ArrayLike<unknown>,
): void {
  const ops = layout.ops;
  let next = 0;
  for (let opIndex = 0; opIndex < ops.length; opIndex++) {
    const op = ops[opIndex]!;
    const little = op.littleEndian;
    const count = op.count;
    let position = base + op.offset;
    switch (op.kind) {
      case OpKind.Int8:
      case OpKind.Uint8:
        for (let item = 0; item < count; item++, position++) {
          bytes[position] = smallInteger(values[next++], op.intRule!);
        }
        break;
      case OpKind.Int16:
      case OpKind.Uint16:
        for (let item = 0; item < count; item++, position += 2) {
          write16(bytes, position, smallInteger(values[next++], op.intRule!), little);
        }
        break;
      case OpKind.Int32:
      case OpKind.Uint32:
        for (let item = 0; item < count; item++, position += 4) {
          write32(bytes, position, smallInteger(values[next++], op.intRule!), little);
        }
        break;
      case OpKind.Int64:
      case OpKind.Uint64:
        for (let item = 0; item < count; item++, position += 8) {
          write64(bytes, position, values[next++], op.intRule!, little);
        }
        break;
      case OpKind.Bool:
        for (let item = 0; item < count; item++, position++) {
          bytes[position] = values[next++] ? 1 : 0;
        }
        break;
      case OpKind.Char:
        for (let item = 0; item < count; item++, position++) {
          bytes[position] = charByte(values[next++]);
        }
        break;
      case OpKind.Bytes:
        writeBytes(bytes, position, values[next++], op.size);
        break;
      case OpKind.Pascal:
        writePascal(bytes, position, values[next++], op.size);
        break;
      case OpKind.Float16:
        for (let item = 0; item < count; item++, position += 2) {
          write16(bytes, position, float16Bits(floatValue(values[next++])), little);
        }
        break;
      case OpKind.Float32:
      case OpKind.Float32Cast:
      case OpKind.Float64:
        for (let item = 0; item < count; item++, position += op.size) {
          writeFloat(bytes, position, values[next++], op.kind, little);
        }
        break;
    }
  }
}

/**
 * Reads one struct at `base`. The caller has checked the bounds. The field walk repeats
 * writeFields' on purpose: a shared walker would call a callback per value.
 */
function readFields(layout: CompiledFormat, bytes: Uint8Array, base: number): StructValue[] {
  const result = new Array<StructValue>(layout.valueCount);
  const ops = layout.ops;
  let next = 0;
  for (let opIndex = 0; opIndex < ops.length; opIndex++) {
    const op = ops[opIndex]!;
    const little = op.littleEndian;
    const count = op.count;
    let position = base + op.offset;
    switch (op.kind) {
      case OpKind.Int8:
        for (let item = 0; item < count; item++, position++) {
          result[next++] = (bytes[position]! << 24) >> 24;
        }
        break;
      case OpKind.Uint8:
        for (let item = 0; item < count; item++, position++) {
          result[next++] = bytes[position]!;
        }
        break;
      case OpKind.Int16:
        for (let item = 0; item < count; item++, position += 2) {
          result[next++] = (readUint16(bytes, position, little) << 16) >> 16;
        }
        break;
      case OpKind.Uint16:
        for (let item = 0; item < count; item++, position += 2) {
          result[next++] = readUint16(bytes, position, little);
        }
        break;
      case OpKind.Int32:
        for (let item = 0; item < count; item++, position += 4) {
          result[next++] = readInt32(bytes, position, little);
        }
        break;
      case OpKind.Uint32:
        for (let item = 0; item < count; item++, position += 4) {
          result[next++] = readInt32(bytes, position, little) >>> 0;
        }
        break;
      case OpKind.Int64:
      case OpKind.Uint64:
      case OpKind.Float32:
      case OpKind.Float32Cast:
      case OpKind.Float64:
        for (let item = 0; item < count; item++, position += op.size) {
          result[next++] = readThroughScratch(bytes, position, op.kind, little);
        }
        break;
      case OpKind.Bool:
        for (let item = 0; item < count; item++, position++) {
          result[next++] = bytes[position] !== 0;
        }
        break;
      case OpKind.Char:
        for (let item = 0; item < count; item++, position++) {
          result[next++] = copyBytes(bytes, position, 1);
        }
        break;
      case OpKind.Bytes:
        result[next++] = copyBytes(bytes, position, op.size);
        break;
      case OpKind.Pascal:
        result[next++] = readPascal(bytes, position, op.size);
        break;
      case OpKind.Float16:
        for (let item = 0; item < count; item++, position += 2) {
          result[next++] = float16Value(readUint16(bytes, position, little));
        }
        break;
    }
  }
  return result;
}

// ---------------------------------------------------------------------------
// Compiled structs: the interpreter first, generated code once a format is hot
// ---------------------------------------------------------------------------

/** The four primitive operations of a format; callers check value counts and bounds first. */
interface StructFunctions {
  /** Packs exactly `valueCount` values into a new zeroed array of `size` bytes. */
  packNew: (values: ArrayLike<unknown>) => Uint8Array;
  /** Writes the values at `bytes[base]`, touching only the fields' own bytes. */
  writeAt: (bytes: Uint8Array, base: number, values: ArrayLike<unknown>) => void;
  /** Reads one struct at `bytes[0]` (the common case, with constant offsets). */
  readFirst: (bytes: Uint8Array) => StructValue[];
  /** Reads one struct at `bytes[base]`. */
  readAt: (bytes: Uint8Array, base: number) => StructValue[];
}

/**
 * One format, ready to run. Immutable (V8 can then treat a Struct's functions as
 * constants and inline them); a format that tiers up gets a new CompiledStruct.
 */
interface CompiledStruct extends Readonly<StructFunctions> {
  readonly size: number;
  readonly valueCount: number;
  /** True while the format runs on the counting interpreter (see {@link tieredStruct}). */
  readonly tiered: boolean;
}

/**
 * Uses of a format through the free functions (packs and unpacks) before its code is
 * generated. Generating costs a few hundred µs, about what the interpreter spends on a
 * thousand small packs, so a format used only now and then (say a `${length}s` that
 * changes with every message) never pays for it, and a hot one pays once; from then on
 * each call is 2-3x faster. A {@link Struct} generates at construction: making one says
 * the format will be reused.
 */
export const GENERATE_AFTER_USES = 1000;

/** What generated code calls for checks and slow paths: the interpreter's own functions. */
const CODEGEN_HELPERS: CodegenHelpers = {
  smallInteger,
  write64,
  floatValue,
  float32Value,
  float16Bits,
  float16Value,
  charByte,
  writeBytes,
  writePascal,
  copyBytes,
  readPascal,
  scratchWords,
  scratchInt64,
  scratchUint64,
  scratchFloat64,
  scratchFloat32,
};

function interpretedFunctions(layout: CompiledFormat): StructFunctions {
  return {
    packNew(values) {
      const bytes = new Uint8Array(layout.size);
      writeFields(layout, bytes, 0, values);
      return bytes;
    },
    writeAt: (bytes, base, values) => writeFields(layout, bytes, base, values),
    readFirst: (bytes) => readFields(layout, bytes, 0),
    readAt: (bytes, base) => readFields(layout, bytes, base),
  };
}

/** Generated functions for `layout`, or the interpreter's when generation is impossible. */
function generatedFunctions(layout: CompiledFormat): StructFunctions {
  const generated = generateCodec(layout, CODEGEN_HELPERS);
  if (generated === undefined) {
    // Too many values to unroll, or code generation refused by the host.
    return interpretedFunctions(layout);
  }
  return {
    packNew: generated.packNew,
    writeAt: generated.writeAt,
    // The generated reads produce exactly the interpreter's value types.
    readFirst: generated.readFirst as StructFunctions['readFirst'],
    readAt: generated.readAt as StructFunctions['readAt'],
  };
}

/** Every compiled struct is made here, so all have one shape (one hidden class in V8). */
function makeCompiled(
  layout: CompiledFormat,
  functions: StructFunctions,
  tiered: boolean,
): CompiledStruct {
  return {
    size: layout.size,
    valueCount: layout.valueCount,
    packNew: functions.packNew,
    writeAt: functions.writeAt,
    readFirst: functions.readFirst,
    readAt: functions.readAt,
    tiered,
  };
}

/** A compiled struct on one engine from the start. */
function compileStruct(
  layout: CompiledFormat,
  engine: 'generated' | 'interpreted',
): CompiledStruct {
  const functions =
    engine === 'generated' ? generatedFunctions(layout) : interpretedFunctions(layout);
  return makeCompiled(layout, functions, false);
}

/**
 * The interpreter behind counting wrappers, for a format first met by a free function.
 * Its last counted use replaces it in the format cache by generated code (see
 * {@link promote}); the call in progress still finishes on the interpreter.
 */
function tieredStruct(format: string, layout: CompiledFormat): CompiledStruct {
  if (layout.valueCount > MAX_GENERATED_VALUES) {
    return compileStruct(layout, 'interpreted');
  }
  const interpreted = interpretedFunctions(layout);
  let usesLeft = GENERATE_AFTER_USES;
  const countUse = (): void => {
    usesLeft -= 1;
    if (usesLeft === 0) {
      promote(format, layout);
    }
  };
  return makeCompiled(
    layout,
    {
      packNew(values) {
        countUse();
        return interpreted.packNew(values);
      },
      writeAt(bytes, base, values) {
        countUse();
        interpreted.writeAt(bytes, base, values);
      },
      readFirst(bytes) {
        countUse();
        return interpreted.readFirst(bytes);
      },
      readAt(bytes, base) {
        countUse();
        return interpreted.readAt(bytes, base);
      },
    },
    true,
  );
}

// ---------------------------------------------------------------------------
// Argument checks shared by Struct and the free functions
// ---------------------------------------------------------------------------

function requireBuffer(buffer: unknown, operation: string): asserts buffer is Uint8Array {
  if (!(buffer instanceof Uint8Array)) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `${operation}: buffer must be a Uint8Array`,
    );
  }
}

function requireOffset(offset: unknown, operation: string): asserts offset is number {
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset)) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `${operation}: offset must be an integer`,
    );
  }
}

function requireCount(
  compiled: CompiledStruct,
  values: ArrayLike<unknown>,
  operation: string,
): void {
  if (values.length !== compiled.valueCount) {
    throw new StructError(
      `${operation} expected ${compiled.valueCount} items for packing (got ${values.length})`,
    );
  }
}

function packCompiled(compiled: CompiledStruct, values: ArrayLike<unknown>): Uint8Array {
  requireCount(compiled, values, 'pack');
  try {
    return compiled.packNew(values);
  } catch (error) {
    // The one RangeError packing can meet is the result's allocation (a size calcsize
    // accepts, e.g. '99999999999s'; CPython raises MemoryError there): a coded error,
    // not an uncoded RangeError.
    if (error instanceof RangeError) {
      throw new StructError(`pack: cannot allocate ${compiled.size} bytes for the result`, {
        cause: error,
      });
    }
    throw error;
  }
}

function packIntoCompiled(
  compiled: CompiledStruct,
  buffer: Uint8Array,
  offset: number,
  values: ArrayLike<unknown>,
): void {
  requireBuffer(buffer, 'packInto');
  requireOffset(offset, 'packInto');
  requireCount(compiled, values, 'pack_into');
  const size = compiled.size;
  let start = offset;
  if (start < 0) {
    // A negative offset counts from the end of the buffer, as in CPython.
    if (start + size > 0) {
      throw new StructError(`no space to pack ${size} bytes at offset ${start}`);
    }
    if (start + buffer.length < 0) {
      throw new StructError(`offset ${start} out of range for ${buffer.length}-byte buffer`);
    }
    start += buffer.length;
  }
  if (buffer.length - start < size) {
    throw new StructError(
      `pack_into requires a buffer of at least ${size + start} bytes for packing ${size} bytes ` +
        `at offset ${start} (actual buffer size is ${buffer.length})`,
    );
  }
  // CPython zero-fills the struct's bytes first, so pad and alignment bytes are 0.
  buffer.fill(0, start, start + size);
  compiled.writeAt(buffer, start, values);
}

function unpackCompiled(compiled: CompiledStruct, buffer: Uint8Array): StructValue[] {
  requireBuffer(buffer, 'unpack');
  if (buffer.length !== compiled.size) {
    throw new StructError(`unpack requires a buffer of ${compiled.size} bytes`);
  }
  return compiled.readFirst(buffer);
}

function unpackFromCompiled(
  compiled: CompiledStruct,
  buffer: Uint8Array,
  offset: number,
): StructValue[] {
  requireBuffer(buffer, 'unpackFrom');
  requireOffset(offset, 'unpackFrom');
  const size = compiled.size;
  let start = offset;
  if (start < 0) {
    if (start + size > 0) {
      throw new StructError(`not enough data to unpack ${size} bytes at offset ${start}`);
    }
    if (start + buffer.length < 0) {
      throw new StructError(`offset ${start} out of range for ${buffer.length}-byte buffer`);
    }
    start += buffer.length;
  }
  if (buffer.length - start < size) {
    throw new StructError(
      `unpack_from requires a buffer of at least ${size + start} bytes for unpacking ${size} ` +
        `bytes at offset ${start} (actual buffer size is ${buffer.length})`,
    );
  }
  return compiled.readAt(buffer, start);
}

function* iterateCompiled(
  compiled: CompiledStruct,
  buffer: Uint8Array,
): Generator<StructValue[], void> {
  const end = buffer.length;
  for (let position = 0; position < end; position += compiled.size) {
    yield compiled.readAt(buffer, position);
  }
}

function iterUnpackCompiled(
  compiled: CompiledStruct,
  buffer: Uint8Array,
): IterableIterator<StructValue[]> {
  // Checked here, not inside the generator, so errors surface at the call as in CPython.
  requireBuffer(buffer, 'iterUnpack');
  if (compiled.size === 0) {
    throw new StructError('cannot iteratively unpack with a struct of length 0');
  }
  if (buffer.length % compiled.size !== 0) {
    throw new StructError(
      `iterative unpacking requires a buffer of a multiple of ${compiled.size} bytes`,
    );
  }
  return iterateCompiled(compiled, buffer);
}

// ---------------------------------------------------------------------------
// Format cache (shared by Struct and the free functions)
// ---------------------------------------------------------------------------

/** Cached compiled structs. CPython keeps 100 formats too (_MAXCACHE). */
const FORMAT_CACHE_LIMIT = 100;

// Module state, but bounded and holding only immutable compiled structs: a format
// string always compiles to the same thing, so sharing entries cannot leak between callers.
const formatCache = new Map<string, CompiledStruct>();

// The most recent lookup, checked before the Map: code that packs one format in a loop
// then pays one string comparison (usually a pointer comparison) per call.
let lastFormat: string | undefined;
let lastCompiled: CompiledStruct | undefined;

function cachedFormat(format: string): CompiledStruct {
  // Only the repeat check here: this function is inlined into every free function, and
  // the Map lookup below would take up V8's inlining budget for the generated code.
  if (format === lastFormat) {
    return lastCompiled!;
  }
  return lookUpFormat(format);
}

function lookUpFormat(format: string): CompiledStruct {
  let compiled = formatCache.get(format);
  if (compiled === undefined) {
    if (typeof format !== 'string') {
      throw new InvalidArgumentError('SB_INVALID_ARGUMENT', 'format must be a string');
    }
    compiled = tieredStruct(format, compileFormat(format));
    remember(format, compiled);
  }
  lastFormat = format;
  lastCompiled = compiled;
  return compiled;
}

/** Caches `compiled` for `format`, replacing an entry or evicting the oldest one. */
function remember(format: string, compiled: CompiledStruct): void {
  if (!formatCache.has(format) && formatCache.size >= FORMAT_CACHE_LIMIT) {
    // Evict the oldest entry (Map iterates in insertion order).
    formatCache.delete(formatCache.keys().next().value!);
  }
  formatCache.set(format, compiled);
  if (lastFormat === format) {
    lastCompiled = compiled;
  }
}

/** Replaces a tiered cache entry by generated code. */
function promote(format: string, layout: CompiledFormat): void {
  // Only where the tiered entry still is: an evicted format stays evicted.
  if (formatCache.get(format)?.tiered === true) {
    remember(format, compileStruct(layout, 'generated'));
  }
}

/** The compiled struct for `new Struct(format)`: the cached one if generated, else a new one. */
function generatedFormat(format: string): CompiledStruct {
  const cached = formatCache.get(format);
  if (cached !== undefined && !cached.tiered) {
    return cached;
  }
  const compiled = compileStruct(compileFormat(format), 'generated');
  remember(format, compiled);
  return compiled;
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/**
 * A compiled format, like Python's `struct.Struct`: the format is parsed once and
 * turned into specialized pack/unpack code, which every call reuses. Prefer it over the
 * free functions on hot paths. Construction costs a few hundred µs the first time a
 * format string is seen (later ones share the cached code); for a format that changes
 * from call to call (`${length}s`), use the free functions instead.
 *
 * @example
 * ```ts
 * import { Struct } from 'switchboard';
 *
 * const header = new Struct('!HHIq');
 * const bytes = header.pack(1, 2, 3, 4n); // 16 bytes, network order
 * const [version, kind, length, id] = header.unpack(bytes);
 * console.log(header.size, version, kind, length, id); // 16 1 2 3 4n
 * // typed from the literal format: number, number, number, bigint
 * ```
 */
export class Struct<F extends string = string> {
  /** The format string as given. */
  readonly format: F;
  /** Size in bytes of the packed struct (CPython `Struct.size`). */
  readonly size: number;
  private readonly compiled: CompiledStruct;
  // Why the unpack methods take `this: Struct<T>` rather than return Unpacked<F>: a
  // return type that is a conditional type over F makes TypeScript measure F as
  // invariant, and a `Struct<'!H'>` would then not be a `Struct`. Through `this`, F
  // appears only in `format` (covariant) and each call still infers the literal.

  /**
   * @param format - A CPython struct format, e.g. `'<10sIhd'`.
   * @throws {@link StructError} when the format is invalid (message as CPython's).
   */
  constructor(format: F) {
    if (typeof format !== 'string') {
      throw new InvalidArgumentError('SB_INVALID_ARGUMENT', 'format must be a string');
    }
    // Generated code, shared with the free functions through the format cache.
    this.compiled = generatedFormat(format);
    this.format = format;
    this.size = this.compiled.size;
  }

  /**
   * Packs `values` (one per format item; see {@link StructValue}) into a new
   * Uint8Array of {@link Struct.size} bytes.
   *
   * @throws {@link StructError} for a wrong number of values or a value the format rejects.
   */
  pack(...values: StructValue[]): Uint8Array {
    return packCompiled(this.compiled, values);
  }

  /**
   * Packs `values` into `buffer` starting at byte `offset` (negative counts from the
   * end, as in CPython). The struct's bytes are zeroed first; nothing else is touched.
   *
   * @throws {@link StructError} when the struct does not fit at `offset` or a value is rejected.
   */
  packInto(buffer: Uint8Array, offset: number, ...values: StructValue[]): void {
    packIntoCompiled(this.compiled, buffer, offset, values);
  }

  /**
   * Unpacks exactly {@link Struct.size} bytes into one value per format item.
   *
   * @throws {@link StructError} when `buffer.length` is not {@link Struct.size}.
   */
  unpack<T extends string>(this: Struct<T>, buffer: Uint8Array): Unpacked<T> {
    return unpackCompiled(this.compiled, buffer) as Unpacked<T>;
  }

  /**
   * Unpacks one struct from `buffer` at byte `offset` (negative counts from the end);
   * bytes after the struct are ignored.
   *
   * @throws {@link StructError} when fewer than {@link Struct.size} bytes remain at `offset`.
   */
  unpackFrom<T extends string>(this: Struct<T>, buffer: Uint8Array, offset = 0): Unpacked<T> {
    return unpackFromCompiled(this.compiled, buffer, offset) as Unpacked<T>;
  }

  /**
   * Iterates over consecutive structs filling `buffer` from the start.
   *
   * @throws {@link StructError} (at the call, not on the first `next()`) when the size
   *   is 0 or `buffer.length` is not a multiple of it.
   */
  iterUnpack<T extends string>(this: Struct<T>, buffer: Uint8Array): IterableIterator<Unpacked<T>> {
    return iterUnpackCompiled(this.compiled, buffer) as IterableIterator<Unpacked<T>>;
  }
}

/**
 * Packs `values` according to `format` (CPython `struct.pack`).
 *
 * @param format - e.g. `'<hI'`, `'!HHIq'`, `'@bhiq'`, `'10s'`.
 * @param values - One per format item: see {@link StructValue} for the JS types.
 * @returns A new Uint8Array of {@link calcsize}(format) bytes.
 * @throws {@link StructError} (code `SB_STRUCT_ERROR`) for a bad format, a wrong number
 *   of values, or a value CPython would reject (e.g. "'h' format requires -32768 <=
 *   number <= 32767" or "short format requires -32768 <= number <= 32767", exactly as
 *   CPython words it for that byte order).
 *
 * @example
 * ```ts
 * import { pack } from 'switchboard';
 *
 * // A message header in network byte order: u16 type, u32 length.
 * const header = pack('!HI', 7, 42);
 * console.log(Buffer.from(header).toString('hex')); // 00070000002a
 * ```
 */
export function pack(format: string, ...values: StructValue[]): Uint8Array {
  return packCompiled(cachedFormat(format), values);
}

/**
 * Packs `values` into `buffer` at byte `offset` (CPython `struct.pack_into`); a
 * negative offset counts from the end of the buffer.
 *
 * @throws {@link StructError} when the struct does not fit or a value is rejected.
 */
export function packInto(
  format: string,
  buffer: Uint8Array,
  offset: number,
  ...values: StructValue[]
): void {
  packIntoCompiled(cachedFormat(format), buffer, offset, values);
}

/**
 * Unpacks `bytes`, which must be exactly {@link calcsize}(format) long (CPython
 * `struct.unpack`). Returns one value per format item; see {@link StructValue}.
 *
 * Typed: for a literal format the result is a tuple (`unpack('!HHIq', bytes)` is
 * `[number, number, number, bigint]`; see {@link Unpacked}); a computed format gives
 * `StructValue[]`.
 *
 * @throws {@link StructError} "unpack requires a buffer of N bytes" on a length mismatch.
 *
 * @example
 * ```ts
 * import { unpack } from 'switchboard';
 *
 * const [type, length] = unpack('!HI', Uint8Array.of(0, 7, 0, 0, 0, 42));
 * console.log(type, length); // 7 42
 * const [id] = unpack('!q', new Uint8Array(8)); // id: bigint, typed from the format
 * console.log(id + 1n); // 1n
 * ```
 */
export function unpack<F extends string>(format: F, bytes: Uint8Array): Unpacked<F> {
  return unpackCompiled(cachedFormat(format), bytes) as Unpacked<F>;
}

/**
 * Unpacks one struct from `buffer` at byte `offset` (CPython `struct.unpack_from`);
 * later bytes are ignored and a negative offset counts from the end.
 *
 * @throws {@link StructError} when too few bytes remain at `offset`.
 */
export function unpackFrom<F extends string>(
  format: F,
  buffer: Uint8Array,
  offset = 0,
): Unpacked<F> {
  return unpackFromCompiled(cachedFormat(format), buffer, offset) as Unpacked<F>;
}

/**
 * Iterates over consecutive structs in `buffer` (CPython `struct.iter_unpack`).
 *
 * @throws {@link StructError} at the call when the struct size is 0 or does not divide
 *   `buffer.length`.
 */
export function iterUnpack<F extends string>(
  format: F,
  buffer: Uint8Array,
): IterableIterator<Unpacked<F>> {
  return iterUnpackCompiled(cachedFormat(format), buffer) as IterableIterator<Unpacked<F>>;
}

/**
 * The packed size in bytes of `format` (CPython `struct.calcsize`), including native
 * alignment padding between items (never at the end).
 *
 * @throws {@link StructError} when the format is invalid.
 */
export function calcsize(format: string): number {
  return cachedFormat(format).size;
}

/**
 * A {@link Struct} on one engine from the start: `generated` code (as a hot format
 * gets), or the `interpreted` fallback. For tests, which run the golden vectors through
 * both; not part of the public API.
 */
export function structOnEngine(format: string, engine: 'generated' | 'interpreted'): Struct {
  const struct = new Struct(format);
  // Test seam: `compiled` is private to callers, so swap it here rather than widen the
  // public constructor.
  (struct as unknown as { compiled: CompiledStruct }).compiled = compileStruct(
    compileFormat(format),
    engine,
  );
  return struct;
}
