/**
 * Seeded, bounded fuzzing of the `sbp` envelope codec: the properties of
 * test/codec/fuzz-envelope.ts (decode, roundtrip, encode) with fast-check seed 42 and a
 * few hundred runs each. `npm run fuzz -- --spec sbp --iterations N` runs them longer.
 */
import { SBP_FUZZ_PROPERTIES } from './fuzz-envelope.js';
import { fuzzSuite } from './fuzz-suite.js';

fuzzSuite('fuzz: sbp envelope codec', SBP_FUZZ_PROPERTIES);
