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
 * CLOSE=5 (body: optional UTF-8 reason), ERROR=6 (answers a REQUEST whose handler
 * failed; body: an `SB_` code). Anything else is `SB_BAD_ENVELOPE`.
 *
 * This module is the envelope codec only; the session that speaks it (request ids,
 * PING/PONG answers, heartbeats, CLOSE) is net/sbp-session.ts.
 *
 * Theory of operation of {@link SbpDecoder} (a {@link BaseDecoder}, so it follows the
 * rules every decoder does): `next()` reads the 4-byte length as soon as it is buffered
 * and checks it against `maxFrame + 5` before waiting for the body (limits at the
 * header), and remembers it, so a frame arriving one byte at a time costs O(1) per
 * byte; the type byte is checked as soon as it arrives, and with it the body
 * (`maxFrame + 1` for the types without an id), so that every body decoded fits the
 * encoder's limit. The frame's bytes stay in the
 * queue until it is whole, so an error's offset is that of its length field. A frame
 * inside one chunk is returned as a view; one spanning chunks is copied once (a
 * large one while it arrives: byte-queue.ts "Large frames"). Errors are sticky.
 */

import { checkBytes, checkIndex } from '../arguments.js';
import { FrameError, InvalidArgumentError } from '../errors.js';
import { DEFAULTS, maxFrameRule, resolveOptions } from '../options.js';
import { BaseDecoder, checkPayload } from './base.js';
import {
  type Decoder,
  type Encoder,
  type Framing,
  type FramingOptions,
  NEED_DATA,
  type NeedData,
} from './types.js';

/** Envelope type bytes. */
export const SbpType = Object.freeze({
  DATA: 0,
  REQUEST: 1,
  RESPONSE: 2,
  PING: 3,
  PONG: 4,
  CLOSE: 5,
  /** Answers a REQUEST (same id) whose handler failed; body: an `SB_` code (ASCII). */
  ERROR: 6,
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
    type === SbpType.PONG ||
    type === SbpType.ERROR
  );
}

function unknownTypeMessage(type: number): string {
  return `sbp: unknown envelope type ${type} (known: 0..6)`;
}

function checkType(type: number, offset: number): asserts type is SbpTypeCode {
  if (type > SbpType.ERROR) {
    throw new FrameError('SB_BAD_ENVELOPE', unknownTypeMessage(type), { offset });
  }
}

/**
 * Splits a frame (type + id + body, the length already removed) into an {@link Envelope}.
 * @throws FrameError `SB_BAD_ENVELOPE` for an unknown type or a frame too short for its id.
 */
export function parseEnvelope(frame: Uint8Array, offset = 0): Envelope {
  checkBytes('parseEnvelope', 'frame', frame);
  checkIndex('parseEnvelope', 'offset', offset);
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
  if (!Number.isInteger(type) || type < 0 || type > SbpType.ERROR) {
    throw new InvalidArgumentError('SB_INVALID_ARGUMENT', 'sbp: unknown envelope type (0..6)');
  }
  checkBytes('encodeEnvelope', 'body', body);
  checkIndex('encodeEnvelope', 'maxFrame', maxFrame);
  if (body.length > maxFrame) {
    throw new InvalidArgumentError(
      'SB_PAYLOAD_TOO_LARGE',
      `sbp: body of ${body.length} bytes exceeds maxFrame ${maxFrame}`,
    );
  }
  const withId = hasId(type);
  if (withId && (!Number.isInteger(id) || id < 0 || id > 0xffffffff)) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      'sbp: id must be a u32 (an integer 0..2^32-1)',
    );
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
export class SbpDecoder extends BaseDecoder {
  private readonly maxEnvelope: number;
  /** Length field of the frame being decoded, once read; -1 before. */
  private frameLength = -1;

  /** @param maxFrame largest body in bytes (default `DEFAULTS.maxFrame`). */
  constructor(maxFrame: number = DEFAULTS.maxFrame) {
    super();
    this.maxEnvelope = maxFrame + 1 + ID_BYTES;
  }

