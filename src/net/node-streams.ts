/**
 * Framings as node:stream `Transform`s, for `stream.pipeline()`: {@link decodeTransform}
 * (bytes in, one object per frame out) and {@link encodeTransform} (payload objects in,
 * bytes out). The web and async-iterable forms are in codec/streams.ts; these live
 * here because the codec layer imports no node I/O module.
 *
 * Theory of operation: the same loop as codec/streams.ts (push a chunk, take frames
 * until NEED_DATA; at the end `end()` and take the rest) inside a Transform. The frame
 * side is in object mode, so its high-water mark counts frames (node's default, 16);
 * a consumer that stops reading fills it, `push()` then returns false and node stops
 * calling `transform`, which stops the source: backpressure is node's own. Errors are
 * the codec's, with their stable codes (`SB_FRAME_TOO_LARGE`, `SB_UNEXPECTED_EOF` when
 * the input ends inside a frame, `SB_PAYLOAD_TOO_LARGE` for a payload the encoder
 * refuses); they destroy the Transform, and pipeline() rejects with them.
 */

import { Transform, type TransformCallback } from 'node:stream';
import { checkOptionsObject } from '../arguments.js';
import {
  chunkBytes,
  drainFrames,
  type FramingArgument,
  type FramingStreamOptions,
  payloadBytes,
  toFraming,
} from '../codec/streams.js';
import { InvalidArgumentError, toSwitchboardError } from '../errors.js';

/** Options of {@link decodeTransform} and {@link encodeTransform}. */
export interface FramingTransformOptions extends FramingStreamOptions {
  /** High-water mark of the object-mode side, in frames. Default node's (16). */
  frameHighWaterMark?: number;
}

function errorOf(error: unknown): Error {
  return error instanceof Error ? error : toSwitchboardError(error);
}

/** The options of a framing Transform, checked: a bad `frameHighWaterMark` is ours to name. */
function transformOptions(given: FramingTransformOptions | undefined): FramingTransformOptions {
  const options = checkOptionsObject('decodeTransform/encodeTransform', given) ?? {};
  const mark = options.frameHighWaterMark;
  if (mark !== undefined && (typeof mark !== 'number' || !Number.isSafeInteger(mark) || mark < 0)) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      'decodeTransform/encodeTransform: option "frameHighWaterMark" must be an integer >= 0 (frames)',
    );
  }
  return options;
}

/**
 * A node `Transform` from bytes (Buffer/Uint8Array chunks) to frames (object mode: one
 * Buffer per frame, a view into the input when the frame lies within one chunk).
 *
 * @example
 * ```ts
 * import { Readable } from 'node:stream';
 * import { pipeline } from 'node:stream/promises';
 * import { decodeTransform, encodeTransform } from 'switchboard';
 *
 * // Re-frame lines as length-prefixed frames (the source could be createReadStream('in.txt')).
 * await pipeline(
 *   Readable.from([Buffer.from('one\ntw'), Buffer.from('o\n')]),
 *   decodeTransform('line'),
 *   encodeTransform('length:u32be'),
 *   process.stdout,
 * );
 * ```
 */
export function decodeTransform<S extends string = string>(
  framing: FramingArgument<S>,
  given: FramingTransformOptions = {},
): Transform {
  const { frameHighWaterMark, ...framingOptions } = transformOptions(given);
  const decoder = toFraming('decodeTransform', framing, framingOptions).createDecoder();
  return new Transform({
    readableObjectMode: true,
    ...(frameHighWaterMark === undefined ? {} : { readableHighWaterMark: frameHighWaterMark }),
    transform(chunk: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
      try {
        decoder.push(chunkBytes('decodeTransform', chunk));
        drainFrames(decoder, (frame) => this.push(asBuffer(frame)));
      } catch (error) {
        callback(errorOf(error));
        return;
      }
      callback();
    },
    flush(callback: TransformCallback): void {
      try {
        decoder.end();
        drainFrames(decoder, (frame) => this.push(asBuffer(frame)));
      } catch (error) {
        callback(errorOf(error));
        return;
      }
      callback();
    },
  });
}

/**
 * A node `Transform` from payloads (object mode: Uint8Array/Buffer, or a string as
 * UTF-8) to the framing's wire bytes.
 *
 * @example
 * ```ts
 * import { Readable } from 'node:stream';
 * import { pipeline } from 'node:stream/promises';
 * import { encodeTransform } from 'switchboard';
 *
 * await pipeline(Readable.from(['a', 'b']), encodeTransform('netstring'), process.stdout);
 * // 1:a,1:b,
 * ```
 */
export function encodeTransform<S extends string = string>(
  framing: FramingArgument<S>,
  given: FramingTransformOptions = {},
): Transform {
  const { frameHighWaterMark, ...framingOptions } = transformOptions(given);
  const encoder = toFraming('encodeTransform', framing, framingOptions).createEncoder();
  return new Transform({
    writableObjectMode: true,
    ...(frameHighWaterMark === undefined ? {} : { writableHighWaterMark: frameHighWaterMark }),
    transform(payload: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
      try {
        for (const part of encoder.encode(payloadBytes('encodeTransform', payload))) {
          this.push(part);
        }
      } catch (error) {
        callback(errorOf(error));
        return;
      }
      callback();
    },
  });
}

/** A Buffer over the same memory (no copy), so object-mode consumers get Buffer methods. */
function asBuffer(frame: Uint8Array): Buffer {
  return Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.length);
}
