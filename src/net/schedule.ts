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
 *
 * The fault proxy (src/testing) stands for the network and the peer, not for the code
 * under test: like Toxiproxy in its own process, it keeps real time whatever the test
 * fakes. Its timers and its clock are the real ones below, taken the same way
 * (vitest fakes `performance` too, so `performance.now()` would stand still).
 */
import { performance } from 'node:perf_hooks';
import { nextTick } from 'node:process';
import { clearTimeout, setImmediate, setTimeout } from 'node:timers';

/**
 * Runs `callback(...args)` after the I/O callbacks of this event-loop turn: the real
 * setImmediate, read once here (a namespace binding read later could be a fake's if
 * something ever synced the built-in exports).
 */
export const afterIo: typeof setImmediate = setImmediate;

/** Runs `callback(...args)` once this tick's microtasks are done: the real process.nextTick. */
export const afterMicrotasks: typeof nextTick = nextTick;

/**
 * Resolves once node has freed the handles closed before the call. A net.Server emits
 * 'close' (on nextTick) before libuv has run the handle's close callback, which happens
 * in the loop's close phase: until then `process.getActiveResourcesInfo()` still lists
 * the listening socket. Two setImmediate hops pass one close phase whichever phase this
 * is called from (from the timers or poll phase the first hop lands in the same turn's
 * check phase, before its close phase), so a `close()` that awaits this leaves nothing
 * behind for a leak check that runs right after it.
 */
export function afterHandlesClosed(): Promise<void> {
  return new Promise((resolve) => afterIo(() => afterIo(resolve)));
}

/** The real setTimeout (see the header: for the fault proxy, which keeps real time). */
export const realSetTimeout: typeof setTimeout = setTimeout;

/** The real clearTimeout, for a timer from {@link realSetTimeout}. */
export const realClearTimeout: typeof clearTimeout = clearTimeout;

/** Real monotonic ms (`performance.now()` of node:perf_hooks, bound once here). */
export const realNow: () => number = performance.now.bind(performance);
