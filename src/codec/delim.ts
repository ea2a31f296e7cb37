/**
 * `delim:HEX` framing: each frame ends with a delimiter (one or more bytes), which
 * is not part of the frame. Also the engine of the `line` framing.
 *
 * Theory of operation
 * -------------------
 * The decoder searches for the delimiter's first byte with the queue's native
 * `indexOfByte`, then compares the remaining delimiter bytes. `searchFrom`
 * remembers where an unsuccessful search stopped, so each buffered byte is
 * examined once, plus at most `delimiter.length - 1` bytes re-examined per push
 * when a partial delimiter sits at the end of the buffer: O(n) per frame even
 * with one-byte chunks (the `bytesSearched` counter of the queue proves it in
 * tests). The limit is checked while searching: once no delimiter can start
 * within `maxFrame` bytes, the decoder fails without waiting for more input.
 */

import { InvalidArgumentError } from '../errors.js';
import { DEFAULTS, maxFrameRule, resolveOptions } from '../options.js';
import {
  BaseDecoder,
  badPayload,
  checkPayloadFits,
  decoderLimit,
  tooLargeMessage,
} from './base.js';
import {
  type Decoder,
  type Encoder,
  type Framing,
  type FramingOptions,
  NEED_DATA,
  type NeedData,
} from './types.js';

const CR = 0x0d;

/** Decoder for delimiter-terminated frames (`delim:HEX` and `line`). */
export class DelimiterDecoder extends BaseDecoder {
  private readonly spec: string;
  private readonly delimiter: Uint8Array;
  private readonly firstByte: number;
  private readonly maxFrame: number;
  private readonly stripCr: boolean;
  /** Largest offset at which a delimiter may start in a frame within the limit. */
  private readonly lastDelimiterStart: number;
  /** Offset where the next search starts; bytes before it hold no delimiter start. */
  private searchFrom = 0;

  /**
   * @param spec Spec string used in error messages.
   * @param delimiter The terminator (at least one byte).
   * @param maxFrame Largest frame, without the delimiter (and without a stripped CR).
   * @param stripCr Remove one CR right before the delimiter (the `line` framing).
   */
  constructor(spec: string, delimiter: Uint8Array, maxFrame: number, stripCr: boolean) {
    super();
    if (delimiter.length === 0) {
      throw new InvalidArgumentError('SB_INVALID_ARGUMENT', `${spec}: the delimiter is empty`);
    }
    this.spec = spec;
    this.delimiter = delimiter;
    this.firstByte = delimiter[0]!;
    this.maxFrame = decoderLimit(maxFrame);
    this.stripCr = stripCr;
    this.lastDelimiterStart = stripCr ? this.maxFrame + 1 : this.maxFrame;
  }

  protected decodeFrame(): Uint8Array | NeedData {
    const queue = this.queue;
    const delimiterLength = this.delimiter.length;
    let from = this.searchFrom;
    for (;;) {
      const index = queue.indexOfByte(this.firstByte, from);
      if (index < 0) {
        from = queue.length;
        break;
      }
      if (index + delimiterLength > queue.length) {
        // A possible delimiter is cut by the end of the buffer: resume from it.
        from = index;
        break;
      }
      if (delimiterLength > 1 && !this.matchesAt(index)) {
        from = index + 1;
        continue;
      }
      let frameLength = index;
      if (this.stripCr && index > 0 && queue.byteAt(index - 1) === CR) {
        frameLength--;
      }
      if (frameLength > this.maxFrame) {
        throw this.fail(
          'SB_FRAME_TOO_LARGE',
          tooLargeMessage(this.spec, frameLength, this.maxFrame),
        );
      }
      this.searchFrom = 0;
      const frame = queue.take(frameLength);
      queue.skip(index + delimiterLength - frameLength);
      return frame;
    }
    this.searchFrom = from;
    if (from > this.lastDelimiterStart) {
      throw this.fail('SB_FRAME_TOO_LARGE', this.noDelimiterMessage(from));
    }
    // `line`: a delimiter at maxFrame + 1 is only acceptable after a CR at maxFrame.
    if (this.stripCr && from === this.lastDelimiterStart && queue.byteAt(this.maxFrame) !== CR) {
      throw this.fail('SB_FRAME_TOO_LARGE', this.noDelimiterMessage(from));
    }
    return NEED_DATA;
  }

  protected override finish(): undefined {
    if (this.queue.length > 0) {
      throw this.failEof(
        `${this.spec}: input ended inside a frame (${this.queue.length} bytes without a delimiter)`,
      );
    }
    return undefined;
  }

  private matchesAt(index: number): boolean {
    for (let k = 1; k < this.delimiter.length; k++) {
      if (this.queue.byteAt(index + k) !== this.delimiter[k]) {
        return false;
      }
    }
    return true;
  }

