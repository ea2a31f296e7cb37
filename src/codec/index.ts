// Curated public API of src/codec.
export { NEED_DATA } from './types.js';
export type { Decoder, Encoder, Framing, FramingOptions, NeedData } from './types.js';
