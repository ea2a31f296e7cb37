/**
 * `length[:u8|u16|u24|u32|u64][be|le]` framing: a binary length field, with the
 * programmatic options of Netty's `LengthFieldBasedFrameDecoder`: field offset,
 * length adjustment, bytes to strip, and "the length includes the header".
 * tokio's `length_delimited` has options of the same names that mean something
 * else; {@link LengthFramingOptions} gives the translation.
 *
 * Theory of operation
 * -------------------
 * Per frame, with `headerEnd = lengthFieldOffset + width`:
 * ```
 * wireLength  = field + lengthAdjustment + headerEnd   // bytes of the whole frame on the wire
 * frame       = wire[initialBytesToStrip .. wireLength)
 * ```
 * As soon as `headerEnd` bytes are buffered the decoder computes `wireLength` and
 * checks it (negative or shorter than the header or the strip: `SB_BAD_LENGTH_PREFIX`;
 * frame above maxFrame: `SB_FRAME_TOO_LARGE`), then waits for `wireLength` bytes
 * and takes the frame in one `take` (a view when it lies in one chunk). Nothing
 * is consumed before the frame is complete, so re-reading the header on each
 * `next()` is O(width) and no state needs resetting.
 */
import { checkBytes, checkIndex } from '../arguments.js';
import { InvalidArgumentError } from '../errors.js';
import { DEFAULTS, maxFrameRule, resolveOptions } from '../options.js';
import {
  BaseDecoder,
  badPayload,
  checkPayload,
  decoderLimit,
  payloadTooLarge,
  tooLargeMessage,
} from './base.js';
import type { Decoder, Encoder, Framing, FramingOptions, NeedData } from './types.js';
import { NEED_DATA } from './types.js';

/** Widths a length field may have, in bytes. */
export type LengthFieldWidth = 1 | 2 | 3 | 4 | 8;

/**
 * Options of {@link lengthFraming}. The byte diagrams below show `INPUT --> DECODED`
 * for each combination (hex bytes; `"…"` is the body).
 *
 * Default (`length:u32be`): the field holds the body length and the header is stripped.
 * ```
 * INPUT                              DECODED
 * +-- len: u32 --+---- body ----+     +---- body ----+
 * | 00 00 00 0b  | hello world  | --> | hello world  |
 * +--------------+--------------+     +--------------+
 * ```
 * `{ lengthFieldLength: 2, initialBytesToStrip: 0 }`: keep the header.
 * ```
 * +- len -+---- body ----+            +- len -+---- body ----+
 * | 00 0b | hello world  |      -->   | 00 0b | hello world  |
 * +-------+--------------+            +-------+--------------+
 * ```
 * `{ lengthFieldLength: 2, lengthIncludesHeader: true }` (same as
 * `lengthAdjustment: -2`): the field counts itself.
 * ```
 * +- len -+---- body ----+            +---- body ----+
 * | 00 0d | hello world  |      -->   | hello world  |
 * +-------+--------------+            +--------------+
 * ```
 * `{ lengthFieldOffset: 2, lengthFieldLength: 3, initialBytesToStrip: 0 }`: a
 * 2-byte prefix before the field (zeros when the encoder writes it).
 * ```
 * +- hdr -+-- len --+---- body ----+   +- hdr -+-- len --+---- body ----+
 * | ca fe | 00 00 0b| hello world  | ->| ca fe | 00 00 0b| hello world  |
 * +-------+---------+--------------+   +-------+---------+--------------+
 * ```
 * `{ lengthFieldLength: 3, lengthAdjustment: 2, initialBytesToStrip: 0 }`: a
 * 2-byte field after the length that the length does not count.
 * ```
 * +-- len --+- hdr -+---- body ----+   +-- len --+- hdr -+---- body ----+
 * | 00 00 0b| ca fe | hello world  | ->| 00 00 0b| ca fe | hello world  |
 * +---------+-------+--------------+   +---------+-------+--------------+
 * ```
 * `{ lengthFieldOffset: 1, lengthFieldLength: 2, lengthAdjustment: 1,
 * initialBytesToStrip: 3 }`: strip the first byte and the field, keep a byte the
 * length does not count.
 * ```
 * +hdr1+- len -+hdr2+---- body ----+        +hdr2+---- body ----+
 * | ca | 00 0b | fe | hello world  |  -->   | fe | hello world  |
 * +----+-------+----+--------------+        +----+--------------+
 * ```
 * `{ lengthFieldOffset: 1, lengthFieldLength: 2, lengthAdjustment: -3,
 * initialBytesToStrip: 3 }`: as above, but the length counts the whole frame.
 * ```
 * +hdr1+- len -+hdr2+---- body ----+        +hdr2+---- body ----+
 * | ca | 00 0f | fe | hello world  |  -->   | fe | hello world  |
 * +----+-------+----+--------------+        +----+--------------+
 * ```
 *
 * **Coming from tokio.** tokio-util's `LengthDelimitedCodec::builder()` has
 * `length_field_offset`, `length_field_length`, `length_adjustment` and `num_skip`,
 * but its adjustment is measured from the end of the *skipped* bytes, where Netty's
 * (and so switchboard's) is measured from the end of the length field. Offset and
 * width carry over; `num_skip` becomes `initialBytesToStrip`, and the adjustment is
 * ```
 * lengthAdjustment = tokio length_adjustment + num_skip - length_field_offset - length_field_length
 * ```
 * (`num_skip` defaults to `length_field_offset + length_field_length` in tokio, and
 * then the two adjustments are equal). Copying `num_skip` across without adjusting
 * misframes silently: tokio's `length_field_length(3).num_skip(4)` reads
 * `00 00 0b 0c "Hello world"` as `Hello world`; `{ lengthFieldLength: 3,
 * initialBytesToStrip: 4 }` reads it as `Hello worl`, and the next frame starts one
 * byte early. The right options are `{ lengthFieldLength: 3, lengthAdjustment: 1,
 * initialBytesToStrip: 4 }`. The tests check every example of tokio's documentation
 * through this formula.
 */
