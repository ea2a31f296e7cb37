/**
 * The bus's per-sender dedupe window (src/server/seq-window.ts): the rules one by
 * one, then fast-check (seeded) against a reference model that keeps every number
 * in a Set, and the two promises the window makes: it drops only numbers it has
 * delivered before (so a forged number costs a real sender at most one message),
 * and it drops every repeat within the window of a sender's stream.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_SEQ_JUMP,
  SEQ_WINDOW,
  type SeqCounters,
  SeqWindow,
} from '../../src/server/seq-window.js';

const SEED = 20261203;
const MAX = Number.MAX_SAFE_INTEGER;

const counters = (): SeqCounters => ({ duplicates: 0, gaps: 0, resyncs: 0 });

/** Feeds `numbers` to a fresh window (the first one starts it); returns what was delivered. */
function run(numbers: readonly number[]): { delivered: number[]; counts: SeqCounters } {
  const counts = counters();
  const [first, ...rest] = numbers;
  if (first === undefined) {
    return { delivered: [], counts };
  }
  const window = new SeqWindow(first);
  const delivered = [first];
  for (const seq of rest) {
    if (window.accept(seq, counts)) {
      delivered.push(seq);
    }
  }
  return { delivered, counts };
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, index) => from + index);

describe('SeqWindow rules', () => {
  it('in order: every number once; a repeat within the window is a duplicate', () => {
    expect(run([1, 2, 2, 3, 1, 4])).toEqual({
      delivered: [1, 2, 3, 4],
      counts: { duplicates: 2, gaps: 0, resyncs: 0 },
    });
  });

  it('a hole counts as gaps; a number of the hole arriving later is delivered once', () => {
    expect(run([1, 2, 5, 4, 4, 3, 6])).toEqual({
      delivered: [1, 2, 5, 4, 3, 6],
      counts: { duplicates: 1, gaps: 2, resyncs: 0 },
    });
  });

  it('the window is SEQ_WINDOW numbers: a repeat 63 behind is dropped, 64 behind is an outlier', () => {
    const stream = range(1, 100);
    expect(run([...stream, 100 - (SEQ_WINDOW - 1)]).delivered).toEqual(stream);
    const outlier = run([...stream, 100 - SEQ_WINDOW]);
    expect(outlier.delivered).toEqual([...stream, 100 - SEQ_WINDOW]);
    expect(outlier.counts).toEqual({ duplicates: 0, gaps: 0, resyncs: 1 });
  });

  it('a forged 2^53-1 costs the real sender nothing and does not move the window', () => {
    const { delivered, counts } = run([1, 2, MAX, 3, 2, 4, MAX]);
    // 2 after 3 is still a duplicate: the forged number did not reset the window.
    expect(delivered).toEqual([1, 2, MAX, 3, 4, MAX]);
    expect(counts).toEqual({ duplicates: 1, gaps: 0, resyncs: 2 });
  });

  it('the same forged number twice in a row is one delivery', () => {
    expect(run([1, MAX, MAX, 2]).delivered).toEqual([1, MAX, 2]);
  });

  it('even two consecutive forged numbers (which do move the window) cost the real sender nothing', () => {
    // The pair looks like a sender that lost 2^53 messages; the real sender's next
    // number is then far behind: delivered, and the one after it confirms (a restart).
    const { delivered, counts } = run([1, 2, MAX - 1, MAX, 3, 4, 5, 4]);
    expect(delivered).toEqual([1, 2, MAX - 1, MAX, 3, 4, 5]);
    expect(counts).toEqual({ duplicates: 1, gaps: 0, resyncs: 2 });
  });

  it('a forged number a little ahead costs the real sender exactly the message with that number', () => {
    const { delivered } = run([1, 2, 12, ...range(3, 20)]);
    expect(delivered).toEqual([1, 2, 12, ...range(3, 11), ...range(13, 20)]);
  });

  it('a forged jump of up to MAX_SEQ_JUMP moves the window at once; the real sender is delivered throughout', () => {
    const { delivered, counts } = run([1, 2, 2 + MAX_SEQ_JUMP, 3, 4, 5]);
    expect(delivered).toEqual([1, 2, 2 + MAX_SEQ_JUMP, 3, 4, 5]);
    // The forged hole is counted as gaps: gaps says what was lost only on a trusted bus.
    expect(counts).toEqual({ duplicates: 0, gaps: MAX_SEQ_JUMP - 1, resyncs: 1 });
  });

  it('a restarted sender (back to 1 after more than the window) is delivered from its first message', () => {
    const { delivered, counts } = run([...range(1, 100), 1, 1, 2, 3, 2]);
    expect(delivered).toEqual([...range(1, 100), 1, 2, 3]);
    expect(counts).toEqual({ duplicates: 2, gaps: 0, resyncs: 1 });
  });

  it('a sender that lost more than MAX_SEQ_JUMP messages is back in step after one message', () => {
    const far = 5 + MAX_SEQ_JUMP + 1;
    const { delivered, counts } = run([1, 2, far, far + 1, far, far + 2]);
    expect(delivered).toEqual([1, 2, far, far + 1, far + 2]);
    expect(counts).toEqual({ duplicates: 1, gaps: 0, resyncs: 1 });
  });

  it('known limit: a restart after at most SEQ_WINDOW messages loses that many (bounded)', () => {
    // 1..10 again look exactly like repeats of 1..10 (duplicates over a second path).
    const { delivered } = run([...range(1, 10), ...range(1, 12)]);
    expect(delivered).toEqual([...range(1, 10), 11, 12]);
  });
});

