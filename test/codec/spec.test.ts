/**
 * parseFraming: every spec of SPEC §2 parses to the right framing (canonical
 * spec, limit); bad specs fail with SB_BAD_FRAMING_SPEC naming the bad part.
 * Also the encoders' refusals and the Netty-style length options (the byte
 * diagrams in length.ts, decoded through feed.ts and re-encoded).
 */
import { describe, expect, it } from 'vitest';
import {
  contentLengthFraming,
  delimFraming,
  digitsFraming,
  eofFraming,
  fixedFraming,
  type LengthFramingOptions,
  lengthFraming,
  lineFraming,
  mllpFraming,
  netstringFraming,
  parseFraming,
  taggedFraming,
  varintFraming,
} from '../../src/index.js';
import { ascii, encodeAll, feed, fromHex, hex } from '../helpers/feed.js';

describe('parseFraming', () => {
  const good: [spec: string, canonical: string][] = [
    ['line', 'line'],
    ['line:lf', 'line'],
    ['line:crlf', 'line:crlf'],
    ['delim:00', 'delim:00'],
    ['delim:0D0A', 'delim:0d0a'],
    ['fixed:12', 'fixed:12'],
    ['length', 'length:u32be'],
    ['length:u8', 'length:u8'],
    ['length:u16', 'length:u16be'],
    ['length:u24le', 'length:u24le'],
    ['length:le', 'length:u32le'],
    ['length:u64be', 'length:u64be'],
    ['digits:5', 'digits:5'],
    ['varint', 'varint'],
    ['netstring', 'netstring'],
    ['tagged:1=4,0x02=length:u16be,ff=length', 'tagged:01=4,02=length:u16be,ff=length:u32be'],
    ['eof', 'eof'],
    ['mllp', 'mllp'],
    ['content-length', 'content-length'],
    ['sbp', 'sbp'],
  ];
  for (const [spec, canonical] of good) {
    it(`parses ${spec}`, () => {
      const framing = parseFraming(spec);
      expect(framing.spec).toBe(canonical);
      expect(parseFraming(framing.spec).spec).toBe(canonical);
    });
  }

  const bad: [spec: string, part: string][] = [
    ['', ''],
    ['lines', 'lines'],
    ['line:cr', 'cr'],
    ['delim:', ''],
    ['delim:0', '0'],
    ['delim:zz', 'zz'],
    ['fixed:0', '0'],
    ['fixed:-1', '-1'],
    ['fixed:abc', 'abc'],
    ['fixed:99999999', '99999999'],
    ['length:', ''],
    ['length:u17', 'u17'],
    ['length:u32xe', 'u32xe'],
    ['digits:0', '0'],
    ['digits:16', '16'],
    ['varint:1', '1'],
    ['netstring:x', 'x'],
    ['eof:now', 'now'],
    ['mllp:2', '2'],
    ['content-length:5', '5'],
    ['sbp:x', 'x'],
    ['tagged:', ''],
    ['tagged:01', '01'],
    ['tagged:100=1', '100=1'],
    ['tagged:01=x', 'x'],
    ['tagged:01=length:u9', 'length:u9'],
    ['tagged:01=1,01=2', '01=2'],
  ];
  for (const [spec, part] of bad) {
    it(`rejects "${spec}" naming "${part}"`, () => {
      expect(() => parseFraming(spec)).toThrow(
        expect.objectContaining({
          code: 'SB_BAD_FRAMING_SPEC',
          name: 'InvalidArgumentError',
          message: expect.stringContaining(`"${part}"`),
        }),
      );
    });
  }

  // A newcomer's first spec is often a near miss or a guess: the message says what to
  // write instead, a close name or the syntax of every framing.
  const guesses: [spec: string, hint: string][] = [
    ['lines', '(did you mean "line"?)'],
    ['lenght:u32be', '(did you mean "length"?)'],
    ['netstrings', '(did you mean "netstring"?)'],
    ['content_length', '(did you mean "content-length"?)'],
    ['u32be', '(known: line, line:crlf, delim:HEX, fixed:N, length[:u8|u16|u24|u32|u64][be|le],'],
    ['json', 'digits:N, varint, netstring, tagged:T=N,..., eof, mllp, content-length, sbp)'],
  ];
  for (const [spec, hint] of guesses) {
    it(`an unknown framing "${spec}" says what to write: ${hint}`, () => {
      expect(() => parseFraming(spec)).toThrow(
        expect.objectContaining({
          code: 'SB_BAD_FRAMING_SPEC',
          message: expect.stringContaining(hint),
        }),
      );
    });
  }

  it('applies maxFrame and validates options', () => {
    expect(parseFraming('line', { maxFrame: 5 }).maxFrame).toBe(5);
    expect(parseFraming('fixed:99999999', { maxFrame: 100_000_000 }).maxFrame).toBe(99_999_999);
    expect(() => parseFraming('line', { maxFrame: -1 })).toThrow(
      expect.objectContaining({ code: 'SB_BAD_OPTION' }),
    );
    expect(() => parseFraming('line', { maxFrame: 1.5 })).toThrow(
      expect.objectContaining({ code: 'SB_BAD_OPTION' }),
    );
    expect(() => parseFraming('line', { bogus: 1 } as object)).toThrow(
      expect.objectContaining({ code: 'SB_BAD_OPTION' }),
    );
  });

  it('programmatic constructors match their specs', () => {
    expect(lineFraming().spec).toBe('line');
    expect(lineFraming({ crlf: true }).spec).toBe('line:crlf');
    expect(delimFraming(fromHex('0d0a')).spec).toBe('delim:0d0a');
    expect(fixedFraming(4).spec).toBe('fixed:4');
    expect(lengthFraming({ lengthFieldLength: 2, littleEndian: true }).spec).toBe('length:u16le');
    expect(digitsFraming(5).spec).toBe('digits:5');
    expect(varintFraming().spec).toBe('varint');
    expect(netstringFraming().spec).toBe('netstring');
    expect(taggedFraming({ 1: 4, 2: { lengthFieldLength: 2 } }).spec).toBe(
      'tagged:01=4,02=length:u16be',
    );
    expect(eofFraming().spec).toBe('eof');
    expect(mllpFraming().spec).toBe('mllp');
    expect(contentLengthFraming({ maxHeaderBlock: 1024 }).spec).toBe('content-length');
    expect(() => lengthFraming({ lengthFieldLength: 5 as 4 })).toThrow(
      expect.objectContaining({ code: 'SB_BAD_OPTION' }),
    );
    expect(() => lengthFraming({ initialBytesToStrip: -1 })).toThrow(
      expect.objectContaining({ code: 'SB_BAD_OPTION' }),
    );
    expect(() => delimFraming(new Uint8Array(0))).toThrow(
      expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }),
    );
    expect(() => taggedFraming({})).toThrow(
      expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }),
    );
  });
});