export interface LengthFramingOptions extends FramingOptions {
  /** Width of the length field in bytes: 1, 2, 3, 4 or 8. Default 4. */
  lengthFieldLength?: LengthFieldWidth;
  /** Little-endian length field. Default false (big-endian, network order). */
  littleEndian?: boolean;
  /** Bytes before the length field. Default 0. */
  lengthFieldOffset?: number;
  /** Added to the field's value to get the bytes that follow the field. May be negative. Default 0. */
  lengthAdjustment?: number;
  /** Bytes removed from the start of each frame. Default `lengthFieldOffset + lengthFieldLength` (the header). */
  initialBytesToStrip?: number;
  /** The field counts the header (`lengthFieldOffset + lengthFieldLength`) too; adds `-header` to the adjustment. Default false. */
  lengthIncludesHeader?: boolean;
}

interface LengthLayout {
  spec: string;
  offset: number;
  width: number;
  littleEndian: boolean;
  adjustment: number;
  strip: number;
  headerEnd: number;
  maxFrame: number;
  /** Largest value the field can hold (as a double for u64). */
  maxFieldValue: number;
}

/** Decoder for {@link lengthFraming}. */
export class LengthDecoder extends BaseDecoder {
  private readonly layout: LengthLayout;
  // Copies of the hot fields: a property load on `this` beats a second hop through `layout`.
  private readonly headerEnd: number;
  private readonly fieldOffset: number;
  private readonly width: number;
  private readonly littleEndian: boolean;
  private readonly adjustment: number;
  private readonly strip: number;
  private readonly maxFrame: number;
  /**
   * True while the fast path of `next()` applies: the default layout (u32be at
   * offset 0, header stripped, no adjustment) and the decoder still open.
   */
  private fastPath: boolean;

  constructor(layout: LengthLayout) {
    super();
    this.layout = layout;
    this.fastPath =
      layout.offset === 0 &&
      layout.width === 4 &&
      !layout.littleEndian &&
      layout.adjustment === 0 &&
      layout.strip === 4;
    this.headerEnd = layout.headerEnd;
    this.fieldOffset = layout.offset;
    this.width = layout.width;
    this.littleEndian = layout.littleEndian;
    this.adjustment = layout.adjustment;
    this.strip = layout.strip;
    // With `maxFrame: Infinity`, a u64 field near 2^64 must still fail rather than
    // wait forever for bytes no array could hold.
    this.maxFrame = decoderLimit(layout.maxFrame);
  }

