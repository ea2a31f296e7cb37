/**
 * One direction of one proxied connection: a FIFO queue of chunks and the async pump that
 * applies the fault table to each chunk before writing it to the sink.
 *
 * Theory of operation
 * -------------------
 *     source 'data' --> queue [chunk, arrivedAt] --> pump --> faults --> sink.write()
 *
 * 1. Order is preserved. One pump handles one chunk at a time; a chunk is never written
 *    before the chunk queued ahead of it.
 * 2. Latency does not accumulate. A chunk's delivery time is `arrivedAt + latency ±
 *    jitter`, raised to the previous chunk's delivery time so jitter never reorders.
 *    Queued chunks therefore wait in parallel, not one latency after another.
 * 3. Memory is bounded. When the queue holds more than `highWaterMark` bytes the source
 *    socket is paused; it resumes below half of that. Each queued entry counts
 *    QUEUED_ENTRY_BYTES on top of its bytes (a framed proxy queues one entry per message,
 *    and a 1-byte message costs hundreds of bytes of objects). When `sink.write()` returns
 *    false the pump waits for 'drain'. A slow reader therefore slows the sender, as TCP
 *    would. The queue is a FIFO with a head index ({@link Fifo}): O(1) per entry,
 *    however many are queued. A framed pipe takes a chunk's messages from its splitter
 *    SPLIT_STEP at a time while the queue has room, so one 64 KiB read of one-byte
 *    messages is not 64 Ki entries at once; the source stays paused while some wait.
 * 4. Faults are read from the proxy's fault table (fault-table.ts, which gives their
 *    order) once per chunk, so faults can be added and removed while traffic flows.
 *    resetAfter/closeAfter budgets count bytes forwarded per connection and direction
 *    from the moment the fault applies to that connection. `timeout` drops bytes like
 *    blackhole and closes on its timer; `slowClose` delays the forwarded FIN. A reset
 *    stops both pipes, then waits RESET_AFTER_FLUSH_MS so the peer reads it as a reset.
 * 5. Determinism. Jitter comes from a PRNG seeded with `(seed, connection number,
 *    direction)`, so the n-th chunk of the k-th connection in a direction always gets
 *    the same delay for a given seed, whatever the other connections do.
 * 6. A FIN from the source becomes `end()` on the sink once the queue ahead of it is
 *    delivered (the connection's sockets use allowHalfOpen).
 * 7. Toxicity. A fault added with `toxicity` p < 1 applies to this pipe with probability
 *    p, rolled once per pipe (as Toxiproxy rolls per link) from a PRNG seeded like the
 *    jitter's, so a seed replays which connections were affected.
 * 8. Messages. With a `framing`, the pipe runs a MessageSplitter over its source: a
 *    queued chunk is then one message's exact wire bytes (or raw bytes). While no message
 *    fault applies, partial frames are forwarded as they arrive, byte-exact, with the
 *    sender's chunking; while one applies, a partial frame waits for its end so that the
 *    fault can act on it whole. Message faults act at delivery, before the byte faults,
 *    in a fixed order: delay, truncate, drop, corrupt, duplicate. A framing error turns
 *    the direction into plain bytes for the rest of the connection (event, counter).
 * 9. Real time. Every wait and every reading of the clock here is real (node:timers,
 *    node:timers/promises, node:perf_hooks via net/schedule.ts), whatever a test fakes:
 *    the proxy stands for the network, as Toxiproxy in its own process would.
 */
import type net from 'node:net';
import { setTimeout as timerSleep, setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Framing } from '../codec/types.js';
import { Fifo } from '../fifo.js';
import { timerDelay } from '../net/clock.js';
import { realClearTimeout, realNow, realSetTimeout } from '../net/schedule.js';
import type { EffectiveFaults, FaultEntry } from './fault-table.js';
import type { Fault, FaultDirection, FaultProxyEvent, FaultProxyMessage } from './fault-types.js';
import { corruptOneBit, type MessageFault, messageMatches } from './message-faults.js';
import { MessageSplitter, type Segment } from './message-splitter.js';
import { seededRandom } from './seeded-random.js';

