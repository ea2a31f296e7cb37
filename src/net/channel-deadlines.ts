/**
 * ChannelDeadlines: the three deadlines of a Channel's connection (idle, frame, write).
 *
 * Theory of operation
 * -------------------
 * Lazy timers: one timer per kind, armed when its watch starts and re-armed only when
 * it fires, with the injected clock, so the hot path does no timer work per frame (it
 * notes a clock time at most). A timer that fires compares the time noted with now
 * and either fails the channel or re-arms for the remainder.
 * - `idleTimeout`: no bytes in either direction for N ms -> `SB_IDLE_TIMEOUT`: inbound
 *   bytes ({@link ChannelDeadlines.noteInput}), and output the peer accepted (a write
 *   that reached the kernel, the socket's `lastWriteDoneAt`) both count; time spent
 *   with a full inbound queue, i.e. waiting for our own reader, does not.
 * - `frameTimeout`: a frame started (decoder.inFrame) must complete within N ms ->
 *   `SB_FRAME_TIMEOUT` (slowloris). The read loop calls {@link watchFrame} when it
 *   stops and {@link frameDone} for every frame.
 * - `writeTimeout` -> `SB_WRITE_TIMEOUT`, armed by {@link watchWrite}, for either of:
 *   (a) held output (our batch or node's writable buffer) made no progress to the
 *   kernel for N ms (a peer that stopped reading); (b) output queued N ms ago or more
 *   is still held (a peer that takes a byte now and then: it makes progress forever
 *   while holding its whole queue). For (b) the timer keeps a mark, `queuedTotal` (bytes
 *   ever queued) at a time: once `queuedTotal - held` (bytes the kernel took) passes it,
 *   the mark moves to the current total at the check; while it has not, the oldest byte
 *   held was queued by the mark's time. So each byte is delivered within 2 x N ms of
 *   being queued (N when the check falls right), O(1) per check and nothing per write.
 *   A fast bulk transfer, whose queue is never empty but always moving, passes each
 *   mark in time.
 * A deadline that passes destroys the channel through its owner (the sticky error).
 * The idle and frame watches end with the input ({@link endInput}).
 */
import type { Decoder } from '../codec/types.js';
import { type SwitchboardError, TimeoutError } from '../errors.js';
import type { Clock } from './clock.js';
import { idleTimeoutError } from './idle-timeout.js';
import type { Socket } from './socket.js';

/** What the deadlines need from their channel. */
export interface DeadlineOwner {
  /** The channel's sticky error: a failed channel has no deadlines. */
  readonly error: SwitchboardError | undefined;
  /** Fails the channel with the deadline's error. */
  destroy(error: Error): void;
}

/** The channel's input as the idle deadline sees it. */
export interface ReadState {
  /** True while reading waits for the channel's own reader (a full inbound queue). */
  readonly paused: boolean;
}

/** The channel's output as the write deadline sees it (ChannelOutput). */
export interface WriteState {
  /** Bytes ever queued. */
  readonly queuedTotal: number;
  /** Bytes queued and not yet taken by the kernel (so `queuedTotal - held` were). */
  readonly held: number;
}

/** The deadline settings of a channel, ms (0 = off). */
export interface DeadlineSettings {
  idleTimeout: number;
  frameTimeout: number;
  writeTimeout: number;
}

const CHECK_IDLE = 0;
const CHECK_FRAME = 1;
const CHECK_WRITE = 2;
type TimerKind = typeof CHECK_IDLE | typeof CHECK_FRAME | typeof CHECK_WRITE;

/** Shared placeholder until a channel arms its first deadline. */
const NO_TIMER_CALLBACKS: ((() => void) | undefined)[] = [];