  /**
   * Fast path for the default layout (u32be, header stripped) when the header and
   * the body lie in the head chunk, which is nearly always the case with small
   * frames: four byte loads and one view, without the generic reader. Overriding
   * `next()` itself (not just `decodeFrame`) also saves a call per frame. Anything
   * else, including every error and the ended/failed states, takes `super.next()`.
   */
  override next(): Uint8Array | NeedData {
    const queue = this.queue;
    const chunk = queue.headChunk;
    const start = queue.headStart;
    if (this.fastPath && start + 4 <= chunk.length) {
      // `>>> 0` makes the int32 that `<<` produces unsigned again.
      const field =
        ((chunk[start]! << 24) |
          (chunk[start + 1]! << 16) |
          (chunk[start + 2]! << 8) |
          chunk[start + 3]!) >>>
        0;
      const bodyEnd = start + 4 + field;
      if (field <= this.maxFrame && bodyEnd <= chunk.length) {
        return queue.takeFromHead(start + 4, bodyEnd);
      }
    }
    return super.next();
  }

  protected override onStop(): void {
    this.fastPath = false;
  }

  /** Any layout, header and body anywhere in the queue. */
  protected decodeFrame(): Uint8Array | NeedData {
    const queue = this.queue;
    const headerEnd = this.headerEnd;
    if (queue.length < headerEnd) {
      return NEED_DATA;
    }
    const field = queue.readUint(this.fieldOffset, this.width, this.littleEndian);
    const wireLength = field + this.adjustment + headerEnd;
    const frameLength = wireLength - this.strip;
    // One combined comparison keeps the common case short; rejectHeader sorts out which rule broke.
    if (frameLength > this.maxFrame || wireLength < headerEnd || frameLength < 0) {
      throw this.rejectHeader(field, wireLength, frameLength);
    }
    if (queue.length < wireLength) {
      return this.awaitFrame(wireLength);
    }
    return queue.take(frameLength, this.strip);
  }

  private rejectHeader(field: number, wireLength: number, frameLength: number): Error {
    const spec = this.layout.spec;
    if (wireLength < this.headerEnd || frameLength < 0) {
      return this.fail(
        'SB_BAD_LENGTH_PREFIX',
        `${spec}: length field ${field} gives a ${wireLength}-byte frame, shorter than its ${Math.max(this.headerEnd, this.strip)}-byte header`,
      );
    }
    const size = frameLength > Number.MAX_SAFE_INTEGER ? 'more than 2^53' : frameLength;
    return this.fail('SB_FRAME_TOO_LARGE', tooLargeMessage(spec, size, this.maxFrame));
  }
}

/** Encoder for {@link lengthFraming}: returns `[header, payload]` (or `[payload]` when nothing is stripped). */
export class LengthEncoder implements Encoder {
  private readonly layout: LengthLayout;

  constructor(layout: LengthLayout) {
    this.layout = layout;
  }

  encode(payload: Uint8Array): Uint8Array[] {
    checkPayload(this.layout.spec, payload);
    const strip = this.layout.strip;
    const header = new Uint8Array(strip);
    this.writeHeader(payload, header, 0);
    return strip === 0 ? [payload] : [header, payload];
  }

  /**
   * {@link Encoder.encodeInto}: the stripped prefix, then the payload, written into
   * `target` (no header array per frame). Same checks and errors as {@link encode}.
   */
  encodeInto(payload: Uint8Array, target: Uint8Array, offset: number): number {
    checkPayload(this.layout.spec, payload);
    checkBytes('encodeInto', 'target', target);
    checkIndex('encodeInto', 'offset', offset);
    const size = this.layout.strip + payload.length;
    if (offset + size > target.length) {
      return -1;
    }
    this.writeHeader(payload, target, offset);
    target.set(payload, offset + this.layout.strip);
    return size;
  }

