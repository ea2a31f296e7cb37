import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Decoder, NEED_DATA, type NeedData } from '../../src/codec/types.js';
import { FrameError } from '../../src/errors.js';
import {
  crc32c,
  encodeProxyHeader,
  PROXY_TLV,
  PROXY_V1_MAX_LENGTH,
  type ProxyHeader,
  ProxyHeaderDecoder,
  parseProxyHeader,
} from '../../src/server/proxy-protocol.js';
import { feed } from '../helpers/feed.js';

const SIG = '0d0a0d0a000d0a515549540a';
const hex = (text: string): Uint8Array =>
  Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));
const pad = (text: string, size: number): string =>
  Buffer.from(text).toString('hex') + '00'.repeat(size - text.length);

/**
 * The PROXY header decoder as a {@link Decoder} for the feed() helper every codec is
 * tested with: the header is its one frame (as JSON, so runs compare it), and the
 * bytes after it stay `buffered` (its remainder), as trailing bytes must.
 */
class ProxyHeaderFrames implements Decoder {
  readonly decoder = new ProxyHeaderDecoder();
  private returned = false;
  push(chunk: Uint8Array): void {
    this.decoder.push(chunk);
  }
  next(): Uint8Array | NeedData {
    if (this.returned) {
      return NEED_DATA;
    }
    const header = this.decoder.next();
    if (header === NEED_DATA) {
      return NEED_DATA;
    }
    this.returned = true;
    return ascii(JSON.stringify(header));
  }
  end(): void {
    this.decoder.end();
  }
  get buffered(): number {
    return this.decoder.buffered;
  }
  get inFrame(): boolean {
    return this.decoder.buffered > 0;
  }
}

/**
 * Decodes `input` through feed() (whole, byte by byte, random chunks; and with
 * trailing application bytes, which must stay untouched) and returns the header.
 */
function decodeThreeWays(input: Uint8Array): ProxyHeader {
  const trailing = ascii('hello\n');
  const result = feed(() => new ProxyHeaderFrames(), input, { trailing });
  expect(result.error).toBeUndefined();
  expect(result.frames).toHaveLength(1);
  const decoder = new ProxyHeaderDecoder();
  decoder.push(cat(input, trailing));
  const header = decoder.next();
  if (header === NEED_DATA) {
    throw new Error('whole input gave NEED_DATA');
  }
  expect(JSON.stringify(header)).toBe(Buffer.from(result.frames[0]!).toString());
  expect(Buffer.from(decoder.remainder())).toEqual(Buffer.from(trailing));
  return header;
}

/** Feeds `input` through feed() (which checks that the error is sticky) and checks the error. */
function expectInvalid(input: Uint8Array, pattern?: RegExp): void {
  const result = feed(() => new ProxyHeaderFrames(), input, { end: false });
  expect(result.error?.error).toBeInstanceOf(FrameError);
  expect(result.error?.code).toBe('SB_PROXY_HEADER_INVALID');
  if (pattern !== undefined) {
    expect(result.error?.message).toMatch(pattern);
  }
}

