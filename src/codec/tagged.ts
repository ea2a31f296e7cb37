/**
 * `tagged:T=N,...` framing: the first byte of each frame is a type byte, and the
 * type fixes how long the body is: either a fixed number of bytes (`01=4`) or a
 * binary length field after the type byte (`02=length:u16be`). The HOWTO's
 * "the first character indicates the type". An undefined type byte is
 * `SB_UNKNOWN_TYPE_BYTE`, detected as soon as that byte arrives.
 *
 * The frame is the type byte followed by the body (SPEC §2); for a length-field
 * type the length field is not part of the frame. So a fixed-size frame is a
 * view into the input, while a length-field frame is assembled (one copy) from
 * the type byte and the body, since the two are not adjacent on the wire.
 */
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
import type { LengthFieldWidth } from './length.js';
import type { Decoder, Encoder, Framing, FramingOptions, NeedData } from './types.js';
import { NEED_DATA } from './types.js';

/** How the body of one type is delimited: a fixed size, or a length field after the type byte. */
export type TaggedBody = number | { lengthFieldLength: LengthFieldWidth; littleEndian?: boolean };

/** The types of a {@link taggedFraming}: type byte (0..255) -> body description. */
export type TaggedTypes = ReadonlyMap<number, TaggedBody> | Readonly<Record<number, TaggedBody>>;

/** One row of the decoder's 256-entry table. */
interface TypeRule {
  /** Fixed body size, or -1 for a length field. */
  fixedSize: number;
  /** Width of the length field (length-field types). */
  width: number;
  littleEndian: boolean;
  /** Largest body: maxFrame - 1, capped by the field width. */
  maxBody: number;
}

const WIDTH_NAMES: Record<number, string> = { 1: 'u8', 2: 'u16', 3: 'u24', 4: 'u32', 8: 'u64' };

function hexByte(value: number): string {
  return value.toString(16).padStart(2, '0');
}

/** Decoder for {@link taggedFraming}. */
export class TaggedDecoder extends BaseDecoder {
  private readonly rules: readonly (TypeRule | undefined)[];
  private readonly spec: string;

  constructor(spec: string, rules: readonly (TypeRule | undefined)[]) {
    super();
    this.spec = spec;
    this.rules = rules;
  }

  protected decodeFrame(): Uint8Array | NeedData {
    const queue = this.queue;
    if (queue.length === 0) {
      return NEED_DATA;
    }
    const type = queue.byteAt(0);
    const rule = this.rules[type];
    if (rule === undefined) {
      throw this.fail(
        'SB_UNKNOWN_TYPE_BYTE',
        `${this.spec}: a frame starts with an undefined type byte`,
      );
    }
    if (rule.fixedSize >= 0) {
      if (queue.length < 1 + rule.fixedSize) {
        return NEED_DATA;
      }
      return queue.take(1 + rule.fixedSize);
    }
    const headerLength = 1 + rule.width;
    if (queue.length < headerLength) {
      return NEED_DATA;
    }
    const bodyLength = queue.readUint(1, rule.width, rule.littleEndian);
    if (bodyLength > rule.maxBody) {
      const size = bodyLength >= Number.MAX_SAFE_INTEGER ? 'more than 2^53' : bodyLength + 1;
      throw this.fail('SB_FRAME_TOO_LARGE', tooLargeMessage(this.spec, size, rule.maxBody + 1));
    }
    if (queue.length < headerLength + bodyLength) {
      return NEED_DATA;
    }
    const frame = new Uint8Array(1 + bodyLength);
    frame[0] = type;
    queue.copyTo(frame, 1, headerLength, bodyLength);
    queue.skip(headerLength + bodyLength);
    return frame;
  }
}

/**
 * Encoder for {@link taggedFraming}. The payload is the frame: type byte + body.
 * Fixed-size types return `[payload]`; length-field types return
 * `[type + length field, body view]`.
 */
export class TaggedEncoder implements Encoder {
  private readonly rules: readonly (TypeRule | undefined)[];
  private readonly spec: string;

  constructor(spec: string, rules: readonly (TypeRule | undefined)[]) {
    this.spec = spec;
    this.rules = rules;
  }