/** What a pipe needs from its proxy: settings, the fault table, counters, events. */
export interface PipeProxy {
  readonly seed: number;
  readonly highWaterMark: number;
  readonly framing: Framing | undefined;
  readonly onMessage: ((message: FaultProxyMessage) => void) | undefined;
  faultEntries(): IterableIterator<FaultEntry>;
  hasFault(type: Fault['type'], applies: (entry: FaultEntry) => boolean): boolean;
  effectiveFaults(applies: (entry: FaultEntry) => boolean): EffectiveFaults;
  emit(event: FaultProxyEvent): void;
  countForwarded(direction: FaultDirection, bytes: number): void;
  countDropped(bytes: number): void;
  countFramingError(): void;
  countMessageAffected(): void;
}

/** What a pipe needs from its connection (proxied-connection.ts): its id and how to end it. */
export interface PipeConnection {
  readonly proxy: PipeProxy;
  readonly id: number;
  /** Aborted when the connection is torn down: every wait of the pump ends. */
  readonly abort: AbortController;
  /** Called when this pipe is done. */
  pipeFinished(): void;
  stopPipes(): void;
  reset(direction: FaultDirection): void;
  /** A fault has decided to end the connection (a reset delay, a `timeout` hold). */
  condemn(): void;
  closeGracefully(direction: FaultDirection): void;
  destroy(reason?: unknown): void;
}

/**
 * node's promise setTimeout, clamped to what a node timer holds ({@link timerDelay}):
 * a longer one would run after 1 ms, so a latency or timeout of 3e9 ms (a Toxiproxy
 * client may send any int64) would act at once.
 */
function sleep(ms: number, value: undefined, options: { signal: AbortSignal }): Promise<undefined> {
  return timerSleep(timerDelay(ms), value, options);
}

/** Bandwidth pacing granularity: each paced piece carries about this much time's worth. */
const BANDWIDTH_PIECE_MS = 50;
/**
 * A reset sent within a few ms of the bytes before it can reach a Linux peer while its
 * recv() of those bytes is in progress; the peer then reads EOF, not ECONNRESET (#14
 * item 11: `resetAfter` downstream looked like a clean close). Waiting this long after
 * the bytes are flushed lets the peer's read finish first; the pipes forward nothing
 * meanwhile.
 */
const RESET_AFTER_FLUSH_MS = 15;

/**
 * Resolves at the socket's first `event` ('drain': it takes more writes; 'connect': it
 * connected) or its close, whichever comes first; both listeners go either way.
 */
function untilEventOrClose(socket: net.Socket, event: 'drain' | 'connect'): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off(event, done);
      socket.off('close', done);
      resolve();
    };
    socket.on(event, done);
    socket.on('close', done);
  });
}

/** Writes `data` and resolves once it is handed to the kernel, or when the socket closes. */
function writeAndFlush(socket: net.Socket, data: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const settle = (): void => {
      socket.off('close', settle);
      resolve();
    };
    socket.on('close', settle);
    socket.write(data, settle);
  });
}

const END_OF_INPUT = Symbol('end of input');

/** Messages a framed pipe takes from its splitter at a time (see Pipe.splitMore). */
const SPLIT_STEP = 256;

/**
 * What a queued entry costs beyond its bytes, for flow control (rule 3): the entry, its
 * Buffer view and, framed, the message's payload view. Without it a framed proxy with a
 * highWaterMark of 256 KiB would queue 256 Ki one-byte messages (~130 MiB) before
 * pausing its source.
 */
export const QUEUED_ENTRY_BYTES = 256;

interface QueuedChunk {
  chunk: Buffer;
  arrivedAt: number;
  /** Set when the chunk is exactly one message's wire bytes (framed proxies). */
  message?: Segment['message'];
}