describe('PROXY v1 golden vectors (HAProxy spec section 2.1)', () => {
  it('TCP4 example', () => {
    const header = decodeThreeWays(ascii('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'));
    expect(header).toMatchObject({
      version: 1,
      command: 'proxy',
      family: 'IPv4',
      transport: 'stream',
      source: { address: '192.168.0.1', port: 56324 },
      destination: { address: '192.168.0.11', port: 443 },
      tlvs: [],
      length: 47,
    });
  });

  it('TCP6 worst case (104 bytes)', () => {
    const ff = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const line = `PROXY TCP6 ${ff} ${ff} 65535 65535\r\n`;
    expect(line.length).toBe(104);
    const header = decodeThreeWays(ascii(line));
    expect(header.source).toEqual({ address: ff, port: 65535 });
  });

  it('TCP6 with compressed and IPv4-mapped addresses', () => {
    const header = decodeThreeWays(ascii('PROXY TCP6 ::ffff:10.0.0.1 2001:db8::1 1 2\r\n'));
    expect(header.source).toEqual({ address: '::ffff:10.0.0.1', port: 1 });
    expect(header.destination).toEqual({ address: '2001:db8::1', port: 2 });
  });

  it('UNKNOWN, short and worst case (107 bytes)', () => {
    expect(decodeThreeWays(ascii('PROXY UNKNOWN\r\n'))).toMatchObject({
      family: 'unspec',
      source: null,
      length: 15,
    });
    const ff = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const line = `PROXY UNKNOWN ${ff} ${ff} 65535 65535\r\n`;
    expect(line.length).toBe(PROXY_V1_MAX_LENGTH);
    expect(decodeThreeWays(ascii(line)).family).toBe('unspec');
  });

  it('rejects malformed lines', () => {
    expectInvalid(ascii('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'), /LF without CR/);
    expectInvalid(ascii('PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n'), /protocol/);
    expectInvalid(ascii('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'), /fields/);
    expectInvalid(ascii('PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n'), /IPv4/);
    expectInvalid(ascii('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'), /65535/);
    expectInvalid(ascii('PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n'), /leading zeros/);
    expectInvalid(ascii('PROXY TCP6 1.2.3.4 ::1 1 2\r\n'), /IPv6/);
    expectInvalid(ascii('PROXY TCP6 1::2::3 ::1 1 2\r\n'), /IPv6/);
    expectInvalid(ascii('PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'), /fields/);
    expectInvalid(ascii('PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n'), /non-printable/);
  });

  it('rejects a line longer than 107 bytes without CRLF, without waiting for more', () => {
    expectInvalid(ascii(`PROXY UNKNOWN ${'x'.repeat(100)}`), /longer than 107/);
    const decoder = new ProxyHeaderDecoder();
    decoder.push(ascii(`PROXY UNKNOWN ${'x'.repeat(92)}`)); // 106 bytes: below the limit, keep waiting
    expect(decoder.next()).toBe(NEED_DATA);
    decoder.push(ascii('x'));
    expect(() => decoder.next()).toThrow(/longer than 107/);
  });
});

