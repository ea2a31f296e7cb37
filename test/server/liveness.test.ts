/**
 * WorkerLiveness (src/server/dispatch/liveness.ts) on a manual clock: when a
 * worker that stops answering is declared unresponsive, when it is given up, and
 * that an answer brings it back (#14 item 5). No sockets, no real time.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/options.js';
import { type LivenessHost, WorkerLiveness } from '../../src/server/dispatch/liveness.js';
import { ManualClock } from './helpers.js';

const INTERVAL = 1000;
const GRACE = 10_000;

/** The state machine with `maxMissed` 1 (one unanswered tick flags) unless given; null = the default. */
function setup(grace = GRACE, maxMissed: number | null = 1) {
  const clock = new ManualClock();
  const events: string[] = [];
  let pings = 0;
  const host: LivenessHost = {
    sendPing: () => {
      pings += 1;
    },
    onUnresponsive: () => events.push(`unresponsive@${clock.now() - start}`),
    onResponsive: () => events.push(`responsive@${clock.now() - start}`),
    onGraceExpired: () => events.push(`expired@${clock.now() - start}`),
  };
  const start = clock.now();
  const liveness =
    maxMissed === null
      ? new WorkerLiveness(host, INTERVAL, grace, clock)
      : new WorkerLiveness(host, INTERVAL, grace, clock, maxMissed);
  return { clock, events, liveness, pings: () => pings };
}

describe('WorkerLiveness', () => {
  it('a worker that answers every ping stays responsive; one ping per interval', () => {
    const { clock, events, liveness, pings } = setup();
    liveness.start();
    for (let tick = 0; tick < 50; tick++) {
      liveness.pong();
      clock.advance(INTERVAL);
    }
    expect(events).toEqual([]);
    expect(liveness.responsive).toBe(true);
    expect(pings()).toBe(51);
  });

  it('a worker that stops answering is unresponsive one interval after the unanswered ping, given up after the grace', () => {
    const { clock, events, liveness } = setup();
    liveness.start(); // ping at 0
    liveness.pong();
    clock.advance(INTERVAL); // ping at 1000; the worker stops here
    clock.advance(INTERVAL - 1);
    expect(liveness.responsive).toBe(true);
    clock.advance(1); // 2000: the ping of 1000 is unanswered
    expect(liveness.responsive).toBe(false);
    expect(events).toEqual(['unresponsive@2000']);
    clock.advance(GRACE - 1);
    expect(events).toEqual(['unresponsive@2000']);
    clock.advance(1);
    expect(events).toEqual(['unresponsive@2000', `expired@${2000 + GRACE}`]);
    // Stopped: no more timers, no more events.
    expect(clock.pending).toBe(0);
    clock.advance(10 * GRACE);
    expect(events).toHaveLength(2);
  });

  it('an unresponsive worker that answers again is responsive, and the grace is cancelled', () => {
    const { clock, events, liveness, pings } = setup();
    liveness.start();
    clock.advance(INTERVAL); // unanswered ping of 0
    expect(events).toEqual(['unresponsive@1000']);
    const pingsWhileSilent = pings();
    clock.advance(3 * INTERVAL);
    expect(pings()).toBe(pingsWhileSilent); // one outstanding ping is enough
    liveness.pong(); // SIGCONT: the old ping is answered
    expect(liveness.responsive).toBe(true);
    expect(events).toEqual(['unresponsive@1000', 'responsive@4000']);
    // The grace that started at 1000 would have ended at 11000: nothing happens while it answers.
    for (let tick = 0; tick < (2 * GRACE) / INTERVAL; tick++) {
      clock.advance(INTERVAL);
      liveness.pong();
    }
    expect(events).toEqual(['unresponsive@1000', 'responsive@4000']);
    expect(liveness.responsive).toBe(true);
  });

  it('grace 0: an unresponsive worker is never given up', () => {
    const { clock, events, liveness } = setup(0);
    liveness.start();
    clock.advance(100 * INTERVAL);
    expect(events).toEqual(['unresponsive@1000']);
  });

  it('stop() cancels every timer', () => {
    const { clock, liveness } = setup();
    liveness.start();
    clock.advance(INTERVAL);
    liveness.stop();
    expect(clock.pending).toBe(0);
  });

  // A worker under load answers a ping late now and then; one missed 1 s ping flagged
  // it SB_WORKER_UNRESPONSIVE (no new connections) though it was serving. Now it takes
  // DEFAULTS.workerHeartbeatMaxMissed (3) ticks in a row with the ping unanswered.
  it('by default a worker is unresponsive only after 3 intervals without an answer', () => {
    expect(DEFAULTS.workerHeartbeatMaxMissed).toBe(3);
    const { clock, events, liveness } = setup(GRACE, null);
    liveness.start(); // ping at 0, unanswered from here on
    clock.advance(INTERVAL); // 1000: first miss
    clock.advance(INTERVAL); // 2000: second miss
    expect(liveness.responsive).toBe(true);
    clock.advance(INTERVAL - 1);
    expect(events).toEqual([]);
    clock.advance(1); // 3000: third miss
    expect(liveness.responsive).toBe(false);
    expect(events).toEqual(['unresponsive@3000']);
    clock.advance(GRACE);
    expect(events).toEqual(['unresponsive@3000', `expired@${3000 + GRACE}`]);
  });

  it('a busy worker that answers up to 2 intervals late is never flagged', () => {
    const { clock, events, liveness, pings } = setup(GRACE, null);
    liveness.start();
    for (let round = 0; round < 100; round++) {
      // Each ping is answered just before the third tick after it.
      clock.advance(2 * INTERVAL);
      clock.advance(INTERVAL - 1);
      liveness.pong();
      clock.advance(1);
    }
    expect(events).toEqual([]);
    expect(liveness.responsive).toBe(true);
    expect(pings()).toBe(101); // one outstanding ping at a time
  });

  it('the missed count restarts after an answer', () => {
    const { clock, events, liveness } = setup(GRACE, 3);
    liveness.start();
    clock.advance(2 * INTERVAL); // two misses
    liveness.pong(); // answered late
    clock.advance(INTERVAL); // 3000: a new ping goes out
    clock.advance(2 * INTERVAL); // two misses of the new ping
    expect(events).toEqual([]);
    clock.advance(INTERVAL); // the third
    expect(events).toEqual(['unresponsive@6000']);
  });
});
