/**
 * sbp: switchboard's small envelope protocol, sans-IO (no sockets, no timers).
 *
 * Wire format (docs/PROTOCOL.md draws each type):
 *
 * ```
 * +----------------+------+----------------+-----------------+
 * | length u32be   | type | id u32be       | body            |
 * +----------------+------+----------------+-----------------+
 *   4 bytes          1      4 (only REQUEST,  length - 1 - 4
 *                           RESPONSE, PING,   (or length - 1 without an id)
 *                           PONG)
 * ```
 *
 * `length` counts the bytes after itself (type + id + body), so it is at least 1
 * (5 for types with an id). Types: DATA=0, REQUEST=1, RESPONSE=2, PING=3, PONG=4,
 * CLOSE=5 (body: optional UTF-8 reason). Anything else is `SB_BAD_ENVELOPE`.
 *
 * Theory of operation of {@link SbpDecoder}: chunks are kept in a list (no copy on
 * push). `next()` reads the 4-byte length as soon as it is buffered and checks it
 * against `maxFrame + 5` before waiting for the body (rule: limits at the header); the
 * type byte is checked as soon as it arrives, and with it the body (`maxFrame + 1` for
 * the types without an id), so that every body decoded fits the encoder's limit. A frame inside one chunk is returned as a
 * view; a frame spanning chunks is concatenated once. Errors are sticky.
 */

import { parseFraming } from '../codec/spec.js';
import {
  type Decoder,
  type Encoder,
  type Framing,
  NEED_DATA,
  type NeedData,
} from '../codec/types.js';
import { FrameError, InvalidArgumentError, UnexpectedEofError } from '../errors.js';
import { DEFAULTS } from '../options.js';

/** Envelope type bytes. */
export const SbpType = Object.freeze({
  DATA: 0,
  REQUEST: 1,
  RESPONSE: 2,
  PING: 3,
  PONG: 4,
  CLOSE: 5,
} as const);

/** One of the {@link SbpType} values. */
export type SbpTypeCode = (typeof SbpType)[keyof typeof SbpType];

/** A decoded envelope. `id` is 0 for types without an id (DATA, CLOSE). `body` is a view. */
export interface Envelope {
  readonly type: SbpTypeCode;
  readonly id: number;
  readonly body: Uint8Array;
}

const LENGTH_BYTES = 4;
const ID_BYTES = 4;
const EMPTY = new Uint8Array(0);

/** True for the types that carry a u32 request id. */
export function hasId(type: number): boolean {
  return (
    type === SbpType.REQUEST ||
    type === SbpType.RESPONSE ||
    type === SbpType.PING ||
    type === SbpType.PONG
  );
}

function checkType(type: number, offset: number): asserts type is SbpTypeCode {
  if (type > SbpType.CLOSE) {
    throw new FrameError('SB_BAD_ENVELOPE', `sbp: unknown envelope type ${type} (known: 0..5)`, {
      offset,
    });
  }
}

/**
 * Splits a frame (type + id + body, the length already removed) into an {@link Envelope}.
 * @throws FrameError `SB_BAD_ENVELOPE` for an unknown type or a frame too short for its id.
 */
export function parseEnvelope(frame: Uint8Array, offset = 0): Envelope {
  if (frame.length < 1) {
    throw new FrameError('SB_BAD_ENVELOPE', 'sbp: empty envelope (no type byte)', { offset });
  }
  const type = frame[0]!;
  checkType(type, offset);
  if (!hasId(type)) {
    return { type, id: 0, body: frame.subarray(1) };
  }
  if (frame.length < 1 + ID_BYTES) {
    throw new FrameError(
      'SB_BAD_ENVELOPE',
      `sbp: type ${type} needs a 4-byte id, envelope has ${frame.length - 1} bytes`,
      {
        offset,
      },
    );
  }
  const id = ((frame[1]! << 24) | (frame[2]! << 16) | (frame[3]! << 8) | frame[4]!) >>> 0;
  return { type, id, body: frame.subarray(1 + ID_BYTES) };
}

