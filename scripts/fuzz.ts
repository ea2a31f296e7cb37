/**
 * Long-running codec fuzzer: `npm run fuzz -- --iterations N [--seed S] [--spec SPEC]`.
 *
 * For every framing (or just SPEC), decodes N seeded random inputs per maxFrame
 * setting (the default and a tiny one) three ways through test/helpers/feed.ts,
 * exactly as test/codec/fuzz.test.ts does with fewer iterations. Prints, per
 * framing, how many inputs decoded cleanly and how many ended with each error
 * code. Exits 1, printing the framing, seed and input hex, on the first input
 * that makes a decoder throw anything but FrameError / UnexpectedEofError, or
 * makes the three feeding ways disagree.
 */
import { parseArgs } from 'node:util';
import { parseFraming } from '../src/codec/index.js';
import { FUZZ_SPECS, fuzzInput } from '../test/codec/fuzz-inputs.js';
import { feed, hex, seededRandom } from '../test/helpers/feed.js';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    spec: { type: 'string', multiple: true },
  },
});
const iterations = Number(values.iterations);
const baseSeed = Number(values.seed);
if (!Number.isSafeInteger(iterations) || iterations < 1 || !Number.isSafeInteger(baseSeed)) {
  console.error('usage: npm run fuzz -- [--iterations N] [--seed S] [--spec SPEC ...]');
  process.exit(2);
}
const specs = values.spec ?? FUZZ_SPECS;

let failures = 0;
const started = performance.now();
for (const [index, spec] of specs.entries()) {
  const seed = baseSeed * 1000 + index;
  const random = seededRandom(seed);
  const framings = [
    parseFraming(spec),
    parseFraming(spec, spec.startsWith('fixed') ? {} : { maxFrame: 8 }),
  ];
  const outcomes = new Map<string, number>();
  const specStarted = performance.now();
  for (let run = 0; run < iterations; run++) {
    const framing = framings[run % 2]!;
    const input = fuzzInput(framing, random);
    try {
      const code =
        feed(() => framing.createDecoder(), input, { seed: run + 1 }).error?.code ?? 'ok';
      outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
    } catch (error) {
      failures++;
      console.error(
        `FAIL ${framing.spec} maxFrame=${framing.maxFrame} seed=${seed} run=${run} input=${hex(input)}`,
      );
      console.error(error);
      break;
    }
  }
  const seconds = (performance.now() - specStarted) / 1000;
  const summary = [...outcomes.entries()]
    .sort((left, right) => right[1] - left[1])
    .map(([code, count]) => `${code}=${count}`)
    .join(' ');
  console.log(`${spec.padEnd(48)} ${iterations} inputs in ${seconds.toFixed(1)} s: ${summary}`);
}
const total = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `${specs.length} framings, ${iterations} inputs each, ${total} s, ${failures === 0 ? 'no failures' : `${failures} FAILED`}`,
);
process.exit(failures === 0 ? 0 : 1);
