/**
 * Byte-order helpers: the HOWTO's `htons`/`ntohs`/`htonl`/`ntohl` on numbers, and
 * unsigned integer readers/writers of 8 to 64 bits in either byte order.
 *
 * "Network order" is big-endian. On a little-endian host (x86-64, ARM, RISC-V — every
 * platform Node normally runs on) the `hton*`/`ntoh*` functions swap bytes; on a
 * big-endian host they return their argument unchanged, like the C functions.
 */

import { checkBytes } from '../arguments.js';
import { InvalidArgumentError } from '../errors.js';
import { HOST_IS_LITTLE_ENDIAN } from './format.js';

/** Byte order of a multi-byte field: `'be'` big-endian (network order), `'le'` little-endian. */
export type Endianness = 'be' | 'le';

/** The byte order of this machine (`'le'` on x86-64). */
export const HOST_ENDIANNESS: Endianness = HOST_IS_LITTLE_ENDIAN ? 'le' : 'be';

/** Widths accepted by {@link readUint}/{@link writeUint}: results stay exact JS numbers. */
export type UintBits = 8 | 16 | 24 | 32 | 40 | 48;

/** Widths accepted by {@link readBigUint}/{@link writeBigUint}. */
export type BigUintBits = UintBits | 56 | 64;

function requireUnsigned(value: number, max: number, name: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `${name}: value must be an integer in 0..${max}`,
    );
  }
}

function swap16(value: number): number {
  return ((value & 0xff) << 8) | (value >>> 8);
}

function swap32(value: number): number {
  return (
    (((value & 0xff) << 24) |
      ((value & 0xff00) << 8) |
      ((value >>> 8) & 0xff00) |
      (value >>> 24)) >>>
    0
  );
}

/** The byte swap `hton*` and `ntoh*` share: they are the same operation, named for the reader. */
function swap16Checked(value: number, name: string): number {
  requireUnsigned(value, 0xffff, name);
  return HOST_IS_LITTLE_ENDIAN ? swap16(value) : value;
}

function swap32Checked(value: number, name: string): number {
  requireUnsigned(value, 0xffffffff, name);
  return HOST_IS_LITTLE_ENDIAN ? swap32(value) : value;
}

/**
 * Host to network order for a 16-bit unsigned value (0..65535). Swaps the two bytes on
 * little-endian hosts: `htons(1) === 256` on x86-64.
 *
 * @throws {@link InvalidArgumentError} (`SB_INVALID_ARGUMENT`) outside 0..65535.
 */
export function htons(value: number): number {
  return swap16Checked(value, 'htons');
}

/**
 * Network to host order for a 16-bit unsigned value; the same swap as {@link htons}.
 *
 * @throws {@link InvalidArgumentError} (`SB_INVALID_ARGUMENT`) outside 0..65535.
 */
export function ntohs(value: number): number {
  return swap16Checked(value, 'ntohs');
}

/**
 * Host to network order for a 32-bit unsigned value (0..4294967295); the result is
 * unsigned. `htonl(1) === 16777216` on x86-64.
 *
 * @throws {@link InvalidArgumentError} (`SB_INVALID_ARGUMENT`) outside 0..4294967295.
 */
export function htonl(value: number): number {
  return swap32Checked(value, 'htonl');
}

/**
 * Network to host order for a 32-bit unsigned value; the same swap as {@link htonl}.
 *
 * @throws {@link InvalidArgumentError} (`SB_INVALID_ARGUMENT`) outside 0..4294967295.
 */
export function ntohl(value: number): number {
  return swap32Checked(value, 'ntohl');
}

function requireRange(bytes: Uint8Array, offset: number, width: number, name: string): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + width > bytes.length) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `${name}: ${width} bytes at offset ${String(offset)} do not fit in a ${bytes.length}-byte buffer`,
    );
  }
}