describe('PROXY v2 golden vectors (HAProxy spec section 2.2)', () => {
  it('IPv4 over TCP', () => {
    const header = decodeThreeWays(hex(`${SIG} 21 11 000c 7f000001 7f000002 3039 01bb`));
    expect(header).toEqual({
      version: 2,
      command: 'proxy',
      family: 'IPv4',
      transport: 'stream',
      source: { address: '127.0.0.1', port: 12345 },
      destination: { address: '127.0.0.2', port: 443 },
      tlvs: [],
      length: 28,
    });
  });

  it('IPv6 over TCP', () => {
    const header = decodeThreeWays(
      hex(
        `${SIG} 21 21 0024 00000000000000000000000000000001 20010db8000000000000000000000002 0001 0050`,
      ),
    );
    expect(header.source).toEqual({ address: '::1', port: 1 });
    expect(header.destination).toEqual({ address: '2001:db8::2', port: 80 });
    expect(header.length).toBe(52);
  });

  it('IPv6 address formatting follows RFC 5952', () => {
    const header = decodeThreeWays(
      hex(
        `${SIG} 21 21 0024 20010db8000000010000000000000001 fe800000000000000000000000000000 0001 0050`,
      ),
    );
    expect(header.source?.address).toBe('2001:db8:0:1::1');
    expect(header.destination?.address).toBe('fe80::');
  });

  it('UNIX stream', () => {
    const header = decodeThreeWays(
      hex(`${SIG} 21 31 00d8 ${pad('/tmp/client', 108)} ${pad('/tmp/srv', 108)}`),
    );
    expect(header).toMatchObject({
      family: 'unix',
      transport: 'stream',
      source: { address: '/tmp/client', port: 0 },
      destination: { address: '/tmp/srv', port: 0 },
      length: 232,
    });
  });

  it('UNIX abstract names get an @ prefix', () => {
    const header = decodeThreeWays(hex(`${SIG} 21 31 00d8 00${pad('sb', 107)} ${pad('/x', 108)}`));
    expect(header.source?.address).toBe('@sb');
  });

  it('UNIX paths: control characters and backslashes come out escaped, never raw', () => {
    // The path is the peer's bytes and becomes remoteAddress, which `serve --verbose`
    // prints: ESC, BEL or a LF in it drove the operator's terminal or forged log lines.
    // C1 controls too (U+009B is CSI for a terminal that takes 8-bit controls); other
    // UTF-8 text stays as it is.
    const field = (bytes: Buffer): string =>
      bytes.toString('hex') + '00'.repeat(108 - bytes.length);
    const header = decodeThreeWays(
      hex(
        `${SIG} 21 31 00d8 ${field(Buffer.from('/t\x1b]2;x\x07\nfake\\\u009b2J/é'))} ${field(Buffer.from('\x00a\x7fb'))}`,
      ),
    );
    expect(header.source?.address).toBe('/t\\x1b]2;x\\x07\\x0afake\\x5c\\x9b2J/é');
    expect(header.destination?.address).toBe('@a\\x7fb');
  });

  it('LOCAL (health check), with and without an ignored address block', () => {
    expect(decodeThreeWays(hex(`${SIG} 20 00 0000`))).toEqual({
      version: 2,
      command: 'local',
      family: 'unspec',
      transport: 'unspec',
      source: null,
      destination: null,
      tlvs: [],
      length: 16,
    });
    const withBlock = decodeThreeWays(hex(`${SIG} 20 11 000c 7f000001 7f000002 3039 01bb`));
    expect(withBlock).toMatchObject({ command: 'local', source: null, length: 28 });
  });

  it('PROXY with family UNSPEC carries no addresses', () => {
    expect(decodeThreeWays(hex(`${SIG} 21 00 0000`))).toMatchObject({
      command: 'proxy',
      family: 'unspec',
      source: null,
    });
  });

  it('TLVs are parsed into a list in wire order', () => {
    const alpn = '01 0002 6832';
    const authority = `02 000b ${Buffer.from('example.com').toString('hex')}`;
    const noop = '04 0000';
    const header = decodeThreeWays(
      hex(`${SIG} 21 11 0022 0a000001 0a000002 1f90 0050 ${alpn} ${authority} ${noop}`),
    );
    expect(header.source).toEqual({ address: '10.0.0.1', port: 8080 });
    expect(header.tlvs.map((tlv) => tlv.type)).toEqual([
      PROXY_TLV.ALPN,
      PROXY_TLV.AUTHORITY,
      PROXY_TLV.NOOP,
    ]);
    expect(new TextDecoder().decode(header.tlvs[1]!.value)).toBe('example.com');
    expect(header.tlvs[2]!.value.byteLength).toBe(0);
  });

  it('rejects bad version, command, family and lengths', () => {
    expectInvalid(hex(`${SIG} 11 11 000c 7f000001 7f000002 3039 01bb`), /version nibble/);
    expectInvalid(hex(`${SIG} 22 11 000c 7f000001 7f000002 3039 01bb`), /command 2/);
    expectInvalid(hex(`${SIG} 21 41 000c 7f000001 7f000002 3039 01bb`), /undefined/);
    expectInvalid(hex(`${SIG} 21 13 000c 7f000001 7f000002 3039 01bb`), /undefined/);
    expectInvalid(hex(`${SIG} 21 11 0008 7f000001 7f000002`), /shorter than the 12 bytes/);
    expectInvalid(hex(`${SIG} 21 21 000c ${'00'.repeat(12)}`), /36 bytes/);
    expectInvalid(
      hex(`${SIG} 21 11 000e 7f000001 7f000002 3039 01bb 0100`),
      /TLV header truncated/,
    );
    expectInvalid(
      hex(`${SIG} 21 11 0010 7f000001 7f000002 3039 01bb 01 0005 00`),
      /declares 5 bytes/,
    );
  });

  it('the declared length is bounded: 65535 declared, nothing allocated for it up front', () => {
    const decoder = new ProxyHeaderDecoder();
    decoder.push(hex(`${SIG} 21 11 ffff 7f000001`));
    expect(decoder.next()).toBe(NEED_DATA);
    expect(decoder.buffered).toBe(20);
    expect(() => decoder.end()).toThrow(/before a complete header/);
  });

  it('CRC32C: a caller-supplied checksum TLV is refused (the encoder computes it)', () => {
    expect(() =>
      encodeProxyHeader({
        version: 2,
        source: { address: '192.0.2.1', port: 1 },
        destination: { address: '192.0.2.2', port: 2 },
        tlvs: [{ type: PROXY_TLV.CRC32C, value: new Uint8Array(4) }],
      }),
    ).toThrow(expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }));
  });

  it('CRC32C: the checksum TLV is verified', () => {
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
    const good = encodeProxyHeader({
      version: 2,
      source: { address: '192.0.2.1', port: 1000 },
      destination: { address: '192.0.2.2', port: 2000 },
      tlvs: [{ type: PROXY_TLV.UNIQUE_ID, value: ascii('abc') }],
      checksum: true,
    });
    const header = decodeThreeWays(good);
    expect(header.tlvs.map((tlv) => tlv.type)).toEqual([PROXY_TLV.UNIQUE_ID, PROXY_TLV.CRC32C]);
    const spoofed = good.slice();
    spoofed[16] = 10; // source address changed after the checksum was computed
    expectInvalid(spoofed, /CRC32C/);
  });
});