/**
 * Encodes one envelope as `[header, body]` (the body is not copied; the header is
 * length + type + id). For DATA and CLOSE the id is ignored.
 * @throws InvalidArgumentError `SB_PAYLOAD_TOO_LARGE` if the body exceeds `maxFrame`;
 *   `SB_INVALID_ARGUMENT` for a bad type or id.
 */
export function encodeEnvelope(
  type: SbpTypeCode,
  id: number,
  body: Uint8Array = EMPTY,
  maxFrame: number = DEFAULTS.maxFrame,
): Uint8Array[] {
  if (!Number.isInteger(type) || type < 0 || type > SbpType.CLOSE) {
    throw new InvalidArgumentError('SB_INVALID_ARGUMENT', `sbp: unknown envelope type ${type}`);
  }
  if (body.length > maxFrame) {
    throw new InvalidArgumentError(
      'SB_PAYLOAD_TOO_LARGE',
      `sbp: body of ${body.length} bytes exceeds maxFrame ${maxFrame}`,
    );
  }
  const withId = hasId(type);
  if (withId && (!Number.isInteger(id) || id < 0 || id > 0xffffffff)) {
    throw new InvalidArgumentError('SB_INVALID_ARGUMENT', `sbp: id must be a u32, got ${id}`);
  }
  const headerLength = LENGTH_BYTES + 1 + (withId ? ID_BYTES : 0);
  const header = new Uint8Array(headerLength);
  const length = headerLength - LENGTH_BYTES + body.length;
  header[0] = length >>> 24;
  header[1] = (length >>> 16) & 0xff;
  header[2] = (length >>> 8) & 0xff;
  header[3] = length & 0xff;
  header[4] = type;
  if (withId) {
    header[5] = id >>> 24;
    header[6] = (id >>> 16) & 0xff;
    header[7] = (id >>> 8) & 0xff;
    header[8] = id & 0xff;
  }
  return body.length === 0 ? [header] : [header, body];
}

/**
 * Incremental sbp decoder (the {@link Decoder} contract): each frame returned is
 * type + id + body, ready for {@link parseEnvelope}.
 */
export class SbpDecoder implements Decoder {
  private readonly maxEnvelope: number;
  private chunks: Uint8Array[] = [];
  private total = 0;
  /** Stream offset of the first buffered byte. */
  private consumed = 0;
  /** Length of the frame whose header was read, or -1. */
  private frameLength = -1;
  private failure: Error | undefined;

  /** @param maxFrame largest body in bytes (default `DEFAULTS.maxFrame`). */
  constructor(maxFrame: number = DEFAULTS.maxFrame) {
    this.maxEnvelope = maxFrame + 1 + ID_BYTES;
  }

  get buffered(): number {
    return this.total;
  }

  get inFrame(): boolean {
    return this.total > 0;
  }

