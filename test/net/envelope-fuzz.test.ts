/**
 * Seeded, bounded fuzzing of the `sbp` envelope codec: the properties of
 * test/codec/fuzz-envelope.ts (decode, roundtrip, encode) with fast-check seed 42 and a
 * few hundred runs each. `npm run fuzz -- --spec sbp --iterations N` runs them longer.
 */
import { describe, expect, it } from 'vitest';
import { SBP_FUZZ_PROPERTIES } from '../codec/fuzz-envelope.js';
import { tallyInto } from '../codec/fuzz-wire.js';

const RUNS = 300;

describe('fuzz: sbp envelope codec', () => {
  for (const property of SBP_FUZZ_PROPERTIES) {
    it(property.name, () => {
      const counts = new Map<string, number>();
      property.check({ seed: 42, numRuns: RUNS }, tallyInto(counts));
      const total = [...counts.values()].reduce((sum, count) => sum + count, 0);
      expect(total).toBe(RUNS);
      // Each property must reach more than one kind of outcome, or the fuzzing proves little.
      expect(counts.size).toBeGreaterThan(1);
    });
  }
});
