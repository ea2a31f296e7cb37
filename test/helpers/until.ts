/**
 * The one bounded poll of the test suite: for a condition that no event announces (a
 * server counter, a child's stderr), checked every few ms of real time, failing with
 * what was awaited once `limitMs` has passed. Prefer an event or a fake clock where one
 * exists; this is for observing another process or the server from outside.
 */

/** How often the condition is checked, ms. */
const POLL_MS = 5;

/**
 * Resolves once `condition()` is true, polling every few ms, at most `limitMs` (real
 * time); then rejects naming `what` (a function is called at that moment, so the
 * message can show the state that did not change).
 */
export async function until(
  condition: () => boolean,
  limitMs = 5000,
  what: string | (() => string) = 'condition',
): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > limitMs) {
      const described = typeof what === 'function' ? what() : what;
      throw new Error(`${described}: not met within ${limitMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
