/**
 * OutputBudget (server/output-budget.ts) on its own: the total, the cut of the largest
 * holder with SB_OUTPUT_BUDGET, the re-measure before a cut (reports can be stale
 * high: node drains its buffer without telling), and a seeded property test of the
 * invariants over random sequences of updates, drains and closes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSwitchboardError } from '../../src/errors.js';
import { type OutputAccount, OutputBudget } from '../../src/server/output-budget.js';

const SEED = 0x0b_75;

/** A target that holds `heldOutput` bytes now and records the error it was cut with. */
class Target {
  heldOutput = 0;
  error: Error | undefined;
  destroy(error: Error): void {
    this.error = error;
  }
}

/** Opens an account and reports `held` through it, as a channel does after a write. */
function holding(budget: OutputBudget, target: Target, held: number): OutputAccount {
  const account = budget.open(target);
  target.heldOutput = held;
  account.update(held);
  return account;
}

describe('OutputBudget', () => {
  it('sums what accounts hold and releases a closed account', () => {
    const budget = new OutputBudget(1000);
    const a = holding(budget, new Target(), 300);
    const b = holding(budget, new Target(), 200);
    expect(budget.total).toBe(500);
    expect(budget.holders).toBe(2);
    a.update(0);
    expect(budget.total).toBe(200);
    b.close();
    b.update(900); // ignored: closed
    expect(budget.total).toBe(0);
    expect(budget.holders).toBe(0);
  });

  it('cuts the largest holder with SB_OUTPUT_BUDGET, not the one that pushed past the limit', () => {
    const budget = new OutputBudget(1000);
    const targets = [new Target(), new Target(), new Target()];
    holding(budget, targets[0]!, 200);
    const large = holding(budget, targets[1]!, 600);
    const pusher = holding(budget, targets[2]!, 150);
    targets[2]!.heldOutput = 250;
    pusher.update(250);
    expect(isSwitchboardError(targets[1]!.error, 'SB_OUTPUT_BUDGET')).toBe(true);
    expect(targets[1]!.error!.message).toContain('maxBufferedOutputTotal 1000');
    expect(targets[0]!.error).toBeUndefined();
    expect(targets[2]!.error).toBeUndefined();
    expect(large.closed).toBe(true);
    expect(budget.total).toBe(450);
    expect(budget.cuts).toBe(1);
  });

  it('re-measures before cutting: stale reports cut nobody, and the cut goes to who really holds the most', () => {
    const budget = new OutputBudget(1000);
    const drained = new Target();
    const stalled = new Target();
    holding(budget, drained, 700);
    const other = holding(budget, stalled, 250);
    // The first one's bytes went to the kernel without a report (no write callback).
    drained.heldOutput = 0;
    stalled.heldOutput = 350;
    other.update(350); // reported total 1050 > 1000; measured 350
    expect(drained.error).toBeUndefined();
    expect(stalled.error).toBeUndefined();
    expect(budget.total).toBe(350);
    expect(budget.holders).toBe(1);

    const third = new Target();
    holding(budget, drained, 100);
    drained.heldOutput = 20; // stale again: reports 100, holds 20
    holding(budget, third, 600); // reported 1050; measured 970: within
    expect(budget.cuts).toBe(0);
    stalled.heldOutput = 500;
    other.update(500); // measured 20 + 500 + 600 = 1120: the 600 goes, not the grower
    expect(third.error).toBeDefined();
    expect(stalled.error).toBeUndefined();
    expect(drained.error).toBeUndefined();
    expect(budget.total).toBe(520);
  });

  it('a budget of Infinity only counts', () => {
    const budget = new OutputBudget(Number.POSITIVE_INFINITY);
    const target = new Target();
    holding(budget, target, 2 ** 40);
    expect(target.error).toBeUndefined();
    expect(budget.total).toBe(2 ** 40);
  });

  it('property: total = sum of open holdings <= limit after a cut, victims really held the most, closes return it to 0', () => {
    const operation = fc.oneof(
      fc.record({
        kind: fc.constant('update' as const),
        account: fc.nat(15),
        held: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 400 })),
      }),
      // Node drains part of a buffer without a report: the target holds less than reported.
      fc.record({ kind: fc.constant('drain' as const), account: fc.nat(15), left: fc.nat(400) }),
      fc.record({ kind: fc.constant('close' as const), account: fc.nat(15) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 200 }), (operations) => {
        const limit = 1000;
        const budget = new OutputBudget(limit);
        const cut: number[] = [];
        const targets = Array.from({ length: 16 }, (_, index) => ({
          heldOutput: 0,
          destroy: () => {
            cut.push(index);
          },
        }));
        const accounts = targets.map((target) => budget.open(target));
        for (const op of operations) {
          const account = accounts[op.account]!;
          const target = targets[op.account]!;
          if (op.kind === 'close') {
            account.close();
            target.heldOutput = 0;
          } else if (op.kind === 'drain') {
            target.heldOutput = Math.min(target.heldOutput, op.left);
          } else {
            const before = targets.map((entry, index) =>
              accounts[index]!.closed ? -1 : entry.heldOutput,
            );
            before[op.account] = account.closed ? -1 : op.held;
            target.heldOutput = op.held;
            const cutsBefore = cut.length;
            account.update(op.held);
            for (const victim of cut.slice(cutsBefore)) {
              expect(before[victim]).toBe(Math.max(...before));
              before[victim] = -1;
            }
            if (cut.length > cutsBefore) {
              // A cut re-measured everyone: the total is exact and within the limit.
              const real = targets.reduce(
                (sum, entry, index) => sum + (accounts[index]!.closed ? 0 : entry.heldOutput),
                0,
              );
              expect(budget.total).toBe(real);
              expect(real).toBeLessThanOrEqual(limit);
            }
          }
          const reported = accounts.reduce(
            (sum, entry) => sum + (entry.closed ? 0 : entry.held),
            0,
          );
          expect(budget.total).toBe(reported);
          expect(budget.holders).toBe(
            accounts.filter((entry) => !entry.closed && entry.held > 0).length,
          );
          // Reports are never below what is held (the property channels keep).
          for (const [index, entry] of accounts.entries()) {
            if (!entry.closed) {
              expect(entry.held).toBeGreaterThanOrEqual(targets[index]!.heldOutput);
            }
          }
        }
        for (const account of accounts) {
          account.close();
        }
        expect(budget.total).toBe(0);
        expect(budget.holders).toBe(0);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
