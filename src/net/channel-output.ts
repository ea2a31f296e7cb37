/**
 * ChannelOutput: a Channel's way out: encoded frames to the socket, batched, bounded
 * by `maxQueuedOutput`, with the drain wait `send()` returns above the high-water mark.
 *
 * Theory of operation
 * -------------------
 * Frames up to COALESCE_LIMIT (8 KiB) are copied into a batch of BATCH_SIZE (16 KiB,
 * cut from the shared net/batch-arena.ts, encoded in place when the encoder has
 * `encodeInto`) that is handed to the socket once per tick (`process.nextTick`, i.e.
 * after the current microtasks) or when full: one system call for many small frames.
 * Batches that follow a full one in the same tick are LARGE_BATCH_SIZE (64 KiB) of
 * their own memory (a bulk sender). Larger frames are written as header + body in one
 * writev, without copying the payload, after the current batch (order is kept).
 *
 * | state                                  | action                                   |
 * | -------------------------------------- | ---------------------------------------- |
 * | frame <= 8 KiB, fits the batch         | copy in; flush scheduled for end of tick |
 * | frame <= 8 KiB, batch full or none     | flush the batch, start a new one, copy   |
 * | frame > 8 KiB                          | flush the batch, write the frame at once |
 * | queued + frame > maxQueuedOutput       | fail the channel: SB_OUTPUT_QUEUE_FULL   |
 * | socket failed before its 'close'       | fail the channel with the socket's error |
 *
 * Accounting: `held` is what the channel really holds for the peer, the batch plus the
 * socket's `writableLength` (node's buffer for the kernel); `queuedTotal` counts every
 * byte ever queued, so `queuedTotal - held` is what the peer's TCP has taken (the write
 * deadline compares the two, channel-deadlines.ts). With an {@link OutputAccount} (the
 * server's `maxBufferedOutputTotal`) `held` is reported after every queue and flush, on
 * every socket event and when a write queued behind a backlog completes: O(1) each.
 *
 * Every failure goes to the owner's `destroy(error)`: the channel's sticky error, and
 * nothing is thrown from a nextTick callback. The drain wait: one promise shared by
 * every caller without a deadline, settled by {@link ChannelOutput.settleDrain} (the
 * channel calls it on every socket change); a caller with a deadline waits on its own.
 */
import type { Encoder } from '../codec/types.js';
import {
  ConnectionError,
  type SwitchboardError,
  TimeoutError,
  toSwitchboardError,
} from '../errors.js';
import { batchArena } from './batch-arena.js';
import { type CallOptions, type Clock, waitUntil } from './clock.js';
import { afterMicrotasks } from './schedule.js';
import type { Socket } from './socket.js';

/** Frames up to this size (bytes) are copied into a batch buffer before writing. */
export const COALESCE_LIMIT = 8 * 1024;
/** Size of the batches that follow a full one in the same tick (see ChannelOutput.newBatch). */
const LARGE_BATCH_SIZE = 64 * 1024;

/** What the output needs from its channel. */
export interface OutputOwner {
  /** The channel's sticky error: once set, nothing more is written. */
  readonly error: SwitchboardError | undefined;
  /** Fails the channel (the output queue overflowed, the socket died under a write). */
  destroy(error: Error): void;
}

/**
 * A share of a server-wide output budget (implemented by server/output-budget.ts;
 * declared in net/ so that net/ does not import server/), as InputAccount is.
 */
export interface OutputAccount {
  /** The channel now holds `held` output bytes. */
  update(held: number): void;
  /** The connection ended; its bytes leave the budget. Idempotent. */
  close(): void;
}

/** One channel's output batch and drain wait. */
export class ChannelOutput {
  /** Bytes ever queued (accepted by the queue* methods): see the module comment. */
  queuedTotal = 0;
  private account: OutputAccount | undefined;
  private readonly owner: OutputOwner;
  private readonly socket: Socket;
  private readonly maxQueuedOutput: number;
  /** Small frames waiting to be written together, and how much of it they fill. */
  private batch: Buffer | undefined;
  private batchLength = 0;
  private tickFlushPending = false;
  /**
   * The one drain wait shared by every send() without a deadline while the socket is
   * above its high-water mark: settled by settleDrain() once the socket drains (or the
   * channel fails), so a caller that sends without awaiting costs one promise per
   * drain, not a promise and an observer per message (#14).
   */
  private drainSignal: Promise<void> | undefined;
  private resolveDrain: (() => void) | undefined;
  private rejectDrain: ((error: Error) => void) | undefined;

