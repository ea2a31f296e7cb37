/**
 * `mllp` framing (HL7 Minimal Lower Layer Protocol): `0x0b` body `0x1c 0x0d`.
 *
 * The decoder checks the start byte as soon as it arrives (`SB_BAD_MLLP`),
 * then searches for `0x1c` from where the last search stopped (each byte is
 * examined once), and checks that `0x0d` follows it. A body that grows past
 * maxFrame without an end block fails at once with `SB_FRAME_TOO_LARGE`.
 * HL7 bodies never contain `0x1c`, so the encoder refuses payloads that do.
 */
import { DEFAULTS, maxFrameRule, resolveOptions } from '../options.js';
import {
  BaseDecoder,
  badPayload,
  checkPayloadFits,
  decoderLimit,
  tooLargeMessage,
} from './base.js';
import type { Decoder, Encoder, Framing, FramingOptions, NeedData } from './types.js';
import { NEED_DATA } from './types.js';

const START_BYTE = 0x0b;
const END_BYTE = 0x1c;
const CR = 0x0d;
const START_BLOCK = Uint8Array.of(START_BYTE);
const END_BLOCK = Uint8Array.of(END_BYTE, CR);

/** Decoder for {@link mllpFraming}. */
export class MllpDecoder extends BaseDecoder {
  private readonly maxFrame: number;
  /** Offset where the next search for the end byte starts. */
  private searchFrom = 1;

  constructor(maxFrame: number) {
    super();
    this.maxFrame = decoderLimit(maxFrame);
  }

  protected decodeFrame(): Uint8Array | NeedData {
    const queue = this.queue;
    if (queue.length === 0) {
      return NEED_DATA;
    }
    if (queue.byteAt(0) !== START_BYTE) {
      throw this.fail('SB_BAD_MLLP', 'mllp: a frame does not start with 0x0b');
    }
    const end = queue.indexOfByte(END_BYTE, this.searchFrom);
    if (end < 0) {
      this.searchFrom = queue.length;
      if (queue.length - 1 > this.maxFrame) {
        throw this.fail(
          'SB_FRAME_TOO_LARGE',
          tooLargeMessage('mllp', `at least ${queue.length - 1}`, this.maxFrame),
        );
      }
      return NEED_DATA;
    }
    this.searchFrom = end;
    const bodyLength = end - 1;
    if (bodyLength > this.maxFrame) {
      throw this.fail('SB_FRAME_TOO_LARGE', tooLargeMessage('mllp', bodyLength, this.maxFrame));
    }
    if (queue.length < end + 2) {
      return NEED_DATA;
    }
    if (queue.byteAt(end + 1) !== CR) {
      throw this.fail('SB_BAD_MLLP', 'mllp: the end block 0x1c is not followed by 0x0d');
    }
    this.searchFrom = 1;
    const frame = queue.take(bodyLength, 1);
    queue.skip(2);
    return frame;
  }
}

/** Encoder for {@link mllpFraming}: returns `[0x0b, payload, 0x1c 0x0d]`. */
export class MllpEncoder implements Encoder {
  private readonly maxFrame: number;

  constructor(maxFrame: number) {
    this.maxFrame = maxFrame;
  }

  encode(payload: Uint8Array): Uint8Array[] {
    checkPayloadFits('mllp', payload, this.maxFrame);
    if (payload.indexOf(END_BYTE) >= 0) {
      throw badPayload('mllp', 'the payload contains the end byte 0x1c');
    }
    return [START_BLOCK, payload, END_BLOCK];
  }
}

/**
 * The `mllp` framing. Default maxFrame 8 MiB (body bytes).
 *
 * ```
 * INPUT  0b "MSH|..." 1c 0d  0b 1c 0d  -->  DECODED  "MSH|...", ""
 * ```
 */
export function mllpFraming(options?: FramingOptions): Framing {
  const { maxFrame } = resolveOptions(
    'mllpFraming',
    { maxFrame: maxFrameRule(DEFAULTS.maxFrame as number) },
    options,
  );
  return {
    spec: 'mllp',
    maxFrame,
    carriesText: true,
    createDecoder: (): Decoder => new MllpDecoder(maxFrame),
    createEncoder: (): Encoder => new MllpEncoder(maxFrame),
  };
}
