/**
 * Vitest setup file (vitest.config.ts `setupFiles`): any unhandled rejection or
 * uncaught exception fails the test during which it surfaced (or, if it surfaces
 * between tests, the file), instead of being reported once at the end of the run
 * with no test to blame (issue #14). The library promises that no promise it creates
 * is ever left unhandled, on any path; this is how the whole suite checks it.
 *
 * Each rejection is recorded with the name of the test that was running, and the
 * next `afterEach` (or the file's `afterAll`) throws it. A rejection can surface a
 * few turns after its cause (a socket reset reported on a later tick), so `afterEach`
 * first lets pending I/O callbacks and microtasks run (two setImmediate turns; no
 * timers, so fake clocks are not disturbed).
 */
import { afterAll, afterEach, beforeEach, expect } from 'vitest';

interface Stray {
  kind: 'unhandledRejection' | 'uncaughtException';
  reason: unknown;
  during: string;
}

const strays: Stray[] = [];
let current = '(between tests)';

function record(kind: Stray['kind']) {
  return (reason: unknown): void => {
    strays.push({ kind, reason, during: current });
  };
}

process.on('unhandledRejection', record('unhandledRejection'));
process.on('uncaughtException', record('uncaughtException'));

function settle(): Promise<void> {
  return new Promise<void>((resolve) => {
    setImmediate(() => setImmediate(resolve));
  });
}

function describeReason(reason: unknown): string {
  if (reason instanceof Error) {
    const code = (reason as { code?: unknown }).code;
    return `${reason.name}${code === undefined ? '' : ` [${String(code)}]`}: ${reason.message}\n${reason.stack ?? ''}`;
  }
  return String(reason);
}

function throwStrays(): void {
  if (strays.length === 0) {
    return;
  }
  const found = strays.splice(0);
  const text = found
    .map((stray) => `${stray.kind} during "${stray.during}": ${describeReason(stray.reason)}`)
    .join('\n\n');
  throw new Error(`${found.length} unhandled error(s):\n${text}`);
}

beforeEach(() => {
  current = expect.getState().currentTestName ?? '(unnamed test)';
});

afterEach(async () => {
  if (!isFakeTimers()) {
    await settle();
  }
  current = '(between tests)';
  throwStrays();
});

afterAll(async () => {
  if (!isFakeTimers()) {
    await settle();
  }
  throwStrays();
});

/** setImmediate is faked too when a test installs fake timers without `toFake`. */
function isFakeTimers(): boolean {
  return typeof (setImmediate as { clock?: unknown }).clock === 'object';
}
