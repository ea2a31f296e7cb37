/**
 * FrameQueue: a Channel's inbound messages, decoded and not yet read, and the readers
 * waiting for them (`receive()`, `tryReceive()`, `for await`, `batches()`).
 *
 * Theory of operation
 * -------------------
 * The channel's read loop pushes each decoded message; readers take them, oldest first,
 * each message by exactly one reader. Storage is `frames[head..tail)`; an emptied queue
 * restarts at slot 0 and keeps its array (up to MAX_KEPT_SLOTS), so a request/reply
 * exchange allocates no storage per message. The queue is bounded by the channel's
 * `maxQueuedInput`: the read loop asks {@link FrameQueue.pauseIfFull} before each frame
 * and stops at the limit; a take that brings the queue down to half the limit
 * (hysteresis) calls the owner's `resumeReading()`. A frame costs memory beyond its
 * payload (its view object and slot, ~{@link FRAME_OVERHEAD_BYTES}), and a zero-byte
 * frame costs nothing against a byte limit: 1 MiB of varint 0x00 was 1,048,576 queued
 * frames (~58 MB). So the queue also stops at `maxQueuedInput / FRAME_OVERHEAD_BYTES`
 * frames (at least 1024), and {@link FrameQueue.heldBytes} counts the overhead.
 *
 * Readers, cheapest first:
 * | queue state             | reader                | gets                                        |
 * | ----------------------- | --------------------- | ------------------------------------------- |
 * | a frame queued          | any                   | it, from an already resolved promise        |
 * | empty, reading over     | any                   | the end (`null` / done) or the error        |
 * | empty, open             | the first, no deadline| parks in the one slot: settled by wake()    |
 * |                         |                       |   with its result directly (no re-check hop)|
 * | empty, open             | others, no deadline   | share one signal promise, then re-check     |
 * | empty, open             | with a deadline/abort | waitUntil() on the owner (an observer)      |
 * "Reading over" (the channel failed, was destroyed, closed or suspended, or the input
 * ended) is the owner's state, asked only when the queue is empty. The owner calls
 * {@link FrameQueue.wake} whenever its state may have changed.
 */
import { NEED_DATA, type NeedData } from '../codec/types.js';
import { TimeoutError } from '../errors.js';
import { type CallOptions, type Clock, type Observable, waitUntil } from './clock.js';

/** What the queue needs from its channel. */
export interface FrameQueueOwner extends Observable {
  /** True when no more frames will be queued, or readers are to be answered as if so. */
  readingOver(): boolean;
  /** Once {@link readingOver}: what a reader of the empty queue gets: null (a clean end) or an error. */
  readEnd(): Error | null;
  /** Reading paused at the limit, and the queue has drained to half of it: read again. */
  resumeReading(): void;
  /** Frames were taken (only while {@link FrameQueue.reportsTakes}): for the input account. */
  reportInput(): void;
  /** A reader now waits without a deadline (only while {@link FrameQueue.watchesReaders}). */
  readerWaits(): void;
}

/** Where {@link FrameQueue.fill} takes frames from (a Decoder). */
export interface FrameSource {
  next(): Uint8Array | NeedData;
}

/** What a waiting reader wants: receive()'s frame, for await's IteratorResult, or a batches() array. */
const READ_FRAME = 0;
const READ_ITERATOR = 1;
const READ_BATCH = 2;
type ReaderMode = typeof READ_FRAME | typeof READ_ITERATOR | typeof READ_BATCH;

/**
 * What one queued frame costs beyond its payload bytes (a Uint8Array view and its
 * slot): the unit of the frame-count bound and of the input budget's count.
 */
export const FRAME_OVERHEAD_BYTES = 64;
/** The frame-count bound is at least this, so a small byte limit still batches. */
const MIN_FRAME_LIMIT = 1024;

/** An emptied queue keeps its array up to this many slots. */
const MAX_KEPT_SLOTS = 64;
const EMPTY = new Uint8Array(0);
const DONE: IteratorResult<never> = Object.freeze({ value: undefined, done: true });

