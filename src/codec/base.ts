/**
 * The base decoder every framing builds on, and helpers shared by the framings.
 *
 * Theory of operation
 * -------------------
 * A decoder is a small state machine over a {@link ByteQueue}:
 *
 * | state   | `push`          | `next()`                                   | `end()`                          |
 * |---------|-----------------|--------------------------------------------|----------------------------------|
 * | open    | appends         | `decodeFrame()`: a frame or NEED_DATA      | drains whole frames, -> ended    |
 * | ended   | InvalidArgument | drained frames, then NEED_DATA             | no-op                            |
 * | failed  | rethrows        | drained frames, then rethrows              | rethrows                         |
 *
 * Rules every subclass follows:
 * 1. A frame's bytes stay in the queue until the whole frame is there; only then
 *    are its header and body consumed, together. So `queue.consumed` is
 *    always the input offset of the first byte of the frame being decoded, which
 *    is the offset every FrameError carries (SPEC §2), and `inFrame` is simply
 *    "bytes are buffered". Subclasses may cache what they learned about the
 *    header (a parsed length, how far a delimiter search got) so that a frame
 *    arriving one byte at a time costs O(1) per byte, not O(header) per byte.
 * 2. Limits are checked as soon as the header is readable, before any body byte
 *    is waited for, so a header claiming 4 GiB fails with only the header buffered.
 * 3. Errors are created with {@link BaseDecoder.fail}, which makes them sticky.
 * 4. A decoder that knows a frame's wire length from its header waits with
 *    `return this.awaitFrame(wireLength)` rather than NEED_DATA, so a large frame is
 *    copied into its own buffer as it arrives (see byte-queue.ts, "Large frames").
 *    "Need more data" is the NEED_DATA return value, never an exception.
 *
 * The hot path is `next()` -> `decodeFrame()` with one state check; the ended and
 * failed states are handled off the hot path in `nextAfterStop()`. A subclass may
 * override `next()` with a fast path for its common case (the length and varint
 * decoders do), provided it only runs while the decoder is open (`state === 0`,
 * or a flag of its own cleared in `onStop()`) and defers to `super.next()` for
 * everything else, errors included.
 */
import { checkBytes } from '../arguments.js';
import {
  type ErrorCode,
  FrameError,
  InvalidArgumentError,
  type SwitchboardError,
  UnexpectedEofError,
} from '../errors.js';
import { ByteQueue } from './byte-queue.js';
import { type Decoder, NEED_DATA, type NeedData } from './types.js';

/**
 * The largest buffer every supported Node can allocate (`buffer.constants.MAX_LENGTH`
 * on Node 20: 4 GiB). A frame is assembled in one buffer, so with `maxFrame` above
 * it (or `Infinity`) a peer's larger frame failed in the allocation, with node's
 * RangeError instead of `SB_FRAME_TOO_LARGE`.
 */
export const MAX_FRAME_BUFFER = 2 ** 32;

/**
 * The largest frame a decoder returns whatever its `maxFrame`: {@link MAX_FRAME_BUFFER}
 * less 64 KiB for what the frame is taken with (its header or delimiter).
 */
export const MAX_DECODED_FRAME = MAX_FRAME_BUFFER - 2 ** 16;

/** `maxFrame` as a decoder enforces it: at most {@link MAX_DECODED_FRAME}. */
export function decoderLimit(maxFrame: number): number {
  return Math.min(maxFrame, MAX_DECODED_FRAME);
}

/** Placeholder for drained frames already handed out (so they can be collected). */
const EMPTY_FRAME = new Uint8Array(0);

/** States of a decoder. OPEN is 0 so that subclasses' fast paths can test `state === 0`. */
const OPEN = 0;
const ENDED = 1;
const FAILED = 2;

/**
 * Base class of the built-in decoders: owns the queue, the sticky error, the
 * end-of-input handling and error offsets. Subclasses implement
 * {@link BaseDecoder.decodeFrame} and may override {@link BaseDecoder.finish}.
 */
