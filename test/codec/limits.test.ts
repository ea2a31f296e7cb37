/**
 * Limits and edge cases (SPEC §2): exactly maxFrame passes and maxFrame + 1 fails
 * at the header; huge claims fail while `buffered` stays tiny; a missing
 * delimiter fails as soon as it cannot be within the limit; input ending inside
 * a frame fails at end(); errors are sticky; frames are views when they can be;
 * delimiter searches are linear. Every decode goes through test/helpers/feed.ts.
 */
import { describe, expect, it } from 'vitest';
import type { BaseDecoder } from '../../src/codec/base.js';
import { type Framing, NEED_DATA, parseFraming } from '../../src/index.js';
import {
  ascii,
  chunk,
  concat,
  encodeAll,
  feed,
  feedChunks,
  fromHex,
  hex,
} from '../helpers/feed.js';

const MAX = 10;

/** Specs whose encoders accept any payload of any content up to maxFrame. */
const SIZED_SPECS = [
  'length',
  'length:u8',
  'length:u16le',
  'length:u64',
  'digits:3',
  'varint',
  'netstring',
  'mllp',
  'content-length',
  'line',
  'line:crlf',
  'delim:00',
  'delim:0d0a',
];

function payloadOf(size: number): Uint8Array {
  return ascii('x'.repeat(size));
}

function wireFor(framing: Framing, payloads: Uint8Array[]): Uint8Array {
  const encoder = framing.createEncoder();
  return encodeAll((payload) => encoder.encode(payload), payloads);
}

describe('maxFrame boundaries', () => {
  for (const spec of SIZED_SPECS) {
    it(`${spec}: exactly maxFrame decodes, maxFrame + 1 is SB_FRAME_TOO_LARGE at its offset`, () => {
      const strict = parseFraming(spec, { maxFrame: MAX });
      const loose = parseFraming(spec, { maxFrame: 1000 });
      const ok = wireFor(strict, [payloadOf(MAX)]);
      expect(feed(() => strict.createDecoder(), ok).hex).toEqual([hex(payloadOf(MAX))]);
      const bad = wireFor(loose, [payloadOf(1), payloadOf(MAX + 1)]);
      const result = feed(() => strict.createDecoder(), bad);
      expect(result.hex).toEqual([hex(payloadOf(1))]);
      expect([result.error?.code, result.error?.offset]).toEqual([
        'SB_FRAME_TOO_LARGE',
        wireFor(loose, [payloadOf(1)]).length,
      ]);
      expect(() => strict.createEncoder().encode(payloadOf(MAX + 1))).toThrow(
        expect.objectContaining({ code: 'SB_PAYLOAD_TOO_LARGE' }),
      );
    });
  }

  it('tagged: the limit covers type byte + body', () => {
    const strict = parseFraming('tagged:01=length:u16', { maxFrame: MAX });
    const loose = parseFraming('tagged:01=length:u16');
    const ok = concat([Uint8Array.of(1), payloadOf(MAX - 1)]);
    expect(feed(() => strict.createDecoder(), wireFor(strict, [ok])).hex).toEqual([hex(ok)]);
    const tooBig = concat([Uint8Array.of(1), payloadOf(MAX)]);
    const result = feed(() => strict.createDecoder(), wireFor(loose, [tooBig]));
    expect(result.error?.code).toBe('SB_FRAME_TOO_LARGE');
    expect(() => strict.createEncoder().encode(tooBig)).toThrow(
      expect.objectContaining({ code: 'SB_PAYLOAD_TOO_LARGE' }),
    );
    expect(() => parseFraming('tagged:01=10', { maxFrame: MAX })).toThrow(
      expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }),
    );
  });

  it('eof: exactly maxFrame is one frame, one byte more fails before end()', () => {
    const framing = parseFraming('eof', { maxFrame: MAX });
    expect(feed(() => framing.createDecoder(), payloadOf(MAX)).hex).toEqual([hex(payloadOf(MAX))]);
    const result = feed(() => framing.createDecoder(), payloadOf(MAX + 1), { end: false });
    expect([result.error?.code, result.error?.offset]).toEqual(['SB_FRAME_TOO_LARGE', 0]);
  });

  it('fixed: the encoder refuses any other size', () => {
    const encoder = parseFraming('fixed:4').createEncoder();
    expect(() => encoder.encode(payloadOf(5))).toThrow(
      expect.objectContaining({ code: 'SB_PAYLOAD_TOO_LARGE' }),
    );
    expect(() => encoder.encode(payloadOf(3))).toThrow(
      expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }),
    );
  });

  it('uses the documented defaults: 8 MiB, 64 KiB for line/delim, capped by the field', () => {
    expect(parseFraming('length').maxFrame).toBe(8 * 1024 * 1024);
    expect(parseFraming('varint').maxFrame).toBe(8 * 1024 * 1024);
    expect(parseFraming('line').maxFrame).toBe(64 * 1024);
    expect(parseFraming('delim:00').maxFrame).toBe(64 * 1024);
    expect(parseFraming('length:u8').maxFrame).toBe(255);
    expect(parseFraming('length:u16').maxFrame).toBe(65535);
    expect(parseFraming('digits:3').maxFrame).toBe(999);
    expect(parseFraming('length', { maxFrame: Number.POSITIVE_INFINITY }).maxFrame).toBe(
      2 ** 32 - 1,
    );
  });
});