  private noDelimiterMessage(searched: number): string {
    return `${this.spec}: no delimiter within ${searched} bytes; frame exceeds maxFrame ${this.maxFrame}`;
  }
}

/**
 * Offset of the first occurrence of `delimiter` in `payload + delimiter`, without
 * building that concatenation. The encoder needs it to be exactly
 * `payload.length`, or the peer would cut the payload short.
 */
export function firstDelimiterIn(payload: Uint8Array, delimiter: Uint8Array): number {
  const first = delimiter[0]!;
  if (delimiter.length === 1) {
    const found = payload.indexOf(first);
    return found < 0 ? payload.length : found;
  }
  let from = 0;
  for (;;) {
    const index = payload.indexOf(first, from);
    if (index < 0) {
      return payload.length;
    }
    let matches = true;
    for (let k = 1; k < delimiter.length; k++) {
      // Positions past the payload's end continue into the delimiter itself.
      const position = index + k;
      const byte =
        position < payload.length ? payload[position] : delimiter[position - payload.length];
      if (byte !== delimiter[k]) {
        matches = false;
        break;
      }
    }
    if (matches) {
      return index;
    }
    from = index + 1;
  }
}

/**
 * Encoder for delimiter-terminated frames: returns `[payload, terminator]`.
 *
 * Everything the matching decoder yields can be written back (#14): a decoded
 * frame never contains the delimiter, and for `line`, whose decoder strips one CR
 * before the LF, a payload that ends in CR (decoded from `ab\r\r\n`) is written
 * with the CRLF terminator, so the peer's decoder strips the added CR and keeps the
 * payload's own.
 */
export class DelimiterEncoder implements Encoder {
  private readonly spec: string;
  private readonly terminator: Uint8Array;
  private readonly delimiter: Uint8Array;
  private readonly maxFrame: number;
  private readonly afterTrailingCr: Uint8Array;

  /**
   * @param spec Spec string used in error messages.
   * @param terminator Bytes written after each payload (`\n`, `\r\n` or the delimiter).
   * @param delimiter The delimiter the decoder searches for (a suffix of `terminator`).
   * @param maxFrame Largest payload.
   * @param afterTrailingCr Terminator for a payload that ends in CR: `\r\n` for `line`
   *   (its decoder strips one CR before the LF); `terminator` otherwise.
   */
  constructor(
    spec: string,
    terminator: Uint8Array,
    delimiter: Uint8Array,
    maxFrame: number,
    afterTrailingCr: Uint8Array = terminator,
  ) {
    this.spec = spec;
    this.terminator = terminator;
    this.delimiter = delimiter;
    this.maxFrame = maxFrame;
    this.afterTrailingCr = afterTrailingCr;
  }

  encode(payload: Uint8Array): Uint8Array[] {
    checkPayloadFits(this.spec, payload, this.maxFrame);
    if (firstDelimiterIn(payload, this.delimiter) !== payload.length) {
      throw badPayload(this.spec, 'the payload contains the delimiter');
    }
    const endsInCr = payload.length > 0 && payload[payload.length - 1] === CR;
    return [payload, endsInCr ? this.afterTrailingCr : this.terminator];
  }
}

/** Options of {@link delimFraming}. */
export interface DelimFramingOptions extends FramingOptions {}

/** Parses a hex string such as `0d0a` into bytes, or returns undefined when it is not hex. */
export function parseHexBytes(hex: string): Uint8Array | undefined {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) {
    return undefined;
  }
  const bytes = new Uint8Array(hex.length / 2);
  for (let index = 0; index < bytes.length; index++) {
    bytes[index] = Number.parseInt(hex.slice(index * 2, index * 2 + 2), 16);
  }
  return bytes;
}

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) {
    hex += byte.toString(16).padStart(2, '0');
  }
  return hex;
}

/**
 * The `delim:HEX` framing: frames end with `delimiter` (not part of the frame).
 * Default maxFrame 64 KiB. The encoder refuses payloads containing the delimiter.
 *
 * ```
 * delim:00   INPUT  61 62 00 00 63 00  -->  DECODED  "ab", "", "c"
 * ```
 */
export function delimFraming(delimiter: Uint8Array, options?: DelimFramingOptions): Framing {
  const { maxFrame } = resolveOptions(
    'delimFraming',
    { maxFrame: maxFrameRule(DEFAULTS.maxLineFrame as number) },
    options,
  );
  if (!(delimiter instanceof Uint8Array) || delimiter.length === 0) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      'delimFraming: the delimiter must be a non-empty Uint8Array',
    );
  }
  const owned = delimiter.slice();
  const spec = `delim:${toHex(owned)}`;
  return {
    spec,
    maxFrame,
    carriesText: true,
    createDecoder: (): Decoder => new DelimiterDecoder(spec, owned, maxFrame, false),
    createEncoder: (): Encoder => new DelimiterEncoder(spec, owned, owned, maxFrame),
  };
}
