/**
 * Fuzz properties of the `sbp` envelope codec (src/codec/sbp.ts, docs/PROTOCOL.md),
 * shared by test/codec/sbp-fuzz.test.ts (seeded, a few hundred runs) and `npm run
 * fuzz -- --spec sbp` (as many runs as asked).
 *
 * - decode: random bytes, bytes from the type/length alphabet and mutated valid streams
 *   of envelopes (bit flips, truncation, inserted/deleted bytes, lies in the u32 length
 *   fields), against the default and a tiny maxFrame, fed whole, in random chunks and one
 *   byte at a time. Only FrameError / UnexpectedEofError with a known code may escape
 *   the decoder, only `SB_BAD_ENVELOPE` parseEnvelope; every feeding agrees with the
 *   whole input; each frame is exactly the bytes its length field announced; and
 *   whenever the decoder asks for more data it holds less than 4 + maxFrame + 5 bytes,
 *   with a pending length field already checked (1 <= length <= maxFrame + 5: limits at
 *   the header, never after buffering the body) and a pending type byte known.
 * - roundtrip: random envelopes encode, split anywhere, and decode to themselves.
 * - encode: encodeEnvelope / sbpFraming with random, often invalid, types, ids, bodies
 *   and maxFrame either throw InvalidArgumentError with a known code or produce bytes
 *   that decode to exactly the envelope given.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  type Envelope,
  encodeEnvelope,
  hasId,
  parseEnvelope,
  SbpDecoder,
  SbpType,
  type SbpTypeCode,
  sbpFraming,
} from '../../src/codec/sbp.js';
import { NEED_DATA } from '../../src/codec/types.js';
import { DEFAULTS } from '../../src/options.js';
import { concat, hex } from '../helpers/feed.js';
import {
  chunkings,
  expectKnownError,
  type FuzzProperty,
  type LengthField,
  mutate,
  mutationsArbitrary,
  splitsArbitrary,
} from './fuzz-wire.js';

const LENGTH_BYTES = 4;
/** Type byte + id: what an envelope may carry beyond maxFrame body bytes. */
const ENVELOPE_OVERHEAD = 5;

/** What one feeding of the decoder ended with. */
export interface SbpOutcome {
  /** `ok`, the decoder's error code, or `parse:CODE` for a frame parseEnvelope rejected. */
  readonly code: string;
  readonly offset: number | undefined;
  /** Each frame in hex. */
  readonly frames: readonly string[];
}

function readU32(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
  );
}

/** The documented bound for a decoder that holds `pending` (from a frame start) and wants more. */
function assertWaitingWithinBound(pending: Uint8Array, maxFrame: number): void {
  assert.ok(
    pending.length < LENGTH_BYTES + maxFrame + ENVELOPE_OVERHEAD,
    `waiting with ${pending.length} bytes, maxFrame ${maxFrame}`,
  );
  if (pending.length >= LENGTH_BYTES) {
    const declared = readU32(pending, 0);
    assert.ok(declared >= 1, 'waiting on a zero length');
    assert.ok(
      declared <= maxFrame + ENVELOPE_OVERHEAD,
      `waiting for a ${declared}-byte envelope, maxFrame ${maxFrame}`,
    );
    assert.ok(pending.length < LENGTH_BYTES + declared, 'waiting with a whole frame buffered');
  }
  if (pending.length > LENGTH_BYTES) {
    assert.ok(pending[LENGTH_BYTES]! <= SbpType.ERROR, 'waiting after an unknown type byte');
  }
}

/** Feeds `chunks` (which concatenate to `input`) to one decoder, checking every frame and bound. */
function feedSbp(input: Uint8Array, chunks: readonly Uint8Array[], maxFrame: number): SbpOutcome {
  const decoder = new SbpDecoder(maxFrame);
  const frames: string[] = [];
  let pushed = 0;
  let consumed = 0;
  let parseCode: string | undefined;
  const drain = (): void => {
    for (let frame = decoder.next(); frame !== NEED_DATA; frame = decoder.next()) {
      const declared = readU32(input, consumed);
      assert.equal(frame.length, declared, 'frame length vs its length field');
      assert.ok(frame.length <= maxFrame + ENVELOPE_OVERHEAD, 'frame over the bound');
      assert.equal(
        hex(frame),
        hex(input.subarray(consumed + LENGTH_BYTES, consumed + LENGTH_BYTES + declared)),
      );
      try {
        parseEnvelope(frame, consumed);
      } catch (error) {
        const code = expectKnownError(error, ['FrameError']);
        assert.equal(code, 'SB_BAD_ENVELOPE');
        parseCode ??= `parse:${code}`;
      }
      consumed += LENGTH_BYTES + declared;
      frames.push(hex(frame));
    }
    assert.equal(decoder.buffered, pushed - consumed, 'buffered');
    assertWaitingWithinBound(input.subarray(consumed, pushed), maxFrame);
  };
  try {
    for (const chunk of chunks) {
      decoder.push(chunk);
      pushed += chunk.length;
      drain();
    }
    decoder.end();
  } catch (error) {
    if (error instanceof assert.AssertionError) {
      throw error;
    }
    const code = expectKnownError(error, ['FrameError', 'UnexpectedEofError']);
    assert.throws(
      () => decoder.next(),
      (again) => again === error,
    );
    assert.throws(
      () => decoder.end(),
      (again) => again === error,
    );
    assert.throws(
      () => decoder.push(Uint8Array.of(0)),
      (again) => again === error,
    );
    return { code, offset: (error as { offset?: number }).offset, frames };
  }
  return { code: parseCode ?? 'ok', offset: undefined, frames };
}

