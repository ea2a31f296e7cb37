/**
 * The scheduling primitives the library yields with: "after this turn's I/O"
 * (setImmediate) and "after this tick's microtasks" (process.nextTick).
 *
 * Why not the globals: test frameworks' fake timers replace them. `vi.useFakeTimers()`
 * fakes setImmediate by default, and jest's also fakes process.nextTick, so a channel
 * that yielded through the global stopped moving bytes until the test advanced its
 * fake clock: a read loop that used up its turn, a queue resumed after a frame-count
 * pause, a batched write flush, `listener.close()`. These are scheduling, not time,
 * and node's own streams keep running under fake timers because node core uses its
 * internal queues. So the library does the same: the functions are taken from the
 * `node:timers` and `node:process` module namespaces when this module is first
 * evaluated (fake timers patch the globals and the CommonJS `timers` object; an ES
 * module namespace keeps the values it was created with). Deadlines and timeouts still
 * go through clock.ts, which reads the globals at call time, so faking time still
 * drives them.
 */
import { nextTick } from 'node:process';
import { setImmediate } from 'node:timers';

/**
 * Runs `callback(...args)` after the I/O callbacks of this event-loop turn: the real
 * setImmediate, read once here (a namespace binding read later could be a fake's if
 * something ever synced the built-in exports).
 */
export const afterIo: typeof setImmediate = setImmediate;

/** Runs `callback(...args)` once this tick's microtasks are done: the real process.nextTick. */
export const afterMicrotasks: typeof nextTick = nextTick;
