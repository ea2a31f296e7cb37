/**
 * sleep(): the wait `switchboard replay` keeps between recorded messages. A recorded gap
 * past what one node timer holds (2^31 - 1 ms, ~24.8 days) once went to a single
 * setTimeout, which node runs after 1 ms: the replay sent at once what was recorded a
 * month apart. sleep() waits in timer-sized pieces. Fake clocks only: no sleeps.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isSwitchboardError } from '../../src/errors.js';
import { MAX_TIMER_MS, sleep } from '../../src/net/clock.js';

const DAY_MS = 86_400_000;
afterEach(() => {
  vi.useRealTimers();
});

/** Runs fake timers forward by `ms` in steps a timer can hold, letting promises settle. */
async function advance(ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= MAX_TIMER_MS) {
    await vi.advanceTimersByTimeAsync(Math.min(left, MAX_TIMER_MS));
  }
}

describe('sleep', () => {
  it('waits a 30-day gap in full, not 1 ms', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    let done = false;
    const slept = sleep(30 * DAY_MS, undefined).then(() => {
      done = true;
    });
    await advance(1);
    expect(done).toBe(false);
    await advance(MAX_TIMER_MS);
    expect(done).toBe(false);
    await advance(30 * DAY_MS - MAX_TIMER_MS - 2);
    expect(done).toBe(false);
    await advance(1);
    await slept;
    expect(done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an abort ends a long wait with SB_ABORTED and leaves no timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const controller = new AbortController();
    const slept = sleep(Number.POSITIVE_INFINITY, controller.signal);
    await advance(2 * MAX_TIMER_MS);
    controller.abort();
    const error = await slept.catch((caught: unknown) => caught);
    expect(isSwitchboardError(error, 'SB_ABORTED')).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    await expect(sleep(5, controller.signal)).rejects.toMatchObject({ code: 'SB_ABORTED' });
  });

  it('zero, negative and NaN gaps resolve at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    for (const ms of [0, -5, Number.NaN]) {
      await sleep(ms, undefined);
    }
    expect(vi.getTimerCount()).toBe(0);
  });
});
