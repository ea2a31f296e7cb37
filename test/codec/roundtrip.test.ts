/**
 * Property tests (fast-check, fixed seed): for every framing, a random list of
 * payloads the encoder accepts is encoded, concatenated, cut into random chunks
 * and decoded (through test/helpers/feed.ts, which also tries whole and
 * byte-by-byte input): the frames must be exactly the payloads.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Encoder,
  type Framing,
  lengthFraming,
  parseFraming,
  taggedFraming,
} from '../../src/index.js';
import { encodeAll, feed, hex } from '../helpers/feed.js';

const SEED = 42;

/** Random bytes, or bytes from a small alphabet full of delimiters and digits. */
const anyPayload = (maxLength: number) =>
  fc.oneof(
    fc.uint8Array({ maxLength }),
    fc
      .array(fc.constantFrom(0x00, 0x0a, 0x0d, 0x0b, 0x1c, 0x2c, 0x30, 0x3a, 0x61, 0xab, 0xff), {
        maxLength: Math.min(maxLength, 12),
      })
      .map((bytes) => Uint8Array.from(bytes)),
  );

function accepts(encoder: Encoder, payload: Uint8Array): boolean {
  try {
    encoder.encode(payload);
    return true;
  } catch {
    return false;
  }
}

function checkRoundTrip(
  framing: Framing,
  payloads: fc.Arbitrary<Uint8Array[]>,
  numRuns = 150,
): void {
  fc.assert(
    fc.property(
      payloads,
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.integer({ min: 1, max: 40 }),
      (list, seed, maxChunk) => {
        const encoder = framing.createEncoder();
        const wire = encodeAll((payload) => encoder.encode(payload), list);
        const result = feed(() => framing.createDecoder(), wire, { seed, maxChunk });
        expect(result.error).toBeUndefined();
        expect(result.hex).toEqual(list.map(hex));
      },
    ),
    { seed: SEED, numRuns },
  );
}

/** Lists of payloads that `framing`'s encoder accepts. */
function acceptedPayloads(framing: Framing, maxLength = 64): fc.Arbitrary<Uint8Array[]> {
  const probe = framing.createEncoder();
  return fc.array(
    anyPayload(maxLength).filter((payload) => accepts(probe, payload)),
    { maxLength: 8 },
  );
}

const GENERIC_SPECS = [
  'line',
  'line:crlf',
  'delim:00',
  'delim:0d0a',
  'delim:abab',
  'length',
  'length:u8',
  'length:u16le',
  'length:u24',
  'length:u32le',
  'length:u64',
  'length:u64le',
  'digits:1',
  'digits:5',
  'varint',
  'netstring',
  'mllp',
  'content-length',
];

describe('round trip: encode -> concatenate -> random chunks -> decode', () => {
  for (const spec of GENERIC_SPECS) {
    it(spec, () => {
      const framing = parseFraming(spec);
      checkRoundTrip(framing, acceptedPayloads(framing, spec === 'digits:1' ? 9 : 64));
    });
  }

  it('varint with lengths needing 2 and 3 prefix bytes', () => {
    const framing = parseFraming('varint');
    checkRoundTrip(
      framing,
      fc.array(fc.uint8Array({ minLength: 100, maxLength: 20_000 }), { maxLength: 3 }),
      15,
    );
  });

  it('fixed:N', () => {
    for (const size of [1, 3, 17]) {
      const framing = parseFraming(`fixed:${size}`);
      checkRoundTrip(
        framing,
        fc.array(fc.uint8Array({ minLength: size, maxLength: size }), { maxLength: 8 }),
        50,
      );
    }
  });

  it('tagged, fixed and length-field types', () => {
    const framing = parseFraming('tagged:01=0,02=3,0a=length:u8,ff=length:u16le,10=length:u64');
    const frame = fc.oneof(
      fc.constant(Uint8Array.of(0x01)),
      fc.uint8Array({ minLength: 3, maxLength: 3 }).map((body) => Uint8Array.of(0x02, ...body)),
      fc.uint8Array({ maxLength: 255 }).map((body) => Uint8Array.of(0x0a, ...body)),
      fc.uint8Array({ maxLength: 300 }).map((body) => Uint8Array.of(0xff, ...body)),
      fc.uint8Array({ maxLength: 20 }).map((body) => Uint8Array.of(0x10, ...body)),
    );
    checkRoundTrip(framing, fc.array(frame, { maxLength: 8 }));
  });

  it('tagged built from a Map', () => {
    const framing = taggedFraming(new Map([[0x41, 2]]));
    expect(framing.spec).toBe('tagged:41=2');
    checkRoundTrip(
      framing,
      fc.array(
        fc.uint8Array({ minLength: 2, maxLength: 2 }).map((body) => Uint8Array.of(0x41, ...body)),
      ),
      50,
    );
  });

  it('eof: one payload, including the empty one', () => {
    const framing = parseFraming('eof');
    checkRoundTrip(
      framing,
      fc.uint8Array({ maxLength: 200 }).map((payload) => [payload]),
    );
  });

  it('length with Netty-style options that the encoder can reproduce', () => {
    const variants = [
      { lengthFieldOffset: 2 },
      { lengthFieldLength: 2 as const, lengthIncludesHeader: true },
      { lengthFieldLength: 3 as const, lengthAdjustment: -1, lengthFieldOffset: 1 },
      { lengthFieldLength: 1 as const, lengthAdjustment: 5 },
    ];
    for (const options of variants) {
      const framing = lengthFraming(options);
      checkRoundTrip(framing, acceptedPayloads(framing), 60);
    }
  });

  it('length keeping part of the header: the payload carries the length field', () => {
    // Wire: 1 stripped byte (zero), u16le field = body length, body. The frame is field + body.
    const framing = lengthFraming({
      lengthFieldLength: 2,
      littleEndian: true,
      lengthFieldOffset: 1,
      initialBytesToStrip: 1,
    });
    const frame = fc
      .uint8Array({ maxLength: 300 })
      .map((body) => Uint8Array.of(body.length & 0xff, body.length >> 8, ...body));
    checkRoundTrip(framing, fc.array(frame, { maxLength: 6 }), 60);
  });
});
