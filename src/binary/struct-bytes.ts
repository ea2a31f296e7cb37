/**
 * Struct byte access: the field readers and writers both engines share.
 *
 * Integers are written and read with byte arithmetic on the Uint8Array itself. A
 * DataView would be simpler, but creating one costs more than a whole small pack: it
 * needs `bytes.buffer`, which makes V8 move a fresh on-heap Uint8Array off the heap.
 * Floats and 8-byte bigints go through one 8-byte conversion scratch instead.
 */

import { type IntRule, OpKind, type OpKindValue } from './format.js';
import { bytesValue, checkedInteger, float32Value, floatValue } from './struct-values.js';

const TWO_POW_32 = 4294967296;

// Module state, but never observable: every use writes the scratch and copies it out
// (or in and reads it) within one synchronous function, so no value outlives a call.
const scratchView = new DataView(new ArrayBuffer(8));
const scratchBytes = new Uint8Array(scratchView.buffer);
// The same 8 bytes in host order, for the generated code (codegen.ts).
export const scratchWords = new Int32Array(scratchView.buffer);
export const scratchInt64 = new BigInt64Array(scratchView.buffer);
export const scratchUint64 = new BigUint64Array(scratchView.buffer);
export const scratchFloat64 = new Float64Array(scratchView.buffer);
export const scratchFloat32 = new Float32Array(scratchView.buffer, 0, 1);

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
export function write16(bytes: Uint8Array, position: number, value: number, little: boolean): void {
  if (little) {
    bytes[position] = value;
    bytes[position + 1] = value >>> 8;
  } else {
    bytes[position] = value >>> 8;
    bytes[position + 1] = value;
  }
}

export function write32(bytes: Uint8Array, position: number, value: number, little: boolean): void {
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

export function readUint16(bytes: Uint8Array, position: number, little: boolean): number {
  return little
    ? bytes[position]! | (bytes[position + 1]! << 8)
    : (bytes[position]! << 8) | bytes[position + 1]!;
}

/** The 32 bits at `position` as a signed int32; `>>> 0` makes them unsigned. */
export function readInt32(bytes: Uint8Array, position: number, little: boolean): number {
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
export function write64(
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
export function copyBytes(bytes: Uint8Array, start: number, length: number): Uint8Array {
  const copy = new Uint8Array(length);
  copyRange(copy, 0, bytes, start, length);
  return copy;
}

/** Writes an `s` field of `size` bytes: the value truncated, or padded by the zeroed target. */
export function writeBytes(
  bytes: Uint8Array,
  position: number,
  value: unknown,
  size: number,
): void {
  const source = bytesValue(value, 's');
  copyRange(bytes, position, source, 0, Math.min(source.length, size));
}

/** Writes a `p` field of `size` bytes: a length byte (at most 255), then the bytes. */
export function writePascal(
  bytes: Uint8Array,
  position: number,
  value: unknown,
  size: number,
): void {
  const source = bytesValue(value, 'p');
  if (size > 0) {
    const length = Math.min(source.length, size - 1);
    bytes[position] = Math.min(length, 255);
    copyRange(bytes, position + 1, source, 0, length);
  }
}

/** The value of a `p` field of `size` bytes; the length byte is capped at size - 1, as CPython reads it. */
export function readPascal(bytes: Uint8Array, position: number, size: number): Uint8Array {
  const length = size === 0 ? 0 : Math.min(bytes[position]!, size - 1);
  return copyBytes(bytes, position + 1, length);
}

/** Writes a `f` (standard or native) or `d` field from any JS value, through the scratch. */
export function writeFloat(
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
export function readThroughScratch(
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
