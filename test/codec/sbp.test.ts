/**
 * The `sbp` envelope codec (codec/sbp.ts): the bytes of docs/PROTOCOL.md both ways,
 * and every decode through test/helpers/feed.ts (whole, byte by byte, random chunks,
 * trailing bytes), like every other codec.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeEnvelope,
  parseEnvelope,
  SbpDataDecoder,
  SbpDecoder,
  SbpType,
  type SbpTypeCode,
  sbpFraming,
} from '../../src/codec/sbp.js';
import { parseFraming } from '../../src/index.js';
import { concat, feed, fromHex, hex } from '../helpers/feed.js';

const wire = (chunks: Uint8Array[]): Uint8Array => concat(chunks);

/** The frames of `input`, decoded three ways by feed() (which checks that they agree). */
function decodeAll(input: Uint8Array, maxFrame?: number): string[] {
  const result = feed(() => new SbpDecoder(maxFrame), input);
  expect(result.error).toBeUndefined();
  return result.hex;
}

describe('sbp envelope bytes (docs/PROTOCOL.md)', () => {
  it.each([
    ['DATA "hi"', SbpType.DATA, 0, 'hi', '00000003' + '00' + '6869'],
    ['REQUEST id 1 "q"', SbpType.REQUEST, 1, 'q', '00000006' + '01' + '00000001' + '71'],
    [
      'RESPONSE id 0x01020304',
      SbpType.RESPONSE,
      0x01020304,
      'a',
      '00000006' + '02' + '01020304' + '61',
    ],
    ['PING id 7', SbpType.PING, 7, '', '00000005' + '03' + '00000007'],
    ['PONG id 7', SbpType.PONG, 7, '', '00000005' + '04' + '00000007'],
    ['CLOSE', SbpType.CLOSE, 0, '', '00000001' + '05'],
    [
      'ERROR id 5 "SB_HANDLER_ERROR"',
      SbpType.ERROR,
      5,
      'SB_HANDLER_ERROR',
      '00000015' + '06' + '00000005' + Buffer.from('SB_HANDLER_ERROR').toString('hex'),
    ],
    ['DATA empty', SbpType.DATA, 0, '', '00000001' + '00'],
  ])('%s', (_name, type, id, body, expected) => {
    const encoded = wire(encodeEnvelope(type as SbpTypeCode, id, new TextEncoder().encode(body)));
    expect(hex(encoded)).toBe(expected);
    const frames = decodeAll(encoded);
    expect(frames).toHaveLength(1);
    const parsed = parseEnvelope(Buffer.from(frames[0]!, 'hex'));
    expect({ type: parsed.type, id: parsed.id, body: Buffer.from(parsed.body).toString() }).toEqual(
      { type, id, body },
    );
  });

  it('the body is not copied by the encoder', () => {
    const body = new Uint8Array(10);
    const chunks = encodeEnvelope(SbpType.DATA, 0, body);
    expect(chunks[1]).toBe(body);
  });
});

