// Curated public API of src/codec: the framings, their programmatic constructors,
// the spec parser, and the building blocks for custom decoders.

export { BaseDecoder } from './base.js';
export { ByteQueue } from './byte-queue.js';
export { type ContentLengthFramingOptions, contentLengthFraming } from './content-length.js';
export { type DelimFramingOptions, delimFraming } from './delim.js';
export { digitsFraming } from './digits.js';
export { eofFraming } from './eof.js';
export { fixedFraming } from './fixed.js';
export type {
  CheckedFramingSpec,
  FramingSpec,
  LengthFieldOrder,
  LengthFieldWidthName,
  LengthFramingSpec,
} from './framing-spec.js';
export { type LengthFieldWidth, type LengthFramingOptions, lengthFraming } from './length.js';
export { type LineFramingOptions, lineFraming } from './line.js';
export { mllpFraming } from './mllp.js';
export { netstringFraming } from './netstring.js';
export {
  type Envelope,
  encodeEnvelope,
  parseEnvelope,
  SbpDataDecoder,
  SbpDecoder,
  SbpType,
  type SbpTypeCode,
  sbpFraming,
} from './sbp.js';
export { parseFraming } from './spec.js';
export {
  decode,
  decodeStream,
  encode,
  encodeStream,
  type FramePayload,
  type FramingArgument,
  type FramingStreamOptions,
} from './streams.js';
export { type TaggedBody, type TaggedTypes, taggedFraming } from './tagged.js';
export type { Decoder, Encoder, Framing, FramingOptions, NeedData } from './types.js';
export { NEED_DATA } from './types.js';
export { varintFraming } from './varint.js';
