/**
 * InputBudget (server/input-budget.ts) on its own: the total, the cut of the largest
 * holder, closed accounts, and a seeded property test of the invariants over random
 * sequences of updates and closes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSwitchboardError } from '../../src/errors.js';
import { type InputAccount, InputBudget } from '../../src/server/input-budget.js';

const SEED = 0x14_03;

/** A target that records the error it was cut with. */
class Target {
  error: Error | undefined;
  destroy(error: Error): void {
    this.error = error;
  }
}

describe('InputBudget', () => {
  it('sums what accounts hold and releases a closed account', () => {
    const budget = new InputBudget(1000);
    const a = budget.open(new Target());
    const b = budget.open(new Target());
    a.update(300);
    b.update(200);
    expect(budget.total).toBe(500);
    expect(budget.holders).toBe(2);
    a.update(0);
    expect(budget.total).toBe(200);
    expect(budget.holders).toBe(1);
    b.close();
    b.update(900); // ignored: closed
    expect(budget.total).toBe(0);
    expect(budget.holders).toBe(0);
  });

  it('cuts the largest holder, not the one that pushed past the limit', () => {
    const budget = new InputBudget(1000);
    const targets = [new Target(), new Target(), new Target()];
    const [small, large, pusher] = targets.map((target) => budget.open(target)) as [
      InputAccount,
      InputAccount,
      InputAccount,
    ];
    small.update(200);
    large.update(600);
    pusher.update(150);
    expect(budget.total).toBe(950);
    pusher.update(250);
    expect(targets[1]!.error).toBeDefined();
    expect(isSwitchboardError(targets[1]!.error, 'SB_MEMORY_BUDGET')).toBe(true);
    expect(targets[1]!.error!.message).toContain('maxBufferedInputTotal 1000');
    expect(targets[0]!.error).toBeUndefined();
    expect(targets[2]!.error).toBeUndefined();
    expect(large.closed).toBe(true);
    expect(budget.total).toBe(450);
    expect(budget.cuts).toBe(1);
  });

  it('cuts the grower itself when it is the largest, and as many as needed', () => {
    const budget = new InputBudget(100);
    const targets = Array.from({ length: 4 }, () => new Target());
    const accounts = targets.map((target) => budget.open(target));
    for (const [index, account] of accounts.entries()) {
      account.update(20 + index);
    }
    expect(budget.total).toBe(86);
    accounts[0]!.update(95); // total 161: cut 0 (95) -> 66
    expect(targets.map((target) => target.error !== undefined)).toEqual([
      true,
      false,
      false,
      false,
    ]);
    expect(budget.total).toBe(66);
  });

  it('a budget of Infinity only counts', () => {
    const budget = new InputBudget(Number.POSITIVE_INFINITY);
    const target = new Target();
    budget.open(target).update(2 ** 40);
    expect(target.error).toBeUndefined();
    expect(budget.total).toBe(2 ** 40);
  });

  it('property: total = sum of open holdings <= limit, victims are the largest, closes return it to 0', () => {
    const operation = fc.oneof(
      fc.record({
        kind: fc.constant('update' as const),
        account: fc.nat(15),
        held: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 400 })),
      }),
      fc.record({ kind: fc.constant('close' as const), account: fc.nat(15) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 200 }), (operations) => {
        const limit = 1000;
        const budget = new InputBudget(limit);
        const cutHeld: number[] = [];
        const accounts: InputAccount[] = [];
        const targets = Array.from({ length: 16 }, (_, index) => ({
          destroy: () => {
            cutHeld.push(index);
          },
        }));
        for (const target of targets) {
          accounts.push(budget.open(target));
        }
        for (const op of operations) {
          const account = accounts[op.account]!;
          if (op.kind === 'close') {
            account.close();
          } else {
            const before = accounts.map((entry) => (entry.closed ? -1 : entry.held));
            before[op.account] = account.closed ? -1 : op.held;
            const cutsBefore = cutHeld.length;
            account.update(op.held);
            // Every victim held the most among the open accounts at its cut.
            for (const victim of cutHeld.slice(cutsBefore)) {
              expect(before[victim]).toBe(Math.max(...before));
              before[victim] = -1;
            }
          }
          const sum = accounts.reduce((total, entry) => total + (entry.closed ? 0 : entry.held), 0);
          expect(budget.total).toBe(sum);
          expect(budget.total).toBeLessThanOrEqual(limit);
          expect(budget.holders).toBe(
            accounts.filter((entry) => !entry.closed && entry.held > 0).length,
          );
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
