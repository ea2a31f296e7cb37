/**
 * Deadline clocks for many connections at once: {@link SharedTimers} (one binary heap
 * behind every Channel and Socket timer of a server) and {@link DeadlineQueue} (one
 * timer for many deadlines of the same length: the idle deadline of dormant
 * connections, the sleep check of running ones).
 *
 * Theory of operation
 * -------------------
 * Why not a node Timeout per deadline: a server holds thousands of mostly idle
 * connections (issue #8, memory per idle connection), and a Timeout costs ~120 bytes
 * plus two boxed doubles and usually a closure. Both structures here keep one armed
 * base-clock timer for the earliest due time and store each deadline as a small entry:
 *
 * | structure       | order           | add        | cancel                    | fire            |
 * |-----------------|-----------------|------------|---------------------------|-----------------|
 * | SharedTimers    | binary heap     | O(log n)   | O(log n), entry removed   | O(log n) each   |
 * | DeadlineQueue   | FIFO (one delay)| O(1)       | O(1), slot emptied        | O(1) amortized  |
 *
 * A deadline never fires before its due time on the base clock; with an injected
 * test clock both are deterministic.
 */
import type { Clock } from '../net/clock.js';

/**
 * One clock timer for many deadlines of the same length (the idle deadline of every
 * dormant connection of a server). Deadlines are added in due order, so they form a
 * FIFO: the head's timer is the only one armed. A connection leaves by clearing its
 * slot (O(1)); empty slots are skipped when reached. This replaces a Timeout object,
 * two boxed doubles and a callback closure per connection (~250 bytes) with one array
 * slot and one unboxed double. `T`: what an entry is (a served connection); the queue
 * tells the owner's `onDue` about each entry that comes due.
 */
export class DeadlineQueue<T> {
  readonly #clock: Clock;
  readonly #delay: number;
  /** Entries; `#entries[i]` has absolute slot number `#base + i`. */
  #entries: (T | undefined)[] = [];
  /** Due times (clock ms), parallel to `#entries` (a packed double array: unboxed). */
  #dues: number[] = [];
  #head = 0;
  #base = 0;
  #timer: unknown;
  readonly #onTimer = (): void => this.#expire();
  readonly #onDue: (entry: T) => void;

  /** `onDue`: what is done with an entry once `delay` ms have passed since its `add()`. */
  constructor(clock: Clock, delay: number, onDue: (entry: T) => void) {
    this.#clock = clock;
    this.#delay = delay;
    this.#onDue = onDue;
  }

  /** Schedules `onDue(entry)` in `delay` ms; returns its slot (for {@link cancel}). */
  add(entry: T): number {
    const slot = this.#base + this.#entries.length;
    this.#entries.push(entry);
    this.#dues.push(this.#clock.now() + this.#delay);
    if (this.#timer === undefined) {
      this.#timer = this.#clock.setTimeout(this.#onTimer, this.#delay);
    }
    return slot;
  }

  /** Drops the deadline in `slot` (a no-op for a negative slot or one already due). */
  cancel(slot: number): void {
    const index = slot - this.#base;
    if (index >= this.#head && index < this.#entries.length) {
      this.#entries[index] = undefined;
    }
  }

  #expire(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    while (this.#head < this.#entries.length) {
      const due = this.#dues[this.#head]!;
      const entry = this.#entries[this.#head];
      if (entry !== undefined && due > now) {
        this.#timer = this.#clock.setTimeout(this.#onTimer, due - now);
        break;
      }
      this.#entries[this.#head] = undefined;
      this.#head += 1;
      if (entry !== undefined) {
        this.#onDue(entry);
      }
    }
    if (this.#head === this.#entries.length) {
      this.#base += this.#head;
      this.#entries = [];
      this.#dues = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#entries.length) {
      this.#entries.splice(0, this.#head);
      this.#dues.splice(0, this.#head);
      this.#base += this.#head;
      this.#head = 0;
    }
  }

  /** Stops the timer (the owner is done; remaining entries are dropped). */
  clear(): void {
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#base += this.#entries.length;
    this.#entries = [];
    this.#dues = [];
    this.#head = 0;
  }
}

/**
 * What {@link SharedTimers.schedule} calls: an object that is told instead of a callback,
 * so a long-lived timer (a dormant connection's idle deadline) costs no closure and
 * context (~100 bytes).
 */
export interface TimerTarget {
  onTimer(): void;
}

/** A timer of {@link SharedTimers}: its handle. */
class SharedTimer {
  callback: (() => void) | TimerTarget | null;
  readonly due: number;
  /** Position in the heap, or -1 once fired or cancelled. */
  index = -1;

