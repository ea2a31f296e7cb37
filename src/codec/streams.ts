/**
 * Framings as the stream shapes JavaScript already has: web `TransformStream`s
 * ({@link decodeStream}, {@link encodeStream}) and async iterables ({@link decode},
 * {@link encode}, what it-length-prefixed users write). The node:stream forms live in
 * `net/node-streams.ts`, because this layer imports no node I/O module.
 *
 * Theory of operation: each adapter owns one decoder or encoder (they are stateful)
 * and runs the sans-IO contract (types.ts) in a loop: push a chunk, take frames until
 * NEED_DATA; at the end of input call `end()` and take what is left. Nothing is added
 * between the codec and the stream:
 * - Backpressure is the stream's own. A web decode stream runs `transform` only while
 *   its readable side wants more (queue below its high-water mark, default 0 frames
 *   past the one being read, i.e. one input chunk at a time), so a slow consumer stops
 *   the pipe that feeds it. The async iterables pull the source only when the consumer
 *   asks for a frame that the buffered bytes cannot give.
 * - Memory: the decoder buffers at most one partial frame (bounded by the framing's
 *   `maxFrame`, checked at the header) plus the frames of one input chunk.
 * - Errors: the decoder's own, with their stable codes: `FrameError`
 *   (`SB_FRAME_TOO_LARGE`, ...) errors the stream; input that ends inside a frame is
 *   `UnexpectedEofError` `SB_UNEXPECTED_EOF`; an encoder that refuses a payload throws
 *   `InvalidArgumentError` (`SB_PAYLOAD_TOO_LARGE` for its size).
 * - Copies: a frame that lies within one input chunk is a view into it (do not mutate
 *   input chunks once written); an encoded frame is emitted as the encoder's chunks
 *   (header, then the payload itself, not copied).
 */
import { checkIterable } from '../arguments.js';
import { InvalidArgumentError } from '../errors.js';
import type { CheckedFramingSpec } from './framing-spec.js';
import { checkMaxFrameForFraming, parseFraming } from './spec.js';
import { type Decoder, type Framing, type FramingOptions, NEED_DATA } from './types.js';

/** A framing argument: a spec string (`'line'`, `'length:u16be'`, ...) or a {@link Framing}. */
export type FramingArgument<S extends string = string> = CheckedFramingSpec<S> | Framing;

/** Options of the stream adapters. */
export interface FramingStreamOptions extends FramingOptions {}

/** A payload the encoders take: bytes, or a string sent as UTF-8. */
export type FramePayload = Uint8Array | string;

/** The Framing named by `framing` (a spec string or a Framing object). */
export function toFraming(
  where: string,
  framing: string | Framing,
  options: FramingStreamOptions | undefined,
): Framing {
  if (typeof framing === 'string') {
    return parseFraming(framing, options);
  }
  if (
    framing === null ||
    typeof framing !== 'object' ||
    typeof framing.createDecoder !== 'function' ||
    typeof framing.createEncoder !== 'function'
  ) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `${where}: framing must be a spec string or a Framing`,
    );
  }
  checkMaxFrameForFraming(where, framing, options?.maxFrame);
  return framing;
}

const utf8 = new TextEncoder();

/** `payload` as bytes (a string is UTF-8), or the caller-fault error. */
export function payloadBytes(where: string, payload: unknown): Uint8Array {
  if (payload instanceof Uint8Array) {
    return payload;
  }
  if (typeof payload === 'string') {
    return utf8.encode(payload);
  }
  throw new InvalidArgumentError(
    'SB_INVALID_ARGUMENT',
    `${where}: a frame must be a Uint8Array or a string`,
  );
}

/** `chunk` as bytes, or the caller-fault error (the byte side takes only Uint8Array). */
export function chunkBytes(where: string, chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) {
    return chunk;
  }
  throw new InvalidArgumentError(
    'SB_INVALID_ARGUMENT',
    `${where}: input chunks must be Uint8Array`,
  );
}

/** Calls `emit` with every whole frame `decoder` holds. */
export function drainFrames(decoder: Decoder, emit: (frame: Uint8Array) => void): void {
  for (let frame = decoder.next(); frame !== NEED_DATA; frame = decoder.next()) {
    emit(frame);
  }
}

/**
 * A web `TransformStream` from bytes to frames: write the byte stream in, read one
 * `Uint8Array` per frame out. Errors the stream with the decoder's error
 * (`FrameError`, code e.g. `SB_FRAME_TOO_LARGE`), or with `UnexpectedEofError`
 * `SB_UNEXPECTED_EOF` when the input ends inside a frame. Backpressure: the transform
 * runs only while the frame side wants more.
 *
 * @param framing - A spec string (`'line'`, `'length:u32be'`, ...) or a {@link Framing}.
 * @param options - `maxFrame` for a spec string.
 * @throws InvalidArgumentError `SB_BAD_FRAMING_SPEC` / `SB_BAD_OPTION` at the call.
 *
 * @example
 * ```ts
 * import { decodeStream } from 'switchboard';
 *
 * const wire = ReadableStream.from([Uint8Array.of(0, 2, 0x68, 0x69, 0), Uint8Array.of(1, 0x21)]);
 * for await (const frame of wire.pipeThrough(decodeStream('length:u16be'))) {
 *   console.log(new TextDecoder().decode(frame)); // "hi", then "!"
 * }
 * ```
 */
