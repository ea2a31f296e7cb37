/**
 * WorkerLiveness (src/server/dispatch/liveness.ts) on a manual clock: when a
 * worker that stops answering is declared unresponsive, when it is given up, and
 * that an answer brings it back (#14 item 5). No sockets, no real time.
 */
import { describe, expect, it } from 'vitest';
import { type LivenessHost, WorkerLiveness } from '../../src/server/dispatch/liveness.js';
import { ManualClock } from './helpers.js';

const INTERVAL = 1000;
const GRACE = 10_000;

function setup(grace = GRACE) {
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
  const liveness = new WorkerLiveness(host, INTERVAL, grace, clock);
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
});