describe('PROXY garbage and truncation', () => {
  it('garbage is rejected at the first diverging byte', () => {
    expectInvalid(ascii('G'), /no v1 or v2 signature/);
    expectInvalid(ascii('PROXX'), /no v1 or v2 signature/);
    expectInvalid(hex('0d0a0d0a01'), /no v1 or v2 signature/);
    expectInvalid(ascii('GET / HTTP/1.1\r\n\r\n'));
  });

  it('every strict prefix of a valid header is NEED_DATA, and end() then fails', () => {
    const inputs = [
      ascii('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'),
      hex(`${SIG} 21 11 000c 7f000001 7f000002 3039 01bb`),
      hex(`${SIG} 21 31 00d8 ${pad('/a', 108)} ${pad('/b', 108)}`),
    ];
    for (const input of inputs) {
      for (let length = 0; length < input.byteLength; length++) {
        const decoder = new ProxyHeaderDecoder();
        decoder.push(input.subarray(0, length));
        expect(decoder.next()).toBe(NEED_DATA);
        expect(parseProxyHeader(input.subarray(0, length))).toBe(NEED_DATA);
        expect(() => decoder.end()).toThrow(FrameError);
      }
    }
  });

  it('random bytes never throw anything but SB_PROXY_HEADER_INVALID', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, withSignature) => {
        const input = withSignature ? cat(hex(SIG), bytes) : bytes;
        try {
          parseProxyHeader(input);
        } catch (error) {
          return error instanceof FrameError && error.code === 'SB_PROXY_HEADER_INVALID';
        }
        return true;
      }),
      { seed: 42, numRuns: 2000 },
    );
  });
});

