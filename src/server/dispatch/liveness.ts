/**
 * Liveness of one `processes` worker, from the primary's side (#14).
 *
 * Theory of operation
 * -------------------
 * A worker that is alive but not running (SIGSTOP, a debugger, a handler stuck in
 * a synchronous loop) never exits, so the crash path never sees it, and new
 * connections handed to it wait forever. The primary therefore pings every
 * worker over IPC every `interval` ms; the worker answers from its event loop.
 * A busy worker answers late now and then (a long synchronous handler, GC, a loaded
 * machine), so one late answer is not enough: the worker is unresponsive only after
 * `maxMissed` ticks in a row found its ping unanswered
 * (`DEFAULTS.workerHeartbeatMaxMissed`, 3).
 *
 * | state        | on tick                                   | on pong               |
 * |--------------|-------------------------------------------|-----------------------|
 * | responsive   | ping answered: send the next ping         | missed count reset    |
 * |              | ping unanswered: count one miss; at       |                       |
 * |              | `maxMissed` -> unresponsive,              |                       |
 * |              | `onUnresponsive()`, grace timer started   |                       |
 * | unresponsive | (no more pings: one is still outstanding) | -> responsive,        |
 * |              |                                           | `onResponsive()`,     |
 * |              |                                           | grace timer cancelled |
 * | grace over   | `onGraceExpired()` once, then stopped     |                       |
 *
 * A worker stopped at time t is declared unresponsive between t + maxMissed ×
 * interval and t + (maxMissed + 1) × interval (its last answered ping may have left
 * just before t), and `onGraceExpired` follows `grace` ms later (0 = never). Unresponsive workers get
 * no new connections (processes.ts); at the end of the grace the primary kills and
 * replaces the worker. Timers come from an injected {@link Clock}, so tests drive
 * it without sleeping.
 */
import type { Clock } from '../../net/clock.js';
import { DEFAULTS } from '../../options.js';

/** What {@link WorkerLiveness} does to its worker. */
export interface LivenessHost {
  /** Sends one ping to the worker (the answer arrives as {@link WorkerLiveness.pong}). */
  sendPing(): void;
  /** The last ping went unanswered for a whole interval. */
  onUnresponsive(): void;
  /** An unresponsive worker answered again. */
  onResponsive(): void;
  /** The worker stayed unresponsive for the whole grace period (called once; liveness stops). */
  onGraceExpired(): void;
}

/** Pings one worker and tracks whether it answers. */
export class WorkerLiveness {
  readonly #host: LivenessHost;
  readonly #interval: number;
  readonly #grace: number;
  readonly #clock: Clock;
  #tickTimer: unknown;
  #graceTimer: unknown;
  readonly #maxMissed: number;
  #awaitingPong = false;
  /** Ticks in a row that found the outstanding ping unanswered. */
  #missed = 0;
  #responsive = true;
  #running = false;

  /**
   * @param interval ms between pings (> 0).
   * @param grace ms an unresponsive worker is kept before `onGraceExpired` (0 = kept).
   * @param maxMissed ticks in a row with the ping unanswered before the worker is
   *   unresponsive (>= 1).
   */
  constructor(
    host: LivenessHost,
    interval: number,
    grace: number,
    clock: Clock,
    maxMissed: number = DEFAULTS.workerHeartbeatMaxMissed,
  ) {
    this.#host = host;
    this.#maxMissed = Math.max(1, maxMissed);
    this.#interval = interval;
    this.#grace = grace;
    this.#clock = clock;
  }

  /** False from a missed ping until the next pong. */
  get responsive(): boolean {
    return this.#responsive;
  }

  /** Sends the first ping and starts the schedule (idempotent). */
  start(): void {
    if (this.#running) {
      return;
    }
    this.#running = true;
    this.#ping();
    this.#schedule();
  }

  /** Stops every timer (idempotent). */
  stop(): void {
    this.#running = false;
    if (this.#tickTimer !== undefined) {
      this.#clock.clearTimeout(this.#tickTimer);
      this.#tickTimer = undefined;
    }
    this.#cancelGrace();
  }

  /** The worker answered a ping. */
  pong(): void {
    this.#awaitingPong = false;
    this.#missed = 0;
    if (!this.#running || this.#responsive) {
      return;
    }
    this.#responsive = true;
    this.#cancelGrace();
    this.#host.onResponsive();
  }

  #ping(): void {
    this.#awaitingPong = true;
    this.#host.sendPing();
  }

  #schedule(): void {
    this.#tickTimer = this.#clock.setTimeout(this.#tick, this.#interval);
  }

  readonly #tick = (): void => {
    this.#tickTimer = undefined;
    if (!this.#running) {
      return;
    }
    this.#schedule();
    if (!this.#awaitingPong) {
      this.#ping();
      return;
    }
    this.#missed += 1;
    if (this.#responsive && this.#missed >= this.#maxMissed) {
      this.#responsive = false;
      if (this.#grace > 0) {
        this.#graceTimer = this.#clock.setTimeout(this.#graceOver, this.#grace);
      }
      this.#host.onUnresponsive();
    }
  };

  readonly #graceOver = (): void => {
    this.#graceTimer = undefined;
    if (!this.#running) {
      return;
    }
    this.stop();
    this.#host.onGraceExpired();
  };

  #cancelGrace(): void {
    if (this.#graceTimer !== undefined) {
      this.#clock.clearTimeout(this.#graceTimer);
      this.#graceTimer = undefined;
    }
  }
}
