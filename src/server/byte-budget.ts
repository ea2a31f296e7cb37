/**
 * The machinery shared by the server-wide byte budgets: input (`maxBufferedInputTotal`,
 * input-budget.ts) and output (`maxBufferedOutputTotal`, output-budget.ts).
 *
 * Theory of operation
 * -------------------
 * Every connection holds a {@link BudgetAccount} and reports the bytes it holds.
 * Rules:
 * 1. An update is O(1): it adjusts the total and keeps the account in a dense array
 *    of the accounts that hold any bytes (append, swap-remove). An account that
 *    holds nothing, like every idle connection, is in no list at all.
 * 2. When an update leaves the total above the limit, the budget first asks each
 *    holder what it holds now when its reports can lag behind (output: node writes
 *    queued bytes to the kernel without telling anyone; {@link ByteBudget.measure}),
 *    then cuts the account holding the most bytes (it may be the account that just
 *    grew or any other): removed from the budget at once and its connection destroyed
 *    with the budget's error. This repeats until the total is within the limit;
 *    every other connection keeps being served.
 * 3. A closed account (its connection ended, however: close, reset, cut) holds
 *    nothing and later updates are ignored, so the total returns to 0 when every
 *    connection has gone.
 *
 * Why a scan on overrun rather than a max-heap: a heap makes every update
 * O(log n); the scan runs only when the total passes the limit, and each scan frees
 * the largest holding, which is at least the average, total / holders >
 * limit / holders bytes. So the scanning work per byte is below holders² / limit:
 * for 10,000 holders and a 256 MiB budget, under 0.4 steps per byte, amortized O(1)
 * per chunk even with thousands of peers hovering just under their per-connection
 * limits.
 */

/** What an account cuts when its connection holds the most over the limit (a Channel). */
export interface BudgetTarget {
  destroy(error: Error): void;
}

/** One connection's share of a {@link ByteBudget}. */
export class BudgetAccount<T extends BudgetTarget = BudgetTarget> {
  /** Bytes this connection holds now, as last reported. */
  held = 0;
  /** Position in the budget's holder list, or -1 while holding nothing (or closed). */
  index = -1;
  /** Closed: the connection ended or was cut; updates are ignored. */
  closed = false;
  readonly #budget: ByteBudget<T>;
  /** The connection this account is cut through. */
  readonly target: T;

  /** @internal Use {@link ByteBudget.open}. */
  constructor(budget: ByteBudget<T>, target: T) {
    this.#budget = budget;
    this.target = target;
  }

  /** Reports that the connection now holds `held` bytes. O(1) unless it cuts. */
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
    this.target.destroy(error);
  }
}

/** A server-wide budget of bytes (of one server, or of one `processes` worker). */
export abstract class ByteBudget<T extends BudgetTarget = BudgetTarget> {
  /** Largest total of held bytes (`Infinity`: no budget, only accounting). */
  readonly limit: number;
  /** Connections cut for the budget since the start. */
  cuts = 0;
  #total = 0;
  /** Accounts holding more than 0 bytes, in no order; each knows its index. */
  readonly #holders: BudgetAccount<T>[] = [];
  #enforcing = false;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes held by every open connection now (as reported). */
  get total(): number {
    return this.#total;
  }

  /** Connections holding any bytes now. */
  get holders(): number {
    return this.#holders.length;
  }

  /** A new account for one connection, holding 0 bytes. */
  open(target: T): BudgetAccount<T> {
    return new BudgetAccount(this, target);
  }

  /** The error a connection is cut with: the total before the cut, what it held. */
  protected abstract overrun(total: number, held: number): Error;

  /**
   * What `account` holds now, asked before any cut (rule 2). The default trusts the
   * last report: accounts that report every change need no more.
   */
  protected measure(account: BudgetAccount<T>): number {
    return account.held;
  }

  /** @internal Sets `account`'s holding to `held` and enforces the limit. */
  change(account: BudgetAccount<T>, held: number): void {
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

  /** Brings every holding up to date, then cuts the largest until within the limit (rule 2). */
  #enforce(): void {
    this.#enforcing = true;
    try {
      this.#remeasure();
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
        victim.cut(this.overrun(total, held));
      }
    } finally {
      this.#enforcing = false;
    }
  }

  #remeasure(): void {
    const holders = this.#holders;
    // Backwards: an account that now holds nothing is swap-removed with one already seen.
    for (let index = holders.length - 1; index >= 0; index--) {
      const account = holders[index]!;
      const held = this.measure(account);
      if (held !== account.held) {
        this.change(account, held);
      }
    }
  }

  #removeHolder(account: BudgetAccount<T>): void {
    const holders = this.#holders;
    const last = holders.pop()!;
    if (last !== account) {
      holders[account.index] = last;
      last.index = account.index;
    }
    account.index = -1;
  }
}