/**
 * Decodes `input` with `maxFrame` whole, split at `points` and byte by byte (when small);
 * checks every invariant and that all agree. Returns the outcome.
 */
export function checkSbpInput(
  input: Uint8Array,
  points: readonly number[],
  maxFrame: number,
): SbpOutcome {
  const whole = feedSbp(input, [input], maxFrame);
  for (const [label, chunks] of chunkings(input, points)) {
    assert.deepEqual(feedSbp(input, chunks, maxFrame), whole, `${label} vs whole`);
  }
  return whole;
}

// ---------------------------------------------------------------- generators

const typeArbitrary = fc.constantFrom<SbpTypeCode>(0, 1, 2, 3, 4, 5, 6);
const envelopeArbitrary = fc.record({
  type: typeArbitrary,
  id: fc.integer({ min: 0, max: 0xffffffff }),
  body: fc.uint8Array({ maxLength: 24 }),
});
/** The default maxFrame, or a tiny one so that the limit is reached often. */
const maxFrameArbitrary = fc.oneof(fc.constant(DEFAULTS.maxFrame), fc.integer({ min: 0, max: 16 }));

/** Encodes `envelopes`, recording where each length field is. */
function encodeStream(envelopes: readonly { type: SbpTypeCode; id: number; body: Uint8Array }[]): {
  bytes: Uint8Array;
  lengthFields: LengthField[];
} {
  const parts: Uint8Array[] = [];
  const lengthFields: LengthField[] = [];
  let offset = 0;
  for (const { type, id, body } of envelopes) {
    const chunks = encodeEnvelope(type, id, body, body.length);
    const size = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    lengthFields.push({ offset, size: 4, actual: size - LENGTH_BYTES });
    parts.push(...chunks);
    offset += size;
  }
  return { bytes: concat(parts), lengthFields };
}

const SPECIAL = [0, 1, 2, 3, 4, 5, 6, 0x7f, 0x80, 0xff];

/** Inputs for the decode property. */
export const sbpInputArbitrary: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({
        envelopes: fc.array(envelopeArbitrary, { maxLength: 5 }),
        mutations: mutationsArbitrary,
      })
      .map(({ envelopes, mutations }) => mutate(encodeStream(envelopes), mutations)),
  },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.constantFrom(...SPECIAL), { maxLength: 48 })
      .map((bytes) => Uint8Array.from(bytes)),
  },
);

function expectedEnvelope(type: SbpTypeCode, id: number, body: Uint8Array): Envelope {
  return { type, id: hasId(type) ? id : 0, body };
}

function parsed(frame: string): Envelope {
  const envelope = parseEnvelope(new Uint8Array(Buffer.from(frame, 'hex')));
  return { type: envelope.type, id: envelope.id, body: envelope.body.slice() };
}

/** The three sbp fuzz properties (decode, roundtrip, encode). */
export const SBP_FUZZ_PROPERTIES: readonly FuzzProperty[] = [
  {
    name: 'sbp/decode',
    check: (run, tally) =>
      fc.assert(
        fc.property(
          sbpInputArbitrary,
          splitsArbitrary,
          maxFrameArbitrary,
          (input, points, maxFrame) => {
            tally(checkSbpInput(input, points, maxFrame).code);
          },
        ),
        run,
      ),
  },
  {
    name: 'sbp/roundtrip',
    check: (run, tally) =>
      fc.assert(
        fc.property(
          fc.array(envelopeArbitrary, { maxLength: 6 }),
          splitsArbitrary,
          (envelopes, points) => {
            const { bytes } = encodeStream(envelopes);
            const maxFrame = Math.max(0, ...envelopes.map((envelope) => envelope.body.length));
            const outcome = checkSbpInput(bytes, points, maxFrame);
            assert.equal(outcome.code, 'ok', 'a valid stream failed to decode');
            assert.deepEqual(
              outcome.frames.map(parsed),
              envelopes.map(({ type, id, body }) => expectedEnvelope(type, id, body)),
            );
            tally(`${envelopes.length} envelopes`);
          },
        ),
        run,
      ),
  },
  {
    name: 'sbp/encode',
    check: (run, tally) =>
      fc.assert(
        fc.property(
          fc.oneof(typeArbitrary, fc.constantFrom(-1, 7, 255, 1.5, Number.NaN)),
          fc.oneof(
            fc.integer({ min: 0, max: 0xffffffff }),
            fc.constantFrom(-1, 2 ** 32, 0.5, Number.NaN, Number.POSITIVE_INFINITY),
          ),
          fc.uint8Array({ maxLength: 20 }),
          fc.oneof(fc.integer({ min: 0, max: 24 }), fc.constantFrom(-1, Number.NaN)),
          (type, id, body, maxFrame) => {
            let chunks: Uint8Array[];
            try {
              // sbpFraming validates maxFrame; encodeEnvelope validates the rest.
              sbpFraming({ maxFrame });
              chunks = encodeEnvelope(type as SbpTypeCode, id, body, maxFrame);
            } catch (error) {
              tally(expectKnownError(error, ['InvalidArgumentError']));
              return;
            }
            // What the encoder writes, a decoder with the same maxFrame must accept.
            const bytes = concat(chunks);
            const outcome = checkSbpInput(bytes, [], maxFrame);
            assert.equal(outcome.code, 'ok', `encoder output ${hex(bytes)} does not decode`);
            assert.deepEqual(outcome.frames.map(parsed), [
              expectedEnvelope(type as SbpTypeCode, id, body),
            ]);
            tally('ok');
          },
        ),
        run,
      ),
  },
];