describe('encodeProxyHeader', () => {
  const ipv4 = fc
    .tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255))
    .map((parts) => parts.join('.'));
  const ipv6 = fc.ipV6();
  const port = fc.nat(65535);

  it('round-trips v1 and v2 for IPv4 and IPv6', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1 as const, 2 as const),
        fc.oneof(fc.tuple(ipv4, ipv4), fc.tuple(ipv6, ipv6)),
        port,
        port,
        (version, [sourceAddress, destinationAddress], sourcePort, destinationPort) => {
          const bytes = encodeProxyHeader({
            version,
            source: { address: sourceAddress, port: sourcePort },
            destination: { address: destinationAddress, port: destinationPort },
          });
          const parsed = parseProxyHeader(bytes);
          if (parsed === NEED_DATA) {
            return false;
          }
          const { header } = parsed;
          expect(header.source!.port).toBe(sourcePort);
          expect(header.destination!.port).toBe(destinationPort);
          if (version === 1 && !sourceAddress.includes(':')) {
            // v1 carries IPv4 text as written.
            expect(header.source!.address).toBe(sourceAddress);
            expect(header.destination!.address).toBe(destinationAddress);
          } else {
            // v2 carries bytes and v1 writes IPv6 in RFC 5952 form: IPv6 text comes back
            // canonical, so compare re-encodings.
            const again = encodeProxyHeader({
              version,
              source: header.source!,
              destination: header.destination!,
            });
            expect(Buffer.from(again).toString('hex')).toBe(Buffer.from(bytes).toString('hex'));
          }
          return true;
        },
      ),
      { seed: 42, numRuns: 500 },
    );
  });

  it('writes the spec bytes', () => {
    expect(
      Buffer.from(
        encodeProxyHeader({
          version: 2,
          source: { address: '127.0.0.1', port: 12345 },
          destination: { address: '127.0.0.2', port: 443 },
        }),
      ).toString('hex'),
    ).toBe(`${SIG}2111000c7f0000017f000002303901bb`);
    expect(Buffer.from(encodeProxyHeader({ version: 2, command: 'local' })).toString('hex')).toBe(
      `${SIG}20000000`,
    );
    expect(new TextDecoder().decode(encodeProxyHeader({ version: 1 }))).toBe('PROXY UNKNOWN\r\n');
    expect(
      new TextDecoder().decode(
        encodeProxyHeader({
          version: 1,
          source: { address: '192.168.0.1', port: 56324 },
          destination: { address: '192.168.0.11', port: 443 },
        }),
      ),
    ).toBe('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n');
  });

  it('refuses bad input', () => {
    expect(() =>
      encodeProxyHeader({
        version: 1,
        family: 'unix',
        source: { address: '/a', port: 0 },
        destination: { address: '/b', port: 0 },
      }),
    ).toThrow(/v1 cannot carry unix/);
    expect(() =>
      encodeProxyHeader({
        version: 2,
        source: { address: '1.2.3.4', port: 70000 },
        destination: { address: '1.2.3.4', port: 1 },
      }),
    ).toThrow(/port/);
    expect(() => encodeProxyHeader({ version: 2, family: 'IPv4' })).toThrow(/required/);
  });
});

describe('PROXY header errors never echo the peer bytes', () => {
  it('malformed v1 lines: the message names the defect, not the text', () => {
    const lines = [
      'PROXY TCP4 127.0.0.1 127.0.0.2 98765 80\r\n',
      'PROXY TCP4 127.0.0.1 127.0.0.2 80 98765\r\n',
      'PROXY TCP4 127.0.0.1 127.0.0.2 098765 80\r\n',
      'PROXY TCP4 127.0.98765.1 127.0.0.2 80 80\r\n',
      'PROXY TCP9 127.0.0.1 127.0.0.2 80 80\r\n',
      'PROXY TCP4 98765 127.0.0.2 80 80 98765\r\n',
      'PROXY TCP6 ::98765:1 ::1 80 80\r\n',
    ];
    for (const line of lines) {
      let message = '';
      try {
        parseProxyHeader(ascii(line));
      } catch (error) {
        expect(error).toBeInstanceOf(FrameError);
        message = (error as FrameError).message;
      }
      expect(message, line).not.toBe('');
      expect(message, line).not.toContain('98765');
      expect(message, line).not.toContain('TCP9');
    }
  });
});
