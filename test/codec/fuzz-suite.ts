/**
 * The vitest side of the protocol fuzzers: one test per property, with fast-check seed
 * 42 and a bounded number of runs (kept out of fuzz-wire.ts, which scripts/fuzz.ts
 * loads outside vitest).
 */
import { describe, expect, it } from 'vitest';
import { type FuzzProperty, tallyInto } from './fuzz-wire.js';

/** Registers `properties` under `title`, each run `runs` times with seed 42. */
export function fuzzSuite(title: string, properties: readonly FuzzProperty[], runs = 300): void {
  describe(title, () => {
    for (const property of properties) {
      it(property.name, () => {
        const counts = new Map<string, number>();
        property.check({ seed: 42, numRuns: runs }, tallyInto(counts));
        const total = [...counts.values()].reduce((sum, count) => sum + count, 0);
        expect(total).toBe(runs);
        // Each property must reach more than one kind of outcome, or the fuzzing proves little.
        expect(counts.size).toBeGreaterThan(1);
      });
    }
  });
}