/** The rules written plainly: every accepted number in a Set, the window as arithmetic. */
class ModelWindow {
  top = 0;
  seen = new Set<number>();
  candidate = 0;

  constructor(first: number) {
    this.restart(first);
  }

  restart(seq: number): void {
    this.top = seq;
    this.seen = new Set([seq]);
    this.candidate = 0;
  }

  accept(seq: number, counts: SeqCounters): boolean {
    if (seq > this.top && seq - this.top <= MAX_SEQ_JUMP) {
      counts.gaps += seq - this.top - 1;
      this.top = seq;
      this.seen.add(seq);
      this.candidate = 0;
      return true;
    }
    const inWindow = seq <= this.top && seq > this.top - SEQ_WINDOW;
    if (inWindow) {
      if (this.seen.has(seq)) {
        counts.duplicates += 1;
        return false;
      }
      this.seen.add(seq);
      return true;
    }
    if (seq === this.candidate) {
      counts.duplicates += 1;
      return false;
    }
    const confirms =
      this.candidate !== 0 && seq > this.candidate && seq - this.candidate <= SEQ_WINDOW;
    if (confirms) {
      counts.gaps += seq - this.candidate - 1;
      const candidate = this.candidate;
      this.restart(seq);
      this.seen.add(candidate);
      return true;
    }
    this.candidate = seq;
    counts.resyncs += 1;
    return true;
  }
}

/**
 * One step of a generated stream: an offset from a point of the model's state,
 * mostly near the top (where slides, repeats and late numbers happen), sometimes
 * at the window's and MAX_SEQ_JUMP's edges, near the candidate, 1 or 2^53-1.
 */
const step = fc.record({
  from: fc.oneof(
    { arbitrary: fc.constant('top'), weight: 6 },
    { arbitrary: fc.constantFrom('candidate', 'one', 'max'), weight: 2 },
  ),
  offset: fc.oneof(
    { arbitrary: fc.integer({ min: -3, max: 3 }), weight: 4 },
    { arbitrary: fc.integer({ min: -SEQ_WINDOW - 3, max: SEQ_WINDOW + 3 }), weight: 4 },
    { arbitrary: fc.integer({ min: MAX_SEQ_JUMP - 3, max: MAX_SEQ_JUMP + 3 }), weight: 1 },
    { arbitrary: fc.integer({ min: -MAX_SEQ_JUMP - 3, max: -MAX_SEQ_JUMP + 3 }), weight: 1 },
    { arbitrary: fc.integer({ min: 1, max: MAX }), weight: 1 },
  ),
});

function pick(model: ModelWindow, point: string, offset: number): number {
  const base =
    point === 'top'
      ? model.top
      : point === 'candidate'
        ? model.candidate
        : point === 'one'
          ? 1
          : MAX;
  const seq = base + offset;
  return seq < 1 || seq > MAX ? 1 + (Math.abs(seq) % 1000) : seq;
}

describe('SeqWindow against a reference model (fast-check)', () => {
  it('the same verdicts and counters as the model, and no number dropped unless delivered before', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX }),
        fc.array(step, { maxLength: 200 }),
        (first, steps) => {
          const window = new SeqWindow(first);
          const model = new ModelWindow(first);
          const got = counters();
          const want = counters();
          const delivered = new Set([first]);
          for (const { from, offset } of steps) {
            const seq = pick(model, from, offset);
            const verdict = window.accept(seq, got);
            expect(verdict).toBe(model.accept(seq, want));
            if (verdict) {
              delivered.add(seq);
            } else {
              // The whole defence against forgery: a drop needs an earlier delivery.
              expect(delivered.has(seq)).toBe(true);
            }
            expect(got).toEqual(want);
          }
        },
      ),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('forged numbers anywhere cost a real in-order sender at most one message each', () => {
    const forged = fc.array(
      fc.record({
        at: fc.nat({ max: 300 }),
        seq: fc.oneof(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: MAX })),
      }),
      { maxLength: 20 },
    );
    fc.assert(
      fc.property(forged, (forgeries) => {
        const real = range(1, 300);
        const stream: { seq: number; real: boolean }[] = [];
        for (const seq of real) {
          for (const forgery of forgeries) {
            if (forgery.at === seq) {
              stream.push({ seq: forgery.seq, real: false });
            }
          }
          stream.push({ seq, real: true });
        }
        const [head, ...rest] = stream;
        const window = new SeqWindow(head?.seq ?? 1);
        const counts = counters();
        let lost = 0;
        for (const item of rest) {
          if (!window.accept(item.seq, counts) && item.real) {
            lost += 1;
          }
        }
        expect(lost).toBeLessThanOrEqual(forgeries.length);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('every repeat of a sender number within the window of its newest is dropped', () => {
    // A stream with holes (lost messages), each message possibly repeated later by a
    // second path, as long as the repeat comes within SEQ_WINDOW numbers of the newest.
    const item = fc.record({
      hole: fc.nat({ max: 3 }),
      repeatBack: fc.option(fc.nat({ max: SEQ_WINDOW - 1 })),
    });
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 300 }), (items) => {
        const window = new SeqWindow(1);
        const counts = counters();
        const sent = [1];
        let top = 1;
        for (const { hole, repeatBack } of items) {
          top += hole + 1;
          expect(window.accept(top, counts)).toBe(true);
          sent.push(top);
          if (repeatBack !== null) {
            // The oldest number sent within repeatBack of the newest.
            let index = sent.length - 1;
            while (index > 0 && top - (sent[index - 1] ?? 0) <= repeatBack) {
              index -= 1;
            }
            expect(window.accept(sent[index] ?? top, counts)).toBe(false);
          }
        }
        expect(counts.resyncs).toBe(0);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});
