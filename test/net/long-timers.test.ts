/**
 * The real clock's timers past what a node timer holds (2^31 - 1 ms, ~24.8 days).
 * They were clamped to it, so a call's `timeout: 3e9` (~34.7 days) or a request
 * timeout of 30 days fired after 24.8 days. Fake timers stand in for the days: they
 * run a longer timer after 1 ms, as node does, so an unclamped one would show too.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import { MAX_TIMER_MS, systemClock, waitUntil } from '../../src/net/clock.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('systemClock timers longer than a node timer', () => {
  it('fire when their delay has passed, not at 24.8 days', () => {
    let fired = 0;
    systemClock.setTimeout(() => {
      fired += 1;
    }, 3e9);
    vi.advanceTimersByTime(MAX_TIMER_MS + 1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(3e9 - MAX_TIMER_MS - 2);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
    vi.advanceTimersByTime(10 * MAX_TIMER_MS);
    expect(fired).toBe(1);
  });

  it('are cancelled by clearTimeout, before or after their first piece', () => {
    let fired = 0;
    const early = systemClock.setTimeout(() => {
      fired += 1;
    }, 3e9);
    systemClock.clearTimeout(early);
    const late = systemClock.setTimeout(() => {
      fired += 1;
    }, 3e9);
    vi.advanceTimersByTime(MAX_TIMER_MS + 1);
    systemClock.clearTimeout(late);
    vi.advanceTimersByTime(10 * MAX_TIMER_MS);
    expect(fired).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a blocking call with timeout 3e9 times out after 3e9 ms', async () => {
    const never = { observe: () => () => undefined };
    const wait = waitUntil(
      never,
      () => false,
      { timeout: 3e9 },
      systemClock,
      () => {
        return new TimeoutError('SB_TIMEOUT', 'timed out');
      },
    );
    let settled = false;
    const settle = (): void => {
      settled = true;
    };
    wait.then(settle, settle);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS + 1);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(3e9 - MAX_TIMER_MS);
    await expect(wait).rejects.toMatchObject({ code: 'SB_TIMEOUT' });
  });
});
