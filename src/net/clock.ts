/**
 * Clocks and deadlines shared by the net layer.
 *
 * Every timer in src/net goes through a {@link Clock} so tests can inject a fake
 * one (or use `vi.useFakeTimers()`: {@link systemClock} looks the globals up at
 * call time, so patched globals are honoured). {@link waitUntil} is the one
 * place that turns "wake me when something changes" into a promise with a
 * `timeout` (ms) and an `AbortSignal`.
 */
import {
  ConnectionError,
  InvalidArgumentError,
  type SwitchboardError,
  TimeoutError,
} from '../errors.js';

/** A source of time and timers. All durations in ms. */
export interface Clock {
  /** Schedules `callback` after `ms` milliseconds; returns an opaque handle. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer returned by {@link Clock.setTimeout}. */
  clearTimeout(handle: unknown): void;
  /** Current time in ms (any monotonic-enough origin). */
  now(): number;
}

/**
 * The longest delay a node timer holds: 2^31 - 1 ms, about 24.8 days. node runs a
 * longer one after 1 ms (with a TimeoutOverflowWarning), so an option such as
 * `idleTimeout: 3e9` would fire at once, or re-arm every millisecond.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `ms` clamped to what a node timer can hold (see {@link MAX_TIMER_MS}). */
export function timerDelay(ms: number): number {
  return Math.min(ms, MAX_TIMER_MS);
}

/**
 * Resolves after `ms`, however long: a delay past {@link MAX_TIMER_MS} waits in
 * timer-sized pieces, re-reading `clock.now()` after each, so a recorded gap of 30 days
 * is 30 days, not the 1 ms node would make of one oversized timer. `Infinity` waits
 * until the signal aborts; `ms <= 0` (or NaN) resolves at once. Rejects with
 * {@link abortedError} when `signal` aborts, leaving no timer or listener behind.
 */
export function sleep(
  ms: number,
  signal: AbortSignal | undefined,
  clock: Clock = systemClock,
): Promise<void> {
  checkSignal('sleep', signal);
  if (signal?.aborted === true) {
    return Promise.reject(abortedError(signal));
  }
  if (!(ms > 0)) {
    return Promise.resolve();
  }
  const due = clock.now() + ms;
  return new Promise<void>((resolve, reject) => {
    let timer: unknown;
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      reject(abortedError(signal!));
    };
    const arm = (): void => {
      const left = due - clock.now();
      if (!(left > 0)) {
        signal?.removeEventListener('abort', onAbort);
        resolve();
        return;
      }
      timer = clock.setTimeout(arm, timerDelay(left));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    arm();
  });
}

/**
 * A {@link systemClock} timer longer than a node timer holds: it waits in timer-sized
 * pieces, re-reading `Date.now()` after each, and fires when its delay has really
 * passed. Clamping alone (timerDelay) made a call's `timeout: 3e9` fire after 24.8 days.
 */
class LongTimer {
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #due: number;
  readonly #callback: () => void;

  constructor(callback: () => void, ms: number) {
    this.#callback = callback;
    this.#due = Date.now() + ms;
    this.#arm();
  }

  #arm(): void {
    const left = this.#due - Date.now();
    if (!(left > 0)) {
      this.#timer = undefined;
      this.#callback();
      return;
    }
    this.#timer = setTimeout(() => this.#arm(), timerDelay(left));
  }

  cancel(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}

/**
 * The real clock: the global timers and `Date.now`, looked up at each call. A delay
 * past {@link MAX_TIMER_MS} is a {@link LongTimer} (Infinity: one that never fires);
 * shorter ones are plain node timers, at no extra cost.
 */
export const systemClock: Clock = Object.freeze({
  setTimeout: (callback: () => void, ms: number): unknown =>
    ms > MAX_TIMER_MS ? new LongTimer(callback, ms) : setTimeout(callback, ms),
  clearTimeout: (handle: unknown): void => {
    if (handle instanceof LongTimer) {
      handle.cancel();
    } else {
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    }
  },
  now: (): number => Date.now(),
});

/** Options every blocking call accepts. */
export interface CallOptions {
  /** Deadline in ms for this call. Omitted or `0` = no deadline. */
  timeout?: number;
  /**
   * Aborts the call; it then rejects with `ConnectionError` `SB_ABORTED`, or with
   * `TimeoutError` `SB_TIMEOUT` when the reason is a timeout (`AbortSignal.timeout(ms)`).
   */
  signal?: AbortSignal;
}

/** Validates a per-call timeout and returns it (0 = none). */
export function checkTimeout(where: string, timeout: number | undefined): number {
  if (timeout === undefined) {
    return 0;
  }
  if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `${where}: timeout must be a number of ms >= 0 (0 = no deadline)`,
    );
  }
  return timeout === Number.POSITIVE_INFINITY ? 0 : timeout;
}