  constructor(owner: OutputOwner, socket: Socket, maxQueuedOutput: number) {
    this.owner = owner;
    this.socket = socket;
    this.maxQueuedOutput = maxQueuedOutput;
  }

  /** True when bytes wait in the batch or a flush is scheduled. */
  get pending(): boolean {
    return this.batchLength > 0 || this.tickFlushPending;
  }

  /** Bytes in the batch, not yet handed to the socket. */
  get unflushed(): number {
    return this.batchLength;
  }

  /** Output bytes held for the peer: the batch plus node's writable buffer. */
  get held(): number {
    return this.batchLength + this.socket.writableLength;
  }

  /** Reports `held` to `account` from now on (see Channel.setOutputAccount). */
  setAccount(account: OutputAccount): void {
    this.account = account;
    this.socket.writeObserver = this;
    this.report();
  }

  /** The account closes (the connection closed, or the channel let go of it). */
  closeAccount(): void {
    if (this.account !== undefined) {
      this.account.close();
      this.account = undefined;
      this.socket.writeObserver = undefined;
    }
  }

  /** @internal A write queued behind a backlog completed (Socket.writeObserver). */
  written(): void {
    this.report();
  }

  private report(): void {
    this.account?.update(this.batchLength + this.socket.writableLength);
  }

  /**
   * Queues one frame's encoded chunks.
   * @throws ConnectionError `SB_OUTPUT_QUEUE_FULL` (the channel has failed with it).
   */
  queueChunks(chunks: Uint8Array[]): void {
    let size = 0;
    for (const chunk of chunks) {
      size += chunk.length;
    }
    this.checkQueue(size);
    this.queuedTotal += size;
    if (size <= COALESCE_LIMIT) {
      // Small frames are copied into one batch buffer, written once per tick: one
      // system call for many frames instead of one (or a writev) per frame.
      let batch = this.batch;
      if (batch === undefined || this.batchLength + size > batch.length) {
        batch = this.newBatch();
      }
      let offset = this.batchLength;
      for (const chunk of chunks) {
        batch.set(chunk, offset);
        offset += chunk.length;
      }
      this.batchLength = offset;
      this.scheduleFlush();
    } else {
      this.flush();
      this.socket.writeChunks(chunks);
    }
    this.report();
  }

  /**
   * Queues a small payload (at most COALESCE_LIMIT) encoded by `encoder.encodeInto`
   * straight into the batch: the same bytes as {@link queueChunks}, without allocating a
   * header and a chunk list per frame. Returns false when the encoder has no such path.
   * @throws ConnectionError `SB_OUTPUT_QUEUE_FULL` (the channel has failed with it).
   */
  queueSmall(encoder: Encoder, payload: Uint8Array): boolean {
    if (encoder.encodeInto === undefined) {
      return false;
    }
    let batch = this.batch;
    let size = batch === undefined ? -1 : encoder.encodeInto(payload, batch, this.batchLength);
    if (size < 0) {
      batch = this.newBatch();
      size = encoder.encodeInto(payload, batch, 0);
      if (size < 0) {
        return false;
      }
    }
    // Checked after encoding, which is when the size is known; the bytes written past
    // batchLength count only once batchLength moves.
    this.checkQueue(size);
    this.queuedTotal += size;
    this.batchLength += size;
    this.scheduleFlush();
    this.report();
    return true;
  }

  /**
   * Queues `wire`, whole frames already encoded (not copied when large). Returns false,
   * having failed the channel, when it would pass maxQueuedOutput or the socket died.
   */
  queueWire(wire: Uint8Array): boolean {
    const size = wire.length;
    try {
      this.checkQueue(size);
    } catch {
      return false; // checkQueue failed the channel
    }
    this.queuedTotal += size;
    if (size <= COALESCE_LIMIT) {
      let batch = this.batch;
      if (batch === undefined || this.batchLength + size > batch.length) {
        batch = this.newBatch();
      }
      batch.set(wire, this.batchLength);
      this.batchLength += size;
      this.scheduleFlush();
      this.report();
      return this.owner.error === undefined; // the report may have cut it (output budget)
    }
    this.flush();
    if (this.owner.error !== undefined) {
      return false;
    }
    try {
      this.socket.writeBatch(wire);
    } catch (error) {
      // The socket died before the channel heard of it: fail rather than throw into the relay.
      this.owner.destroy(toSwitchboardError(error));
      return false;
    }
    this.report();
    return this.owner.error === undefined; // the report may have cut it (output budget)
  }

