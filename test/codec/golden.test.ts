/**
 * Golden vectors: for each framing, fixed wire bytes and the frames (or the error,
 * with its code and input offset) they must decode to, fed three ways through
 * test/helpers/feed.ts. Where the framing can encode the frames, the encoder must
 * reproduce the wire bytes exactly (decode, encode, round-trip: STYLE rule 7).
 */
import { describe, expect, it } from 'vitest';
import { parseFraming } from '../../src/index.js';
import { ascii, encodeAll, feed, fromHex, hex } from '../helpers/feed.js';

interface Golden {
  spec: string;
  /** Wire bytes (hex, spaces allowed) or `ascii:` text. */
  input: string;
  /** Expected frames, in hex. */
  frames: string[];
  /** Expected error code and offset, if the input is bad. */
  error?: [code: string, offset: number];
  /** A partial frame that must stay buffered after the input (hex). */
  trailing?: string;
  /** The encoder writes exactly `input` for `frames` (default: true when no error). */
  canonical?: boolean;
  options?: { maxFrame?: number };
}

function bytesOf(text: string): Uint8Array {
  return text.startsWith('ascii:') ? ascii(text.slice(6)) : fromHex(text);
}

const a = (text: string): string => hex(ascii(text));

const GOLDEN: Golden[] = [
  // line
  { spec: 'line', input: 'ascii:ab\ncd\n', frames: [a('ab'), a('cd')], trailing: a('x') },
  {
    spec: 'line',
    input: 'ascii:ab\r\n\r\n\n',
    frames: [a('ab'), '', ''],
    canonical: false,
    trailing: a('\r'),
  },
  { spec: 'line', input: 'ascii:a\rb\n', frames: [a('a\rb')], trailing: '' },
  { spec: 'line', input: 'ascii:ab\ncd', frames: [a('ab')], error: ['SB_UNEXPECTED_EOF', 3] },
  { spec: 'line', input: 'ascii:ab\r', frames: [], error: ['SB_UNEXPECTED_EOF', 0] },
  { spec: 'line:crlf', input: 'ascii:ab\r\n\r\n', frames: [a('ab'), ''], trailing: a('z') },
  {
    spec: 'line',
    input: 'ascii:abc\nabcd\n',
    frames: [a('abc')],
    error: ['SB_FRAME_TOO_LARGE', 4],
    options: { maxFrame: 3 },
  },
  {
    spec: 'line',
    input: 'ascii:abc\r\nabcd',
    frames: [a('abc')],
    error: ['SB_FRAME_TOO_LARGE', 5],
    options: { maxFrame: 3 },
  },
  // delim
  { spec: 'delim:00', input: '61 62 00 00 63 00', frames: ['6162', '', '63'], trailing: '64' },
  { spec: 'delim:0d0a', input: '61 0d 62 0d 0a 0d 0a', frames: ['610d62', ''], trailing: '0d' },
  { spec: 'delim:0d0a', input: '61 0d 0d 0a', frames: ['610d'], trailing: '0d0d' },
  { spec: 'delim:abab', input: '61 ab ab ab 62 ab ab', frames: ['61', 'ab62'], canonical: false },
  { spec: 'delim:00', input: '61 62', frames: [], error: ['SB_UNEXPECTED_EOF', 0] },
  // fixed
  { spec: 'fixed:3', input: 'ascii:abcdef', frames: [a('abc'), a('def')], trailing: a('gh') },
  { spec: 'fixed:3', input: 'ascii:abcd', frames: [a('abc')], error: ['SB_UNEXPECTED_EOF', 3] },
  // length
  { spec: 'length', input: '00000002 6162 00000000', frames: ['6162', ''], trailing: '000000' },
  { spec: 'length:u8', input: '02 6162 00', frames: ['6162', ''], trailing: '05 61' },
  { spec: 'length:u16le', input: '0200 6162', frames: ['6162'], trailing: '01' },
  { spec: 'length:u24', input: '000002 6162', frames: ['6162'], trailing: '0000' },
  { spec: 'length:u32le', input: '02000000 6162', frames: ['6162'], trailing: '02000000 61' },
  { spec: 'length:u64', input: '0000000000000001 61', frames: ['61'], trailing: '00' },
  { spec: 'length:u64le', input: '0100000000000000 61', frames: ['61'], trailing: '01' },
  { spec: 'length', input: '00000002 61', frames: [], error: ['SB_UNEXPECTED_EOF', 0] },
  {
    spec: 'length',
    input: '00000001 61 ffffffff',
    frames: ['61'],
    error: ['SB_FRAME_TOO_LARGE', 5],
  },
  { spec: 'length:u64', input: 'ffffffffffffffff', frames: [], error: ['SB_FRAME_TOO_LARGE', 0] },
  {
    spec: 'length:u16',
    input: '0003 616263 0004 61626364',
    frames: ['616263'],
    error: ['SB_FRAME_TOO_LARGE', 5],
    options: { maxFrame: 3 },
  },
  // digits
  {
    spec: 'digits:5',
    input: 'ascii:00005hello00000',
    frames: [a('hello'), ''],
    trailing: a('0001'),
  },
  { spec: 'digits:2', input: 'ascii:01a0x', frames: [a('a')], error: ['SB_BAD_DIGITS', 3] },
  { spec: 'digits:2', input: 'ascii:-1', frames: [], error: ['SB_BAD_DIGITS', 0] },
  {
    spec: 'digits:3',
    input: 'ascii:005',
    frames: [],
    error: ['SB_FRAME_TOO_LARGE', 0],
    options: { maxFrame: 4 },
  },
  // varint
  {
    spec: 'varint',
    input: '05 68656c6c6f 00 01 61',
    frames: [a('hello'), '', '61'],
    trailing: '80',
  },
  {
    spec: 'varint',
    input: `ac02 ${'61'.repeat(300)}`,
    frames: ['61'.repeat(300)],
    trailing: 'ff ff',
  },
  {
    spec: 'varint',
    input: '8000 61',
    frames: [''],
    canonical: false,
    error: ['SB_UNEXPECTED_EOF', 2],
  },
  {
    spec: 'varint',
    input: '01 61 ffffffffffffffffff02',
    frames: ['61'],
    error: ['SB_VARINT_OVERLONG', 2],
  },
  {
    spec: 'varint',
    input: '80808080808080808080 00',
    frames: [],
    error: ['SB_VARINT_OVERLONG', 0],
  },
  { spec: 'varint', input: 'ffffffffffffffffff01', frames: [], error: ['SB_FRAME_TOO_LARGE', 0] },
  // netstring
  { spec: 'netstring', input: 'ascii:5:hello,0:,', frames: [a('hello'), ''], trailing: a('12:ab') },
  { spec: 'netstring', input: 'ascii:3:abc;', frames: [], error: ['SB_BAD_NETSTRING', 0] },
  { spec: 'netstring', input: 'ascii:0:,01:a,', frames: [''], error: ['SB_BAD_NETSTRING', 3] },
  { spec: 'netstring', input: 'ascii::,', frames: [], error: ['SB_BAD_NETSTRING', 0] },
  { spec: 'netstring', input: 'ascii:1x:a,', frames: [], error: ['SB_BAD_DIGITS', 0] },
  {
    spec: 'netstring',
    input: 'ascii:99999999999999999999:',
    frames: [],
    error: ['SB_FRAME_TOO_LARGE', 0],
  },
  { spec: 'netstring', input: 'ascii:2:ab', frames: [], error: ['SB_UNEXPECTED_EOF', 0] },
  // tagged
  {
    spec: 'tagged:01=2,02=length:u8,03=0,04=length:u16le',
    input: '01 6162 02 03 78797a 02 00 03 04 0100 ff',
    frames: ['016162', '0278797a', '02', '03', '04ff'],
    trailing: '04 05',
  },
  {
    spec: 'tagged:01=2',
    input: '01 6162 09 00',
    frames: ['016162'],
    error: ['SB_UNKNOWN_TYPE_BYTE', 3],
  },
  {
    spec: 'tagged:01=length:u32',
    input: '01 ffffffff',
    frames: [],
    error: ['SB_FRAME_TOO_LARGE', 0],
  },
  { spec: 'tagged:01=2', input: '01 61', frames: [], error: ['SB_UNEXPECTED_EOF', 0] },
  // eof
  { spec: 'eof', input: 'ascii:hello\nworld', frames: [a('hello\nworld')] },
  { spec: 'eof', input: '', frames: [''] },
  {
    spec: 'eof',
    input: 'ascii:hello',
    frames: [],
    error: ['SB_FRAME_TOO_LARGE', 0],
    options: { maxFrame: 4 },
  },
  // mllp
  { spec: 'mllp', input: '0b 4d5348 1c0d 0b 1c0d', frames: ['4d5348', ''], trailing: '0b 41 1c' },
  { spec: 'mllp', input: '0b 41 1c0d 41', frames: ['41'], error: ['SB_BAD_MLLP', 4] },
  { spec: 'mllp', input: '0b 41 1c0a', frames: [], error: ['SB_BAD_MLLP', 0] },
  { spec: 'mllp', input: '0b 41 42', frames: [], error: ['SB_UNEXPECTED_EOF', 0] },
  // content-length
  {
    spec: 'content-length',
    input: 'ascii:Content-Length: 2\r\n\r\n{}Content-Length: 0\r\n\r\n',
    frames: [a('{}'), ''],
    trailing: a('Content-Length: 1\r\n'),
  },
  {
    spec: 'content-length',
    input: 'ascii:content-type: application/json\r\nCONTENT-LENGTH:\t3 \r\n\r\nabc',
    frames: [a('abc')],
    canonical: false,
  },
  {
    spec: 'content-length',
    input: 'ascii:Content-Type: x\r\n\r\n',
    frames: [],
    error: ['SB_BAD_HEADER', 0],
  },
  {
    spec: 'content-length',
    input: 'ascii:Content-Length: 1\r\n\r\naContent-Length: 1\r\ncontent-length: 1\r\n\r\nb',
    frames: [a('a')],
    error: ['SB_BAD_HEADER', 22],
  },
  {
    spec: 'content-length',
    input: 'ascii:Content-Length: 1x\r\n\r\na',
    frames: [],
    error: ['SB_BAD_HEADER', 0],
  },
  {
    spec: 'content-length',
    input: 'ascii:Content-Length: 1\n\na',
    frames: [],
    error: ['SB_BAD_HEADER', 0],
  },
  {
    spec: 'content-length',
    input: 'ascii:Content-Length 1\r\n\r\na',
    frames: [],
    error: ['SB_BAD_HEADER', 0],
  },
  {
    spec: 'content-length',
    input: 'ascii:Content-Length: 9999999999\r\n\r\n',
    frames: [],
    error: ['SB_FRAME_TOO_LARGE', 0],
  },
  {
    spec: 'content-length',
    input: 'ascii:Content-Length: 5\r\n\r\nab',
    frames: [],
    error: ['SB_UNEXPECTED_EOF', 0],
  },
];