/**
 * Validates a blocking call's `{ timeout, signal }` where the call starts, before it
 * does anything: undefined or null (no options), else an object with a valid timeout
 * and signal. Why here and not only in {@link waitUntil}: that checks only when the
 * call has to wait, so `recvUntil('\n', null)` was a TypeError, and a bad timeout
 * passed unseen whenever the data happened to be there already (or, for `sendAll`,
 * surfaced after the bytes were written).
 * @throws InvalidArgumentError `SB_BAD_OPTION` for options that are not an object;
 *   `SB_INVALID_ARGUMENT` for a bad timeout or signal.
 */
export function checkCallOptions<T extends CallOptions>(
  where: string,
  options: T | null | undefined,
): T | undefined {
  if (options === undefined || options === null) {
    return undefined;
  }
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      `${where}: call options must be an object ({ timeout, signal })`,
    );
  }
  checkSignal(where, options.signal);
  checkTimeout(where, options.timeout);
  return options;
}

/**
 * The `clock` option: the global timers when absent, else a {@link Clock} checked by
 * shape, so that a wrong value is `SB_BAD_OPTION` where it is given, not a TypeError
 * from the first timer (or `now()`) the connection, server or select sets.
 */
export function clockOption(where: string, clock: unknown): Clock {
  if (clock === undefined) {
    return systemClock;
  }
  const candidate = clock as Partial<Clock> | null;
  if (
    typeof clock !== 'object' ||
    candidate === null ||
    typeof candidate.setTimeout !== 'function' ||
    typeof candidate.clearTimeout !== 'function' ||
    typeof candidate.now !== 'function'
  ) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      `${where}: option "clock" must have setTimeout, clearTimeout and now`,
    );
  }
  return clock as Clock;
}

/**
 * Validates a per-call `signal`: undefined, or an AbortSignal (checked by shape, as
 * signals from another realm fail `instanceof`).
 */
export function checkSignal(
  where: string,
  signal: unknown,
): asserts signal is AbortSignal | undefined {
  if (
    signal !== undefined &&
    (typeof signal !== 'object' ||
      signal === null ||
      typeof (signal as AbortSignal).aborted !== 'boolean' ||
      typeof (signal as AbortSignal).addEventListener !== 'function')
  ) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `${where}: signal must be an AbortSignal`,
    );
  }
}

/**
 * The error a call rejects with when its signal aborts: `SB_TIMEOUT` when the reason is
 * a timeout (the DOMException named `TimeoutError` that `AbortSignal.timeout(ms)` and
 * `AbortSignal.any()` over it give: a deadline passed, whoever set it), otherwise
 * `SB_ABORTED`. The reason is kept as `cause`.
 */
export function abortedError(signal: AbortSignal): ConnectionError | TimeoutError {
  const reason: unknown = signal.reason;
  if (isTimeoutReason(reason)) {
    return new TimeoutError('SB_TIMEOUT', 'the call timed out (its AbortSignal timed out)', {
      cause: reason,
    });
  }
  return new ConnectionError('SB_ABORTED', 'the call was aborted by its AbortSignal', {
    cause: reason,
  });
}

/** True for the reason `AbortSignal.timeout()` aborts with (checked by name: realms differ). */
function isTimeoutReason(reason: unknown): boolean {
  return (
    typeof reason === 'object' &&
    reason !== null &&
    (reason as { name?: unknown }).name === 'TimeoutError'
  );
}

/** Something that calls its observers whenever its state may have changed. */
export interface Observable {
  /** Registers `wake`; returns a function that unregisters it. */
  observe(wake: () => void): () => void;
}

/**
 * Resolves when `ready()` is true, re-checking each time `source` reports a change.
 * Rejects with `onTimeout()` after `options.timeout` ms, or with `SB_ABORTED` when the
 * signal aborts. Never leaves a timer or listener behind.
 */
export function waitUntil(
  source: Observable,
  ready: () => boolean,
  options: CallOptions | undefined,
  clock: Clock,
  onTimeout: () => SwitchboardError,
): Promise<void> {
  if (ready()) {
    return Promise.resolve();
  }
  if (
    options !== undefined &&
    options !== null &&
    (typeof options !== 'object' || Array.isArray(options))
  ) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      'call options must be an object ({ timeout, signal })',
    );
  }
  const signal = options?.signal;
  checkSignal('wait', signal);
  if (signal?.aborted === true) {
    return Promise.reject(abortedError(signal));
  }
  const timeout = checkTimeout('wait', options?.timeout);
  return new Promise<void>((resolve, reject) => {
    let timer: unknown;
    let unobserve: () => void = noop;
    const finish = (error: SwitchboardError | undefined): void => {
      unobserve();
      if (timer !== undefined) {
        clock.clearTimeout(timer);
      }
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) {
        resolve();
      } else {
        reject(error);
      }
    };
    const onAbort = (): void => finish(abortedError(signal!));
    unobserve = source.observe(() => {
      if (ready()) {
        finish(undefined);
      }
    });
    if (timeout > 0) {
      timer = clock.setTimeout(() => finish(onTimeout()), timeout);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function noop(): void {}
