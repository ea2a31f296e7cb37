/**
 * select(): the HOWTO's readiness multiplexer over switchboard sockets.
 *
 * Theory of operation: readiness is computed from each socket's own state, never by
 * probing the connection, so a dead socket cannot make the call fail (the HOWTO's
 * "one very nasty problem with select"). If nothing is ready, select observes every
 * socket and listener and re-evaluates on each state change until something is ready,
 * the timeout passes (then the three lists are empty), or the signal aborts.
 *
 * | list       | a Socket is in it when                                              |
 * | ---------- | ------------------------------------------------------------------- |
 * | `readable` | bytes are buffered, or the peer shut down cleanly (recv returns 0)  |
 * | `writable` | connected (a connecting socket joins once connected), write side    |
 * |            | open, and the output queue is below its high-water mark             |
 * | `errored`  | the connection broke (reset, refused, TLS failure) or was destroyed |
 *
 * A {@link Listener} in `readers` is readable when a connection waits for `accept()`,
 * and errored once it is closed. A socket reset after delivering bytes is both
 * readable (the bytes) and errored.
 *
 * A {@link Channel} is readable when `receive()` would not wait (a decoded message is
 * queued, or it would return `null` or throw), writable when `send()` would not wait,
 * and errored when the channel failed or its socket is errored by the rules above.
 * Channels decode eagerly, so bytes of a partial frame do not make a channel readable.
 */
import { InvalidArgumentError } from '../errors.js';
import { Channel } from './channel.js';
import {
  abortedError,
  type Clock,
  checkSignal,
  checkTimeout,
  clockOption,
  systemClock,
} from './clock.js';
import { Listener } from './listener.js';
import type { Socket } from './socket.js';

/** Options of {@link select}. */
export interface SelectOptions {
  /** Ms to wait for readiness. Omitted (or Infinity) = wait until something is ready; 0 = poll and return at once. */
  timeout?: number;
  /** Aborts the wait (`SB_ABORTED`). */
  signal?: AbortSignal;
  /** Timer source. Default: the global timers. */
  clock?: Clock;
}

/** What {@link select} can wait on for reading: sockets, listeners and channels. */
export type Selectable = Socket | Listener | Channel;
/** What {@link select} can wait on for writing: sockets and channels. */
export type WriteSelectable = Socket | Channel;

/** What {@link select} found. Each list is a subset of what was passed in, in the same order. */
export interface SelectResult<R extends Selectable, W extends WriteSelectable> {
  readable: R[];
  writable: W[];
  errored: Array<R | W>;
}

function isErrored(item: Selectable): boolean {
  if (item instanceof Listener) {
    return false;
  }
  if (item instanceof Channel) {
    return item.error !== undefined || isErrored(item.socket);
  }
  return item.error !== undefined || (item.isClosed && !item.eof && item.bufferedAmount === 0);
}

function isReadable(item: Selectable): boolean {
  if (item instanceof Listener || item instanceof Channel) {
    return item.isReadable();
  }
  return item.bufferedAmount > 0 || (item.eof && item.error === undefined);
}

/**
 * The caller-fault error for arguments from plain JS that are not what select takes
 * (arrays of Sockets, Listeners and Channels; an options object), else undefined.
 */
function checkSelectArguments(
  readers: unknown,
  writers: unknown,
  options: unknown,
): InvalidArgumentError | undefined {
  const isItem = (item: unknown, writable: boolean): boolean =>
    item instanceof Channel ||
    (!writable && item instanceof Listener) ||
    (typeof item === 'object' &&
      item !== null &&
      typeof (item as Socket).isWritable === 'function' &&
      typeof (item as Socket).observe === 'function');
  if (!Array.isArray(readers) || !readers.every((item) => isItem(item, false))) {
    return new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      'select: readers must be an array of Sockets, Listeners or Channels',
    );
  }
  if (!Array.isArray(writers) || !writers.every((item) => isItem(item, true))) {
    return new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      'select: writers must be an array of Sockets or Channels',
    );
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    return new InvalidArgumentError('SB_BAD_OPTION', 'select: options must be an object');
  }
  // Before any observer is added: a signal without addEventListener failed only after
  // them, so the next wake-up threw its TypeError from the socket's data event.
  try {
    checkSignal('select', (options as SelectOptions).signal);
    clockOption('select', (options as SelectOptions).clock);
  } catch (error) {
    return error as InvalidArgumentError;
  }
  return undefined;
}