export function decodeStream<S extends string = string>(
  framing: FramingArgument<S>,
  options?: FramingStreamOptions,
): TransformStream<Uint8Array, Uint8Array> {
  const decoder = toFraming('decodeStream', framing, options).createDecoder();
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      decoder.push(chunkBytes('decodeStream', chunk));
      drainFrames(decoder, (frame) => controller.enqueue(frame));
    },
    flush(controller) {
      decoder.end();
      drainFrames(decoder, (frame) => controller.enqueue(frame));
    },
  });
}

/**
 * A web `TransformStream` from frames to bytes: write payloads (`Uint8Array`, or a
 * string as UTF-8), read the wire bytes. Each frame comes out as the encoder's chunks
 * (header, then the payload, not copied: do not mutate a payload once written).
 * Errors with the encoder's InvalidArgumentError for a payload the framing cannot
 * carry: `SB_PAYLOAD_TOO_LARGE` when larger than maxFrame (or its length field),
 * `SB_INVALID_ARGUMENT` for content it cannot frame (a newline in a `line` payload).
 *
 * @param framing - A spec string or a {@link Framing}.
 * @param options - `maxFrame` for a spec string.
 *
 * @example
 * ```ts
 * import { encodeStream } from 'switchboard';
 *
 * const frames = ReadableStream.from(['hello', 'world']);
 * const wire = frames.pipeThrough(encodeStream('length:u16be'));
 * // 00 05 68 65 6c 6c 6f 00 05 77 6f 72 6c 64
 * ```
 */
export function encodeStream<S extends string = string>(
  framing: FramingArgument<S>,
  options?: FramingStreamOptions,
): TransformStream<FramePayload, Uint8Array> {
  const encoder = toFraming('encodeStream', framing, options).createEncoder();
  return new TransformStream<FramePayload, Uint8Array>({
    transform(payload, controller) {
      for (const part of encoder.encode(payloadBytes('encodeStream', payload))) {
        controller.enqueue(part);
      }
    },
  });
}

/**
 * Decodes any byte source (`AsyncIterable<Uint8Array>` such as a node Readable or a
 * web ReadableStream, or a plain iterable) into its frames, lazily: the source is read
 * only when the consumer wants a frame the buffered bytes cannot give. Breaking out of
 * the loop stops the source (its `return()` is called).
 *
 * @throws FrameError (e.g. `SB_FRAME_TOO_LARGE`) from the iteration; UnexpectedEofError
 *   `SB_UNEXPECTED_EOF` if the source ends inside a frame.
 *
 * @example
 * ```ts
 * import { decode } from 'switchboard';
 *
 * // Any AsyncIterable<Uint8Array> works: a node Readable (fs.createReadStream), a web
 * // ReadableStream, a socket.
 * for await (const frame of decode([Uint8Array.of(2, 0x68, 0x69, 1, 0x21)], 'varint')) {
 *   console.log(new TextDecoder().decode(frame)); // "hi", then "!"
 * }
 * ```
 */
export function decode<S extends string = string>(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  framing: FramingArgument<S>,
  options?: FramingStreamOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  // Resolved now, not at the first next(): a bad spec is the caller's error at the call.
  checkIterable('decode', 'source', source);
  const decoder = toFraming('decode', framing, options).createDecoder();
  return decodeFrom(source, decoder);
}

async function* decodeFrom(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  decoder: Decoder,
): AsyncGenerator<Uint8Array, void, undefined> {
  for await (const chunk of source) {
    decoder.push(chunkBytes('decode', chunk));
    for (let frame = decoder.next(); frame !== NEED_DATA; frame = decoder.next()) {
      yield frame;
    }
  }
  decoder.end();
  for (let frame = decoder.next(); frame !== NEED_DATA; frame = decoder.next()) {
    yield frame;
  }
}

/**
 * Encodes any source of payloads (`Uint8Array`, or strings as UTF-8) into wire bytes,
 * lazily, one chunk at a time (header, then the payload itself, not copied).
 *
 * @throws InvalidArgumentError from the iteration for a payload the framing cannot carry
 *   (`SB_PAYLOAD_TOO_LARGE`, or `SB_INVALID_ARGUMENT` for content such as a newline in a
 *   `line` payload).
 *
 * @example
 * ```ts
 * import { encode } from 'switchboard';
 *
 * const chunks: Uint8Array[] = [];
 * for await (const chunk of encode(['a', 'b'], 'netstring')) {
 *   chunks.push(chunk);
 * }
 * // "1:a,1:b," (a node Readable.from(encode(...)) pipes it into a file or socket)
 * ```
 */
export function encode<S extends string = string>(
  source: AsyncIterable<FramePayload> | Iterable<FramePayload>,
  framing: FramingArgument<S>,
  options?: FramingStreamOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  checkIterable('encode', 'source', source);
  const encoder = toFraming('encode', framing, options).createEncoder();
  return encodeFrom(source, encoder);
}

async function* encodeFrom(
  source: AsyncIterable<FramePayload> | Iterable<FramePayload>,
  encoder: ReturnType<Framing['createEncoder']>,
): AsyncGenerator<Uint8Array, void, undefined> {
  for await (const payload of source) {
    yield* encoder.encode(payloadBytes('encode', payload));
  }
}
