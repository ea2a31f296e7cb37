/**
 * The server-wide budget for queued output (`maxBufferedOutputTotal`).
 *
 * Theory of operation
 * -------------------
 * Per-connection limits alone do not bound a server: a peer that never reads holds
 * what switchboard queued for it (up to `maxQueuedOutput`) plus node's writable
 * buffer, ~0.55 MB for an echo or chat client measured, and 10,000 of them (a chat
 * broadcast nobody reads) hold GBs. So every connection's {@link Channel} holds an
 * {@link OutputAccount} and reports the output bytes it holds, what is really in
 * memory: the channel's unflushed batch plus the socket's `writableLength` (bytes
 * node holds for the kernel). It reports after every frame it queues and every batch
 * it flushes, when a write queued behind a backlog completes, and on every socket
 * event ('drain' included), so growth is always seen as it happens.
 *
 * The rules (O(1) updates, the cut of the largest holder, closed accounts) are those
 * of every {@link ByteBudget} (byte-budget.ts). One difference: node hands queued
 * bytes to the kernel without telling anyone when the write carries no callback (a
 * write into an empty queue, see Socket.writeToTransport), so a report can be higher
 * than what a connection holds now, never lower. Before a cut the budget therefore
 * asks every holder what it holds now ({@link OutputTarget.heldOutput}): the cut
 * goes to the one that really holds the most, and a total over the limit only
 * through stale reports cuts nobody. That pass costs what the victim scan costs.
 *
 * In the `processes` model each worker process has its own budget, its share
 * `floor(maxBufferedOutputTotal / workers)`; in `loop` and `threads` the one budget
 * lives in the main thread, which writes every connection's output.
 */
import { ConnectionError } from '../errors.js';
import { type BudgetAccount, type BudgetTarget, ByteBudget } from './byte-budget.js';

/** What an output account reports on and cuts (a Channel). */
export interface OutputTarget extends BudgetTarget {
  /** Output bytes the connection holds now: queued by switchboard plus node's writable buffer. */
  readonly heldOutput: number;
}

/** One connection's share of an {@link OutputBudget}. */
export type OutputAccount = BudgetAccount<OutputTarget>;

/** The output budget of one server (or of one `processes` worker). */
export class OutputBudget extends ByteBudget<OutputTarget> {
  protected overrun(total: number, held: number): Error {
    return new ConnectionError(
      'SB_OUTPUT_BUDGET',
      `server output budget: ${total} bytes queued would exceed maxBufferedOutputTotal ${this.limit}; this connection held the most (${held} bytes)`,
    );
  }

  protected override measure(account: OutputAccount): number {
    return account.target.heldOutput;
  }
}