/** One direction of one connection: a queue and the pump that applies faults (rules 1-4). */
export class Pipe {
  /** @internal Exposed for tests (Fifo.moved). */
  readonly queue = new Fifo<QueuedChunk | typeof END_OF_INPUT>();
  private queuedBytes = 0;
  private pausedBySelf = false;
  private wake: (() => void) | undefined;
  /** Delivery time of the previous chunk; latency never delivers earlier (no reordering). */
  private lastDeliverAt = 0;
  private nextBandwidthSlot = 0;
  /** Per cut fault id: bytes forwarded since the fault applied to this pipe. */
  private readonly cutCounters = new Map<number, number>();
  private readonly random: () => number;
  /** Toxicity rolls (rule 7): its own PRNG, so rolls never shift the jitter schedule. */
  private readonly toxicityRandom: () => number;
  private readonly rolls = new Map<number, boolean>();
  /** `timeout` faults holding this pipe, with their close timer (undefined for ms 0). */
  private readonly timeouts = new Map<number, NodeJS.Timeout | undefined>();
  /** Framed proxies: cuts the stream into messages (rule 8). */
  private readonly splitter: MessageSplitter | undefined;
  /** Per message fault id: matching messages seen on this pipe. */
  private readonly messageCounts = new Map<number, number>();
  private readonly messageRandom: () => number;
  /** When the chunk the splitter is splitting arrived (the arrival of its messages). */
  private splitArrivedAt = 0;
  /** The source ended while messages were still in the splitter. */
  private endDeferred = false;
  /** True once this pipe forwards nothing more (END delivered, sink gone or torn down). */
  done = false;

  constructor(
    private readonly connection: PipeConnection,
    readonly direction: FaultDirection,
    private readonly source: net.Socket,
    private readonly sink: net.Socket,
  ) {
    const directionSalt = direction === 'upstream' ? 0x9e3779b9 : 0x85ebca6b;
    this.random = seededRandom(
      (connection.proxy.seed ^ Math.imul(connection.id, 0x27d4eb2f) ^ directionSalt) >>> 0,
    );
    this.toxicityRandom = seededRandom(
      (connection.proxy.seed ^ Math.imul(connection.id, 0x165667b1) ^ ~directionSalt) >>> 0,
    );
    this.messageRandom = seededRandom(
      (connection.proxy.seed ^ Math.imul(connection.id, 0x2545f491) ^ (directionSalt >>> 1)) >>> 0,
    );
    const framing = connection.proxy.framing;
    this.splitter = framing === undefined ? undefined : new MessageSplitter(framing);
    source.on('data', (chunk: Buffer) => this.onData(chunk));
    source.on('end', () => this.onEnd());
    void this.pump();
  }

  private onData(chunk: Buffer): void {
    if (this.done) {
      this.connection.proxy.countDropped(chunk.length);
      return;
    }
    const arrivedAt = realNow();
    if (this.splitter === undefined) {
      this.enqueue({ chunk, arrivedAt });
    } else {
      this.splitArrivedAt = arrivedAt;
      const failedBefore = this.splitter.failure !== undefined;
      const hold = this.hasFault('message');
      this.queueSegments(this.splitter.push(chunk, hold, SPLIT_STEP), failedBefore);
      this.splitMore();
    }
    this.updateFlow();
    this.notify();
  }

  /** Queues what the splitter gave, reporting each message and a framing error in order. */
  private queueSegments(segments: Segment[], failedBefore: boolean): void {
    let failedNow = !failedBefore && this.splitter?.failure !== undefined;
    for (const segment of segments) {
      // The messages decoded before a framing error come first, then the error, then
      // the bytes after it (raw segments are last in a push).
      if (failedNow && segment.message === undefined) {
        this.framingFailed();
        failedNow = false;
      }
      this.report(segment);
      this.enqueue({
        chunk: segment.bytes,
        arrivedAt: this.splitArrivedAt,
        ...(segment.message === undefined ? {} : { message: segment.message }),
      });
    }
    if (failedNow) {
      this.framingFailed();
    }
  }