/** The width in bytes of a `bits`-bit field at `offset`, checked to be valid and to fit. */
function checkedField(
  bytes: Uint8Array,
  offset: number,
  bits: number,
  maxBits: number,
  name: string,
  endianness: Endianness,
): number {
  checkBytes(name, 'bytes', bytes);
  if (endianness !== 'be' && endianness !== 'le') {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `${name}: endianness must be 'be' or 'le'`,
    );
  }
  const width = requireBits(bits, maxBits, name);
  requireRange(bytes, offset, width, name);
  return width;
}

/** Where byte number `index` (0 = most significant) of a `width`-byte field lives. */
function byteIndex(offset: number, width: number, index: number, endianness: Endianness): number {
  return endianness === 'be' ? offset + index : offset + width - 1 - index;
}

function requireBits(bits: number, max: number, name: string): number {
  if (!Number.isInteger(bits) || bits < 8 || bits > max || bits % 8 !== 0) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `${name}: bits must be a multiple of 8 from 8 to ${max}`,
    );
  }
  return bits / 8;
}

/**
 * Reads an unsigned integer of `bits` (8..48) bits from `bytes` at `offset`.
 *
 * @returns A number in 0..2**bits - 1 (always exact: at most 48 bits).
 * @throws {@link InvalidArgumentError} when the field does not fit in `bytes`.
 */
export function readUint(
  bytes: Uint8Array,
  offset: number,
  bits: UintBits,
  endianness: Endianness,
): number {
  const width = checkedField(bytes, offset, bits, 48, 'readUint', endianness);
  let value = 0;
  for (let index = 0; index < width; index++) {
    const byte = bytes[byteIndex(offset, width, index, endianness)]!;
    // Multiplication, not <<, so 40- and 48-bit values do not wrap at 32 bits.
    value = value * 256 + byte;
  }
  return value;
}

/**
 * Writes `value` (0..2**bits - 1) as an unsigned integer of `bits` (8..48) bits.
 *
 * @throws {@link InvalidArgumentError} when the value is out of range or the field does not fit.
 */
export function writeUint(
  bytes: Uint8Array,
  offset: number,
  value: number,
  bits: UintBits,
  endianness: Endianness,
): void {
  const width = checkedField(bytes, offset, bits, 48, 'writeUint', endianness);
  requireUnsigned(value, 2 ** bits - 1, 'writeUint');
  let rest = value;
  for (let index = width - 1; index >= 0; index--) {
    bytes[byteIndex(offset, width, index, endianness)] = rest % 256;
    rest = Math.floor(rest / 256);
  }
}

/**
 * Reads an unsigned integer of `bits` (8..64) bits as a bigint.
 *
 * @throws {@link InvalidArgumentError} when the field does not fit in `bytes`.
 */
export function readBigUint(
  bytes: Uint8Array,
  offset: number,
  bits: BigUintBits,
  endianness: Endianness,
): bigint {
  const width = checkedField(bytes, offset, bits, 64, 'readBigUint', endianness);
  let value = 0n;
  for (let index = 0; index < width; index++) {
    const byte = bytes[byteIndex(offset, width, index, endianness)]!;
    value = (value << 8n) | BigInt(byte);
  }
  return value;
}

/**
 * Writes `value` (0n..2n**bits - 1n) as an unsigned integer of `bits` (8..64) bits.
 *
 * @throws {@link InvalidArgumentError} when the value is out of range or the field does not fit.
 */
export function writeBigUint(
  bytes: Uint8Array,
  offset: number,
  value: bigint,
  bits: BigUintBits,
  endianness: Endianness,
): void {
  const width = checkedField(bytes, offset, bits, 64, 'writeBigUint', endianness);
  if (typeof value !== 'bigint' || value < 0n || value >= 1n << BigInt(bits)) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `writeBigUint: value must be a bigint in 0..2**${bits} - 1`,
    );
  }
  let rest = value;
  for (let index = width - 1; index >= 0; index--) {
    bytes[byteIndex(offset, width, index, endianness)] = Number(rest & 0xffn);
    rest >>= 8n;
  }
}