/** One channel's inbound queue and its readers. */
export class FrameQueue {
  /** Tell the owner of every take (it has an input account). */
  reportsTakes = false;
  /** Tell the owner whenever a reader starts waiting (endInputWhenIdle is on). */
  watchesReaders = false;
  private readonly owner: FrameQueueOwner;
  private readonly clock: Clock;
  private readonly limit: number;
  /** Frames queued at most (see the module comment). */
  private readonly frameLimit: number;
  /** `frames[head..tail)`, oldest first; slots from `tail` on are EMPTY. */
  private frames: Uint8Array[] = [];
  private head = 0;
  private tail = 0;
  private queuedBytes = 0;
  private readingPaused = false;
  private countPause = false;
  /**
   * The one reader parked without a deadline, settled by wake(): its promise's resolve
   * and reject, and what it wants. Fields rather than an object: one allocation less
   * per message for a reader that keeps up.
   */
  private parkedResolve: ((value: unknown) => void) | undefined;
  private parkedReject: ((error: Error) => void) | undefined;
  private parkedMode: ReaderMode = READ_FRAME;
  /** Shared by further readers waiting without a deadline; resolved by wake(). */
  private readableSignal: Promise<void> | undefined;
  private resolveReadable: (() => void) | undefined;

  constructor(owner: FrameQueueOwner, clock: Clock, limit: number) {
    this.owner = owner;
    this.clock = clock;
    this.limit = limit;
    this.frameLimit = Math.max(MIN_FRAME_LIMIT, Math.ceil(limit / FRAME_OVERHEAD_BYTES));
  }

  /** Messages queued. */
  get size(): number {
    return this.tail - this.head;
  }

  /** Payload bytes queued. */
  get bytes(): number {
    return this.queuedBytes;
  }

  /** Memory the queued frames hold: payload bytes plus each frame's overhead. */
  get heldBytes(): number {
    return this.queuedBytes + (this.tail - this.head) * FRAME_OVERHEAD_BYTES;
  }

  /** True while reading is paused at the limit (until a take drains to half). */
  get paused(): boolean {
    return this.readingPaused;
  }

  /** True when a reader waits without a deadline (parked, or on the shared signal). */
  get hasParkedReader(): boolean {
    return this.parkedResolve !== undefined;
  }

  /** True when further readers wait on the shared signal. */
  get hasSignalWaiters(): boolean {
    return this.resolveReadable !== undefined;
  }

  /** True when the last pause was at the frame-count bound rather than the byte limit. */
  get pausedOnCount(): boolean {
    return this.countPause;
  }

  /** True (and reading is paused from now on) when the queue holds its limit. */
  pauseIfFull(): boolean {
    if (this.queuedBytes >= this.limit || this.tail - this.head >= this.frameLimit) {
      this.countPause = this.queuedBytes < this.limit;
      this.readingPaused = true;
      return true;
    }
    return false;
  }

  push(frame: Uint8Array): void {
    this.frames[this.tail] = frame;
    this.tail += 1;
    this.queuedBytes += frame.length;
  }

  /**
   * Appends the frames `source` has, until it needs data, `maxFrames` were appended
   * (the read loop's per-turn budget, channel-input.ts), or the queue holds its limit
   * in bytes or frames (checked before each frame, as pauseIfFull is: at most one frame
   * past the byte limit). One tight loop over locals: this is the receive hot path.
   * @throws what `source.next()` throws; the frames appended before it stay queued.
   */
  fill(source: FrameSource, maxFrames: number): void {
    const limit = this.limit;
    const frames = this.frames;
    let tail = this.tail;
    let bytes = this.queuedBytes;
    // The frame-count bound of pauseIfFull and the budget, as one last slot index: the
    // budget costs no extra test per frame.
    const tailLimit = Math.min(this.head + this.frameLimit, tail + maxFrames);
    try {
      while (bytes < limit && tail < tailLimit) {
        const frame = source.next();
        if (frame === NEED_DATA) {
          break;
        }
        frames[tail] = frame;
        tail += 1;
        bytes += frame.length;
      }
    } finally {
      this.tail = tail;
      this.queuedBytes = bytes;
    }
  }

  /** Drops every queued message (destroy()). */
  clear(): void {
    this.frames = [];
    this.head = 0;
    this.tail = 0;
    this.queuedBytes = 0;
  }