/** One channel's idle, frame and write deadlines. */
export class ChannelDeadlines {
  readonly idleTimeout: number;
  readonly frameTimeout: number;
  readonly writeTimeout: number;
  private readonly owner: DeadlineOwner;
  private readonly socket: Socket;
  private readonly decoder: Decoder;
  private readonly input: ReadState;
  private readonly output: WriteState;
  private readonly clock: Clock;
  /** [checkIdle, checkFrame, checkWrite] as timer callbacks; each created when its deadline is first armed. */
  private timerCallbacks: ((() => void) | undefined)[] = NO_TIMER_CALLBACKS;
  private idleTimer: unknown;
  private lastActivityAt = 0;
  private frameTimer: unknown;
  private frameStartedAt = 0;
  private writeTimer: unknown;
  private writeWatchStartedAt = 0;
  /** `queuedTotal` at {@link writeMarkAt}: the bytes up to it must reach the kernel within writeTimeout. */
  private writeMark = 0;
  private writeMarkAt = 0;
  /** The input ended: idle and frame timers that fire do nothing more. */
  private inputDone = false;

  constructor(
    owner: DeadlineOwner,
    socket: Socket,
    decoder: Decoder,
    input: ReadState,
    output: WriteState,
    clock: Clock,
    settings: DeadlineSettings,
  ) {
    this.owner = owner;
    this.socket = socket;
    this.decoder = decoder;
    this.input = input;
    this.output = output;
    this.clock = clock;
    this.idleTimeout = settings.idleTimeout;
    this.frameTimeout = settings.frameTimeout;
    this.writeTimeout = settings.writeTimeout;
  }

  /** Starts the idle watch (the connection is new: that counts as activity). */
  start(): void {
    if (this.idleTimeout > 0) {
      this.lastActivityAt = this.clock.now();
      this.idleTimer = this.clock.setTimeout(this.timerCallback(CHECK_IDLE), this.idleTimeout);
    }
  }

  /** Inbound bytes arrived. */
  noteInput(): void {
    if (this.idleTimeout > 0) {
      this.lastActivityAt = this.clock.now();
    }
  }

  /** A whole frame was decoded: no frame is in progress now. */
  frameDone(): void {
    this.frameStartedAt = 0;
  }

  /** The read loop stopped for want of bytes: times the frame in progress, if any. */
  watchFrame(): void {
    if (this.frameTimeout === 0) {
      return;
    }
    if (!this.decoder.inFrame) {
      this.frameStartedAt = 0;
      return;
    }
    if (this.frameStartedAt === 0) {
      this.frameStartedAt = this.clock.now();
      if (this.frameTimer === undefined) {
        this.frameTimer = this.clock.setTimeout(this.timerCallback(CHECK_FRAME), this.frameTimeout);
      }
    }
  }

  /** Arms the write timer (lazily: one timer while output is held). */
  watchWrite(): void {
    if (this.writeTimeout > 0 && this.writeTimer === undefined) {
      this.writeWatchStartedAt = this.clock.now();
      this.writeMark = this.output.queuedTotal;
      this.writeMarkAt = this.writeWatchStartedAt;
      this.writeTimer = this.clock.setTimeout(this.timerCallback(CHECK_WRITE), this.writeTimeout);
    }
  }

  /** The input ended (EOF, the peer's CLOSE, our own close): no more idle or frame deadline. */
  endInput(): void {
    this.inputDone = true;
    this.stopFrameTimer();
  }

  /** The channel reads no more (close): the idle and frame timers go. */
  stopReading(): void {
    this.clearIdleTimer();
    this.stopFrameTimer();
  }

  /** Every timer goes (the channel failed, closed or let go of its connection). */
  stop(): void {
    this.clearIdleTimer();
    if (this.writeTimer !== undefined) {
      this.clock.clearTimeout(this.writeTimer);
      this.writeTimer = undefined;
    }
    this.stopFrameTimer();
  }

  /**
   * The clock time (ms) at which the idle deadline falls given the traffic so far: the
   * last byte received or written to the kernel plus `idleTimeout`; 0 when it is off.
   */
  idleDeadline(): number {
    if (this.idleTimeout === 0) {
      return 0;
    }
    return Math.max(this.lastActivityAt, this.socket.lastWriteDoneAt) + this.idleTimeout;
  }