describe('huge claims fail at the header, with only the header buffered', () => {
  const cases: [spec: string, header: string][] = [
    ['length', 'ffffffff'],
    ['length', '01000000'],
    ['length:u32le', 'ffffffff'],
    ['length:u64', 'ffffffffffffffff'],
    ['length:u64le', 'ffffffffffffffff'],
    ['varint', 'ffffffffffffffffff01'],
    ['varint', '8080808010'],
    ['digits:15', hex(ascii('999999999999999'))],
    ['netstring', hex(ascii('4294967296'))],
    ['content-length', hex(ascii('Content-Length: 4294967296\r\n'))],
    ['tagged:07=length:u64', '07ffffffffffffffff'],
  ];
  for (const [spec, header] of cases) {
    it(`${spec} ${header}`, () => {
      const headerBytes = fromHex(header);
      const result = feed(() => parseFraming(spec).createDecoder(), headerBytes, { end: false });
      expect([result.error?.code, result.error?.offset]).toEqual(['SB_FRAME_TOO_LARGE', 0]);
      expect(result.runs.whole.buffered).toBe(headerBytes.length);
      expect(result.runs.bytewise.buffered).toBeLessThanOrEqual(headerBytes.length);
    });
  }

  // A frame is assembled in one buffer, and node allocates at most 4 GiB: a larger
  // claim under maxFrame: Infinity was accepted at the header, and the frame then
  // failed in the allocation with node's RangeError (a Channel: SB_NETWORK_ERROR).
  const pastFourGiB: [spec: string, header: string][] = [
    ['length:u64', '0000000100000000'],
    ['length', 'ffffffff'],
    ['sbp', 'ffffffff'],
    ['varint', '8080808010'],
    ['netstring', hex(ascii('4294967296'))],
    ['digits:12', hex(ascii('004294967296'))],
    ['content-length', hex(ascii('Content-Length: 4294967296\r\n\r\n'))],
    ['tagged:07=length:u64', '070000000100000000'],
  ];
  for (const [spec, header] of pastFourGiB) {
    it(`even with maxFrame: Infinity, ${spec} claiming 4 GiB fails at the header`, () => {
      const framing = parseFraming(spec, { maxFrame: Number.POSITIVE_INFINITY });
      const headerBytes = fromHex(header);
      const result = feed(() => framing.createDecoder(), headerBytes, { end: false });
      expect([result.error?.code, result.error?.offset]).toEqual(['SB_FRAME_TOO_LARGE', 0]);
    });
  }

  it('even with maxFrame: Infinity, eof input past 4 GiB fails before it is joined', () => {
    const decoder = parseFraming('eof', { maxFrame: Number.POSITIVE_INFINITY }).createDecoder();
    // One 64 MiB chunk pushed 65 times: the queue keeps chunks by reference.
    const chunk = new Uint8Array(64 * 1024 * 1024);
    let error: unknown;
    for (let pushes = 0; pushes < 65 && error === undefined; pushes++) {
      decoder.push(chunk);
      try {
        decoder.next();
      } catch (thrown) {
        error = thrown;
      }
    }
    expect(error).toMatchObject({ code: 'SB_FRAME_TOO_LARGE' });
  });

  it('even with maxFrame: Infinity, a u64 claim beyond 2^53 fails', () => {
    const framing = parseFraming('length:u64', { maxFrame: Number.POSITIVE_INFINITY });
    const result = feed(() => framing.createDecoder(), fromHex('ffffffffffffffff'), { end: false });
    expect(result.error?.code).toBe('SB_FRAME_TOO_LARGE');
  });
});

