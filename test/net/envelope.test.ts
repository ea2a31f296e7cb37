import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NEED_DATA } from '../../src/codec/types.js';
import {
  encodeEnvelope,
  parseEnvelope,
  SbpDecoder,
  SbpType,
  type SbpTypeCode,
  sbpFraming,
} from '../../src/net/envelope.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const wire = (chunks: Uint8Array[]): Uint8Array => Buffer.concat(chunks);

function decodeAll(input: Uint8Array, chunkSize: number, maxFrame?: number) {
  const decoder = new SbpDecoder(maxFrame);
  const frames: string[] = [];
  for (let offset = 0; offset < input.length; offset += chunkSize) {
    decoder.push(input.subarray(offset, offset + chunkSize));
    for (let frame = decoder.next(); frame !== NEED_DATA; frame = decoder.next()) {
      frames.push(hex(frame));
    }
  }
  decoder.end();
  return frames;
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
    ['DATA empty', SbpType.DATA, 0, '', '00000001' + '00'],
  ])('%s', (_name, type, id, body, expected) => {
    const encoded = wire(encodeEnvelope(type as SbpTypeCode, id, new TextEncoder().encode(body)));
    expect(hex(encoded)).toBe(expected);
    const frames = decodeAll(encoded, 1);
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
  it('decodes the same frames whole, byte by byte and in odd chunks (property, fixed seed)', () => {
    const envelope = fc.record({
      type: fc.constantFrom(0, 1, 2, 3, 4, 5) as fc.Arbitrary<SbpTypeCode>,
      id: fc.integer({ min: 0, max: 0xffffffff }),
      body: fc.uint8Array({ maxLength: 40 }),
    });
    fc.assert(
      fc.property(
        fc.array(envelope, { maxLength: 8 }),
        fc.integer({ min: 1, max: 17 }),
        (envelopes, size) => {
          const input = wire(
            envelopes.flatMap((item) => encodeEnvelope(item.type, item.id, item.body)),
          );
          const whole = decodeAll(input, Math.max(1, input.length));
          expect(decodeAll(input, 1)).toEqual(whole);
          expect(decodeAll(input, size)).toEqual(whole);
          expect(whole).toHaveLength(envelopes.length);
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });

  it('returns a view when the frame lies in one chunk', () => {
    const input = wire(encodeEnvelope(SbpType.DATA, 0, new Uint8Array(8)));
    const decoder = new SbpDecoder();
    decoder.push(input);
    const frame = decoder.next() as Uint8Array;
    expect(frame.buffer).toBe(input.buffer);
  });

  it('checks the declared length at the header, before the body arrives', () => {
    const decoder = new SbpDecoder(16);
    decoder.push(Uint8Array.of(0, 0, 0, 22));
    expect(() => decoder.next()).toThrow(
      expect.objectContaining({ code: 'SB_FRAME_TOO_LARGE', offset: 0 }),
    );
    // Sticky.
    expect(() => decoder.next()).toThrow(expect.objectContaining({ code: 'SB_FRAME_TOO_LARGE' }));
    const atLimit = new SbpDecoder(16);
    atLimit.push(Uint8Array.of(0, 0, 0, 21));
    expect(atLimit.next()).toBe(NEED_DATA);
  });

  it('rejects an unknown type as soon as the type byte arrives, with the frame offset', () => {
    const decoder = new SbpDecoder();
    decoder.push(wire(encodeEnvelope(SbpType.DATA, 0, Uint8Array.of(1, 2))));
    decoder.push(Uint8Array.of(0, 0, 0, 9, 6));
    expect(decoder.next()).toBeInstanceOf(Uint8Array);
    expect(() => decoder.next()).toThrow(
      expect.objectContaining({ code: 'SB_BAD_ENVELOPE', offset: 7 }),
    );
  });

  it('rejects length 0 and an id-carrying type without its id', () => {
    const zero = new SbpDecoder();
    zero.push(Uint8Array.of(0, 0, 0, 0));
    expect(() => zero.next()).toThrow(expect.objectContaining({ code: 'SB_BAD_ENVELOPE' }));
    expect(() => parseEnvelope(Uint8Array.of(SbpType.PING, 0, 0))).toThrow(
      expect.objectContaining({ code: 'SB_BAD_ENVELOPE' }),
    );
  });

  it('end() inside a frame is SB_UNEXPECTED_EOF; between frames it is fine', () => {
    const partial = new SbpDecoder();
    partial.push(Uint8Array.of(0, 0, 0, 5, 3));
    expect(partial.next()).toBe(NEED_DATA);
    expect(partial.inFrame).toBe(true);
    expect(() => partial.end()).toThrow(expect.objectContaining({ code: 'SB_UNEXPECTED_EOF' }));
    const clean = new SbpDecoder();
    clean.push(Uint8Array.of(0, 0, 0, 1, 5));
    expect(clean.next()).toBeInstanceOf(Uint8Array);
    expect(clean.inFrame).toBe(false);
    expect(() => clean.end()).not.toThrow();
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

  it('sbpFraming exposes the Framing contract', () => {
    const framing = sbpFraming({ maxFrame: 100 });
    expect(framing.spec).toBe('sbp');
    expect(hex(wire(framing.createEncoder().encode(Uint8Array.of(0xab))))).toBe('0000000200ab');
  });
});
