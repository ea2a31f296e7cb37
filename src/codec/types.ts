/**
 * The sans-IO codec contract.
 *
 * A {@link Decoder} turns bytes into frames and has exactly three outcomes per
 * call to `next()`: a frame, {@link NEED_DATA} ("give me more bytes"; never an
 * exception), or a thrown {@link FrameError} (fatal and sticky: every later
 * call rethrows it). `end()` declares the input finished; it throws
 * `UnexpectedEofError` (`SB_UNEXPECTED_EOF`) if buffered bytes cannot form a
 * frame. Any other exception thrown by a decoder is a bug.
 *
 * Codecs import nothing from `node:net`, `node:tls`, timers or events; the I/O
 * layer (`net/channel.ts`) owns buffering policy, deadlines and backpressure.
 */

/** Returned by {@link Decoder.next} when the buffered bytes do not yet hold a whole frame. */
export const NEED_DATA: unique symbol = Symbol('switchboard.NEED_DATA');
/** The type of {@link NEED_DATA}. */
export type NeedData = typeof NEED_DATA;

/** Incremental, sans-IO frame decoder. */
export interface Decoder {
  /** Appends bytes. The decoder keeps a reference; do not mutate `chunk` afterwards. */
  push(chunk: Uint8Array): void;
  /**
   * Returns the next whole frame, or {@link NEED_DATA}. Throws `FrameError` when the
   * input violates the framing (sticky). A frame that lies within one pushed chunk is a
   * view into it (no copy); a frame spanning chunks is concatenated once.
   */
  next(): Uint8Array | NeedData;
  /**
   * Declares the input finished. Complete frames still buffered remain available from
   * `next()` (for `eof` framing, the accumulated bytes become the one final frame).
   * Throws `UnexpectedEofError` if bytes remain that cannot form a frame.
   */
  end(): void;
  /** Bytes pushed but not yet returned as frames (including a partial frame). */
  readonly buffered: number;
  /**
   * Optional: bytes the decoder has allocated beyond {@link Decoder.buffered} (the
   * built-in decoders assemble a large frame in one buffer once half of it has arrived,
   * the unreceived rest at most `buffered`; and cut small frames that span chunks from
   * a 16 KiB slab, whose uncut rest counts here). Memory accounting counts
   * `buffered + reserved`.
   */
  readonly reserved?: number;
  /** True once a started frame is partly buffered (used for frame timeouts). */
  readonly inFrame: boolean;
}

/** Sans-IO frame encoder. */
export interface Encoder {
  /**
   * Returns the wire bytes for one payload as a list of chunks (typically header and
   * body; the body is not copied). Throws `InvalidArgumentError` (`SB_PAYLOAD_TOO_LARGE`)
   * for a payload the peer's decoder would reject.
   */
  encode(payload: Uint8Array): Uint8Array[];
  /**
   * Optional: writes the wire bytes for `payload` into `target` at `offset` and returns
   * how many were written, or -1 (nothing written) when they do not fit. Same checks and
   * errors as {@link Encoder.encode}. A writer that batches small frames uses it to skip
   * the per-frame header allocation.
   */
  encodeInto?(payload: Uint8Array, target: Uint8Array, offset: number): number;
}

/** A framing: a factory of decoders and encoders with the same limits. */
export interface Framing {
  /** The canonical spec string, e.g. `length:u32be`. */
  readonly spec: string;
  /** The largest frame (payload) this framing accepts, in bytes. */
  readonly maxFrame: number;
  /** Whether a payload may be text printed on a line (used for refusal messages). */
  readonly carriesText: boolean;
  /** A new decoder (one per connection or input: decoders are stateful). */
  createDecoder(): Decoder;
  /** A new encoder (one per connection: the `eof` encoder accepts one payload). */
  createEncoder(): Encoder;
}

/** Options every framing accepts. */
export interface FramingOptions {
  /**
   * Largest frame in bytes (at least 1), checked as soon as a header is read. Leave it
   * out (or `undefined`) for the framing's default: 8 MiB (64 KiB for `line` and
   * `delim`); `0` is refused (`SB_BAD_OPTION`). `Infinity` disables the limit: a peer
   * can then make the process buffer without bound; only use it with trusted peers.
   * Decoders never accept a frame over 4 GiB less 64 KiB, the largest buffer node
   * allocates less room for its header, whatever `maxFrame` says.
   */
  maxFrame?: number;
}
