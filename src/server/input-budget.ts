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
 * The budget's rules (O(1) updates, the cut of the largest holder, closed accounts)
 * are those of every {@link ByteBudget} (byte-budget.ts). The input accounts report
 * every change as it happens, so a cut trusts their reports.
 *
 * In the `processes` model each worker process has its own budget, its share
 * `floor(maxBufferedInputTotal / workers)` (connections are spread evenly over
 * the workers); in `loop` and `threads` the one budget lives in the main thread,
 * which reads and decodes every connection's input.
 */
import { ConnectionError } from '../errors.js';
import { type BudgetAccount, type BudgetTarget, ByteBudget } from './byte-budget.js';

export type { BudgetTarget } from './byte-budget.js';

/** One connection's share of an {@link InputBudget}. */
export type InputAccount = BudgetAccount<BudgetTarget>;

/** The input budget of one server (or of one `processes` worker). */
export class InputBudget extends ByteBudget<BudgetTarget> {
  protected overrun(total: number, held: number): Error {
    return new ConnectionError(
      'SB_MEMORY_BUDGET',
      `server input budget: ${total} bytes buffered would exceed maxBufferedInputTotal ${this.limit}; this connection held the most (${held} bytes)`,
    );
  }
}