describe('encoders refuse what the peer would misread', () => {
  const refusals: [spec: string, payload: string, code: string][] = [
    ['line', '61 0a 62', 'SB_INVALID_ARGUMENT'],
    ['line:crlf', '0a', 'SB_INVALID_ARGUMENT'],
    ['delim:00', '61 00', 'SB_INVALID_ARGUMENT'],
    ['delim:0d0a', '61 0d 0a', 'SB_INVALID_ARGUMENT'],
    ['delim:abab', 'ab', 'SB_INVALID_ARGUMENT'],
    ['mllp', '61 1c', 'SB_INVALID_ARGUMENT'],
    ['tagged:01=1', '', 'SB_INVALID_ARGUMENT'],
    ['tagged:01=1', '02 61', 'SB_INVALID_ARGUMENT'],
    ['tagged:01=1', '01', 'SB_INVALID_ARGUMENT'],
    ['tagged:01=1', '01 6161', 'SB_PAYLOAD_TOO_LARGE'],
    ['length:u8', '61'.repeat(256), 'SB_PAYLOAD_TOO_LARGE'],
    ['digits:1', '61'.repeat(10), 'SB_PAYLOAD_TOO_LARGE'],
  ];
  for (const [spec, payload, code] of refusals) {
    it(`${spec} refuses ${payload.slice(0, 20)} with ${code}`, () => {
      const encoder = parseFraming(spec).createEncoder();
      expect(() => encoder.encode(fromHex(payload))).toThrow(
        expect.objectContaining({ code, name: 'InvalidArgumentError' }),
      );
    });
  }

  for (const spec of ['line', 'line:crlf']) {
    it(`${spec} carries a trailing CR (written before CRLF; the decoder strips only one)`, () => {
      const framing = parseFraming(spec);
      const wire = encodeAll(
        (payload) => framing.createEncoder().encode(payload),
        [fromHex('61 0d')],
      );
      expect(hex(wire)).toBe('610d0d0a');
      expect(feed(() => framing.createDecoder(), wire).hex).toEqual(['610d']);
    });
  }
});

