/**
 * MessageSplitter: cuts one direction's byte stream into the wire bytes of each message,
 * with the framing's sans-IO decoder, without changing a byte.
 *
 * Theory of operation
 * -------------------
 * Every chunk is kept in `pending` and pushed to the decoder. The decoder keeps a frame's
 * bytes buffered until the whole frame is there (codec/base.ts rule 1), so after it
 * returns a frame, `pushed - decoder.buffered` is the wire offset just past that frame:
 * the frame's wire bytes are `[messageStart, that offset)`. Segments leave in order:
 *
 *     chunk --> pending --> [message segment] [message segment] [raw tail]
 *
 * - `hold` false (no message fault applies): after the whole frames, the tail of a
 *   partial frame leaves at once as a raw segment, so timing and chunking are what the
 *   sender produced (the tap never changes the traffic). The frame it belongs to is then
 *   reported with `whole: false` (part of it already left): no fault may act on it.
 * - `hold` true: the tail stays until its frame completes, so a fault can act on the
 *   frame as a whole. The decoder bounds what is held by the framing's maxFrame.
 * - A FrameError makes the splitter fail for good: everything pending leaves raw, and
 *   every later chunk is one raw segment (plain bytes, never dropped or altered).
 *
 * Cost: O(1) per chunk and per frame beyond the decoder's own work; a frame spanning
 * chunks is concatenated once.
 */

import { drainFrames } from '../codec/streams.js';
import { type Decoder, type Framing, NEED_DATA } from '../codec/types.js';
import { SwitchboardError } from '../errors.js';

/** A run of wire bytes, and the message it carries when it is one. */
export interface Segment {
  bytes: Buffer;
  message?: { payload: Uint8Array; whole: boolean };
}

/** Why a splitter failed (a FrameError's code and message). */
export interface SplitterFailure {
  code: string;
  message: string;
}

export class MessageSplitter {
  private readonly decoder: Decoder;
  private pending: Buffer[] = [];
  private pushed = 0;
  /** Wire offset of the first pending byte. */
  private emitted = 0;
  /** Wire offset where the message being decoded starts. */
  private messageStart = 0;
  /** Set once the framing failed; the direction is plain bytes from then on. */
  failure: SplitterFailure | undefined;

  constructor(framing: Framing) {
    this.decoder = framing.createDecoder();
  }

  /**
   * True when the last push or {@link resume} stopped at its `limit` with whole frames
   * still undecoded: call {@link resume} for them (and for the raw tail after them).
   */
  more = false;

  /**
   * Splits `chunk` into segments (see the module header for `hold`), at most `limit`
   * messages: a 64 KiB chunk of one-byte messages is 64 Ki segments, hundreds of bytes
   * of objects each, so the caller takes them as its queue has room ({@link more}).
   */
  push(chunk: Buffer, hold: boolean, limit = Number.POSITIVE_INFINITY): Segment[] {
    if (this.failure !== undefined) {
      return [{ bytes: chunk }];
    }
    this.pending.push(chunk);
    this.pushed += chunk.length;
    try {
      this.decoder.push(chunk);
    } catch (error) {
      this.failure = describe(error);
      return [{ bytes: this.take(this.pushed) }].filter((segment) => segment.bytes.length > 0);
    }
    return this.split(hold, limit);
  }

  /** Goes on splitting what the last push left undecoded ({@link more}), at most `limit` messages. */
  resume(hold: boolean, limit = Number.POSITIVE_INFINITY): Segment[] {
    if (this.failure !== undefined || !this.more) {
      return [];
    }
    return this.split(hold, limit);
  }

  private split(hold: boolean, limit: number): Segment[] {
    this.more = false;
    const segments: Segment[] = [];
    try {
      for (;;) {
        if (segments.length >= limit) {
          this.more = true;
          return segments;
        }
        const frame = this.decoder.next();
        if (frame === NEED_DATA) {
          break;
        }
        const end = this.pushed - this.decoder.buffered;
        const whole = this.messageStart >= this.emitted;
        segments.push({ bytes: this.take(end), message: { payload: frame, whole } });
        this.messageStart = end;
      }
    } catch (error) {
      this.failure = describe(error);
      segments.push({ bytes: this.take(this.pushed) });
      return segments.filter((segment) => segment.bytes.length > 0 || segment.message);
    }
    if (!hold && this.emitted < this.pushed) {
      segments.push({ bytes: this.take(this.pushed) });
    }
    return segments;
  }

  /**
   * The held tail of a partial frame, as one raw segment, once nothing needs it held
   * (the last message fault was removed), so bytes never wait for a fault that is gone.
   */
  release(): Segment[] {
    if (this.failure !== undefined || this.more || this.emitted >= this.pushed) {
      return [];
    }
    return [{ bytes: this.take(this.pushed) }];
  }

  /**
   * The input ended: whatever is pending leaves raw. Returns the raw segment (if any) and
   * the frames only EOF completes (the `eof` framing), reported with `whole: false`.
   */
  end(): { segments: Segment[]; frames: Uint8Array[]; failure?: SplitterFailure } {
    this.more = false;
    const segments: Segment[] = [];
    if (this.emitted < this.pushed) {
      segments.push({ bytes: this.take(this.pushed) });
    }
    if (this.failure !== undefined) {
      return { segments, frames: [] };
    }
    const frames: Uint8Array[] = [];
    try {
      this.decoder.end();
      drainFrames(this.decoder, (frame) => frames.push(frame));
    } catch (error) {
      this.failure = describe(error);
      return { segments, frames, failure: this.failure };
    }
    return { segments, frames };
  }

  /** Removes pending bytes up to wire offset `end` and returns them as one buffer. */
  private take(end: number): Buffer {
    let need = end - this.emitted;
    if (need <= 0) {
      return Buffer.alloc(0);
    }
    this.emitted = end;
    const first = this.pending[0]!;
    if (first.length === need) {
      this.pending.shift();
      return first;
    }
    if (first.length > need) {
      this.pending[0] = first.subarray(need);
      return first.subarray(0, need);
    }
    const parts: Buffer[] = [];
    while (need > 0) {
      const head = this.pending[0]!;
      if (head.length <= need) {
        parts.push(head);
        this.pending.shift();
        need -= head.length;
      } else {
        parts.push(head.subarray(0, need));
        this.pending[0] = head.subarray(need);
        need = 0;
      }
    }
    return Buffer.concat(parts);
  }
}

function describe(error: unknown): SplitterFailure {
  if (error instanceof SwitchboardError) {
    return { code: error.code, message: error.message };
  }
  return { code: 'SB_FRAME_ERROR', message: 'the framing failed' };
}
