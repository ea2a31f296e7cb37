/**
 * `eof` framing: one message per connection, ended by the sender's shutdown (the
 * HOWTO's HTTP-like half-close). The decoder accumulates every byte (never
 * returning a frame early) and turns them into the one frame at `end()`, copying
 * once if they arrived in several chunks. No bytes at all is an empty frame.
 * maxFrame is enforced while accumulating: the first `next()` after the buffer
 * passes it fails with `SB_FRAME_TOO_LARGE`.
 */
import { InvalidArgumentError } from '../errors.js';
import { DEFAULTS, maxFrameRule, resolveOptions } from '../options.js';
import { BaseDecoder, checkPayloadFits, decoderLimit, tooLargeMessage } from './base.js';
import type { Decoder, Encoder, Framing, FramingOptions, NeedData } from './types.js';
import { NEED_DATA } from './types.js';

/** Decoder for {@link eofFraming}. */
export class EofDecoder extends BaseDecoder {
  private readonly maxFrame: number;

  constructor(maxFrame: number) {
    super();
    this.maxFrame = decoderLimit(maxFrame);
  }

  protected decodeFrame(): Uint8Array | NeedData {
    if (this.queue.length > this.maxFrame) {
      throw this.fail(
        'SB_FRAME_TOO_LARGE',
        tooLargeMessage('eof', `at least ${this.queue.length}`, this.maxFrame),
      );
    }
    return NEED_DATA;
  }

  protected override finish(): Uint8Array {
    return this.queue.take(this.queue.length);
  }
}

/** Encoder for {@link eofFraming}: returns `[payload]`, once; the caller then shuts down its write side. */
export class EofEncoder implements Encoder {
  private readonly maxFrame: number;
  private used = false;

  constructor(maxFrame: number) {
    this.maxFrame = maxFrame;
  }

  encode(payload: Uint8Array): Uint8Array[] {
    checkPayloadFits('eof', payload, this.maxFrame);
    if (this.used) {
      throw new InvalidArgumentError(
        'SB_INVALID_ARGUMENT',
        'eof: one message per connection; this encoder already encoded one',
      );
    }
    this.used = true;
    return [payload];
  }
}

/**
 * The `eof` framing: the whole input is one frame, delivered at `end()`.
 * Default maxFrame 8 MiB. Each encoder encodes exactly one payload.
 *
 * ```
 * INPUT  "hel" "lo" <end>  -->  DECODED  "hello"        INPUT <end>  -->  DECODED  ""
 * ```
 */
export function eofFraming(options?: FramingOptions): Framing {
  const { maxFrame } = resolveOptions(
    'eofFraming',
    { maxFrame: maxFrameRule(DEFAULTS.maxFrame as number) },
    options,
  );
  return {
    spec: 'eof',
    maxFrame,
    carriesText: true,
    createDecoder: (): Decoder => new EofDecoder(maxFrame),
    createEncoder: (): Encoder => new EofEncoder(maxFrame),
  };
}
