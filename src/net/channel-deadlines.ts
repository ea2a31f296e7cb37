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
 * - `writeTimeout`: queued output made no progress to the kernel for N ms ->
 *   `SB_WRITE_TIMEOUT` (a peer that stopped reading). Armed by {@link watchWrite}.
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
  private readonly clock: Clock;
  /** [checkIdle, checkFrame, checkWrite] as timer callbacks; each created when its deadline is first armed. */
  private timerCallbacks: ((() => void) | undefined)[] = NO_TIMER_CALLBACKS;
  private idleTimer: unknown;
  private lastActivityAt = 0;
  private frameTimer: unknown;
  private frameStartedAt = 0;
  private writeTimer: unknown;
  private writeWatchStartedAt = 0;
  /** The input ended: idle and frame timers that fire do nothing more. */
  private inputDone = false;

  constructor(
    owner: DeadlineOwner,
    socket: Socket,
    decoder: Decoder,
    input: ReadState,
    clock: Clock,
    settings: DeadlineSettings,
  ) {
    this.owner = owner;
    this.socket = socket;
    this.decoder = decoder;
    this.input = input;
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

  /** Arms the write-progress timer (lazily: one timer while output is pending). */
  watchWrite(): void {
    if (this.writeTimeout > 0 && this.writeTimer === undefined) {
      this.writeWatchStartedAt = this.clock.now();
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
    if (this.owner.error !== undefined || socket.isClosed || socket.writableLength === 0) {
      return;
    }
    const now = this.clock.now();
    const progressAt = Math.max(this.writeWatchStartedAt, socket.lastWriteDoneAt);
    const stalledFor = now - progressAt;
    if (stalledFor >= this.writeTimeout) {
      this.owner.destroy(
        new TimeoutError(
          'SB_WRITE_TIMEOUT',
          `${socket.writableLength} queued bytes made no progress for writeTimeout ${this.writeTimeout} ms`,
        ),
      );
      return;
    }
    this.writeTimer = this.clock.setTimeout(
      this.timerCallback(CHECK_WRITE),
      this.writeTimeout - stalledFor,
    );
  }
}