export abstract class BaseDecoder implements Decoder {
  /** The buffered input. */
  protected readonly queue = new ByteQueue();
  /** OPEN (0), ENDED or FAILED. Subclasses that override `next()` for speed test `state === 0`. */
  protected state = OPEN;
  private failure: SwitchboardError | undefined;
  /** Frames decoded by `end()` and not yet returned by `next()`. */
  private drained: Uint8Array[] = [];
  /** Index of the next frame of `drained` to return (an index, not `shift()`: O(1) each). */
  private drainedNext = 0;
  private drainedBytes = 0;

  /** Appends bytes. Throws the sticky error after a failure, and InvalidArgumentError after `end()`. */
  push(chunk: Uint8Array): void {
    if (!(chunk instanceof Uint8Array)) {
      checkBytes('Decoder.push', 'chunk', chunk);
    }
    if (this.state !== OPEN) {
      if (this.failure !== undefined) {
        throw this.failure;
      }
      throw new InvalidArgumentError('SB_INVALID_ARGUMENT', 'push() after end()');
    }
    this.queue.push(chunk);
  }

  /** The next frame, or NEED_DATA. See {@link Decoder.next}. */
  next(): Uint8Array | NeedData {
    if (this.state !== OPEN) {
      return this.nextAfterStop();
    }
    return this.decodeFrame();
  }

  /**
   * Declares the input finished. Whole frames still buffered stay available from
   * `next()`; then, if bytes remain that do not form a frame, throws
   * UnexpectedEofError (`SB_UNEXPECTED_EOF`, sticky) with the offset of the
   * partial frame. A FrameError met while draining is thrown (and sticky) too.
   */
  end(): void {
    if (this.state === FAILED) {
      throw this.failure;
    }
    if (this.state === ENDED) {
      return;
    }
    for (;;) {
      const frame = this.decodeFrame();
      if (frame === NEED_DATA) {
        break;
      }
      this.drained.push(frame);
      this.drainedBytes += frame.length;
    }
    this.state = ENDED;
    this.onStop();
    const last = this.finish();
    if (last !== undefined) {
      this.drained.push(last);
      this.drainedBytes += last.length;
    }
  }

  /** Bytes pushed and not yet returned as frames (including a partial frame). */
  get buffered(): number {
    return this.queue.length + this.drainedBytes;
  }

  /**
   * Bytes allocated for the frame being received beyond those received (a large frame
   * assembled as it arrives; never more than {@link BaseDecoder.buffered}). Memory
   * accounting adds it to `buffered`.
   */
  get reserved(): number {
    return this.queue.reserved;
  }

  /** True when part of a frame is buffered. */
  get inFrame(): boolean {
    return this.queue.length > 0;
  }

  /**
   * Work counters of the input queue, for tests that check linear-time decoding and
   * count the bytes copied and allocated for frames (see ByteQueue) without timing.
   */
  get work(): {
    bytesSearched: number;
    cursorSteps: number;
    bytesCopied: number;
    bytesAllocated: number;
  } {
    const queue = this.queue;
    return {
      bytesSearched: queue.bytesSearched,
      cursorSteps: queue.cursorSteps,
      bytesCopied: queue.bytesCopied,
      bytesAllocated: queue.bytesAllocated,
    };
  }

  /**
   * NEED_DATA for a frame whose header said it is `wireLength` bytes on the wire
   * (header included, counted from the frame's first byte) and is not all here yet:
   * lets the queue assemble a large frame as it arrives (ByteQueue.expectFrame).
   */
  protected awaitFrame(wireLength: number): NeedData {
    if (wireLength > MAX_FRAME_BUFFER) {
      // Only reached with a maxFrame near 4 GiB: decoders check maxFrame first.
      throw this.fail(
        'SB_FRAME_TOO_LARGE',
        `frame of ${wireLength} bytes with its header exceeds the largest buffer, ${MAX_FRAME_BUFFER} bytes`,
      );
    }
    this.queue.expectFrame(wireLength);
    return NEED_DATA;
  }

