/**
 * The bus's per-sender dedupe window: which `Sb-Seq` numbers of one
 * `origin/sender` the bridge delivers, and which it drops as duplicates.
 *
 * Theory of operation
 * -------------------
 * The numbers come from the network, and anyone who can publish on the bus
 * subject can put any number in any sender's name. "Drop every number <= the
 * last one" let one forged `Sb-Seq: 9007199254740991` silence a real sender for
 * good, and a restarted instance that reuses its origin id was silenced the
 * same way. So, as in IPsec/DTLS anti-replay (RFC 4303 §3.4.3, RFC 6347
 * §4.1.2.6), each sender keeps the highest number accepted (`top`) and a bitmap
 * of the last {@link SEQ_WINDOW} numbers, plus one remembered outlier (the
 * `candidate`). A number `n` is:
 *
 * | where `n` falls                              | verdict   | state change                                   |
 * |----------------------------------------------|-----------|------------------------------------------------|
 * | `top < n <= top + MAX_SEQ_JUMP`              | deliver   | slide to `n`, `n - top - 1` gaps, forget candidate |
 * | `top - SEQ_WINDOW < n <= top`, bit set       | duplicate | none                                           |
 * | `top - SEQ_WINDOW < n <= top`, bit clear     | deliver   | set the bit (a late arrival)                   |
 * | anywhere else (an outlier), `n == candidate` | duplicate | none                                           |
 * | an outlier, `candidate < n <= candidate + SEQ_WINDOW` | deliver | restart at `n` with the candidate's bit, `n - candidate - 1` gaps |
 * | any other outlier                            | deliver   | `candidate = n`, one resync                    |
 *
 * Why these rules:
 * - A number is dropped only when a message with the same number was delivered
 *   before (its bit, or the candidate). Real numbers never repeat, so each
 *   forged message can cost a real sender at most the one real message that
 *   carries its number, never more; a forged huge number costs it nothing.
 * - One outlier never moves the window: a restarted sender (back to 1) or a
 *   sender whose messages were lost by the million is recognised when a second
 *   message follows the first within the window, so a lone forged number (far
 *   behind or far ahead) changes nothing but the candidate, and the sender's
 *   next real message clears that. The outlier itself is delivered: dropping it
 *   would drop a restarted sender's first line, and a forger can have a line
 *   delivered anyway under a fresh sender id.
 * - A jump of up to MAX_SEQ_JUMP is a hole (messages lost on the bus, counted as
 *   gaps) and moves at once; if it was forged, the real sender's next number is
 *   then far behind, which is the restart case above: delivered, and its next
 *   one confirms.
 * - A number within the window that was not seen is delivered late (a second
 *   path, or the real message of a number a forger jumped past). Its gap was
 *   already counted when the window slid past it, and counters only go up, so
 *   `gaps` is then an upper bound of what was lost.
 *
 * What it does not do: it cannot tell a duplicate arriving more than
 * SEQ_WINDOW messages late from a restart (it is delivered), nor a restart of a
 * sender that had sent at most SEQ_WINDOW messages from a duplicate (the new
 * sender's first `top` numbers are dropped: a bounded loss); and it cannot stop
 * a forger from using a number the real sender has not reached yet.
 *
 * Cost: O(1) time per message (sliding clears at most SEQ_WINDOW bits) and four
 * numbers per sender, whatever the numbers say.
 */

/** Numbers remembered behind a sender's highest (the bitmap's width, two 32-bit words). */
export const SEQ_WINDOW = 64;
/** The largest forward jump taken as lost messages; beyond it the number needs confirming. */
export const MAX_SEQ_JUMP = 2 ** 20;

/** Counters a {@link SeqWindow} adds to (one set per bridge, shared by its senders). */
export interface SeqCounters {
  /** Messages dropped as already seen. */
  duplicates: number;
  /** Numbers skipped when a window slid forward (messages lost, or late). */
  gaps: number;
  /** Numbers far behind or far ahead of the window (restarts, huge holes, forgeries). */
  resyncs: number;
}

/** One sender's window (see the module comment). Numbers are safe integers >= 1. */
export class SeqWindow {
  /** Highest number accepted since the window last (re)started. */
  #top = 0;
  /**
   * Bitmap of the numbers `top - 63 .. top` seen, as a ring: number `n` is bit `n % 64`,
   * slots 0-31 in `#low` and 32-63 in `#high` (two int32s: JS bit operators are 32-bit).
   */
  #low = 0;
  #high = 0;
  /** An outlier waiting for a second number to confirm it, or 0. */
  #candidate = 0;

  /** Starts the window at the first number seen from a sender (nothing is counted). */
  constructor(first: number) {
    this.#restart(first);
  }

  /** True when the message numbered `seq` is to be delivered; updates `counters`. */
  accept(seq: number, counters: SeqCounters): boolean {
    const top = this.#top;
    if (seq > top) {
      const ahead = seq - top;
      if (ahead <= MAX_SEQ_JUMP) {
        counters.gaps += ahead - 1;
        this.#slideTo(seq);
        this.#candidate = 0;
        return true;
      }
    } else if (top - seq < SEQ_WINDOW) {
      if (this.#has(seq)) {
        counters.duplicates += 1;
        return false;
      }
      this.#mark(seq);
      return true;
    }
    const candidate = this.#candidate;
    if (seq === candidate) {
      counters.duplicates += 1;
      return false;
    }
    if (candidate !== 0 && seq > candidate && seq - candidate <= SEQ_WINDOW) {
      counters.gaps += seq - candidate - 1;
      this.#restart(seq);
      if (seq - candidate < SEQ_WINDOW) {
        this.#mark(candidate);
      }
      return true;
    }
    this.#candidate = seq;
    counters.resyncs += 1;
    return true;
  }

  #restart(seq: number): void {
    this.#top = seq;
    this.#low = 0;
    this.#high = 0;
    this.#candidate = 0;
    this.#mark(seq);
  }

  /** Moves `top` up to `seq`, clearing the bits of the numbers that enter the window. */
  #slideTo(seq: number): void {
    if (seq - this.#top >= SEQ_WINDOW) {
      this.#low = 0;
      this.#high = 0;
    } else {
      for (let entering = this.#top + 1; entering < seq; entering += 1) {
        this.#clear(entering);
      }
    }
    this.#top = seq;
    this.#mark(seq);
  }

  #has(seq: number): boolean {
    const slot = seq % SEQ_WINDOW;
    const word = slot < 32 ? this.#low : this.#high;
    return ((word >>> (slot & 31)) & 1) === 1;
  }

  #mark(seq: number): void {
    const slot = seq % SEQ_WINDOW;
    if (slot < 32) {
      this.#low |= 1 << slot;
    } else {
      this.#high |= 1 << (slot & 31);
    }
  }

  #clear(seq: number): void {
    const slot = seq % SEQ_WINDOW;
    if (slot < 32) {
      this.#low &= ~(1 << slot);
    } else {
      this.#high &= ~(1 << (slot & 31));
    }
  }
}
