// Curated public API of src/codec.

export type { Decoder, Encoder, Framing, FramingOptions, NeedData } from './types.js';
export { NEED_DATA } from './types.js';
