/**
 * `fixed:N` framing: every frame is exactly N bytes, with no header (the HOWTO's
 * "fixed length message"). The decoder takes N bytes whenever N are buffered.
 */
import { InvalidArgumentError } from '../errors.js';
import { DEFAULTS, maxFrameRule, resolveOptions } from '../options.js';
import { BaseDecoder, badPayload, checkPayloadFits } from './base.js';
import type { Decoder, Encoder, Framing, FramingOptions, NeedData } from './types.js';
import { NEED_DATA } from './types.js';

/** Decoder for {@link fixedFraming}. */
export class FixedDecoder extends BaseDecoder {
  private readonly size: number;

  constructor(size: number) {
    super();
    this.size = size;
  }

  protected decodeFrame(): Uint8Array | NeedData {
    if (this.queue.length < this.size) {
      return NEED_DATA;
    }
    return this.queue.take(this.size);
  }
}

/** Encoder for {@link fixedFraming}: returns `[payload]` after checking its size. */
export class FixedEncoder implements Encoder {
  private readonly spec: string;
  private readonly size: number;

  constructor(spec: string, size: number) {
    this.spec = spec;
    this.size = size;
  }

  encode(payload: Uint8Array): Uint8Array[] {
    checkPayloadFits(this.spec, payload, this.size);
    if (payload.length !== this.size) {
      throw badPayload(this.spec, `a ${payload.length}-byte payload is not ${this.size} bytes`);
    }
    return [payload];
  }
}

/**
 * The `fixed:N` framing: every frame is `size` bytes (1 <= size <= maxFrame,
 * default maxFrame 8 MiB). The encoder refuses payloads of any other size.
 *
 * ```
 * fixed:3   INPUT  61 62 63 64 65 66  -->  DECODED  "abc", "def"
 * ```
 */
export function fixedFraming(size: number, options?: FramingOptions): Framing {
  const { maxFrame } = resolveOptions(
    'fixedFraming',
    { maxFrame: maxFrameRule(DEFAULTS.maxFrame as number) },
    options,
  );
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      'fixedFraming: size must be an integer >= 1',
    );
  }
  if (size > maxFrame) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `fixedFraming: size ${size} exceeds maxFrame ${maxFrame}`,
    );
  }
  const spec = `fixed:${size}`;
  return {
    spec,
    maxFrame: size,
    carriesText: false,
    createDecoder: (): Decoder => new FixedDecoder(size),
    createEncoder: (): Encoder => new FixedEncoder(spec, size),
  };
}