  /** Fails the channel with SB_OUTPUT_QUEUE_FULL if `size` more bytes would pass maxQueuedOutput. */
  private checkQueue(size: number): void {
    const queued = this.socket.writableLength + this.batchLength;
    // One frame larger than the cap may still go out when nothing else is queued.
    if (queued > 0 && queued + size > this.maxQueuedOutput) {
      const error = new ConnectionError(
        'SB_OUTPUT_QUEUE_FULL',
        `output queue of ${queued} bytes + ${size} exceeds maxQueuedOutput ${this.maxQueuedOutput}`,
      );
      this.owner.destroy(error);
      throw error;
    }
  }

  /** Flushes the current batch (if any) and starts an empty one. */
  private newBatch(): Buffer {
    // Replacing a batch that filled up within this tick means a bulk sender: it gets
    // LARGE_BATCH_SIZE batches of their own memory (one system call per 64 KiB; the
    // allocation is spread over many frames). A tick's first batch comes from the arena.
    const bulk = this.batch !== undefined;
    this.flush();
    const batch = bulk ? Buffer.allocUnsafeSlow(LARGE_BATCH_SIZE) : batchArena.reserve();
    this.batch = batch;
    return batch;
  }

  /** Writes the batch once this tick's microtasks are done (process.nextTick). */
  private scheduleFlush(): void {
    if (!this.tickFlushPending) {
      this.tickFlushPending = true;
      afterMicrotasks(flushScheduledOutput, this);
    }
  }

  /** @internal Runs from process.nextTick (see the module-level flushScheduledOutput). */
  flushAtEndOfTick(): void {
    this.tickFlushPending = false;
    this.flush(true);
  }

  /** Hands the batch to the socket (its bytes are not reused: the socket owns them now). */
  flush(endOfTick = false): void {
    const length = this.batchLength;
    if (length === 0) {
      return;
    }
    const batch = this.batch!;
    this.batch = undefined;
    this.batchLength = 0;
    batchArena.release(batch, length);
    const socket = this.socket;
    const socketError = socket.error;
    if (this.owner.error === undefined && socketError !== undefined && !socket.isClosed) {
      // net.Socket emits 'error' (a failed write) a phase before 'close': a frame sent in
      // between is dropped with the connection, which fails with the socket's error. A
      // write here would throw it, from a process.nextTick callback: uncaught.
      this.owner.destroy(socketError);
      return;
    }
    if (this.owner.error === undefined && !socket.isClosed) {
      const bytes = batch.subarray(0, length);
      try {
        if (endOfTick) {
          // The tick's last batch: nothing follows it to coalesce with, so skip the
          // socket's cork-until-the-next-microtask (a cork and a microtask per round trip).
          socket.writeBatch(bytes);
        } else {
          // A full batch mid-tick: write() corks, so the batches that follow in this tick
          // wait in our queue (where maxQueuedOutput sees them) and leave together.
          socket.write(bytes);
        }
      } catch (error) {
        // The socket died (a reset) before the channel heard of it. This runs from
        // process.nextTick and from close(): a throw here would be an uncaught
        // exception or a rejection nobody handles (#14). Fail the channel instead:
        // the batch is lost either way, and every caller learns why.
        this.owner.destroy(toSwitchboardError(error));
      }
    }
    this.report();
  }

  /** Gives an unwritten batch's memory back (the channel lets go of its connection). */
  discard(): void {
    if (this.batch !== undefined) {
      batchArena.release(this.batch, 0);
      this.batch = undefined;
    }
  }

  /**
   * What `send()` returns once its frame is queued: undefined when the socket is below
   * its high-water mark (no wait), else the drain wait.
   */
  drain(options: CallOptions | undefined, clock: Clock): Promise<void> | undefined {
    const error = this.owner.error;
    if (error !== undefined) {
      // Failed while queuing (the server's output budget cut this very connection): a
      // drain wait made now would never settle. Rejected, and handled as the shared
      // wait is, for callers that do not await.
      return handledRejection(error);
    }
    const socket = this.socket;
    if (socket.writableLength < socket.writableHighWaterMark) {
      return undefined;
    }
    if (options === undefined || ((options.timeout ?? 0) === 0 && options.signal === undefined)) {
      return this.sharedDrain();
    }
    const waiting = this.waitDrain(options, clock);
    // Handled like the shared wait: a send() nobody awaits must not be an unhandled
    // rejection (the failure is the channel's, reported by every later call).
    waiting.catch(ignoreRejection);
    return waiting;
  }

