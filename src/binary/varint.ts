/**
 * Unsigned LEB128 varints (protobuf style): 7 value bits per byte, least
 * significant group first, the high bit set on every byte but the last.
 *
 * The overlong rule: a 64-bit value needs at most 10 bytes, and the 10th byte
 * can only carry bit 63, so it must be `0x00` or `0x01`. A 10th byte with any
 * other value (more bits, or a continuation bit asking for an 11th byte) is
 * rejected with `SB_VARINT_OVERLONG`. Non-minimal encodings within 10 bytes
 * (e.g. `80 00` for 0) are accepted, as protobuf decoders accept them.
 *
 * "Not enough bytes yet" is never an exception: the decoders return
 * `undefined`/`false` so that a streaming caller can wait for more input.
 */
import { checkBytes, checkIndex } from '../arguments.js';
import { FrameError, InvalidArgumentError } from '../errors.js';

/** Most bytes a 64-bit unsigned varint may use. */
export const MAX_VARINT_BYTES = 10;

const TWO_POW_64 = 1n << 64n;

/** The result of decoding one varint. */
export interface VarintReading {
  /**
   * The decoded value. Exact up to `Number.MAX_SAFE_INTEGER`; larger values are the
   * nearest double (still larger than any safe integer), which is enough to compare
   * against a size limit. Use {@link decodeBigVarint} for exact 64-bit values.
   */
  value: number;
  /** How many bytes the varint occupied. */
  length: number;
}

function overlong(offset: number): FrameError {
  return new FrameError(
    'SB_VARINT_OVERLONG',
    `varint longer than ${MAX_VARINT_BYTES} bytes or above 2^64-1`,
    { offset },
  );
}

/**
 * The varint loop behind {@link decodeVarintInto} and {@link readVarint}. Bytes come
 * straight from a Uint8Array, or through `byteAt` from any other {@link ByteSource};
 * the kind is checked once per call, so the per-byte branch is always predicted.
 */
function decodeFrom(
  source: Uint8Array | ByteSource,
  offset: number,
  out: VarintReading,
  end: number,
): boolean {
  const bytes = source instanceof Uint8Array ? source : undefined;
  let value = 0;
  // Why a multiplier instead of shifts: JS bitwise operators truncate to 32 bits,
  // while a double holds every integer up to 2^53 exactly.
  let multiplier = 1;
  for (let index = 0; index < MAX_VARINT_BYTES; index++) {
    if (offset + index >= end) {
      return false;
    }
    const byte =
      bytes === undefined ? (source as ByteSource).byteAt(offset + index) : bytes[offset + index]!;
    if (index === MAX_VARINT_BYTES - 1 && byte > 1) {
      throw overlong(offset);
    }
    value += (byte & 0x7f) * multiplier;
    if (byte < 0x80) {
      out.value = value;
      out.length = index + 1;
      return true;
    }
    multiplier *= 128;
  }
  // Unreachable: the 10th byte either ended the varint or was rejected above.
  throw overlong(offset);
}

/**
 * Decodes the varint starting at `bytes[offset]` into `out` without allocating.
 * Returns `false` when `bytes` ends (at `end`, default `bytes.length`) before the
 * varint does, `true` when `out` was filled. Throws `FrameError`
 * (`SB_VARINT_OVERLONG`) for a varint above 64 bits or longer than 10 bytes; the
 * error's `offset` is `offset`.
 */
export function decodeVarintInto(
  bytes: Uint8Array,
  offset: number,
  out: VarintReading,
  end: number = bytes.length,
): boolean {
  return decodeFrom(bytes, offset, out, end);
}

/**
 * Anything that can hand out bytes by offset: a `ByteQueue` of the codecs
 * satisfies it, so the `varint` framing reads a prefix spread over chunks
 * without first copying it.
 */
export interface ByteSource {
  /** Bytes available. */
  readonly length: number;
  /** The byte at `offset` (0 <= offset < length). */
  byteAt(offset: number): number;
}

/**
 * Like {@link decodeVarintInto}, over a {@link ByteSource}. Returns `false` when the
 * source ends before the varint does; throws `FrameError` (`SB_VARINT_OVERLONG`).
 */
