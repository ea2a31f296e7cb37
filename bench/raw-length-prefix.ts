/**
 * The "careful hand-written" raw baseline: a u32be length-prefix decoder and writer
 * over plain node:net, written the way an experienced engineer would without a library.
 *
 * Theory of operation (decoder): frames that lie wholly inside one chunk are handed out
 * as `subarray` views (no copy). Bytes left over at the end of a chunk are kept as a
 * list; when a frame spans chunks, its bytes are copied once into a buffer of the exact
 * frame size, allocated as soon as the header is known. A 4-byte header split across
 * chunks is assembled in a small scratch buffer. Each byte is looked at once: O(n).
 * There is no maximum frame size beyond `maxFrame` checked at the header.
 */

/** Called for each decoded frame; the view is only valid during the call. */
export type FrameSink = (frame: Uint8Array) => void;

/** A careful u32be length-prefix decoder. */
export class RawLengthPrefixDecoder {
  private readonly header = Buffer.alloc(4);
  private headerFilled = 0;
  /** The frame being assembled across chunks, or undefined between frames. */
  private partial: Buffer | undefined;
  private partialFilled = 0;

  constructor(
    private readonly onFrame: FrameSink,
    private readonly maxFrame = 8 * 1024 * 1024,
  ) {}

  push(chunk: Buffer): void {
    let offset = 0;
    const length = chunk.length;
    while (offset < length) {
      if (this.partial !== undefined) {
        const wanted = this.partial.length - this.partialFilled;
        const take = Math.min(wanted, length - offset);
        chunk.copy(this.partial, this.partialFilled, offset, offset + take);
        this.partialFilled += take;
        offset += take;
        if (this.partialFilled === this.partial.length) {
          const frame = this.partial;
          this.partial = undefined;
          this.onFrame(frame);
        }
        continue;
      }
      let frameLength: number;
      if (this.headerFilled === 0 && length - offset >= 4) {
        frameLength = chunk.readUInt32BE(offset);
        offset += 4;
      } else {
        // Header split across chunks: gather it byte by byte into the scratch buffer.
        while (this.headerFilled < 4 && offset < length) {
          this.header[this.headerFilled] = chunk[offset]!;
          this.headerFilled += 1;
          offset += 1;
        }
        if (this.headerFilled < 4) {
          return;
        }
        this.headerFilled = 0;
        frameLength = this.header.readUInt32BE(0);
      }
      if (frameLength > this.maxFrame) {
        throw new RangeError(`frame of ${frameLength} bytes exceeds ${this.maxFrame}`);
      }
      if (length - offset >= frameLength) {
        this.onFrame(chunk.subarray(offset, offset + frameLength));
        offset += frameLength;
      } else {
        this.partial = Buffer.allocUnsafe(frameLength);
        this.partialFilled = 0;
      }
    }
  }
}

/** Encodes `payload` as `count` consecutive u32be-prefixed frames in one buffer. */
export function encodeFramesU32(payload: Uint8Array, count: number): Buffer {
  const frameSize = 4 + payload.length;
  const out = Buffer.allocUnsafe(frameSize * count);
  for (let index = 0; index < count; index += 1) {
    out.writeUInt32BE(payload.length, index * frameSize);
    out.set(payload, index * frameSize + 4);
  }
  return out;
}

/** Encodes an unsigned LEB128 varint (as it-length-prefixed and length-prefixed-stream use). */
export function encodeVarint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** Encodes `payload` as `count` consecutive varint-prefixed frames in one buffer. */
export function encodeFramesVarint(payload: Uint8Array, count: number): Buffer {
  const prefix = encodeVarint(payload.length);
  const frameSize = prefix.length + payload.length;
  const out = Buffer.allocUnsafe(frameSize * count);
  for (let index = 0; index < count; index += 1) {
    out.set(prefix, index * frameSize);
    out.set(payload, index * frameSize + prefix.length);
  }
  return out;
}

/**
 * A careful raw writer: frames are packed into a batch buffer and written with one
 * `write()` per batch, waiting for 'drain' when the socket says so.
 */
export class RawFrameWriter {
  private batch: Buffer;
  private filled = 0;

  constructor(
    private readonly socket: import('node:net').Socket,
    batchBytes = 64 * 1024,
  ) {
    this.batch = Buffer.allocUnsafe(batchBytes);
  }

  /** Queues one frame; returns false when the caller should await {@link flush}. */
  send(payload: Uint8Array): boolean {
    const needed = 4 + payload.length;
    if (needed > this.batch.length - this.filled) {
      const flushed = this.writeBatch();
      if (needed > this.batch.length) {
        // A frame larger than the batch goes out as header + body (no copy of the body).
        const header = Buffer.allocUnsafe(4);
        header.writeUInt32BE(payload.length, 0);
        this.socket.write(header);
        return this.socket.write(payload) && flushed;
      }
      this.batch.writeUInt32BE(payload.length, this.filled);
      this.batch.set(payload, this.filled + 4);
      this.filled += needed;
      return flushed;
    }
    this.batch.writeUInt32BE(payload.length, this.filled);
    this.batch.set(payload, this.filled + 4);
    this.filled += needed;
    return true;
  }

  /** Writes the pending batch; returns what socket.write returned. */
  writeBatch(): boolean {
    if (this.filled === 0) {
      return true;
    }
    const out = this.batch.subarray(0, this.filled);
    // The socket keeps a reference to `out` until written: start a fresh batch buffer.
    this.batch = Buffer.allocUnsafe(this.batch.length);
    this.filled = 0;
    return this.socket.write(out);
  }
}

/**
 * The least a `for await` receiver can cost: the hand decoder's frames pushed into an
 * array, read through a hand-written async iterator (a pre-resolved promise per queued
 * frame, one parked resolver when the array is empty). No limit, no error or end
 * handling beyond what the benchmark needs: it is the ceiling of any library whose
 * users write `for await (const frame of source)`, because the language awaits once
 * per iteration however cheap the iterator is.
 */
export class RawFrameIterator implements AsyncIterableIterator<Uint8Array> {
  private frames: Uint8Array[] = [];
  private head = 0;
  private parked: ((result: IteratorResult<Uint8Array>) => void) | undefined;

  /** The decoder's sink: queue `frame`, or hand it straight to a parked reader. */
  readonly push = (frame: Uint8Array): void => {
    const parked = this.parked;
    if (parked !== undefined) {
      this.parked = undefined;
      parked({ value: frame, done: false });
      return;
    }
    this.frames.push(frame);
  };

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.head < this.frames.length) {
      const frame = this.frames[this.head]!;
      this.head += 1;
      if (this.head === this.frames.length) {
        this.frames = [];
        this.head = 0;
      }
      return Promise.resolve({ value: frame, done: false });
    }
    return new Promise((resolve) => {
      this.parked = resolve;
    });
  }
}