describe('golden vectors', () => {
  for (const golden of GOLDEN) {
    const label = `${golden.spec} ${golden.input.slice(0, 40)}${golden.options ? ` ${JSON.stringify(golden.options)}` : ''}`;
    it(`decodes ${label}`, () => {
      const framing = parseFraming(golden.spec, golden.options);
      const input = bytesOf(golden.input);
      const result = feed(() => framing.createDecoder(), input, {
        ...(golden.trailing === undefined ? {} : { trailing: fromHex(golden.trailing) }),
      });
      expect(result.hex).toEqual(golden.frames);
      if (golden.error === undefined) {
        expect(result.error).toBeUndefined();
      } else {
        expect([result.error?.code, result.error?.offset]).toEqual(golden.error);
      }
    });
    if (golden.error === undefined && golden.canonical !== false && golden.spec !== 'eof') {
      it(`encodes ${label}`, () => {
        const encoder = parseFraming(golden.spec, golden.options).createEncoder();
        const wire = encodeAll((payload) => encoder.encode(payload), golden.frames.map(fromHex));
        expect(hex(wire)).toBe(hex(bytesOf(golden.input)));
      });
    }
  }

  it('eof encodes exactly one payload per encoder', () => {
    const encoder = parseFraming('eof').createEncoder();
    expect(hex(encodeAll((payload) => encoder.encode(payload), [ascii('hello')]))).toBe(a('hello'));
    expect(() => encoder.encode(ascii('again'))).toThrow(
      expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }),
    );
  });
});
