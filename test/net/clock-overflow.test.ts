/**
 * The system clock clamps a delay beyond what a node timer holds (2^31 - 1 ms): node
 * would run it after 1 ms (TimeoutOverflowWarning), so `idleTimeout: 3e9` cut every
 * connection at once or re-armed every millisecond. Event-driven: no sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_TIMER_MS, systemClock, timerDelay } from '../../src/net/clock.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
let stop: (() => void) | undefined;
afterEach(() => stop?.());

describe('systemClock with a delay beyond a node timer', () => {
  it('holds the timer (no overflow to 1 ms) and clamps to 2^31 - 1 ms', async () => {
    expect(timerDelay(3_000_000_000)).toBe(MAX_TIMER_MS);
    expect(timerDelay(1234)).toBe(1234);
    let overflow = 0;
    const onWarning = (warning: Error): void => {
      if (warning.name === 'TimeoutOverflowWarning') {
        overflow += 1;
      }
    };
    process.on('warning', onWarning);
    let fired = false;
    const handle = systemClock.setTimeout(() => {
      fired = true;
    }, 3_000_000_000);
    stop = () => {
      systemClock.clearTimeout(handle);
      process.off('warning', onWarning);
    };
    // node emits the overflow warning on the next tick of arming the timer.
    await turn();
    await turn();
    expect(overflow).toBe(0);
    expect(fired).toBe(false);
  });
});
