/**
 * tokio-util's `length_delimited` options, translated to `lengthFraming`'s (Netty's).
 *
 * tokio measures `length_adjustment` from the end of the `num_skip` bytes; Netty
 * measures it from the end of the length field. The documented translation is
 * `lengthAdjustment = tokio adjustment + num_skip - offset - width`, with `num_skip`
 * becoming `initialBytesToStrip`. Each example of tokio's module documentation (as
 * fixed by tokio PR #6638) is decoded through that formula and the feed() helper; a
 * seeded property test checks the formula against a reference model of tokio's
 * `decode_head` (frame = the `field + adjustment` bytes after the first `num_skip`).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LengthFieldWidth, lengthFraming } from '../../src/index.js';
import { ascii, concat, feed, fromHex, hex } from '../helpers/feed.js';

interface TokioOptions {
  lengthFieldOffset: number;
  lengthFieldLength: LengthFieldWidth;
  lengthAdjustment: number;
  /** tokio's default is offset + length. */
  numSkip?: number;
}

/** The translation documented on LengthFramingOptions. */
function fromTokio(tokio: TokioOptions) {
  const numSkip = tokio.numSkip ?? tokio.lengthFieldOffset + tokio.lengthFieldLength;
  return {
    lengthFieldOffset: tokio.lengthFieldOffset,
    lengthFieldLength: tokio.lengthFieldLength,
    lengthAdjustment:
      tokio.lengthAdjustment + numSkip - tokio.lengthFieldOffset - tokio.lengthFieldLength,
    initialBytesToStrip: numSkip,
  };
}

/** Reference model of tokio's decode_head + decode_data for one frame at the start of `wire`. */
function tokioFrame(tokio: TokioOptions, wire: Uint8Array): Uint8Array {
  const numSkip = tokio.numSkip ?? tokio.lengthFieldOffset + tokio.lengthFieldLength;
  let field = 0;
  for (let index = 0; index < tokio.lengthFieldLength; index++) {
    field = field * 256 + wire[tokio.lengthFieldOffset + index]!;
  }
  const length = field + tokio.lengthAdjustment;
  return wire.subarray(numSkip, numSkip + length);
}

const HELLO = hex(ascii('Hello world'));

/** tokio's documentation examples: settings, INPUT, DECODED. */
const EXAMPLES: { name: string; tokio: TokioOptions; input: string; decoded: string }[] = [
  {
    name: 'example 1: u16 field, header kept (num_skip 0, adjustment 2)',
    tokio: { lengthFieldOffset: 0, lengthFieldLength: 2, lengthAdjustment: 2, numSkip: 0 },
    input: `000b${HELLO}`,
    decoded: `000b${HELLO}`,
  },
  {
    name: 'example 2: u16 field, header stripped (defaults)',
    tokio: { lengthFieldOffset: 0, lengthFieldLength: 2, lengthAdjustment: 0 },
    input: `000b${HELLO}`,
    decoded: HELLO,
  },
  {
    name: 'example 3: the length counts the header, header kept',
    tokio: { lengthFieldOffset: 0, lengthFieldLength: 2, lengthAdjustment: 0, numSkip: 0 },
    input: `000d${HELLO}`,
    decoded: `000d${HELLO}`,
  },
  {
    name: 'example 4: 3-byte field and a 2-byte head after it, all kept',
    tokio: { lengthFieldOffset: 0, lengthFieldLength: 3, lengthAdjustment: 5, numSkip: 0 },
    input: `00000bcafe${HELLO}`,
    decoded: `00000bcafe${HELLO}`,
  },
  {
    name: 'example 5: field at offset 1, hdr1 and the field stripped, hdr2 kept',
    tokio: { lengthFieldOffset: 1, lengthFieldLength: 2, lengthAdjustment: 1, numSkip: 3 },
    input: `ca000bfe${HELLO}`,
    decoded: `fe${HELLO}`,
  },
  {
    name: 'example 6: as 5, the length counting the whole frame',
    tokio: { lengthFieldOffset: 1, lengthFieldLength: 2, lengthAdjustment: -3, numSkip: 3 },
    input: `ca000ffe${HELLO}`,
    decoded: `fe${HELLO}`,
  },
  {
    name: 'example 7: 3-byte field, then one unused byte, both skipped (num_skip 4)',
    tokio: { lengthFieldOffset: 0, lengthFieldLength: 3, lengthAdjustment: 0, numSkip: 4 },
    input: `00000b0c${HELLO}`,
    decoded: HELLO,
  },
];

describe('lengthFraming from tokio length_delimited settings', () => {
  for (const example of EXAMPLES) {
    it(example.name, () => {
      const input = fromHex(example.input);
      // The reference model agrees with tokio's diagram.
      expect(hex(tokioFrame(example.tokio, input))).toBe(example.decoded);
      // Two frames back to back: a misframe would show up in the second.
      const framing = lengthFraming(fromTokio(example.tokio));
      const result = feed(() => framing.createDecoder(), concat([input, input]), {
        trailing: input.subarray(0, input.length - 1),
      });
      expect(result.error).toBeUndefined();
      expect(result.hex).toEqual([example.decoded, example.decoded]);
    });
  }

  it('copying num_skip across without the adjustment misframes (the documented pitfall)', () => {
    const framing = lengthFraming({ lengthFieldLength: 3, initialBytesToStrip: 4 });
    const result = feed(() => framing.createDecoder(), fromHex(`00000b0c${HELLO}`), {
      trailing: fromHex('00'),
    });
    expect(result.hex).toEqual([hex(ascii('Hello worl'))]);
  });

  it('the translation matches tokio for any offset, width, skip and adjustment (property)', () => {
    const widths: LengthFieldWidth[] = [1, 2, 3, 4];
    fc.assert(
      fc.property(
        fc.constantFrom(...widths),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: -8, max: 8 }),
        fc.uint8Array({ maxLength: 40 }),
        (width, offset, numSkip, tokioAdjustment, body) => {
          const headEnd = offset + width;
          // A frame as tokio sees it: num_skip bytes, then `field + adjustment` frame bytes.
          const frameLength = Math.max(headEnd - numSkip, 0) + body.length;
          const field = frameLength - tokioAdjustment;
          fc.pre(field >= 0 && field < 2 ** (8 * width));
          fc.pre(numSkip + frameLength >= headEnd);
          const wire = new Uint8Array(numSkip + frameLength);
          wire.set(body, wire.length - body.length);
          let rest = field;
          for (let index = width - 1; index >= 0; index--) {
            wire[offset + index] = rest % 256;
            rest = Math.floor(rest / 256);
          }
          const tokio: TokioOptions = {
            lengthFieldOffset: offset,
            lengthFieldLength: width,
            lengthAdjustment: tokioAdjustment,
            numSkip,
          };
          const expected = hex(tokioFrame(tokio, wire));
          const framing = lengthFraming(fromTokio(tokio));
          const result = feed(() => framing.createDecoder(), wire, { seed: field + 1 });
          expect(result.error).toBeUndefined();
          expect(result.hex).toEqual([expected]);
        },
      ),
      { seed: 0x70c10, numRuns: 400 },
    );
  });
});