  private clearIdleTimer(): void {
    if (this.idleTimer !== undefined) {
      this.clock.clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
  }

  private stopFrameTimer(): void {
    if (this.frameTimer !== undefined) {
      this.clock.clearTimeout(this.frameTimer);
      this.frameTimer = undefined;
    }
    this.frameStartedAt = 0;
  }

  /** The callback a deadline timer of `kind` runs (one set per channel, made on first use). */
  private timerCallback(kind: TimerKind): () => void {
    if (this.timerCallbacks === NO_TIMER_CALLBACKS) {
      this.timerCallbacks = [undefined, undefined, undefined];
    }
    let callback = this.timerCallbacks[kind];
    if (callback === undefined) {
      callback =
        kind === CHECK_IDLE
          ? () => this.checkIdle()
          : kind === CHECK_FRAME
            ? () => this.checkFrame()
            : () => this.checkWrite();
      this.timerCallbacks[kind] = callback;
    }
    return callback;
  }

  private checkIdle(): void {
    this.idleTimer = undefined;
    if (this.owner.error !== undefined || this.inputDone || this.socket.isClosed) {
      return;
    }
    const now = this.clock.now();
    if (this.input.paused) {
      // We stopped reading (our receiver is slow): the peer is not idle.
      this.lastActivityAt = now;
    }
    // Output the peer keeps accepting is activity too (#14: a chat client that only
    // reads is alive), as with HAProxy's `timeout client`: a write that reached the
    // kernel means the peer's TCP took the bytes before it (its window was open).
    const idleFor = now - Math.max(this.lastActivityAt, this.socket.lastWriteDoneAt);
    if (idleFor >= this.idleTimeout) {
      this.owner.destroy(idleTimeoutError(this.idleTimeout));
      return;
    }
    this.idleTimer = this.clock.setTimeout(
      this.timerCallback(CHECK_IDLE),
      this.idleTimeout - idleFor,
    );
  }

  private checkFrame(): void {
    this.frameTimer = undefined;
    if (
      this.owner.error !== undefined ||
      this.inputDone ||
      this.frameStartedAt === 0 ||
      !this.decoder.inFrame
    ) {
      this.frameStartedAt = 0;
      return;
    }
    const elapsed = this.clock.now() - this.frameStartedAt;
    if (elapsed >= this.frameTimeout) {
      this.owner.destroy(
        new TimeoutError(
          'SB_FRAME_TIMEOUT',
          `a frame started ${elapsed} ms ago is still incomplete (frameTimeout ${this.frameTimeout} ms, ${this.decoder.buffered} bytes buffered)`,
        ),
      );
      return;
    }
    this.frameTimer = this.clock.setTimeout(
      this.timerCallback(CHECK_FRAME),
      this.frameTimeout - elapsed,
    );
  }

  private checkWrite(): void {
    this.writeTimer = undefined;
    const socket = this.socket;
    const held = this.output.held;
    if (this.owner.error !== undefined || socket.isClosed || held === 0) {
      return;
    }
    const now = this.clock.now();
    const queuedTotal = this.output.queuedTotal;
    if (queuedTotal - held >= this.writeMark) {
      // Everything queued by the mark's time has reached the kernel: a new mark.
      this.writeMark = queuedTotal;
      this.writeMarkAt = now;
    }
    const stalledFor = now - Math.max(this.writeWatchStartedAt, socket.lastWriteDoneAt);
    const heldFor = now - this.writeMarkAt;
    if (stalledFor >= this.writeTimeout) {
      this.owner.destroy(
        new TimeoutError(
          'SB_WRITE_TIMEOUT',
          `${held} queued bytes made no progress for writeTimeout ${this.writeTimeout} ms`,
        ),
      );
      return;
    }
    if (heldFor >= this.writeTimeout) {
      this.owner.destroy(
        new TimeoutError(
          'SB_WRITE_TIMEOUT',
          `output queued ${heldFor} ms ago is still not taken by the peer (writeTimeout ${this.writeTimeout} ms, ${held} bytes queued)`,
        ),
      );
      return;
    }
    this.writeTimer = this.clock.setTimeout(
      this.timerCallback(CHECK_WRITE),
      this.writeTimeout - Math.max(stalledFor, heldFor),
    );
  }
}