  /** The drain wait shared by sends without a deadline (see {@link drainSignal}). */
  private sharedDrain(): Promise<void> {
    if (this.drainSignal === undefined) {
      this.drainSignal = new Promise<void>((resolve, reject) => {
        this.resolveDrain = resolve;
        this.rejectDrain = reject;
      });
      // One promise for many callers, some of which may not await it: its rejection
      // must not count as unhandled (each awaiting caller still gets it).
      this.drainSignal.catch(ignoreRejection);
    }
    return this.drainSignal;
  }

  /**
   * Settles the shared drain wait if the socket is below its high-water mark or dead.
   * Called on every socket event ('drain' among them): the output account hears of it too.
   */
  settleDrain(): void {
    this.report();
    if (this.resolveDrain === undefined) {
      return;
    }
    const socket = this.socket;
    let error: Error | undefined;
    if (this.owner.error !== undefined) {
      error = this.owner.error;
    } else if (socket.isClosed) {
      error = socket.error ?? new ConnectionError('SB_CONNECTION_CLOSED', 'the channel is closed');
    } else if (socket.writableLength >= socket.writableHighWaterMark) {
      return;
    }
    const resolve = this.resolveDrain;
    const reject = this.rejectDrain!;
    this.drainSignal = undefined;
    this.resolveDrain = undefined;
    this.rejectDrain = undefined;
    if (error === undefined) {
      resolve();
    } else {
      reject(error);
    }
  }

  private async waitDrain(options: CallOptions, clock: Clock): Promise<void> {
    const socket = this.socket;
    try {
      await waitUntil(
        socket,
        () =>
          socket.writableLength < socket.writableHighWaterMark ||
          this.owner.error !== undefined ||
          socket.isClosed,
        options,
        clock,
        () =>
          new TimeoutError('SB_WRITE_TIMEOUT', `output not drained within ${options.timeout} ms`),
      );
    } catch (error) {
      const wrapped = toSwitchboardError(error);
      this.owner.destroy(wrapped);
      throw wrapped;
    }
    if (this.owner.error !== undefined) {
      throw this.owner.error;
    }
    if (socket.isClosed) {
      throw socket.error ?? new ConnectionError('SB_CONNECTION_CLOSED', 'the channel is closed');
    }
  }
}

/**
 * The wire bytes of `messages`, encoded one by one with `encode`, in one buffer (for
 * Channel.writeEncoded: one encoding of a run shared by many receivers).
 */
export function encodeRun(
  messages: readonly Uint8Array[],
  encode: (payload: Uint8Array) => Uint8Array[],
): Uint8Array {
  let payloadBytes = 0;
  for (const message of messages) {
    payloadBytes += message.length;
  }
  // Room for the payloads and a typical header each; grown when that is not enough.
  let out = Buffer.allocUnsafe(payloadBytes + messages.length * 8 + 16);
  let used = 0;
  for (const message of messages) {
    for (const chunk of encode(message)) {
      if (used + chunk.length > out.length) {
        const grown = Buffer.allocUnsafe(Math.max(out.length * 2, used + chunk.length));
        grown.set(out.subarray(0, used));
        out = grown;
      }
      out.set(chunk, used);
      used += chunk.length;
    }
  }
  return out.subarray(0, used);
}

/** process.nextTick target: passing the output as an argument needs no closure. */
function flushScheduledOutput(output: ChannelOutput): void {
  output.flushAtEndOfTick();
}

function ignoreRejection(): void {
  // See ChannelOutput.sharedDrain.
}

/**
 * A promise rejected with `error` that does not count as unhandled: what `send()`
 * returns for a failure. Why: `void channel.send(x)` is a documented way to queue
 * below the high-water mark, and the failure a peer causes (a reset, a queue it never
 * reads) would otherwise be an unhandled rejection, which ends a node process by
 * default. Nothing is lost: a caller that awaits still gets the error, and the channel
 * keeps it (every later call throws it).
 */
export function handledRejection(error: unknown): Promise<never> {
  const rejected = Promise.reject(error);
  rejected.catch(ignoreRejection);
  return rejected;
}