export function readVarint(source: ByteSource, offset: number, out: VarintReading): boolean {
  return decodeFrom(source, offset, out, source.length);
}

/**
 * Decodes the varint starting at `bytes[offset]`. Returns `undefined` when the
 * bytes end before the varint does. Throws `FrameError` (`SB_VARINT_OVERLONG`).
 */
export function decodeVarint(bytes: Uint8Array, offset = 0): VarintReading | undefined {
  checkBytes('decodeVarint', 'bytes', bytes);
  checkIndex('decodeVarint', 'offset', offset);
  const out: VarintReading = { value: 0, length: 0 };
  return decodeVarintInto(bytes, offset, out) ? out : undefined;
}

/**
 * Decodes the varint starting at `bytes[offset]` exactly, as a `bigint`.
 * Returns `undefined` when the bytes end before the varint does. Throws
 * `FrameError` (`SB_VARINT_OVERLONG`).
 */
export function decodeBigVarint(
  bytes: Uint8Array,
  offset = 0,
): { value: bigint; length: number } | undefined {
  checkBytes('decodeBigVarint', 'bytes', bytes);
  checkIndex('decodeBigVarint', 'offset', offset);
  let value = 0n;
  for (let index = 0; index < MAX_VARINT_BYTES; index++) {
    if (offset + index >= bytes.length) {
      return undefined;
    }
    const byte = bytes[offset + index]!;
    if (index === MAX_VARINT_BYTES - 1 && byte > 1) {
      throw overlong(offset);
    }
    value |= BigInt(byte & 0x7f) << BigInt(7 * index);
    if (byte < 0x80) {
      return { value, length: index + 1 };
    }
  }
  throw overlong(offset);
}

function checkVarintValue(value: number | bigint): bigint | number {
  if (typeof value === 'bigint') {
    if (value < 0n || value >= TWO_POW_64) {
      throw new InvalidArgumentError('SB_INVALID_ARGUMENT', 'varint value must be in 0..2^64-1');
    }
    return value;
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      'varint value must be a safe non-negative integer (use a bigint above 2^53-1)',
    );
  }
  return value;
}

/** Number of bytes the varint encoding of `value` takes (1..10). */
export function varintLength(value: number | bigint): number {
  let rest = checkVarintValue(value);
  let length = 1;
  if (typeof rest === 'bigint') {
    while (rest >= 0x80n) {
      rest >>= 7n;
      length++;
    }
    return length;
  }
  while (rest >= 0x80) {
    rest = Math.floor(rest / 128);
    length++;
  }
  return length;
}

/**
 * Writes the minimal varint encoding of `value` into `target` at `offset` and
 * returns the number of bytes written. Throws `InvalidArgumentError`
 * (`SB_INVALID_ARGUMENT`) for a negative, fractional or too large value, or when
 * `target` is too short.
 */
export function encodeVarintInto(value: number | bigint, target: Uint8Array, offset = 0): number {
  let rest = checkVarintValue(value);
  checkBytes('encodeVarintInto', 'target', target);
  checkIndex('encodeVarintInto', 'offset', offset);
  const length = varintLength(rest);
  if (offset < 0 || offset + length > target.length) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `varint needs ${length} bytes at offset ${offset}`,
    );
  }
  let position = offset;
  if (typeof rest === 'bigint') {
    while (rest >= 0x80n) {
      target[position++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    target[position++] = Number(rest);
    return length;
  }
  while (rest >= 0x80) {
    // `% 128` rather than `& 0x7f`: values above 2^31 must not be truncated to 32 bits.
    target[position++] = (rest % 128) | 0x80;
    rest = Math.floor(rest / 128);
  }
  target[position++] = rest;
  return length;
}

/** Returns the minimal varint encoding of `value` (a non-negative safe integer or a bigint < 2^64). */
export function encodeVarint(value: number | bigint): Uint8Array {
  const target = new Uint8Array(varintLength(value));
  encodeVarintInto(value, target, 0);
  return target;
}
