/**
 * SharedTimers: the one-heap clock behind every connection deadline of a server (#8).
 * Driven by the manual clock, so every expectation is exact.
 */
import { describe, expect, it } from 'vitest';
import { SharedTimers } from '../../src/server/timers.js';
import { ManualClock, seededRandom } from './helpers.js';

describe('SharedTimers', () => {
  it('fires each timer once, in due order, with one base timer armed', () => {
    const base = new ManualClock();
    const timers = new SharedTimers(base);
    const fired: string[] = [];
    timers.setTimeout(() => fired.push('c'), 300);
    timers.setTimeout(() => fired.push('a'), 100);
    timers.setTimeout(() => fired.push('b'), 200);
    expect(timers.size).toBe(3);
    expect(base.pending).toBe(1);
    base.advance(99);
    expect(fired).toEqual([]);
    base.advance(1);
    expect(fired).toEqual(['a']);
    base.advance(200);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(timers.size).toBe(0);
    expect(base.pending).toBe(0);
  });

  it('now() is a small positive integer that advances with the base clock', () => {
    const base = new ManualClock();
    const timers = new SharedTimers(base);
    const start = timers.now();
    expect(start).toBeGreaterThan(0);
    base.advance(1234);
    expect(timers.now() - start).toBe(1234);
  });

  it('a cancelled timer never fires and is removed at once; the base timer goes when none is left', () => {
    const base = new ManualClock();
    const timers = new SharedTimers(base);
    const fired: number[] = [];
    const first = timers.setTimeout(() => fired.push(1), 100);
    const second = timers.setTimeout(() => fired.push(2), 200);
    timers.clearTimeout(first);
    timers.clearTimeout(first); // twice is harmless
    expect(timers.size).toBe(1);
    timers.clearTimeout(second);
    expect(timers.size).toBe(0);
    expect(base.pending).toBe(0);
    base.advance(1000);
    expect(fired).toEqual([]);
    timers.clearTimeout(undefined); // not a handle: ignored
  });

  it('an earlier timer re-arms the base timer; callbacks may schedule more', () => {
    const base = new ManualClock();
    const timers = new SharedTimers(base);
    const fired: string[] = [];
    timers.setTimeout(() => fired.push('late'), 1000);
    timers.setTimeout(() => {
      fired.push('early');
      timers.setTimeout(() => fired.push('chained'), 50);
    }, 100);
    base.advance(100);
    expect(fired).toEqual(['early']);
    base.advance(50);
    expect(fired).toEqual(['early', 'chained']);
    base.advance(850);
    expect(fired).toEqual(['early', 'chained', 'late']);
  });

  it('random schedules and cancellations fire exactly the live timers, in due order', () => {
    const random = seededRandom(42);
    const base = new ManualClock();
    const timers = new SharedTimers(base);
    const fired: { id: number; delay: number }[] = [];
    const handles: unknown[] = [];
    for (let id = 0; id < 500; id++) {
      const delay = Math.floor(random() * 1000);
      handles.push(timers.setTimeout(() => fired.push({ id, delay }), delay));
    }
    const cancelled = new Set<number>();
    for (let round = 0; round < 200; round++) {
      const id = Math.floor(random() * 500);
      cancelled.add(id);
      timers.clearTimeout(handles[id]);
    }
    expect(timers.size).toBe(500 - cancelled.size);
    base.advance(1000);
    const firedIds = fired.map((timer) => timer.id).sort((a, b) => a - b);
    const liveIds = handles.map((_, id) => id).filter((id) => !cancelled.has(id));
    expect(firedIds).toEqual(liveIds);
    const delays = fired.map((timer) => timer.delay);
    expect(delays).toEqual([...delays].sort((a, b) => a - b));
    expect(timers.size).toBe(0);
  });
});
