/**
 * Struct value conversion: each function mirrors one CPython `struct` check on a JS
 * value (integer range, float conversion, half-float rounding, bytes and char
 * arguments), with CPython's message. Both engines (the interpreter in
 * struct-interpreter.ts and the generated code of codegen.ts) call these, so the two
 * accept and reject exactly the same values. Stateless.
 */

import { StructError } from '../errors.js';
import type { IntRule } from './format.js';

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
export function checkedInteger(value: unknown, rule: IntRule): bigint {
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
export function smallInteger(value: unknown, rule: IntRule): number {
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

export function floatValue(value: unknown): number {
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

export function bytesValue(value: unknown, code: 's' | 'p'): Uint8Array {
  if (value instanceof Uint8Array) {
    return value;
  }
  throw new StructError(`argument for '${code}' must be a bytes object`);
}

/** The byte of a `c` value: a Uint8Array of length 1, as CPython requires. */
export function charByte(value: unknown): number {
  if (!(value instanceof Uint8Array) || value.length !== 1) {
    throw new StructError('char format requires a bytes object of length 1');
  }
  return value[0]!;
}

/** A standard-size `f` value: CPython rejects a finite double that rounds to infinity. */
export function float32Value(value: number): number {
  if (Number.isFinite(value) && !Number.isFinite(Math.fround(value))) {
    throw new StructError('float too large to pack with f format');
  }
  return value;
}