describe('headers split across chunks (explicit cuts; feed() also tries every cut byte by byte)', () => {
  const cases: [spec: string, chunks: string[], frames: string[]][] = [
    ['length', ['0000', '0005 6865', '6c6c6f'], ['68656c6c6f']],
    ['length:u64le', ['05000000', '00000000 68', '656c6c6f'], ['68656c6c6f']],
    ['varint', ['ac', `02${'61'.repeat(300)}`], ['61'.repeat(300)]],
    ['digits:5', [hex(ascii('000')), hex(ascii('02ab'))], [hex(ascii('ab'))]],
    ['netstring', [hex(ascii('1')), hex(ascii('0:0123456789,'))], [hex(ascii('0123456789'))]],
    [
      'content-length',
      [hex(ascii('Content-Len')), hex(ascii('gth: 2\r')), hex(ascii('\n\r')), hex(ascii('\nhi'))],
      [hex(ascii('hi'))],
    ],
    ['tagged:01=length:u16le', ['01 02', '00 6162'], ['016162']],
  ];
  for (const [spec, parts, frames] of cases) {
    it(spec, () => {
      const decoder = parseFraming(spec).createDecoder();
      const result = feedChunks(decoder, parts.map(fromHex));
      expect(result.error).toBeUndefined();
      expect(result.hex).toEqual(frames);
    });
  }

  it('a too-large claim split across chunks fails once the header completes, before any body', () => {
    const decoder = parseFraming('length', { maxFrame: 1000 }).createDecoder();
    const result = feedChunks(
      decoder,
      [fromHex('00'), fromHex('00'), fromHex('03'), fromHex('e9')],
      false,
    );
    expect([result.error?.code, result.error?.offset]).toEqual(['SB_FRAME_TOO_LARGE', 0]);
    expect(result.buffered).toBe(4);
  });
});

describe('varint prefixes', () => {
  it('10 bytes ending in 01 is 2^63: too large, not overlong', () => {
    const result = feed(
      () => parseFraming('varint').createDecoder(),
      fromHex('80808080808080808001'),
      { end: false },
    );
    expect(result.error?.code).toBe('SB_FRAME_TOO_LARGE');
  });
  it('a 10th byte above 01, or an 11th byte, is SB_VARINT_OVERLONG', () => {
    for (const prefix of [
      '80808080808080808002',
      '8080808080808080808000',
      'ffffffffffffffffff7f',
    ]) {
      const result = feed(() => parseFraming('varint').createDecoder(), fromHex(prefix), {
        end: false,
      });
      expect([result.error?.code, result.error?.offset]).toEqual(['SB_VARINT_OVERLONG', 0]);
    }
  });
  it('a non-minimal prefix is accepted', () => {
    expect(feed(() => parseFraming('varint').createDecoder(), fromHex('8100 61')).hex).toEqual([
      '61',
    ]);
  });
});

