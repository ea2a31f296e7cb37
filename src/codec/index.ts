// Curated public API of src/codec.

export { BaseDecoder } from './base.js';
export { ByteQueue } from './byte-queue.js';
export { type LengthFieldWidth, type LengthFramingOptions, lengthFraming } from './length.js';
export { type LineFramingOptions, lineFraming } from './line.js';
export { parseFraming } from './spec.js';
export type { Decoder, Encoder, Framing, FramingOptions, NeedData } from './types.js';
export { NEED_DATA } from './types.js';