describe('length: Netty LengthFieldBasedFrameDecoder options (the diagrams in length.ts)', () => {
  const body = hex(ascii('hello world'));
  const cases: [name: string, options: LengthFramingOptions, wire: string, frame: string][] = [
    ['default u32be', {}, `0000000b ${body}`, body],
    [
      'keep the header',
      { lengthFieldLength: 2, initialBytesToStrip: 0 },
      `000b ${body}`,
      `000b${body}`,
    ],
    [
      'length includes header',
      { lengthFieldLength: 2, lengthIncludesHeader: true },
      `000d ${body}`,
      body,
    ],
    [
      'field at offset 2, keep all',
      { lengthFieldOffset: 2, lengthFieldLength: 3, initialBytesToStrip: 0 },
      `cafe 00000b ${body}`,
      `cafe00000b${body}`,
    ],
    [
      'extra header after the field',
      { lengthFieldLength: 3, lengthAdjustment: 2, initialBytesToStrip: 0 },
      `00000b cafe ${body}`,
      `00000bcafe${body}`,
    ],
    [
      'strip first byte and field, keep hdr2',
      { lengthFieldOffset: 1, lengthFieldLength: 2, lengthAdjustment: 1, initialBytesToStrip: 3 },
      `ca 000b fe ${body}`,
      `fe${body}`,
    ],
    [
      'as above, length counts the whole frame',
      { lengthFieldOffset: 1, lengthFieldLength: 2, lengthAdjustment: -3, initialBytesToStrip: 3 },
      `ca 000f fe ${body}`,
      `fe${body}`,
    ],
  ];
  for (const [name, options, wire, frame] of cases) {
    it(name, () => {
      const framing = lengthFraming(options);
      const result = feed(() => framing.createDecoder(), fromHex(wire), {
        trailing: fromHex('00'),
      });
      expect(result.hex).toEqual([frame]);
      // Re-encoding reproduces the wire, except stripped bytes before the field, written as zeros.
      const encoded = hex(
        encodeAll((payload) => framing.createEncoder().encode(payload), [fromHex(frame)]),
      );
      const strip =
        options.initialBytesToStrip ??
        (options.lengthFieldOffset ?? 0) + (options.lengthFieldLength ?? 4);
      const stripped = fromHex(wire).subarray(0, strip);
      const offset = options.lengthFieldOffset ?? 0;
      const expected = hex(fromHex(wire)).replace(
        hex(stripped.subarray(0, Math.min(offset, strip))),
        '00'.repeat(Math.min(offset, strip)),
      );
      expect(encoded).toBe(expected);
    });
  }

  it('a length shorter than the header is SB_BAD_LENGTH_PREFIX', () => {
    const framing = lengthFraming({ lengthFieldLength: 2, lengthIncludesHeader: true });
    const result = feed(() => framing.createDecoder(), fromHex('0002 0001 61'));
    expect(result.hex).toEqual(['']);
    expect([result.error?.code, result.error?.offset]).toEqual(['SB_BAD_LENGTH_PREFIX', 2]);
    const stripMore = lengthFraming({ lengthFieldLength: 1, initialBytesToStrip: 4 });
    expect(feed(() => stripMore.createDecoder(), fromHex('01 61')).error?.code).toBe(
      'SB_BAD_LENGTH_PREFIX',
    );
  });

  it('the encoder checks a length field that lies inside the payload', () => {
    const framing = lengthFraming({ lengthFieldLength: 2, initialBytesToStrip: 0 });
    const encoder = framing.createEncoder();
    expect(hex(encodeAll((payload) => encoder.encode(payload), [fromHex('0001 61')]))).toBe(
      '000161',
    );
    expect(() => encoder.encode(fromHex('0005 61'))).toThrow(
      expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }),
    );
    expect(() => encoder.encode(fromHex('00'))).toThrow(
      expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }),
    );
  });
});
