/**
 * A first-in first-out queue that stays O(1) per entry however long it grows: the
 * fault proxy's pipe queue and the `threads` pool's waiting jobs, both of which a peer
 * can make long (one-byte messages; frames while no worker is up).
 */

/**
 * Compaction threshold of {@link Fifo}: taken entries are dropped from the front of
 * its array once there are at least this many and they are at least half of it.
 */
const FIFO_COMPACT_AT = 1024;

/**
 * A FIFO over an array and a head index. Why not `push` + `shift`: V8's
 * `Array.prototype.shift` moves every remaining element once the array is large (its
 * backing store in large-object space cannot be trimmed in place), so draining n queued
 * entries cost O(n^2): 128 Ki one-byte messages queued behind a latency fault stalled
 * the proxy's event loop for 19 s, 256 Ki for 80 s. Here taking is O(1) and the front is
 * compacted when it is at least half the array (amortized O(1) per entry).
 */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  /** Entries moved by compactions so far (a time-free check that taking stays linear). */
  moved = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest entry, or undefined when empty. */
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** Removes and returns the oldest entry, or undefined when empty. */
  shift(): T | undefined {
    if (this.head >= this.items.length) {
      return undefined;
    }
    const item = this.items[this.head];
    this.items[this.head] = undefined; // no reference kept to what was taken
    this.head += 1;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= FIFO_COMPACT_AT && this.head * 2 >= this.items.length) {
      this.moved += this.items.length - this.head;
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  /** Removes and returns every entry, oldest first. */
  takeAll(): T[] {
    const taken = this.items.slice(this.head) as T[];
    this.clear();
    return taken;
  }
}