function poll<R extends Selectable, W extends WriteSelectable>(
  readers: readonly R[],
  writers: readonly W[],
): SelectResult<R, W> {
  const result: SelectResult<R, W> = { readable: [], writable: [], errored: [] };
  const seen = new Set<Selectable>();
  for (const reader of readers) {
    if (isReadable(reader)) {
      result.readable.push(reader);
    }
    if (isErrored(reader) && !seen.has(reader)) {
      seen.add(reader);
      result.errored.push(reader);
    }
  }
  for (const writer of writers) {
    if (writer.isWritable()) {
      result.writable.push(writer);
    }
    if (isErrored(writer) && !seen.has(writer)) {
      seen.add(writer);
      result.errored.push(writer);
    }
  }
  return result;
}

function anything(result: SelectResult<Selectable, WriteSelectable>): boolean {
  return result.readable.length > 0 || result.writable.length > 0 || result.errored.length > 0;
}

/**
 * Waits until at least one socket, listener or channel is readable, writable or
 * errored, and reports all that are. Never throws because of a socket's state.
 *
 * @example
 * ```ts
 * import { createServer, openChannel, select } from 'switchboard';
 *
 * await using server = await createServer({ listen: '127.0.0.1:0', framing: 'line', handler: 'echo' });
 * await using a = await openChannel(server.address, { framing: 'line' });
 * await using b = await openChannel(server.address, { framing: 'line' });
 * await b.send('only b spoke');
 * // The HOWTO's select(): wait until one of them has a message; a dead one lands in `errored`.
 * const { readable } = await select([a, b], [], { timeout: 5_000 });
 * for (const channel of readable) {
 *   const message = await channel.receive(); // does not wait
 *   console.log(channel === b, new TextDecoder().decode(message ?? new Uint8Array())); // true only b spoke
 * }
 * ```
 * @throws ConnectionError `SB_ABORTED` if `signal` aborts (TimeoutError `SB_TIMEOUT` if it
 *   was `AbortSignal.timeout()`); InvalidArgumentError for a bad timeout or signal.
 */
export function select<R extends Selectable, W extends WriteSelectable>(
  readers: readonly R[],
  writers: readonly W[] = [],
  options: SelectOptions = {},
): Promise<SelectResult<R, W>> {
  const misuse = checkSelectArguments(readers, writers, options);
  if (misuse !== undefined) {
    return Promise.reject(misuse);
  }
  // Infinity is "no deadline", as for every other call's timeout: checkTimeout gives it
  // as 0, which for select means "poll", so `timeout: Infinity` returned at once, empty
  // (a loop around it spun a core).
  const waitForever = options.timeout === undefined || options.timeout === Number.POSITIVE_INFINITY;
  const timeout = waitForever ? 0 : checkTimeout('select', options.timeout);
  const signal = options.signal;
  if (signal?.aborted === true) {
    return Promise.reject(abortedError(signal));
  }
  const now = poll(readers, writers);
  if (anything(now) || (!waitForever && timeout === 0)) {
    return Promise.resolve(now);
  }
  if (readers.length === 0 && writers.length === 0 && waitForever) {
    return Promise.reject(
      new InvalidArgumentError(
        'SB_INVALID_ARGUMENT',
        'select: no sockets and no timeout would wait forever',
      ),
    );
  }
  const clock = options.clock ?? systemClock;
  return new Promise((resolve, reject) => {
    const unobservers: Array<() => void> = [];
    let timer: unknown;
    let done = false;
    const finish = (result: SelectResult<R, W> | undefined, error?: Error): void => {
      if (done) {
        return;
      }
      done = true;
      for (const unobserve of unobservers) {
        unobserve();
      }
      if (timer !== undefined) {
        clock.clearTimeout(timer);
      }
      signal?.removeEventListener('abort', onAbort);
      if (error !== undefined) {
        reject(error);
      } else {
        resolve(result!);
      }
    };
    const onAbort = (): void => finish(undefined, abortedError(signal!));
    const recheck = (): void => {
      const result = poll(readers, writers);
      if (anything(result)) {
        finish(result);
      }
    };
    for (const item of new Set<Selectable>([...readers, ...writers])) {
      unobservers.push(item.observe(recheck));
    }
    if (!waitForever) {
      timer = clock.setTimeout(() => finish({ readable: [], writable: [], errored: [] }), timeout);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