  /**
   * Splits more of what the source sent, SPLIT_STEP messages at a time, while the queue
   * has room (rule 3): the messages of a chunk become queue entries as they fit, not all
   * at once, and the source stays paused while some wait in the splitter.
   */
  private splitMore(): void {
    const splitter = this.splitter;
    if (splitter === undefined) {
      return;
    }
    const limit = this.connection.proxy.highWaterMark;
    while (splitter.more && !this.done && this.queuedBytes <= limit) {
      const failedBefore = splitter.failure !== undefined;
      this.queueSegments(splitter.resume(this.hasFault('message'), SPLIT_STEP), failedBefore);
    }
    if (!splitter.more && this.endDeferred && !this.done) {
      this.endDeferred = false;
      this.endInput();
    }
  }

  private enqueue(item: QueuedChunk): void {
    this.queue.push(item);
    this.queuedBytes += item.chunk.length + QUEUED_ENTRY_BYTES;
  }

  /** Hands a message (or, after a framing error, a raw chunk) to the proxy's onMessage. */
  private report(
    segment: Segment,
    payload: Uint8Array | undefined = segment.message?.payload,
  ): void {
    const onMessage = this.connection.proxy.onMessage;
    if (onMessage === undefined) {
      return;
    }
    const raw = payload === undefined;
    if (raw && this.splitter?.failure === undefined) {
      return; // the tail of a partial frame: reported with its frame
    }
    onMessage({
      connection: this.connection.id,
      direction: this.direction,
      payload: payload ?? segment.bytes,
      wireBytes: segment.bytes.length,
      raw,
    });
  }

  private framingFailed(): void {
    const failure = this.splitter?.failure;
    if (failure === undefined) {
      return;
    }
    this.connection.proxy.countFramingError();
    this.connection.proxy.emit({
      type: 'framingError',
      connection: this.connection.id,
      direction: this.direction,
      code: failure.code,
      message: failure.message,
    });
  }

  private onEnd(): void {
    if (this.splitter?.more === true && !this.done) {
      this.endDeferred = true; // after the messages still in the splitter (splitMore)
      return;
    }
    this.endInput();
  }

  private endInput(): void {
    if (this.splitter !== undefined && !this.done) {
      const failedBefore = this.splitter.failure !== undefined;
      const { segments, frames } = this.splitter.end();
      // Pending bytes go through as they are, whatever the decoder says of them.
      for (const segment of segments) {
        this.enqueue({ chunk: segment.bytes, arrivedAt: realNow() });
      }
      for (const frame of frames) {
        this.report({ bytes: Buffer.alloc(0) }, frame);
      }
      if (!failedBefore && this.splitter.failure !== undefined) {
        this.framingFailed();
      }
    }
    this.queue.push(END_OF_INPUT);
    this.notify();
  }

  /** Whether a fault of the table applies to this pipe (direction and toxicity roll). */
  applies(entry: FaultEntry): boolean {
    if (!entry.directions.includes(this.direction)) {
      return false;
    }
    if (entry.toxicity >= 1) {
      return true;
    }
    let roll = this.rolls.get(entry.id);
    if (roll === undefined) {
      roll = this.toxicityRandom() < entry.toxicity;
      this.rolls.set(entry.id, roll);
    }
    return roll;
  }

  private hasFault(type: Fault['type']): boolean {
    return this.connection.proxy.hasFault(type, (entry) => this.applies(entry));
  }

  /** Re-evaluates pause/resume and wakes the pump; called when faults change. */
  faultsChanged(): void {
    if (this.splitter !== undefined && !this.done && !this.hasFault('message')) {
      for (const segment of this.splitter.release()) {
        this.enqueue({ chunk: segment.bytes, arrivedAt: realNow() });
      }
    }
    this.syncTimeouts();
    this.updateFlow();
    this.notify();
  }