  /**
   * Checks `payload` and writes the stripped prefix of its wire frame (`strip` bytes)
   * into `target` at `at`: zeros, except the length field bytes that fall inside it.
   * Field bytes that fall inside the payload must already be right.
   */
  private writeHeader(payload: Uint8Array, target: Uint8Array, at: number): void {
    const { spec, offset, width, littleEndian, adjustment, strip, headerEnd, maxFrame } =
      this.layout;
    if (payload.length > maxFrame) {
      throw payloadTooLarge(spec, payload.length, maxFrame);
    }
    const wireLength = payload.length + strip;
    const field = wireLength - headerEnd - adjustment;
    if (wireLength < headerEnd || field < 0) {
      throw badPayload(spec, `a ${payload.length}-byte payload cannot hold the rest of the header`);
    }
    if (field > this.layout.maxFieldValue) {
      throw payloadTooLarge(spec, payload.length, maxFrame);
    }
    // A loop, not target.fill(): Buffer's fill validates its arguments, which costs more
    // than zeroing the few header bytes.
    for (let index = 0; index < strip; index++) {
      target[at + index] = 0;
    }
    let rest = field;
    for (let index = 0; index < width; index++) {
      const byte = rest % 256;
      rest = Math.floor(rest / 256);
      const position = offset + (littleEndian ? index : width - 1 - index);
      if (position < strip) {
        target[at + position] = byte;
      } else if (payload[position - strip] !== byte) {
        throw badPayload(spec, 'the length field inside the payload does not match its size');
      }
    }
  }
}

const WIDTH_NAMES: Record<LengthFieldWidth, string> = {
  1: 'u8',
  2: 'u16',
  3: 'u24',
  4: 'u32',
  8: 'u64',
};

function layoutFor(options: LengthFramingOptions | undefined): LengthLayout {
  const resolved = resolveOptions(
    'lengthFraming',
    {
      maxFrame: maxFrameRule(DEFAULTS.maxFrame as number),
      lengthFieldLength: { kind: 'count', default: 4, min: 1 },
      littleEndian: { kind: 'boolean', default: false },
      lengthFieldOffset: { kind: 'bytes', default: 0 },
      lengthAdjustment: { kind: 'count', default: 0, min: -Number.MAX_SAFE_INTEGER },
      lengthIncludesHeader: { kind: 'boolean', default: false },
    },
    options,
    {},
    ['initialBytesToStrip'],
  );
  const width = resolved.lengthFieldLength;
  if (!(width in WIDTH_NAMES)) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      'lengthFraming: option "lengthFieldLength" must be 1, 2, 3, 4 or 8',
    );
  }
  const headerEnd = resolved.lengthFieldOffset + width;
  let strip = headerEnd;
  const stripOption = options?.initialBytesToStrip;
  if (stripOption !== undefined) {
    if (!Number.isSafeInteger(stripOption) || stripOption < 0) {
      throw new InvalidArgumentError(
        'SB_BAD_OPTION',
        'lengthFraming: option "initialBytesToStrip" must be an integer >= 0 (bytes)',
      );
    }
    strip = stripOption;
  }
  const adjustment = resolved.lengthAdjustment - (resolved.lengthIncludesHeader ? headerEnd : 0);
  const maxFieldValue = 2 ** (8 * width) - 1;
  // The largest frame the field can describe caps maxFrame (e.g. 255 for u8).
  const expressible = maxFieldValue + adjustment + headerEnd - strip;
  const maxFrame = Math.min(resolved.maxFrame, expressible);
  if (maxFrame < 0) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      'lengthFraming: these options admit no frame at all',
    );
  }
  const spec = `length:${WIDTH_NAMES[width as LengthFieldWidth]}${width === 1 ? '' : resolved.littleEndian ? 'le' : 'be'}`;
  return {
    spec,
    offset: resolved.lengthFieldOffset,
    width,
    littleEndian: resolved.littleEndian,
    adjustment,
    strip,
    headerEnd,
    maxFrame,
    maxFieldValue,
  };
}

/**
 * The `length` framing: a binary length prefix (default `u32be`), with
 * Netty-style options (see {@link LengthFramingOptions} for byte diagrams).
 * Default maxFrame 8 MiB, capped by what the field can express (255 for `u8`).
 * A header claiming more than maxFrame fails with `SB_FRAME_TOO_LARGE` as soon as
 * the header is buffered; a length that makes the frame shorter than its header
 * fails with `SB_BAD_LENGTH_PREFIX`. Zero-length frames are valid.
 */
export function lengthFraming(options?: LengthFramingOptions): Framing {
  const layout = layoutFor(options);
  return {
    spec: layout.spec,
    maxFrame: layout.maxFrame,
    carriesText: true,
    createDecoder: (): Decoder => new LengthDecoder(layout),
    createEncoder: (): Encoder => new LengthEncoder(layout),
  };
}
