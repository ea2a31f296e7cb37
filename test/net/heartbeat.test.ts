import { afterEach, describe, expect, it, vi } from 'vitest';
import { Heartbeat, type HeartbeatHost } from '../../src/net/heartbeat.js';

function host() {
  const calls = { pings: 0, stale: 0 };
  const value: HeartbeatHost = {
    sendPing: () => {
      calls.pings += 1;
    },
    onStale: () => {
      calls.stale += 1;
    },
  };
  return { calls, value };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Heartbeat', () => {
  it('reports a silent peer exactly at interval x (maxOutstanding + 1)', () => {
    vi.useFakeTimers();
    for (const maxOutstanding of [1, 2, 5]) {
      const { calls, value } = host();
      const heartbeat = new Heartbeat(value, { interval: 100, maxOutstanding });
      heartbeat.start();
      vi.advanceTimersByTime(100 * (maxOutstanding + 1) - 1);
      expect(calls).toEqual({ pings: maxOutstanding, stale: 0 });
      expect(heartbeat.outstanding).toBe(maxOutstanding);
      vi.advanceTimersByTime(1);
      expect(calls).toEqual({ pings: maxOutstanding, stale: 1 });
      expect(heartbeat.isRunning).toBe(false);
      vi.advanceTimersByTime(10_000);
      expect(calls.stale).toBe(1);
    }
  });

  it('a pong resets the outstanding count', () => {
    vi.useFakeTimers();
    const { calls, value } = host();
    const heartbeat = new Heartbeat(value, { interval: 100, maxOutstanding: 2 });
    heartbeat.start();
    for (let round = 0; round < 20; round += 1) {
      vi.advanceTimersByTime(100);
      heartbeat.pong();
    }
    expect(calls).toEqual({ pings: 20, stale: 0 });
    expect(heartbeat.outstanding).toBe(0);
    heartbeat.stop();
    vi.advanceTimersByTime(10_000);
    expect(calls.pings).toBe(20);
  });

  it('works with an injected clock (no globals)', () => {
    const timers: Array<{ at: number; callback: () => void }> = [];
    let now = 0;
    const clock = {
      setTimeout: (callback: () => void, ms: number) => {
        const timer = { at: now + ms, callback };
        timers.push(timer);
        return timer;
      },
      clearTimeout: (handle: unknown) => {
        const index = timers.indexOf(handle as (typeof timers)[number]);
        if (index >= 0) timers.splice(index, 1);
      },
      now: () => now,
    };
    const { calls, value } = host();
    new Heartbeat(value, { interval: 10, maxOutstanding: 1, clock }).start();
    for (let step = 0; step < 10 && timers.length > 0; step += 1) {
      const next = timers.shift()!;
      now = next.at;
      next.callback();
    }
    expect(now).toBe(20);
    expect(calls).toEqual({ pings: 1, stale: 1 });
  });

  it('ignores a failing sendPing (the connection reports its own errors)', async () => {
    vi.useFakeTimers();
    const heartbeat = new Heartbeat(
      { sendPing: () => Promise.reject(new Error('write failed')), onStale: () => {} },
      { interval: 10, maxOutstanding: 3 },
    );
    heartbeat.start();
    await vi.advanceTimersByTimeAsync(25);
    expect(heartbeat.outstanding).toBe(2);
    heartbeat.stop();
  });

  it('validates its options and host', () => {
    const { value } = host();
    expect(() => new Heartbeat(value, { interval: 0 })).toThrow(
      expect.objectContaining({ code: 'SB_BAD_OPTION' }),
    );
    expect(() => new Heartbeat(value, { maxOutstanding: 0 })).toThrow(
      expect.objectContaining({ code: 'SB_BAD_OPTION' }),
    );
    expect(() => new Heartbeat({} as HeartbeatHost)).toThrow(
      expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }),
    );
    const defaults = new Heartbeat(value);
    expect([defaults.interval, defaults.maxOutstanding]).toEqual([15_000, 2]);
  });
});