  /**
   * Starts the close timer of each `timeout` fault that newly applies, and closes the
   * connection when a `timeout` fault that held it is removed (as Toxiproxy does).
   */
  private syncTimeouts(): void {
    if (this.done) {
      return;
    }
    const present = new Set<number>();
    for (const entry of this.connection.proxy.faultEntries()) {
      if (entry.fault.type !== 'timeout' || !this.applies(entry)) {
        continue;
      }
      present.add(entry.id);
      if (!this.timeouts.has(entry.id)) {
        const ms = entry.fault.ms;
        const timer =
          ms > 0
            ? realSetTimeout(() => this.connection.closeGracefully(this.direction), timerDelay(ms))
            : undefined;
        timer?.unref();
        this.timeouts.set(entry.id, timer);
        this.connection.condemn();
      }
    }
    let released = false;
    for (const [id, timer] of this.timeouts) {
      if (!present.has(id)) {
        realClearTimeout(timer);
        this.timeouts.delete(id);
        released = true;
      }
    }
    if (released) {
      this.connection.closeGracefully(this.direction);
    }
  }

  /** Stops the pump and drops whatever is queued. */
  stop(): void {
    this.done = true;
    for (const timer of this.timeouts.values()) {
      realClearTimeout(timer);
    }
    this.timeouts.clear();
    this.queue.clear();
    this.queuedBytes = 0;
    this.notify();
    // Keep draining the source so its peer is not blocked by a pipe that forwards nothing.
    if (!this.source.destroyed) {
      this.source.resume();
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private updateFlow(): void {
    if (this.done || this.source.destroyed) {
      return;
    }
    const halfOpen = this.hasFault('halfOpen');
    const limit = this.connection.proxy.highWaterMark;
    let shouldPause: boolean;
    if (halfOpen || this.splitter?.more === true) {
      shouldPause = true;
    } else if (this.pausedBySelf) {
      shouldPause = this.queuedBytes > limit / 2;
    } else {
      shouldPause = this.queuedBytes > limit;
    }
    if (shouldPause && !this.pausedBySelf) {
      this.pausedBySelf = true;
      this.source.pause();
    } else if (!shouldPause && this.pausedBySelf) {
      this.pausedBySelf = false;
      this.source.resume();
    }
  }

  private waitForWork(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private async pump(): Promise<void> {
    const signal = this.connection.abort.signal;
    try {
      while (!this.done) {
        const head = this.queue.peek();
        if (head === undefined || this.hasFault('halfOpen')) {
          await this.waitForWork();
          continue;
        }
        this.queue.shift();
        if (head === END_OF_INPUT) {
          await this.deliverEnd(signal);
          return;
        }
        this.queuedBytes -= head.chunk.length + QUEUED_ENTRY_BYTES;
        if (
          this.splitter?.more === true &&
          this.queuedBytes <= this.connection.proxy.highWaterMark / 2
        ) {
          this.splitMore();
        }
        this.updateFlow();
        await this.deliver(head, signal);
      }
    } catch (error) {
      if (!signal.aborted) {
        this.connection.destroy(error);
      }
    }
  }

  private async deliverEnd(signal: AbortSignal): Promise<void> {
    const faults = this.connection.proxy.effectiveFaults((entry) => this.applies(entry));
    if (faults.slowCloseMs > 0) {
      await sleep(faults.slowCloseMs, undefined, { signal });
    }
    this.done = true;
    // A FIN that arrives while blackholed (or held by `timeout`) is swallowed: the
    // connection stays silent.
    if (!faults.blackhole && !faults.timeout && !this.sink.destroyed) {
      this.sink.end();
    }
    this.connection.pipeFinished();
  }

  private async deliver(item: QueuedChunk, signal: AbortSignal): Promise<void> {
    const proxy = this.connection.proxy;
    const faults = proxy.effectiveFaults((entry) => this.applies(entry));
    let chunk = item.chunk;
    if (item.message?.whole === true && !faults.blackhole && !faults.timeout) {
      const outcome = await this.applyMessageFaults(chunk, item.message.payload, faults, signal);
      if (outcome === undefined) {
        return;
      }
      chunk = outcome;
    }
    if (faults.blackhole || faults.timeout) {
      proxy.countDropped(chunk.length);
      proxy.emit({
        type: 'drop',
        connection: this.connection.id,
        direction: this.direction,
        bytes: chunk.length,
      });
      return;
    }
    if (faults.latencyMs > 0 || faults.jitterMs > 0) {
      const jitter = faults.jitterMs * (2 * this.random() - 1);
      const delay = Math.max(0, faults.latencyMs + jitter);
      const deliverAt = Math.max(item.arrivedAt + delay, this.lastDeliverAt);
      this.lastDeliverAt = deliverAt;
      proxy.emit({
        type: 'delay',
        connection: this.connection.id,
        direction: this.direction,
        ms: Math.round(delay * 1000) / 1000,
      });
      const wait = deliverAt - realNow();
      if (wait > 0) {
        await sleep(wait, undefined, { signal });
      }
    }
    // Cuts: find the first budget this chunk reaches (rule 4).
    let cut: EffectiveFaults['cuts'][number] | undefined;
    let cutAt = chunk.length;
    for (const candidate of faults.cuts) {
      const forwarded = this.cutCounters.get(candidate.id) ?? 0;
      const remaining = Math.max(0, candidate.bytes - forwarded);
      if (remaining <= cutAt) {
        cutAt = remaining;
        cut = candidate;
      }
    }
    if (cut !== undefined) {
      proxy.countDropped(chunk.length - cutAt);
      chunk = chunk.subarray(0, cutAt);
    }
    for (const candidate of faults.cuts) {
      this.cutCounters.set(candidate.id, (this.cutCounters.get(candidate.id) ?? 0) + chunk.length);
    }
    await this.write(chunk, faults, signal, cut?.kind === 'reset');
    if (cut !== undefined) {
      if (cut.kind === 'reset') {
        // Nothing more crosses in either direction; the reset follows a short grace so
        // that it reaches the peer as a reset, not as EOF (see RESET_AFTER_FLUSH_MS).
        this.connection.stopPipes();
        this.connection.condemn();
        await sleep(Math.max(RESET_AFTER_FLUSH_MS, cut.delayMs), undefined, { signal });
        this.connection.reset(this.direction);
      } else {
        this.connection.closeGracefully(this.direction);
      }
    }
  }

  /**
   * Applies the message faults that select this message (rule 8). Returns the bytes to
   * forward, or undefined when the message was dropped or the connection truncated.
   */
  private async applyMessageFaults(
    wire: Buffer,
    payload: Uint8Array,
    faults: EffectiveFaults,
    signal: AbortSignal,
  ): Promise<Buffer | undefined> {
    const proxy = this.connection.proxy;
    const selected: MessageFault[] = [];
    for (const entry of proxy.faultEntries()) {
      if (entry.fault.type !== 'message' || !this.applies(entry)) {
        continue;
      }
      const fault = entry.fault;
      if (!messageMatches(fault, payload)) {
        continue;
      }
      const seen = (this.messageCounts.get(entry.id) ?? 0) + 1;
      this.messageCounts.set(entry.id, seen);
      const nth = fault.nth ?? 0;
      if (nth !== 0 && seen !== nth) {
        continue;
      }
      if (fault.probability !== undefined && !(this.messageRandom() < fault.probability)) {
        continue;
      }
      selected.push(fault);
    }
    if (selected.length === 0) {
      return wire;
    }
    const has = (action: MessageFault['action']): boolean =>
      selected.some((fault) => fault.action === action);
    for (const fault of selected) {
      proxy.countMessageAffected();
      proxy.emit({
        type: 'message',
        connection: this.connection.id,
        direction: this.direction,
        action: fault.action,
      });
    }
    const delayMs = selected.reduce(
      (sum, fault) => sum + (fault.action === 'delay' ? (fault.delayMs ?? 0) : 0),
      0,
    );
    if (delayMs > 0) {
      await sleep(delayMs, undefined, { signal });
    }
    if (has('truncate')) {
      const keep = Math.floor(wire.length / 2);
      proxy.countDropped(wire.length - keep);
      await this.write(wire.subarray(0, keep), faults, signal, true);
      this.connection.closeGracefully(this.direction);
      return undefined;
    }
    if (has('drop')) {
      proxy.countDropped(wire.length);
      return undefined;
    }
    let bytes = wire;
    if (has('corrupt') && proxy.framing !== undefined) {
      const start = Math.floor(this.messageRandom() * payload.length * 8);
      bytes = corruptOneBit(proxy.framing, wire, payload, start) ?? wire;
    }
    if (has('duplicate')) {
      bytes = Buffer.concat([bytes, bytes]);
    }
    return bytes;
  }

  /**
   * Writes `chunk` in pieces shaped by bandwidth and slice, honouring backpressure.
   * With `untilFlushed`, resolves only once the last piece is handed to the kernel (or
   * the sink closes): a reset must follow the bytes it comes after.
   */
  private async write(
    chunk: Buffer,
    faults: EffectiveFaults,
    signal: AbortSignal,
    untilFlushed: boolean,
  ): Promise<void> {
    let pieceSize = chunk.length;
    if (faults.bytesPerSecond > 0) {
      pieceSize = Math.min(
        pieceSize,
        Math.max(1, Math.floor((faults.bytesPerSecond * BANDWIDTH_PIECE_MS) / 1000)),
      );
    }
    if (faults.sliceBytes > 0) {
      pieceSize = Math.min(pieceSize, faults.sliceBytes);
    }
    if (this.sink.connecting) {
      // Writes queued before connect are flushed together (one writev): wait, so that
      // slices stay separate writes and pacing starts when bytes can actually flow.
      await untilEventOrClose(this.sink, 'connect');
    }
    for (let offset = 0; offset < chunk.length && !this.done; offset += pieceSize) {
      if (faults.sliceVariation > 0 && faults.sliceBytes > 0) {
        const variation = Math.round(faults.sliceVariation * (2 * this.random() - 1));
        pieceSize = Math.max(1, faults.sliceBytes + variation);
      }
      const piece = chunk.subarray(offset, offset + pieceSize);
      if (faults.bytesPerSecond > 0) {
        const now = realNow();
        if (this.nextBandwidthSlot > now) {
          await sleep(this.nextBandwidthSlot - now, undefined, { signal });
        }
        this.nextBandwidthSlot =
          Math.max(this.nextBandwidthSlot, now) + (piece.length * 1000) / faults.bytesPerSecond;
      }
      if (this.sink.destroyed || this.sink.writableEnded) {
        this.connection.proxy.countDropped(chunk.length - offset);
        this.stop();
        this.connection.pipeFinished();
        return;
      }
      const lastPiece = offset + pieceSize >= chunk.length;
      this.connection.proxy.countForwarded(this.direction, piece.length);
      if ((lastPiece && untilFlushed) || faults.sliceBytes > 0) {
        // A slice must reach the kernel alone: the next piece waits for this one's flush,
        // or Node would coalesce queued pieces into one writev.
        await writeAndFlush(this.sink, piece);
      } else if (!this.sink.write(piece)) {
        await untilEventOrClose(this.sink, 'drain');
      }
      if (faults.sliceBytes > 0 && !lastPiece) {
        // Let the event loop run so each piece leaves as its own write (and segment).
        // Two setImmediate hops guarantee at least one I/O poll in between: one hop
        // taken from the poll phase lands in the same loop iteration's check phase.
        if (faults.sliceDelayMs > 0) {
          await sleep(faults.sliceDelayMs, undefined, { signal });
        } else {
          await yieldToEventLoop(undefined, { signal });
          await yieldToEventLoop(undefined, { signal });
        }
      }
    }
  }
}