  /** Input offset of the first byte of the frame being decoded. */
  protected get frameOffset(): number {
    return this.queue.consumed;
  }

  /**
   * Decodes one frame from the queue or returns NEED_DATA. Errors are thrown with
   * `throw this.fail(...)`.
   */
  protected abstract decodeFrame(): Uint8Array | NeedData;

  /**
   * Called once by `end()` after every whole frame was drained. Returns a final
   * frame (the `eof` framing), or undefined. The default throws
   * `SB_UNEXPECTED_EOF` when bytes remain.
   */
  protected finish(): Uint8Array | undefined {
    if (this.queue.length > 0) {
      throw this.failEof(`input ended inside a frame (${this.queue.length} bytes buffered)`);
    }
    return undefined;
  }

  /** Records a sticky FrameError at the current frame's offset and returns it for `throw`. */
  protected fail(code: ErrorCode, message: string): FrameError {
    const error = new FrameError(code, message, { offset: this.frameOffset });
    this.failure = error;
    this.state = FAILED;
    this.onStop();
    return error;
  }

  /** Records a sticky UnexpectedEofError at the current frame's offset and returns it. */
  protected failEof(message: string): UnexpectedEofError {
    const error = new UnexpectedEofError(message, { offset: this.frameOffset });
    this.failure = error;
    this.state = FAILED;
    this.onStop();
    return error;
  }

  /**
   * Called when the decoder leaves the open state (ended or failed): a subclass
   * with a `next()` fast path turns it off here, so that its hot path tests one
   * flag of its own instead of the state and its layout.
   */
  protected onStop(): void {}

  private nextAfterStop(): Uint8Array | NeedData {
    const frame = this.drained[this.drainedNext];
    if (frame !== undefined) {
      this.drained[this.drainedNext++] = EMPTY_FRAME;
      this.drainedBytes -= frame.length;
      return frame;
    }
    if (this.failure !== undefined) {
      throw this.failure;
    }
    return NEED_DATA;
  }
}

/** The error an encoder throws for a payload larger than the peer accepts. */
export function payloadTooLarge(spec: string, size: number, max: number): InvalidArgumentError {
  return new InvalidArgumentError(
    'SB_PAYLOAD_TOO_LARGE',
    `${spec}: payload of ${size} bytes exceeds maxFrame ${max}`,
  );
}

/**
 * Throws `SB_INVALID_ARGUMENT` unless `payload` is bytes: an encoder called from plain
 * JavaScript with null, a number or a string (the stream helpers convert strings) gets
 * the library's caller-fault error, not a TypeError from `payload.length`.
 */
export function checkPayload(spec: string, payload: unknown): asserts payload is Uint8Array {
  if (!(payload instanceof Uint8Array)) {
    checkBytes(`${spec} encode`, 'payload', payload);
  }
}

/**
 * {@link checkPayload}, and throws `SB_PAYLOAD_TOO_LARGE` when `payload` is longer than
 * `maxFrame`: the first lines of every encoder whose limit is the payload's length.
 */
export function checkPayloadFits(
  spec: string,
  payload: unknown,
  maxFrame: number,
): asserts payload is Uint8Array {
  checkPayload(spec, payload);
  if (payload.length > maxFrame) {
    throw payloadTooLarge(spec, payload.length, maxFrame);
  }
}

/** The error an encoder throws for a payload whose content the peer would misread. */
export function badPayload(spec: string, reason: string): InvalidArgumentError {
  return new InvalidArgumentError('SB_INVALID_ARGUMENT', `${spec}: ${reason}`);
}

/** The message of a decoder's SB_FRAME_TOO_LARGE error. */
export function tooLargeMessage(spec: string, size: number | string, max: number): string {
  return `${spec}: frame of ${size} bytes exceeds maxFrame ${max}`;
}
