/**
 * Whatever a decoder yields, the same framing's encoder writes back (#14 item 6).
 *
 * A server echoes or relays what a peer sent; if the decoder could produce a
 * frame its own encoder refuses, a peer's input would turn into a caller-fault
 * error (`SB_INVALID_ARGUMENT`) or a frame silently lost. Property (fast-check,
 * fixed seed), for every framing `parseFraming` knows: decode arbitrary input
 * (random bytes, bytes from an alphabet of the framings' special bytes, mutated
 * valid wire) through the feed() helper; every frame it yields must be accepted
 * by a fresh encoder, and decoding the encoder's bytes must give back exactly
 * that frame.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEnvelope, parseEnvelope, SbpDecoder } from '../../src/codec/sbp.js';
import { type Framing, parseFraming } from '../../src/index.js';
import { seededRandom } from '../../src/testing/seeded-random.js';
import { ascii, concat, feed, hex } from '../helpers/feed.js';
import { fuzzInput } from './fuzz-inputs.js';

const SEED = 14;

/** One spec per framing name in parseFraming's grammar, plus variants with other edge bytes. */
const SPECS = [
  'line',
  'line:crlf',
  'delim:00',
  'delim:0d0a',
  'delim:0d0d0a',
  'delim:abab',
  'fixed:3',
  'length',
  'length:u8',
  'length:u16le',
  'length:u64',
  'digits:3',
  'varint',
  'netstring',
  'tagged:01=2,02=length:u8,03=0',
  'eof',
  'mllp',
  'content-length',
];

/** Every framing name the spec grammar accepts: the cases of parseFraming's switch, read from its source. */
const FRAMING_NAMES = [
  ...readFileSync(new URL('../../src/codec/spec.ts', import.meta.url), 'utf8')
    .slice(
      readFileSync(new URL('../../src/codec/spec.ts', import.meta.url), 'utf8').indexOf(
        'export function parseFraming',
      ),
    )
    .matchAll(/^ {4}case '([a-z-]+)':/gm),
].map((match) => match[1]!);

/**
 * Pieces that the framings treat specially (terminators, delimiter bytes, digits,
 * separators, MLLP and header bytes); a short alphabet, so that sequences such as
 * CR CR LF come up often.
 */
const PIECES: readonly Uint8Array[] = [
  [0x0d],
  [0x0a],
  [0x0d, 0x0a],
  [0x00],
  [0x01],
  [0x02],
  [0x0b],
  [0x1c],
  [0x1c, 0x0d],
  [0x2c],
  [0x3a],
  [0x30],
  [0x32],
  [0xab],
  [0x61],
  [...'Content-Length: 2\r\n\r\n'].map((char) => char.charCodeAt(0)),
].map((bytes) => Uint8Array.from(bytes));

/** Inputs: the shared fuzz generator (seeded by fast-check) or a sequence of special pieces. */
function inputs(framing: Framing): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.integer({ min: 1, max: 2 ** 31 - 1 }).map((seed) => fuzzInput(framing, seededRandom(seed))),
    fc.array(fc.constantFrom(...PIECES), { maxLength: 30 }).map((pieces) => concat(pieces)),
  );
}

function checkReencode(framing: Framing, input: Uint8Array): void {
  const decoded = feed(() => framing.createDecoder(), input, { end: framing.spec === 'eof' });
  for (const frame of decoded.frames) {
    const encoder = framing.createEncoder();
    let wire: Uint8Array[];
    try {
      wire = encoder.encode(frame);
    } catch (error) {
      throw new Error(`${framing.spec}: decoded frame ${hex(frame)} is refused by the encoder`, {
        cause: error,
      });
    }
    const again = feed(() => framing.createDecoder(), Buffer.concat(wire));
    expect(again.error).toBeUndefined();
    expect(again.hex).toEqual([hex(frame)]);
  }
}

describe('every decoded frame can be encoded back to the same frame (#14)', () => {
  it('covers every framing name of parseFraming', () => {
    const covered = new Set(SPECS.map((spec) => spec.split(':')[0]));
    // sbp's decoder yields envelopes and its encoder takes DATA payloads, so the frame
    // round trip is the envelope one, tested below with encodeEnvelope.
    covered.add('sbp');
    expect([...covered].sort()).toEqual([...FRAMING_NAMES].sort());
  });

  for (const spec of SPECS) {
    it(spec, () => {
      const framing = parseFraming(spec);
      fc.assert(
        fc.property(inputs(framing), (input) => checkReencode(framing, input)),
        { seed: SEED, numRuns: 500 },
      );
    });
  }

  it('line: "ab\\r\\r\\n" decodes to "ab\\r", which encodes as "ab\\r\\r\\n"', () => {
    const framing = parseFraming('line');
    const decoded = feed(() => framing.createDecoder(), ascii('ab\r\r\n'));
    expect(decoded.hex).toEqual([hex(ascii('ab\r'))]);
    expect(Buffer.concat(framing.createEncoder().encode(ascii('ab\r'))).toString('latin1')).toBe(
      'ab\r\r\n',
    );
    // Payloads without a trailing CR keep the plain LF terminator.
    expect(Buffer.concat(framing.createEncoder().encode(ascii('ab'))).toString('latin1')).toBe(
      'ab\n',
    );
  });
});

describe('sbp (the Channel envelope): every decoded envelope encodes back to the same bytes (#14)', () => {
  const MAX = 16;
  const envelope = (type: number, length: number, bodyLength: number): Uint8Array =>
    Uint8Array.from([0, 0, 0, length, type, ...new Uint8Array(bodyLength)]);

  it('a DATA or CLOSE body over maxFrame is refused at the type byte, even within the room for an id', () => {
    for (const type of [0, 5]) {
      for (let extra = 1; extra <= 4; extra++) {
        const bytes = envelope(type, 1 + MAX + extra, MAX + extra);
        const outcome = feed(() => new SbpDecoder(MAX), bytes);
        expect(outcome.error?.code).toBe('SB_FRAME_TOO_LARGE');
        expect(outcome.error?.offset).toBe(0);
      }
      expect(feed(() => new SbpDecoder(MAX), envelope(type, 1 + MAX, MAX)).error).toBeUndefined();
    }
  });

  it("property: every decoded envelope either is refused as the peer's fault or re-encodes to itself", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            type: fc.integer({ min: 0, max: 5 }),
            length: fc.integer({ min: 1, max: MAX + 6 }),
          }),
          { maxLength: 6 },
        ),
        (envelopes) => {
          const bytes = concat(
            envelopes.map(({ type, length }) =>
              Uint8Array.from([0, 0, 0, length, type, ...new Uint8Array(length - 1)]),
            ),
          );
          const decoded = feed(() => new SbpDecoder(MAX), bytes);
          for (const frame of decoded.frames) {
            let parsed: ReturnType<typeof parseEnvelope>;
            try {
              parsed = parseEnvelope(frame);
            } catch (error) {
              // Too short for its id: refused as the peer's fault, which is allowed.
              expect((error as { code?: string }).code).toBe('SB_BAD_ENVELOPE');
              continue;
            }
            const again = Buffer.concat(encodeEnvelope(parsed.type, parsed.id, parsed.body, MAX));
            expect(hex(again.subarray(4))).toBe(hex(frame));
          }
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });
});