describe('a missing delimiter fails as soon as the limit is passed', () => {
  const line = parseFraming('line', { maxFrame: 8 });
  it('line: 8 bytes wait, a 9th non-CR byte fails', () => {
    const waiting = feed(() => line.createDecoder(), ascii('a'.repeat(8)), { end: false });
    expect(waiting.error).toBeUndefined();
    expect(waiting.inFrame).toBe(true);
    const failed = feed(() => line.createDecoder(), ascii(`ok\n${'a'.repeat(9)}`), { end: false });
    expect([failed.error?.code, failed.error?.offset]).toEqual(['SB_FRAME_TOO_LARGE', 3]);
  });
  it('line: a CR at maxFrame may still precede the LF', () => {
    const waiting = feed(() => line.createDecoder(), ascii(`${'a'.repeat(8)}\r`), { end: false });
    expect(waiting.error).toBeUndefined();
    expect(feed(() => line.createDecoder(), ascii(`${'a'.repeat(8)}\r\n`)).hex).toEqual([
      hex(ascii('a'.repeat(8))),
    ]);
    const failed = feed(() => line.createDecoder(), ascii(`${'a'.repeat(8)}\rb`), { end: false });
    expect(failed.error?.code).toBe('SB_FRAME_TOO_LARGE');
  });
  it('delim:0d0a: a partial delimiter at maxFrame waits; anything else fails', () => {
    const delim = parseFraming('delim:0d0a', { maxFrame: 4 });
    expect(
      feed(() => delim.createDecoder(), ascii('aaaa\r'), { end: false }).error,
    ).toBeUndefined();
    expect(feed(() => delim.createDecoder(), ascii('aaaaa'), { end: false }).error?.code).toBe(
      'SB_FRAME_TOO_LARGE',
    );
    expect(feed(() => delim.createDecoder(), ascii('aaaa\rx'), { end: false }).error?.code).toBe(
      'SB_FRAME_TOO_LARGE',
    );
  });
  it('mllp and content-length bound the body and the header block', () => {
    const mllp = parseFraming('mllp', { maxFrame: 4 });
    expect(
      feed(() => mllp.createDecoder(), fromHex('0b 61616161'), { end: false }).error,
    ).toBeUndefined();
    expect(
      feed(() => mllp.createDecoder(), fromHex('0b 6161616161'), { end: false }).error?.code,
    ).toBe('SB_FRAME_TOO_LARGE');
    const headers = ascii(`X-Padding: ${'p'.repeat(9000)}`);
    const result = feed(() => parseFraming('content-length').createDecoder(), headers, {
      end: false,
      maxChunk: 4096,
    });
    expect(result.error?.code).toBe('SB_BAD_HEADER');
    expect(result.runs.whole.buffered).toBeLessThan(9100);
  });
});

describe('input ending inside a frame is SB_UNEXPECTED_EOF at end(), at the frame start', () => {
  const specs = [...SIZED_SPECS, 'fixed:3', 'tagged:01=2,02=length:u16'];
  for (const spec of specs) {
    it(spec, () => {
      const framing = parseFraming(spec);
      const first = spec.startsWith('fixed')
        ? ascii('abc')
        : spec.startsWith('tagged')
          ? fromHex('016162')
          : ascii('ab');
      const second = spec.startsWith('fixed')
        ? ascii('def')
        : spec.startsWith('tagged')
          ? fromHex('02616263')
          : ascii('cd');
      const firstWire = wireFor(framing, [first]);
      const wire = wireFor(framing, [first, second]);
      for (let cut = firstWire.length + 1; cut < wire.length; cut++) {
        const result = feed(() => framing.createDecoder(), wire.subarray(0, cut));
        expect(result.hex).toEqual([hex(first)]);
        expect([result.error?.code, result.error?.offset, result.error?.name]).toEqual([
          'SB_UNEXPECTED_EOF',
          firstWire.length,
          'UnexpectedEofError',
        ]);
      }
    });
  }
});

describe('decoder state', () => {
  it('errors are sticky: the same error object from next(), end() and push()', () => {
    const decoder = parseFraming('length:u8', { maxFrame: 2 }).createDecoder();
    decoder.push(fromHex('05'));
    let thrown: unknown;
    try {
      decoder.next();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'SB_FRAME_TOO_LARGE', offset: 0, name: 'FrameError' });
    expect(() => decoder.next()).toThrow(thrown as Error);
    expect(() => decoder.push(fromHex('00'))).toThrow(thrown as Error);
    expect(() => decoder.end()).toThrow(thrown as Error);
    expect(() => decoder.next()).toThrow(thrown as Error);
  });

  it('end() keeps undrained whole frames available, then NEED_DATA', () => {
    const decoder = parseFraming('line').createDecoder();
    decoder.push(ascii('a\nb\n'));
    decoder.end();
    expect(decoder.buffered).toBe(2);
    expect(hex(decoder.next() as Uint8Array)).toBe(hex(ascii('a')));
    expect(hex(decoder.next() as Uint8Array)).toBe(hex(ascii('b')));
    expect(decoder.next()).toBe(NEED_DATA);
    expect(decoder.buffered).toBe(0);
    expect(() => decoder.end()).not.toThrow();
    expect(() => decoder.push(ascii('x'))).toThrow(
      expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }),
    );
  });

  it('inFrame is true exactly while part of a frame is buffered', () => {
    const decoder = parseFraming('length:u16').createDecoder();
    expect(decoder.inFrame).toBe(false);
    decoder.push(fromHex('00'));
    expect(decoder.next()).toBe(NEED_DATA);
    expect(decoder.inFrame).toBe(true);
    decoder.push(fromHex('01 61'));
    expect(hex(decoder.next() as Uint8Array)).toBe('61');
    expect(decoder.inFrame).toBe(false);
    expect(decoder.buffered).toBe(0);
  });

  it('empty chunks are ignored', () => {
    const decoder = parseFraming('line').createDecoder();
    const result = feedChunks(decoder, [
      new Uint8Array(0),
      ascii('a'),
      new Uint8Array(0),
      ascii('\n'),
    ]);
    expect(result.hex).toEqual(['61']);
  });
});

