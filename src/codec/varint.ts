/**
 * `varint` framing: an unsigned LEB128 length (protobuf style, at most 10 bytes)
 * then the body. The prefix is read straight from the queue (no copy, even when
 * it spans chunks) by `readVarint` from `src/binary/varint.ts`; a prefix above 64
 * bits or longer than 10 bytes is `SB_VARINT_OVERLONG`, and the length is checked
 * against maxFrame as soon as the prefix is complete.
 */
import {
  encodeVarintInto,
  readVarint,
  type VarintReading,
  varintLength,
} from '../binary/varint.js';
import { FrameError } from '../errors.js';
import { DEFAULTS, maxFrameRule, resolveOptions } from '../options.js';
import { BaseDecoder, checkPayloadFits, decoderLimit, tooLargeMessage } from './base.js';
import type { Decoder, Encoder, Framing, FramingOptions, NeedData } from './types.js';
import { NEED_DATA } from './types.js';

/** Decoder for {@link varintFraming}. */
export class VarintDecoder extends BaseDecoder {
  private readonly maxFrame: number;
  /** Reused for every prefix: decoding allocates nothing per frame. */
  private readonly reading: VarintReading = { value: 0, length: 0 };

  constructor(maxFrame: number) {
    super();
    this.maxFrame = decoderLimit(maxFrame);
  }

  /**
   * Fast path: a prefix of at most 3 bytes (lengths below 2 MiB) followed by the
   * whole body, all in the head chunk: an inline varint loop (int32 shifts are exact
   * up to 21 bits) and one view. Everything else, including every error and the
   * ended/failed states, takes `super.next()`.
   */
  override next(): Uint8Array | NeedData {
    const queue = this.queue;
    const chunk = queue.headChunk;
    let position = queue.headStart;
    if (this.state === 0) {
      let length = 0;
      for (let shift = 0; shift <= 14 && position < chunk.length; shift += 7) {
        const byte = chunk[position++]!;
        length |= (byte & 0x7f) << shift;
        if (byte < 0x80) {
          const bodyEnd = position + length;
          if (length <= this.maxFrame && bodyEnd <= chunk.length) {
            return queue.takeFromHead(position, bodyEnd);
          }
          break;
        }
      }
    }
    return super.next();
  }

  protected decodeFrame(): Uint8Array | NeedData {
    const queue = this.queue;
    const reading = this.reading;
    if (!this.readPrefix()) {
      return NEED_DATA;
    }
    const length = reading.value;
    if (length > this.maxFrame) {
      const size = length > Number.MAX_SAFE_INTEGER ? 'more than 2^53' : length;
      throw this.fail('SB_FRAME_TOO_LARGE', tooLargeMessage('varint', size, this.maxFrame));
    }
    if (queue.length < reading.length + length) {
      return this.awaitFrame(reading.length + length);
    }
    return queue.take(length, reading.length);
  }

  private readPrefix(): boolean {
    try {
      return readVarint(this.queue, 0, this.reading);
    } catch (error) {
      // Re-issue as this decoder's sticky error, at the frame's input offset.
      if (error instanceof FrameError) {
        throw this.fail(error.code, `varint: ${error.message}`);
      }
      throw error;
    }
  }
}

/** Encoder for {@link varintFraming}: returns `[varint, payload]`. */
export class VarintEncoder implements Encoder {
  private readonly maxFrame: number;

  constructor(maxFrame: number) {
    this.maxFrame = maxFrame;
  }

  encode(payload: Uint8Array): Uint8Array[] {
    checkPayloadFits('varint', payload, this.maxFrame);
    const header = new Uint8Array(varintLength(payload.length));
    encodeVarintInto(payload.length, header, 0);
    return [header, payload];
  }
}

/**
 * The `varint` framing: unsigned LEB128 body length, then the body (the framing of
 * it-length-prefixed and protobuf's delimited streams). Default maxFrame 8 MiB.
 *
 * ```
 * INPUT  05 68 65 6c 6c 6f 00 ac 02 <300 bytes>  -->  DECODED  "hello", "", <300 bytes>
 * ```
 */
export function varintFraming(options?: FramingOptions): Framing {
  const { maxFrame } = resolveOptions(
    'varintFraming',
    { maxFrame: maxFrameRule(DEFAULTS.maxFrame as number) },
    options,
  );
  return {
    spec: 'varint',
    maxFrame,
    carriesText: true,
    createDecoder: (): Decoder => new VarintDecoder(maxFrame),
    createEncoder: (): Encoder => new VarintEncoder(maxFrame),
  };
}
