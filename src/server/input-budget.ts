/**
 * The server-wide budget for buffered input (`maxBufferedInputTotal`).
 *
 * Theory of operation
 * -------------------
 * Per-connection limits alone do not bound a server: 10,000 peers each holding an
 * unfinished 8 MiB frame (below `maxFrame`, before `frameTimeout`) would make the
 * process buffer ~80 GiB. So every connection's {@link Channel} holds an
 * {@link InputAccount} and reports the input bytes it holds: bytes the Socket
 * buffered and the channel has not read, the decoder's buffer (the unfinished
 * frame), decoded frames not yet received by the handler, and frames its owner
 * still holds (the `threads` pool's copies, until answered). It reports at the
 * end of every pass of its read loop (which runs synchronously on every chunk the
 * transport delivers, so every byte is seen as it enters the read buffers) and
 * whenever the handler takes a frame.
 *
 * Rules:
 * 1. An update is O(1): it adjusts the total and keeps the account in a dense array
 *    of the accounts that hold any bytes (append, swap-remove). An account that
 *    holds nothing, like every idle connection, is in no list at all.
 * 2. When an update leaves the total above the limit, the account holding the most
 *    bytes (in practice the one with the largest unfinished frame; it may be the
 *    account that just grew or any other) is cut: removed from the budget at once
 *    and its connection destroyed with `SB_MEMORY_BUDGET`. This repeats until the
 *    total is within the limit; every other connection keeps being served.
 * 3. A closed account (its connection ended, however: close, reset, cut) holds
 *    nothing and later updates are ignored, so the total returns to 0 when every
 *    connection has gone.
 *
 * Why a scan on overrun rather than a max-heap: a heap makes every update
 * O(log n); the scan runs only when the total passes the limit, and each scan frees
 * the largest holding, which is at least the average, total / holders >
 * limit / holders bytes. So the scanning work per byte received is below
 * holders² / limit: for 10,000 holders and the default 256 MiB, under 0.4 steps per
 * byte, amortized O(1) per chunk even with thousands of peers hovering just under
 * their per-connection limits.
 *
 * In the `processes` model each worker process has its own budget, its share
 * `floor(maxBufferedInputTotal / workers)` (connections are spread evenly over
 * the workers); in `loop` and `threads` the one budget lives in the main thread,
 * which reads and decodes every connection's input.
 */
import { ConnectionError } from '../errors.js';

/** What an account cuts when its connection holds the most over the limit (a Channel). */
export interface BudgetTarget {
  destroy(error: Error): void;
}

/** One connection's share of an {@link InputBudget}. */
export class InputAccount {
  /** Bytes this connection holds now, as last reported. */
  held = 0;
  /** Position in the budget's holder list, or -1 while holding nothing (or closed). */
  index = -1;
  /** Closed: the connection ended or was cut; updates are ignored. */
  closed = false;
  readonly #budget: InputBudget;
  readonly #target: BudgetTarget;

  /** @internal Use {@link InputBudget.open}. */
  constructor(budget: InputBudget, target: BudgetTarget) {
    this.#budget = budget;
    this.#target = target;
  }

  /** Reports that the connection now holds `held` input bytes. O(1) unless it cuts. */
  update(held: number): void {
    if (!this.closed && held !== this.held) {
      this.#budget.change(this, held);
    }
  }

  /** The connection ended: its bytes leave the budget. Idempotent. */
  close(): void {
    if (!this.closed) {
      this.#budget.change(this, 0);
      this.closed = true;
    }
  }

  /** @internal Destroys the connection (the budget has already released it). */
  cut(error: Error): void {
    this.#target.destroy(error);
  }
}

/** The input budget of one server (or of one `processes` worker). */
export class InputBudget {
  /** Largest total of held input, bytes (`Infinity`: no budget, only accounting). */
  readonly limit: number;
  /** Connections cut for the budget since the start. */
  cuts = 0;
  #total = 0;
  /** Accounts holding more than 0 bytes, in no order; each knows its index. */
  readonly #holders: InputAccount[] = [];
  #enforcing = false;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Input bytes held by every open connection now. */
  get total(): number {
    return this.#total;
  }

  /** Connections holding any input bytes now. */
  get holders(): number {
    return this.#holders.length;
  }

  /** A new account for one connection, holding 0 bytes. */
  open(target: BudgetTarget): InputAccount {
    return new InputAccount(this, target);
  }

  /** @internal Sets `account`'s holding to `held` and enforces the limit. */
  change(account: InputAccount, held: number): void {
    this.#total += held - account.held;
    account.held = held;
    if (held > 0) {
      if (account.index < 0) {
        account.index = this.#holders.length;
        this.#holders.push(account);
      }
      if (this.#total > this.limit && !this.#enforcing) {
        this.#enforce();
      }
    } else if (account.index >= 0) {
      this.#removeHolder(account);
    }
  }

  /** Cuts the largest holders until the total is within the limit (rule 2). */
  #enforce(): void {
    this.#enforcing = true;
    try {
      // Bounded: every pass removes one holder.
      while (this.#total > this.limit && this.#holders.length > 0) {
        const holders = this.#holders;
        let victim = holders[0]!;
        for (let index = 1; index < holders.length; index++) {
          if (holders[index]!.held > victim.held) {
            victim = holders[index]!;
          }
        }
        const held = victim.held;
        const total = this.#total;
        victim.close();
        this.cuts += 1;
        victim.cut(
          new ConnectionError(
            'SB_MEMORY_BUDGET',
            `server input budget: ${total} bytes buffered would exceed maxBufferedInputTotal ${this.limit}; this connection held the most (${held} bytes)`,
          ),
        );
      }
    } finally {
      this.#enforcing = false;
    }
  }

  #removeHolder(account: InputAccount): void {
    const holders = this.#holders;
    const last = holders.pop()!;
    if (last !== account) {
      holders[account.index] = last;
      last.index = account.index;
    }
    account.index = -1;
  }
}