  encode(payload: Uint8Array): Uint8Array[] {
    checkPayload(this.spec, payload);
    if (payload.length === 0) {
      throw badPayload(this.spec, 'the payload must start with a type byte');
    }
    const type = payload[0]!;
    const rule = this.rules[type];
    if (rule === undefined) {
      throw badPayload(this.spec, `type byte 0x${hexByte(type)} is not defined`);
    }
    const bodyLength = payload.length - 1;
    if (rule.fixedSize >= 0) {
      if (bodyLength > rule.fixedSize) {
        throw payloadTooLarge(this.spec, payload.length, rule.fixedSize + 1);
      }
      if (bodyLength !== rule.fixedSize) {
        throw badPayload(this.spec, `type 0x${hexByte(type)} needs a ${rule.fixedSize}-byte body`);
      }
      return [payload];
    }
    if (bodyLength > rule.maxBody) {
      throw payloadTooLarge(this.spec, payload.length, rule.maxBody + 1);
    }
    const header = new Uint8Array(1 + rule.width);
    header[0] = type;
    let rest = bodyLength;
    for (let index = 0; index < rule.width; index++) {
      const position = rule.littleEndian ? 1 + index : rule.width - index;
      header[position] = rest % 256;
      rest = Math.floor(rest / 256);
    }
    return [header, payload.subarray(1)];
  }
}

function entriesOf(types: TaggedTypes): [number, TaggedBody][] {
  if (typeof types !== 'object' || types === null) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      'taggedFraming: types must be an object or a Map of type byte to body',
    );
  }
  if (types instanceof Map) {
    return [...types.entries()];
  }
  return Object.entries(types).map(([key, value]) => [Number(key), value as TaggedBody]);
}

/**
 * The `tagged` framing. Each frame is a type byte plus a body whose size the type
 * fixes. `types` maps each type byte to a fixed body size or to a length field
 * (`{ lengthFieldLength: 2 }` for `length:u16be`). Default maxFrame 8 MiB for the
 * whole frame (type byte included); fixed sizes must fit it.
 *
 * ```
 * tagged:01=2,02=length:u8
 * INPUT  01 61 62  02 03 78 79 7a  02 00  -->  DECODED  01 61 62 | 02 78 79 7a | 02
 * ```
 */
export function taggedFraming(types: TaggedTypes, options?: FramingOptions): Framing {
  const { maxFrame } = resolveOptions(
    'taggedFraming',
    { maxFrame: maxFrameRule(DEFAULTS.maxFrame as number) },
    options,
  );
  // maxFrameRule: maxFrame >= 1, room for the type byte.
  const rules: (TypeRule | undefined)[] = new Array(256).fill(undefined);
  const parts: string[] = [];
  const entries = entriesOf(types).sort((a, b) => a[0] - b[0]);
  if (entries.length === 0) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      'taggedFraming: define at least one type',
    );
  }
  for (const [type, body] of entries) {
    if (!Number.isInteger(type) || type < 0 || type > 255) {
      throw new InvalidArgumentError(
        'SB_INVALID_ARGUMENT',
        'taggedFraming: a type is not a byte (0..255)',
      );
    }
    if (typeof body === 'number') {
      if (!Number.isSafeInteger(body) || body < 0 || body + 1 > maxFrame) {
        throw new InvalidArgumentError(
          'SB_INVALID_ARGUMENT',
          `taggedFraming: the body size of type 0x${hexByte(type)} must be an integer in 0..maxFrame-1 (${maxFrame - 1})`,
        );
      }
      rules[type] = { fixedSize: body, width: 0, littleEndian: false, maxBody: body };
      parts.push(`${hexByte(type)}=${body}`);
      continue;
    }
    const width = (
      typeof body === 'object' && body !== null ? body.lengthFieldLength : 0
    ) as LengthFieldWidth;
    const name = Object.hasOwn(WIDTH_NAMES, width) ? WIDTH_NAMES[width] : undefined;
    if (name === undefined) {
      throw new InvalidArgumentError(
        'SB_INVALID_ARGUMENT',
        `taggedFraming: the length field of type 0x${hexByte(type)} must be 1, 2, 3, 4 or 8 bytes`,
      );
    }
    const littleEndian = (body as { littleEndian?: boolean }).littleEndian === true;
    const maxBody = Math.min(decoderLimit(maxFrame) - 1, 2 ** (8 * width) - 1);
    rules[type] = { fixedSize: -1, width, littleEndian, maxBody };
    parts.push(`${hexByte(type)}=length:${name}${width === 1 ? '' : littleEndian ? 'le' : 'be'}`);
  }
  const spec = `tagged:${parts.join(',')}`;
  return {
    spec,
    maxFrame,
    carriesText: false,
    createDecoder: (): Decoder => new TaggedDecoder(spec, rules),
    createEncoder: (): Encoder => new TaggedEncoder(spec, rules),
  };
}