  push(chunk: Uint8Array): void {
    if (this.failure !== undefined) {
      throw this.failure;
    }
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.total += chunk.length;
    }
  }

  next(): Uint8Array | NeedData {
    if (this.failure !== undefined) {
      throw this.failure;
    }
    try {
      return this.decodeOne();
    } catch (error) {
      this.failure = error as Error;
      throw error;
    }
  }

  end(): void {
    if (this.failure !== undefined) {
      throw this.failure;
    }
    if (this.total > 0) {
      const complete = this.frameLength >= 0 && this.total >= LENGTH_BYTES + this.frameLength;
      if (
        !complete &&
        (this.total < LENGTH_BYTES || this.total < LENGTH_BYTES + this.peekLength())
      ) {
        this.failure = new UnexpectedEofError(
          `sbp: input ended inside a frame (${this.total} bytes buffered)`,
          {
            offset: this.consumed,
          },
        );
        throw this.failure;
      }
    }
  }

  private peekByte(index: number): number {
    let at = index;
    for (const chunk of this.chunks) {
      if (at < chunk.length) {
        return chunk[at]!;
      }
      at -= chunk.length;
    }
    return -1;
  }

  private peekLength(): number {
    return (
      ((this.peekByte(0) << 24) |
        (this.peekByte(1) << 16) |
        (this.peekByte(2) << 8) |
        this.peekByte(3)) >>>
      0
    );
  }

  private decodeOne(): Uint8Array | NeedData {
    if (this.frameLength < 0) {
      if (this.total < LENGTH_BYTES) {
        return NEED_DATA;
      }
      const length = this.peekLength();
      if (length < 1) {
        throw new FrameError('SB_BAD_ENVELOPE', 'sbp: envelope length 0 has no type byte', {
          offset: this.consumed,
        });
      }
      if (length > this.maxEnvelope) {
        throw new FrameError(
          'SB_FRAME_TOO_LARGE',
          `sbp: envelope of ${length} bytes exceeds maxFrame ${this.maxEnvelope - 5} + 5`,
          {
            offset: this.consumed,
          },
        );
      }
      this.frameLength = length;
    }
    if (this.total > LENGTH_BYTES) {
      const type = this.peekByte(LENGTH_BYTES);
      checkType(type, this.consumed);
      // The header check allowed room for an id; a type without one (DATA, CLOSE) must
      // not use it for body, or a peer could send a body of maxFrame + 4 bytes, which
      // the encoder (and so an echo) refuses (#14).
      if (!hasId(type) && this.frameLength > this.maxEnvelope - ID_BYTES) {
        throw new FrameError(
          'SB_FRAME_TOO_LARGE',
          `sbp: body of ${this.frameLength - 1} bytes exceeds maxFrame ${this.maxEnvelope - 5}`,
          { offset: this.consumed },
        );
      }
    }
    const needed = LENGTH_BYTES + this.frameLength;
    if (this.total < needed) {
      return NEED_DATA;
    }
    const frame = this.take(needed).subarray(LENGTH_BYTES);
    this.frameLength = -1;
    return frame;
  }

  /** Removes `n` bytes from the front: a view if they lie in the first chunk. */
  private take(n: number): Uint8Array {
    this.total -= n;
    this.consumed += n;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) {
        this.chunks.shift();
      } else {
        this.chunks[0] = first.subarray(n);
      }
      return first.subarray(0, n);
    }
    const result = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const count = Math.min(chunk.length, n - filled);
      result.set(count === chunk.length ? chunk : chunk.subarray(0, count), filled);
      filled += count;
      if (count === chunk.length) {
        this.chunks.shift();
      } else {
        this.chunks[0] = chunk.subarray(count);
      }
    }
    return result;
  }
}

/** Encoder for DATA envelopes (the {@link Encoder} contract). */
class SbpDataEncoder implements Encoder {
  constructor(private readonly maxFrame: number) {}
  encode(payload: Uint8Array): Uint8Array[] {
    return encodeEnvelope(SbpType.DATA, 0, payload, this.maxFrame);
  }
}

/**
 * The `sbp` framing: decoders yield whole envelopes (type + id + body); the encoder wraps
 * payloads in DATA envelopes. `maxFrame` bounds the body (default `DEFAULTS.maxFrame`).
 */
export function sbpFraming(options: { maxFrame?: number } = {}): Framing {
  const maxFrame = options.maxFrame ?? DEFAULTS.maxFrame;
  if (typeof maxFrame !== 'number' || Number.isNaN(maxFrame) || maxFrame < 0) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      'sbp: option "maxFrame" must be a number of bytes >= 0',
    );
  }
  return Object.freeze({
    spec: 'sbp',
    maxFrame,
    carriesText: false,
    createDecoder: (): Decoder => new SbpDecoder(maxFrame),
    createEncoder: (): Encoder => new SbpDataEncoder(maxFrame),
  });
}

/**
 * A framing spec string as a Channel or server takes it: `'sbp'` (the envelope, which
 * lives here, above the byte layer) or any spec {@link parseFraming} knows.
 * @throws InvalidArgumentError `SB_BAD_FRAMING_SPEC` naming the bad part of the spec.
 */
export function parseChannelFraming(spec: string, options: { maxFrame?: number } = {}): Framing {
  return spec === 'sbp' ? sbpFraming(options) : parseFraming(spec, options);
}