describe('zero-copy', () => {
  const cases: [spec: string, payloads: Uint8Array[]][] = [
    ['length', [ascii('hello'), ascii(''), ascii('world')]],
    ['length:u16le', [ascii('hello')]],
    ['line', [ascii('hello'), ascii('world')]],
    ['delim:0d0a', [ascii('hello')]],
    ['fixed:5', [ascii('hello'), ascii('world')]],
    ['digits:4', [ascii('hello')]],
    ['varint', [ascii('hello')]],
    ['netstring', [ascii('hello')]],
    ['mllp', [ascii('hello')]],
    ['content-length', [ascii('hello')]],
    ['tagged:68=4', [ascii('hello')]],
  ];
  for (const [spec, payloads] of cases) {
    it(`${spec}: frames inside one chunk are views of it; spanning frames are one fresh copy`, () => {
      const framing = parseFraming(spec);
      const wire = wireFor(framing, payloads);
      const result = feed(() => framing.createDecoder(), wire);
      for (const frame of result.runs.whole.frames) {
        if (frame.length > 0) {
          expect(frame.buffer).toBe(wire.buffer);
        }
      }
      for (const frame of result.runs.bytewise.frames) {
        if (frame.length > 1) {
          expect(frame.buffer).not.toBe(wire.buffer);
        }
      }
    });
  }

  it('encoders return the payload itself as the body (no copy)', () => {
    const payload = ascii('hello');
    for (const spec of [
      'length',
      'varint',
      'digits:5',
      'netstring',
      'content-length',
      'line',
      'mllp',
      'eof',
      'fixed:5',
    ]) {
      const parts = parseFraming(spec).createEncoder().encode(payload);
      expect(parts).toContain(payload);
    }
    const tagged = parseFraming('tagged:68=length:u8').createEncoder().encode(payload);
    expect(tagged[1]?.buffer).toBe(payload.buffer);
  });
});

describe('linear-time searching (time-free: work counters)', () => {
  const size = 60_000;
  const cases: [spec: string, frame: Uint8Array][] = [
    ['line', ascii(`${'a'.repeat(size)}\n`)],
    ['delim:0d0a', ascii(`${'\r'.repeat(size)}\r\n`)],
    ['mllp', concat([fromHex('0b'), ascii('a'.repeat(size)), fromHex('1c0d')])],
    [
      'content-length',
      ascii(`X-Pad: ${'a'.repeat(4000)}\r\nContent-Length: ${size}\r\n\r\n${'b'.repeat(size)}`),
    ],
  ];
  for (const [spec, wire] of cases) {
    it(`${spec}: one byte at a time, each byte is examined O(1) times`, () => {
      const framing = parseFraming(spec, { maxFrame: 2 * size });
      const decoder = framing.createDecoder() as BaseDecoder;
      const result = feedChunks(decoder, chunk(wire, 'bytewise'));
      expect(result.error).toBeUndefined();
      expect(result.frames).toHaveLength(1);
      expect(decoder.work.bytesSearched).toBeLessThanOrEqual(2 * wire.length);
      expect(decoder.work.cursorSteps).toBeLessThanOrEqual(4 * wire.length);
    });
  }

  it('a length frame assembled from one-byte chunks walks each chunk O(1) times', () => {
    const framing = parseFraming('length');
    const wire = wireFor(framing, [ascii('z'.repeat(size))]);
    const decoder = framing.createDecoder() as BaseDecoder;
    const result = feedChunks(decoder, chunk(wire, 'bytewise'));
    expect(result.frames[0]?.length).toBe(size);
    expect(decoder.work.cursorSteps).toBeLessThanOrEqual(4 * wire.length);
  });
});