  /** True when a reader would not wait: a message is queued, or reading is over. */
  isReceivable(): boolean {
    return this.head < this.tail || this.owner.readingOver();
  }

  /** The owner's state may have changed: settles the readers that can be answered. */
  wake(): void {
    if (this.parkedResolve !== undefined && this.isReceivable()) {
      // Resolve the parked reader with its result directly: no wake-up-and-recheck hops.
      this.settleParked();
    }
    const resolveReadable = this.resolveReadable;
    if (resolveReadable !== undefined && this.isReceivable()) {
      this.readableSignal = undefined;
      this.resolveReadable = undefined;
      resolveReadable();
    }
  }

  /** Channel.receive(). */
  receive(options: CallOptions | undefined): Promise<Uint8Array | null> {
    // Fast path without an async function frame: a frame is already queued.
    if (this.head < this.tail) {
      return Promise.resolve(this.takeFrame());
    }
    if (this.canPark(options)) {
      return new Promise<Uint8Array | null>((resolve, reject) => {
        this.park(resolve as (value: unknown) => void, reject, READ_FRAME);
      });
    }
    return this.receiveSlow(options, READ_FRAME) as Promise<Uint8Array | null>;
  }

  /** Channel.tryReceive(): a message, undefined (none yet), null (the end); throws the error. */
  tryReceive(): Uint8Array | null | undefined {
    if (this.head < this.tail) {
      return this.takeFrame();
    }
    if (!this.owner.readingOver()) {
      return undefined;
    }
    const end = this.owner.readEnd();
    if (end !== null) {
      throw end;
    }
    return null;
  }

