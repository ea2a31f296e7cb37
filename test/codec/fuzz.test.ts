/**
 * In-suite fuzzing: for every decoder, 10,000 seeded random inputs (random,
 * special-byte and mutated valid inputs; see fuzz-inputs.ts), each decoded three
 * ways through test/helpers/feed.ts. Nothing but FrameError / UnexpectedEofError
 * may escape a decoder, and the three ways must agree. `npm run fuzz` runs longer.
 */
import { describe, expect, it } from 'vitest';
import { parseFraming } from '../../src/index.js';
import { feed, hex, seededRandom } from '../helpers/feed.js';
import { FUZZ_SPECS, fuzzInput } from './fuzz-inputs.js';

const INPUTS_PER_DECODER = 10_000;

describe('fuzz: only FrameError / UnexpectedEofError, and all feeding ways agree', () => {
  for (const [index, spec] of FUZZ_SPECS.entries()) {
    it(spec, () => {
      const random = seededRandom(1000 + index);
      // Half the inputs against a tiny maxFrame, to reach the limit checks often.
      const framings = [
        parseFraming(spec),
        parseFraming(spec, spec.startsWith('fixed') ? {} : { maxFrame: 8 }),
      ];
      const codes = new Map<string, number>();
      for (let run = 0; run < INPUTS_PER_DECODER; run++) {
        const framing = framings[run % 2]!;
        const input = fuzzInput(framing, random);
        let code = 'ok';
        try {
          code = feed(() => framing.createDecoder(), input, { seed: run + 1 }).error?.code ?? 'ok';
        } catch (error) {
          throw new Error(
            `${framing.spec} (maxFrame ${framing.maxFrame}) failed on input ${hex(input)}`,
            {
              cause: error,
            },
          );
        }
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
      // The generator must reach both outcomes, or the fuzzing proves little.
      expect(codes.get('ok') ?? 0).toBeGreaterThan(INPUTS_PER_DECODER / 20);
      expect(INPUTS_PER_DECODER - (codes.get('ok') ?? 0)).toBeGreaterThan(INPUTS_PER_DECODER / 20);
    });
  }
});
