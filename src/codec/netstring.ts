/**
 * `netstring` framing (D. J. Bernstein): `<length>:<body>,` with the length in
 * ASCII decimal, no sign, no leading zeros (`0:,` is the empty netstring).
 *
 * The decoder re-reads the length digits on each call (at most 16 of them: the
 * value is checked against maxFrame digit by digit, so a long run of digits
 * fails early instead of being buffered), then waits for the body and checks the
 * `,` terminator.
 *
 * Errors: a non-digit in the length is `SB_BAD_DIGITS`; an empty length, a
 * leading zero, or a missing `,` is `SB_BAD_NETSTRING`; a length above maxFrame
 * is `SB_FRAME_TOO_LARGE`.
 */
import { DEFAULTS, maxFrameRule, resolveOptions } from '../options.js';
import { BaseDecoder, checkPayloadFits, decoderLimit, tooLargeMessage } from './base.js';
import type { Decoder, Encoder, Framing, FramingOptions, NeedData } from './types.js';
import { NEED_DATA } from './types.js';

const ZERO = 0x30;
const COLON = 0x3a;
const COMMA_BYTE = 0x2c;
const COMMA = Uint8Array.of(COMMA_BYTE);

/** Decoder for {@link netstringFraming}. */
export class NetstringDecoder extends BaseDecoder {
  private readonly maxFrame: number;

  constructor(maxFrame: number) {
    super();
    this.maxFrame = decoderLimit(maxFrame);
  }

  protected decodeFrame(): Uint8Array | NeedData {
    const queue = this.queue;
    let length = 0;
    let index = 0;
    for (; ; index++) {
      if (index >= queue.length) {
        return NEED_DATA;
      }
      const byte = queue.byteAt(index);
      if (byte === COLON) {
        break;
      }
      const digit = byte - ZERO;
      if (digit < 0 || digit > 9) {
        throw this.fail('SB_BAD_DIGITS', 'netstring: the length holds a non-digit');
      }
      if (index === 1 && length === 0) {
        throw this.fail('SB_BAD_NETSTRING', 'netstring: the length has a leading zero');
      }
      length = length * 10 + digit;
      if (length > this.maxFrame) {
        throw this.fail(
          'SB_FRAME_TOO_LARGE',
          tooLargeMessage('netstring', `at least ${length}`, this.maxFrame),
        );
      }
    }
    if (index === 0) {
      throw this.fail('SB_BAD_NETSTRING', "netstring: ':' without a length");
    }
    const bodyStart = index + 1;
    if (queue.length < bodyStart + length + 1) {
      return this.awaitFrame(bodyStart + length + 1);
    }
    if (queue.byteAt(bodyStart + length) !== COMMA_BYTE) {
      throw this.fail('SB_BAD_NETSTRING', "netstring: the body is not followed by ','");
    }
    const frame = queue.take(length, bodyStart);
    queue.skip(1);
    return frame;
  }
}

/** Encoder for {@link netstringFraming}: returns `["<length>:", payload, ","]`. */
export class NetstringEncoder implements Encoder {
  private readonly maxFrame: number;

  constructor(maxFrame: number) {
    this.maxFrame = maxFrame;
  }

  encode(payload: Uint8Array): Uint8Array[] {
    checkPayloadFits('netstring', payload, this.maxFrame);
    const digits = String(payload.length);
    const header = new Uint8Array(digits.length + 1);
    for (let index = 0; index < digits.length; index++) {
      header[index] = digits.charCodeAt(index);
    }
    header[digits.length] = COLON;
    return [header, payload, COMMA];
  }
}

/**
 * The `netstring` framing. Default maxFrame 8 MiB.
 *
 * ```
 * INPUT  "5:hello," "0:,"  -->  DECODED  "hello", ""
 * ```
 */
export function netstringFraming(options?: FramingOptions): Framing {
  const { maxFrame } = resolveOptions(
    'netstringFraming',
    { maxFrame: maxFrameRule(DEFAULTS.maxFrame as number) },
    options,
  );
  return {
    spec: 'netstring',
    maxFrame,
    carriesText: true,
    createDecoder: (): Decoder => new NetstringDecoder(maxFrame),
    createEncoder: (): Encoder => new NetstringEncoder(maxFrame),
  };
}