  /** The body of {@link ChannelIterator.next}. */
  iteratorNext(): Promise<IteratorResult<Uint8Array>> {
    if (this.head < this.tail) {
      return Promise.resolve({ value: this.takeFrame(), done: false });
    }
    if (this.canPark(undefined)) {
      return new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
        this.park(resolve as (value: unknown) => void, reject, READ_ITERATOR);
      });
    }
    return this.receiveSlow(undefined, READ_ITERATOR) as Promise<IteratorResult<Uint8Array>>;
  }

  /** The body of {@link ChannelBatches.next}. */
  batchNext(): Promise<IteratorResult<Uint8Array[]>> {
    if (this.head < this.tail) {
      return Promise.resolve({ value: this.takeAll(), done: false });
    }
    if (this.canPark(undefined)) {
      return new Promise<IteratorResult<Uint8Array[]>>((resolve, reject) => {
        this.park(resolve as (value: unknown) => void, reject, READ_BATCH);
      });
    }
    return this.receiveSlow(undefined, READ_BATCH) as Promise<IteratorResult<Uint8Array[]>>;
  }

  /** A reader may park in the single direct slot: no deadline, nobody parked, nothing to report yet. */
  private canPark(options: CallOptions | undefined): boolean {
    return (
      this.parkedResolve === undefined &&
      (options === undefined || ((options.timeout ?? 0) === 0 && options.signal === undefined)) &&
      !this.isReceivable()
    );
  }

  private park(
    resolve: (value: unknown) => void,
    reject: (error: Error) => void,
    mode: ReaderMode,
  ): void {
    this.parkedResolve = resolve;
    this.parkedReject = reject;
    this.parkedMode = mode;
    if (this.watchesReaders) {
      this.owner.readerWaits();
    }
  }

  /** Settles the parked reader from the current state (called by wake() when receivable). */
  private settleParked(): void {
    const resolve = this.parkedResolve!;
    const reject = this.parkedReject!;
    const mode = this.parkedMode;
    this.parkedResolve = undefined;
    this.parkedReject = undefined;
    if (this.head < this.tail) {
      resolve(this.take(mode));
      return;
    }
    const end = this.owner.readEnd();
    if (end !== null) {
      reject(end);
    } else {
      resolve(mode === READ_FRAME ? null : DONE);
    }
  }

  /** Takes what a reader of `mode` gets when at least one frame is queued. */
  private take(mode: ReaderMode): unknown {
    if (mode === READ_FRAME) {
      return this.takeFrame();
    }
    if (mode === READ_ITERATOR) {
      return { value: this.takeFrame(), done: false };
    }
    return { value: this.takeAll(), done: false };
  }

  /**
   * Waits (with `options`' deadline) until a reader of `mode` can be answered, then
   * answers it as settleParked() would: the value `take(mode)`, or the end (`null` /
   * DONE), or throws.
   */
  private async receiveSlow(options: CallOptions | undefined, mode: ReaderMode): Promise<unknown> {
    for (;;) {
      if (this.head < this.tail) {
        return this.take(mode);
      }
      if (this.owner.readingOver()) {
        const end = this.owner.readEnd();
        if (end !== null) {
          throw end;
        }
        return mode === READ_FRAME ? null : DONE;
      }
      if (options === undefined || ((options.timeout ?? 0) === 0 && options.signal === undefined)) {
        // No deadline: share one promise among waiting readers (no observer bookkeeping).
        if (this.readableSignal === undefined) {
          this.readableSignal = new Promise<void>((resolve) => {
            this.resolveReadable = resolve;
          });
        }
        if (this.watchesReaders) {
          this.owner.readerWaits();
        }
        await this.readableSignal;
        continue;
      }
      await waitUntil(
        this.owner,
        () => this.isReceivable(),
        options,
        this.clock,
        () => new TimeoutError('SB_TIMEOUT', `no message within ${options?.timeout} ms`),
      );
    }
  }

  private takeFrame(): Uint8Array {
    const frame = this.frames[this.head]!;
    this.frames[this.head] = EMPTY;
    this.head += 1;
    if (this.head === this.tail) {
      // Why not `frames.length = 0`: that frees the array's storage and the next frame
      // allocates it again (~80 ns, once per message in a request/reply exchange).
      if (this.frames.length > MAX_KEPT_SLOTS) {
        this.frames = [];
      }
      this.head = 0;
      this.tail = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.tail) {
      this.frames.splice(0, this.head);
      this.tail -= this.head;
      this.head = 0;
    }
    this.queuedBytes -= frame.length;
    // Hysteresis: restart reading at half the limit, not at the first frame taken.
    if (
      this.readingPaused &&
      this.queuedBytes * 2 <= this.limit &&
      (this.tail - this.head) * 2 <= this.frameLimit
    ) {
      this.readingPaused = false;
      this.owner.resumeReading();
    } else if (this.reportsTakes) {
      this.owner.reportInput();
    }
    return frame;
  }

  /**
   * Every queued frame at once, oldest first; the queue is left empty. Why the whole
   * array is handed over when the queue starts at slot 0 (the usual case: the queue
   * restarts at 0 whenever it empties): no copy, and no slots to clear.
   */
  private takeAll(): Uint8Array[] {
    const head = this.head;
    const tail = this.tail;
    let frames: Uint8Array[];
    if (head === 0) {
      frames = this.frames;
      frames.length = tail;
    } else {
      frames = this.frames.slice(head, tail);
    }
    this.frames = [];
    this.head = 0;
    this.tail = 0;
    this.queuedBytes = 0;
    if (this.readingPaused) {
      this.readingPaused = false;
      this.owner.resumeReading();
    } else if (this.reportsTakes) {
      this.owner.reportInput();
    }
    return frames;
  }
}

/**
 * The `for await` iterator of a Channel: prototype methods rather than closures, one
 * promise per message, no generator machinery in the hot path.
 */
export class ChannelIterator implements AsyncIterator<Uint8Array> {
  constructor(private readonly queue: FrameQueue) {}

  next(): Promise<IteratorResult<Uint8Array>> {
    return this.queue.iteratorNext();
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    return Promise.resolve(DONE);
  }
}

/**
 * What Channel.batches() returns: an AsyncIterable that is its own iterator (prototype
 * methods, one promise per batch).
 */
export class ChannelBatches implements AsyncIterableIterator<Uint8Array[]> {
  constructor(private readonly queue: FrameQueue) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Uint8Array[]>> {
    return this.queue.batchNext();
  }

  return(): Promise<IteratorResult<Uint8Array[]>> {
    return Promise.resolve(DONE);
  }
}