  constructor(callback: (() => void) | TimerTarget, due: number) {
    this.callback = callback;
    this.due = due;
  }
}

/**
 * The clock a server's connections use for their deadlines (the idle, frame and write
 * timers of every Channel; write progress of every Socket). Why: a node Timeout is ~120
 * bytes plus two boxed doubles, and an active connection keeps two armed (idle and
 * write). Here a timer is a small entry in one binary heap ordered by due time, with one
 * timer on the wrapped clock for the earliest; cancelling removes the entry (O(log n)),
 * so a closed connection leaves nothing behind. `now()` counts from this clock's
 * creation, so the times Channel and Socket store stay small integers, which V8 keeps
 * unboxed (Date.now() values are heap numbers); it is never 0, which Channel uses as
 * "not started".
 */
export class SharedTimers implements Clock {
  readonly #base: Clock;
  readonly #origin: number;
  readonly #heap: SharedTimer[] = [];
  #armed: unknown;
  #armedDue = Number.POSITIVE_INFINITY;
  readonly #onTimer = (): void => this.#fire();

  constructor(base: Clock) {
    this.#base = base;
    this.#origin = base.now() - 1;
  }

  /** Timers pending. */
  get size(): number {
    return this.#heap.length;
  }

  now(): number {
    // Math.trunc: V8 returns a small integer (Smi) for an integral result, where a
    // difference of two doubles would stay a double and be boxed in each field it lands in.
    return Math.trunc(this.#base.now() - this.#origin);
  }

  setTimeout(callback: () => void, ms: number): unknown {
    return this.schedule(callback, ms);
  }

  /** {@link setTimeout} for a callback or a {@link TimerTarget} (its `onTimer()` is called). */
  schedule(callback: (() => void) | TimerTarget, ms: number): unknown {
    const timer = new SharedTimer(callback, this.now() + Math.max(0, ms));
    timer.index = this.#heap.length;
    this.#heap.push(timer);
    this.#siftUp(timer.index);
    if (timer.due < this.#armedDue) {
      this.#arm(timer.due);
    }
    return timer;
  }

  clearTimeout(handle: unknown): void {
    if (!(handle instanceof SharedTimer) || handle.index < 0) {
      return;
    }
    this.#removeAt(handle.index);
    handle.callback = null;
    if (this.#heap.length === 0 && this.#armed !== undefined) {
      // Nothing left: do not keep the process alive (or a test clock busy) for nothing.
      this.#base.clearTimeout(this.#armed);
      this.#armed = undefined;
      this.#armedDue = Number.POSITIVE_INFINITY;
    }
    // Otherwise the base timer stays: firing early for nothing is cheaper than re-arming.
  }

  #arm(due: number): void {
    if (this.#armed !== undefined) {
      this.#base.clearTimeout(this.#armed);
    }
    this.#armedDue = due;
    this.#armed = this.#base.setTimeout(this.#onTimer, Math.max(0, due - this.now()));
  }

  #fire(): void {
    this.#armed = undefined;
    this.#armedDue = Number.POSITIVE_INFINITY;
    const now = this.now();
    const heap = this.#heap;
    // Bounded: each pass removes one timer, and callbacks add only timers due after now.
    while (heap.length > 0 && heap[0]!.due <= now) {
      const timer = heap[0]!;
      this.#removeAt(0);
      const callback = timer.callback;
      timer.callback = null;
      if (typeof callback === 'function') {
        callback();
      } else {
        callback?.onTimer();
      }
    }
    if (heap.length > 0 && heap[0]!.due < this.#armedDue) {
      this.#arm(heap[0]!.due);
    }
  }

  #removeAt(index: number): void {
    const heap = this.#heap;
    heap[index]!.index = -1;
    const last = heap.pop()!;
    if (index < heap.length) {
      heap[index] = last;
      last.index = index;
      this.#siftUp(index);
      this.#siftDown(last.index);
    }
  }

  #siftUp(start: number): void {
    const heap = this.#heap;
    const timer = heap[start]!;
    let index = start;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (parent.due <= timer.due) {
        break;
      }
      heap[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    heap[index] = timer;
    timer.index = index;
  }

  #siftDown(start: number): void {
    const heap = this.#heap;
    const timer = heap[start]!;
    let index = start;
    for (;;) {
      const left = index * 2 + 1;
      if (left >= heap.length) {
        break;
      }
      const right = left + 1;
      const child = right < heap.length && heap[right]!.due < heap[left]!.due ? right : left;
      const smaller = heap[child]!;
      if (smaller.due >= timer.due) {
        break;
      }
      heap[index] = smaller;
      smaller.index = index;
      index = child;
    }
    heap[index] = timer;
    timer.index = index;
  }
}