describe('SbpDecoder', () => {
  it('decodes what the encoder wrote, in any chunking, with trailing bytes left buffered (property, fixed seed)', () => {
    const envelope = fc.record({
      type: fc.constantFrom(0, 1, 2, 3, 4, 5) as fc.Arbitrary<SbpTypeCode>,
      id: fc.integer({ min: 0, max: 0xffffffff }),
      body: fc.uint8Array({ maxLength: 40 }),
    });
    fc.assert(
      fc.property(
        fc.array(envelope, { maxLength: 8 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 8 }),
        (envelopes, seed, trailingLength) => {
          const input = wire(
            envelopes.flatMap((item) => encodeEnvelope(item.type, item.id, item.body)),
          );
          // A partial next envelope: its length field and part of its type/id.
          const trailing = fromHex('0000000901000000').subarray(0, trailingLength);
          const result = feed(() => new SbpDecoder(), input, { seed, trailing });
          expect(result.error).toBeUndefined();
          expect(result.frames.map((frame) => parseEnvelope(frame))).toEqual(
            envelopes.map((item) => ({
              type: item.type,
              id:
                item.type === 1 || item.type === 2 || item.type === 3 || item.type === 4
                  ? item.id
                  : 0,
              body: item.body,
            })),
          );
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });

  it('returns a view when the frame lies in one chunk', () => {
    const input = wire(encodeEnvelope(SbpType.DATA, 0, new Uint8Array(8)));
    const result = feed(() => new SbpDecoder(), input);
    expect(result.frames[0]!.buffer).toBe(input.buffer);
  });

  it('checks the declared length at the header, before the body arrives', () => {
    // maxFrame 16: an envelope may be 16 + 5 = 21 bytes; 22 fails with only the 4 length bytes.
    const tooLarge = feed(() => new SbpDecoder(16), fromHex('00000016'));
    expect(tooLarge.error).toMatchObject({ code: 'SB_FRAME_TOO_LARGE', offset: 0 });
    expect(tooLarge.runs.bytewise.buffered).toBe(4);
    const atLimit = feed(() => new SbpDecoder(16), fromHex('00000015'), { end: false });
    expect(atLimit.error).toBeUndefined();
    expect(atLimit.inFrame).toBe(true);
    // The limit crossed with the header split across chunks, after a good frame.
    const afterOne = feed(() => new SbpDecoder(16), fromHex('0000000100 00000016 00'));
    expect(afterOne.hex).toEqual(['00']);
    expect(afterOne.error).toMatchObject({ code: 'SB_FRAME_TOO_LARGE', offset: 5 });
  });

  it('rejects an unknown type as soon as the type byte arrives, with the frame offset', () => {
    const input = concat([
      wire(encodeEnvelope(SbpType.DATA, 0, Uint8Array.of(1, 2))),
      fromHex('0000000907'),
    ]);
    const result = feed(() => new SbpDecoder(), input, { end: false });
    expect(result.hex).toEqual(['000102']);
    expect(result.error).toMatchObject({ code: 'SB_BAD_ENVELOPE', offset: 7 });
  });

  it('rejects length 0; parseEnvelope rejects an id-carrying type without its id', () => {
    expect(feed(() => new SbpDecoder(), fromHex('00000000')).error).toMatchObject({
      code: 'SB_BAD_ENVELOPE',
      offset: 0,
    });
    expect(() => parseEnvelope(Uint8Array.of(SbpType.PING, 0, 0))).toThrow(
      expect.objectContaining({ code: 'SB_BAD_ENVELOPE' }),
    );
  });

  it('end() inside a frame is SB_UNEXPECTED_EOF at its offset; between frames it is fine', () => {
    const partial = feed(() => new SbpDecoder(), fromHex('0000000105 0000000503'));
    expect(partial.hex).toEqual(['05']);
    expect(partial.error).toMatchObject({ code: 'SB_UNEXPECTED_EOF', offset: 5 });
    const clean = feed(() => new SbpDecoder(), fromHex('0000000105'));
    expect(clean.error).toBeUndefined();
    expect(clean.inFrame).toBe(false);
  });

  it('is registered in parseFraming as "sbp", with maxFrame', () => {
    const framing = parseFraming('sbp', { maxFrame: 16 });
    expect(framing.spec).toBe('sbp');
    expect(framing.maxFrame).toBe(16);
    expect(feed(() => framing.createDecoder(), fromHex('00000016')).error?.code).toBe(
      'SB_FRAME_TOO_LARGE',
    );
    // A bad argument (`sbp:x`) is in test/codec/spec.test.ts with the other bad specs.
  });

  it('encoder refuses bodies over maxFrame and bad ids', () => {
    expect(() => encodeEnvelope(SbpType.DATA, 0, new Uint8Array(5), 4)).toThrow(
      expect.objectContaining({ code: 'SB_PAYLOAD_TOO_LARGE' }),
    );
    expect(() => encodeEnvelope(SbpType.REQUEST, -1)).toThrow(
      expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }),
    );
    expect(() => encodeEnvelope(9 as SbpTypeCode, 0)).toThrow(
      expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }),
    );
  });

  it('SbpDataDecoder yields DATA bodies, skips control envelopes, and fails on a REQUEST', () => {
    const input = wire([
      ...encodeEnvelope(SbpType.DATA, 0, fromHex('6869')),
      ...encodeEnvelope(SbpType.PING, 7),
      ...encodeEnvelope(SbpType.PONG, 7),
      ...encodeEnvelope(SbpType.RESPONSE, 3, fromHex('61')),
      ...encodeEnvelope(SbpType.DATA, 0),
      ...encodeEnvelope(SbpType.CLOSE, 0, fromHex('6279')),
    ]);
    const result = feed(() => new SbpDataDecoder(), input, { trailing: fromHex('000000') });
    expect(result.hex).toEqual(['6869', '']);
    const request = concat([
      wire(encodeEnvelope(SbpType.DATA, 0, fromHex('6869'))),
      wire(encodeEnvelope(SbpType.REQUEST, 1)),
    ]);
    const refused = feed(() => new SbpDataDecoder(), request);
    expect(refused.hex).toEqual(['6869']);
    expect(refused.error).toMatchObject({ code: 'SB_BAD_ENVELOPE', offset: 7 });
    // A PING whose envelope is too short for its id is refused, not skipped.
    expect(feed(() => new SbpDataDecoder(), fromHex('0000000203 00')).error).toMatchObject({
      code: 'SB_BAD_ENVELOPE',
      offset: 0,
    });
  });

  it('sbpFraming exposes the Framing contract', () => {
    const framing = sbpFraming({ maxFrame: 100 });
    expect(framing.spec).toBe('sbp');
    expect(hex(wire(framing.createEncoder().encode(Uint8Array.of(0xab))))).toBe('0000000200ab');
  });
});
