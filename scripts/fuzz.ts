/**
 * Long-running fuzzer: `npm run fuzz -- --iterations N [--seed S] [--spec SPEC ...]`.
 *
 * Targets: every codec framing spec (test/codec/fuzz-inputs.ts), plus `proxy` (the
 * PROXY protocol v1/v2 parser) and `sbp` (the envelope codec); `--spec` picks some,
 * the default is all of them.
 *
 * For a framing, decodes N seeded random inputs per maxFrame setting (the default and
 * a tiny one) three ways through test/helpers/feed.ts, exactly as
 * test/codec/fuzz.test.ts does with fewer iterations. For `proxy` and `sbp`, runs each
 * fast-check property of test/codec/fuzz-proxy.ts / fuzz-envelope.ts (decode,
 * roundtrip, encode) N times, as their vitest suites do with a few hundred runs.
 * Prints, per framing or property, how many inputs ended cleanly and how many with
 * each error code. Exits 1 on the first input that makes a decoder throw anything but
 * the errors it documents, makes the feeding ways disagree, or breaks a bound or a
 * round trip, printing the framing, seed and input (fast-check: seed, path and the
 * shrunk counterexample).
 */
import { parseArgs } from 'node:util';
import { parseFraming } from '../src/index.js';
import { SBP_FUZZ_PROPERTIES } from '../test/codec/fuzz-envelope.js';
import { FUZZ_SPECS, fuzzInput } from '../test/codec/fuzz-inputs.js';
import { PROXY_FUZZ_PROPERTIES } from '../test/codec/fuzz-proxy.js';
import { type FuzzProperty, tallyInto } from '../test/codec/fuzz-wire.js';
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
/** Targets that are not framing specs: fast-check properties. */
const PROPERTY_TARGETS: Record<string, readonly FuzzProperty[]> = {
  proxy: PROXY_FUZZ_PROPERTIES,
  sbp: SBP_FUZZ_PROPERTIES,
};
const specs = values.spec ?? [...FUZZ_SPECS, ...Object.keys(PROPERTY_TARGETS)];

function formatOutcomes(outcomes: Map<string, number>): string {
  return [...outcomes.entries()]
    .sort((left, right) => right[1] - left[1])
    .map(([code, count]) => `${code}=${count}`)
    .join(' ');
}

let failures = 0;
const started = performance.now();
for (const [index, spec] of specs.entries()) {
  const seed = baseSeed * 1000 + index;
  const properties = PROPERTY_TARGETS[spec];
  if (properties !== undefined) {
    for (const property of properties) {
      const outcomes = new Map<string, number>();
      const propertyStarted = performance.now();
      try {
        property.check({ seed, numRuns: iterations }, tallyInto(outcomes));
      } catch (error) {
        failures++;
        console.error(`FAIL ${property.name} seed=${seed}`);
        console.error(error);
      }
      const seconds = (performance.now() - propertyStarted) / 1000;
      console.log(
        `${property.name.padEnd(48)} ${iterations} inputs in ${seconds.toFixed(1)} s: ${formatOutcomes(outcomes)}`,
      );
    }
    continue;
  }
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
  console.log(
    `${spec.padEnd(48)} ${iterations} inputs in ${seconds.toFixed(1)} s: ${formatOutcomes(outcomes)}`,
  );
}
const total = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `${specs.length} targets, ${iterations} inputs each (per property for proxy/sbp), ${total} s, ${failures === 0 ? 'no failures' : `${failures} FAILED`}`,
);
process.exit(failures === 0 ? 0 : 1);