  protected decodeFrame(): Uint8Array | NeedData {
    const queue = this.queue;
    if (this.frameLength < 0) {
      if (queue.length < LENGTH_BYTES) {
        return NEED_DATA;
      }
      const length = queue.readUint(0, LENGTH_BYTES, false);
      if (length < 1) {
        throw this.fail('SB_BAD_ENVELOPE', 'sbp: envelope length 0 has no type byte');
      }
      if (length > this.maxEnvelope) {
        throw this.fail(
          'SB_FRAME_TOO_LARGE',
          `sbp: envelope of ${length} bytes exceeds maxFrame ${this.maxEnvelope - 5} + 5`,
        );
      }
      this.frameLength = length;
    }
    if (queue.length > LENGTH_BYTES) {
      const type = queue.byteAt(LENGTH_BYTES);
      if (type > SbpType.ERROR) {
        throw this.fail('SB_BAD_ENVELOPE', unknownTypeMessage(type));
      }
      // The header check allowed room for an id; a type without one (DATA, CLOSE) must
      // not use it for body, or a peer could send a body of maxFrame + 4 bytes, which
      // the encoder (and so an echo) refuses (#14).
      if (!hasId(type) && this.frameLength > this.maxEnvelope - ID_BYTES) {
        throw this.fail(
          'SB_FRAME_TOO_LARGE',
          `sbp: body of ${this.frameLength - 1} bytes exceeds maxFrame ${this.maxEnvelope - 5}`,
        );
      }
    }
    const length = this.frameLength;
    if (queue.length < LENGTH_BYTES + length) {
      return this.awaitFrame(LENGTH_BYTES + length);
    }
    this.frameLength = -1;
    return this.deliver(length);
  }

  /**
   * Takes the whole frame at the head of the queue (its length field holds `length`)
   * and returns what `next()` yields: here the envelope (type + id + body). The
   * frame is still buffered when this runs, so a `fail` carries its offset.
   */
  protected deliver(length: number): Uint8Array | NeedData {
    return this.queue.take(length, LENGTH_BYTES);
  }

  protected override finish(): undefined {
    if (this.queue.length > 0) {
      throw this.failEof(`sbp: input ended inside a frame (${this.queue.length} bytes buffered)`);
    }
    return undefined;
  }
}

/** Returned by SbpDataDecoder.deliver for an envelope that carries no message. */
const SKIPPED = new Uint8Array(0);

/**
 * The sbp decoder of a side that only exchanges messages (the CLI's `decode`,
 * `connect` and `send`): yields the body of each DATA envelope; PING, PONG, RESPONSE,
 * ERROR and CLOSE carry no message and are skipped; a REQUEST fails with `SB_BAD_ENVELOPE`,
 * as on a Channel without `onRequest` (this side answers no requests).
 */
export class SbpDataDecoder extends SbpDecoder {
  protected override decodeFrame(): Uint8Array | NeedData {
    // Bounded by the buffered frames: each pass consumes one or returns.
    for (;;) {
      const body = super.decodeFrame();
      if (body !== SKIPPED) {
        return body;
      }
    }
  }

  protected override deliver(length: number): Uint8Array | NeedData {
    const queue = this.queue;
    const type = queue.byteAt(LENGTH_BYTES);
    if (type === SbpType.DATA) {
      return queue.take(length - 1, LENGTH_BYTES + 1);
    }
    if (type === SbpType.REQUEST) {
      throw this.fail('SB_BAD_ENVELOPE', 'sbp: REQUEST received, but this side answers none');
    }
    if (hasId(type) && length < 1 + ID_BYTES) {
      throw this.fail(
        'SB_BAD_ENVELOPE',
        `sbp: type ${type} needs a 4-byte id, envelope has ${length - 1} bytes`,
      );
    }
    queue.skip(LENGTH_BYTES + length);
    return SKIPPED;
  }
}

/** Encoder for DATA envelopes (the {@link Encoder} contract). */
class SbpDataEncoder implements Encoder {
  constructor(private readonly maxFrame: number) {}
  encode(payload: Uint8Array): Uint8Array[] {
    checkPayload('sbp', payload);
    return encodeEnvelope(SbpType.DATA, 0, payload, this.maxFrame);
  }
}

/**
 * The `sbp` framing (spec `sbp`): decoders yield whole envelopes (type + id + body);
 * the encoder wraps payloads in DATA envelopes. `maxFrame` bounds the body (default
 * `DEFAULTS.maxFrame`, 8 MiB). A Channel with this framing speaks the sbp session
 * (requests, heartbeats, CLOSE); see docs/PROTOCOL.md.
 *
 * ```
 * INPUT  00 00 00 03 00 68 69  -->  DECODED  00 68 69   (DATA, body "hi")
 * ```
 */
export function sbpFraming(options?: FramingOptions): Framing {
  const { maxFrame } = resolveOptions(
    'sbpFraming',
    { maxFrame: maxFrameRule(DEFAULTS.maxFrame as number) },
    options,
  );
  return Object.freeze({
    spec: 'sbp',
    maxFrame,
    carriesText: false,
    createDecoder: (): Decoder => new SbpDecoder(maxFrame),
    createEncoder: (): Encoder => new SbpDataEncoder(maxFrame),
  });
}
