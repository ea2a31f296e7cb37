/**
 * `digits:N` framing: N ASCII decimal digits giving the body length, then the
 * body (the HOWTO's "5 numeric characters"). The header digits are validated as
 * they arrive, so a non-digit fails at once (`SB_BAD_DIGITS`), and the length is
 * checked against maxFrame as soon as all N digits are buffered.
 */
import { InvalidArgumentError } from '../errors.js';
import { DEFAULTS, maxFrameRule, resolveOptions } from '../options.js';
import { BaseDecoder, checkPayloadFits, decoderLimit, tooLargeMessage } from './base.js';
import type { Decoder, Encoder, Framing, FramingOptions, NeedData } from './types.js';
import { NEED_DATA } from './types.js';

const ZERO = 0x30;

/** Most digits a `digits:N` header may have: 10^15 - 1 is still a safe integer. */
export const MAX_DIGITS = 15;

/** Decoder for {@link digitsFraming}. */
export class DigitsDecoder extends BaseDecoder {
  private readonly spec: string;
  private readonly digits: number;
  private readonly maxFrame: number;

  constructor(spec: string, digits: number, maxFrame: number) {
    super();
    this.spec = spec;
    this.digits = digits;
    this.maxFrame = decoderLimit(maxFrame);
  }

  protected decodeFrame(): Uint8Array | NeedData {
    const queue = this.queue;
    const digits = this.digits;
    const available = Math.min(queue.length, digits);
    let length = 0;
    // Re-reading at most 15 header bytes per call is cheaper than keeping state.
    for (let index = 0; index < available; index++) {
      const digit = queue.byteAt(index) - ZERO;
      if (digit < 0 || digit > 9) {
        throw this.fail(
          'SB_BAD_DIGITS',
          `${this.spec}: the ${digits}-digit length field holds a non-digit`,
        );
      }
      length = length * 10 + digit;
    }
    if (available < digits) {
      return NEED_DATA;
    }
    if (length > this.maxFrame) {
      throw this.fail('SB_FRAME_TOO_LARGE', tooLargeMessage(this.spec, length, this.maxFrame));
    }
    if (queue.length < digits + length) {
      return this.awaitFrame(digits + length);
    }
    return queue.take(length, digits);
  }
}

/** Encoder for {@link digitsFraming}: returns `[zero-padded digits, payload]`. */
export class DigitsEncoder implements Encoder {
  private readonly spec: string;
  private readonly digits: number;
  private readonly maxFrame: number;

  constructor(spec: string, digits: number, maxFrame: number) {
    this.spec = spec;
    this.digits = digits;
    this.maxFrame = maxFrame;
  }

  encode(payload: Uint8Array): Uint8Array[] {
    checkPayloadFits(this.spec, payload, this.maxFrame);
    const header = new Uint8Array(this.digits);
    let rest = payload.length;
    for (let index = this.digits - 1; index >= 0; index--) {
      header[index] = ZERO + (rest % 10);
      rest = Math.floor(rest / 10);
    }
    return [header, payload];
  }
}

/**
 * The `digits:N` framing: `count` ASCII decimal digits (zero-padded, 1..15) give
 * the body length. maxFrame defaults to 8 MiB and is capped at 10^count - 1.
 *
 * ```
 * digits:5   INPUT  "00005hello" "00000"  -->  DECODED  "hello", ""
 * ```
 */
export function digitsFraming(count: number, options?: FramingOptions): Framing {
  const resolved = resolveOptions(
    'digitsFraming',
    { maxFrame: maxFrameRule(DEFAULTS.maxFrame as number) },
    options,
  );
  if (!Number.isInteger(count) || count < 1 || count > MAX_DIGITS) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `digitsFraming: the digit count must be an integer in 1..${MAX_DIGITS}`,
    );
  }
  const maxFrame = Math.min(resolved.maxFrame, 10 ** count - 1);
  const spec = `digits:${count}`;
  return {
    spec,
    maxFrame,
    carriesText: true,
    createDecoder: (): Decoder => new DigitsDecoder(spec, count, maxFrame),
    createEncoder: (): Encoder => new DigitsEncoder(spec, count, maxFrame),
  };
}
