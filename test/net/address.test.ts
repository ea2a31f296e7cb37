import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { endpointText, formatAddress, normalizeHost, parseAddress } from '../../src/net/address.js';
import { DEFAULTS } from '../../src/options.js';

describe('parseAddress', () => {
  it.each([
    ['127.0.0.1:7070', { kind: 'tcp', host: '127.0.0.1', port: 7070, tls: false }],
    ['localhost:0', { kind: 'tcp', host: 'localhost', port: 0, tls: false }],
    [':7070', { kind: 'tcp', host: DEFAULTS.host, port: 7070, tls: false }],
    ['[::1]:443', { kind: 'tcp', host: '::1', port: 443, tls: false }],
    ['[fe80::1%eth0]:80', { kind: 'tcp', host: 'fe80::1%eth0', port: 80, tls: false }],
    ['tcp://example.org:65535', { kind: 'tcp', host: 'example.org', port: 65535, tls: false }],
    ['TLS://[::1]:443', { kind: 'tcp', host: '::1', port: 443, tls: true }],
    ['tls://:8443', { kind: 'tcp', host: DEFAULTS.host, port: 8443, tls: true }],
    ['unix:/tmp/x.sock', { kind: 'unix', path: '/tmp/x.sock', abstract: false }],
    ['unix:relative.sock', { kind: 'unix', path: 'relative.sock', abstract: false }],
    ['unix:///tmp/y.sock', { kind: 'unix', path: '/tmp/y.sock', abstract: false }],
    ['unix:@switchboard', { kind: 'unix', path: 'switchboard', abstract: true }],
  ])('%s', (text, expected) => {
    expect(parseAddress(text)).toEqual(expected);
  });

  it.each([
    ['', 'empty'],
    ['7070', 'missing ":PORT"'],
    ['host:', 'missing port'],
    ['host:http', 'not a decimal number'],
    ['host:65536', 'out of range'],
    ['::1:80', 'brackets'],
    ['[::1:80', "missing ']'"],
    ['[::1]80', "expected ':PORT'"],
    ['[nothex]:80', 'not an IPv6 address'],
    ['http://host:80', 'unknown scheme'],
    ['bad host:80', 'not a valid host'],
    ['unix:', 'missing socket path'],
    ['unix:@', 'missing abstract socket name'],
    ['tcp://host:80/path', 'unexpected path'],
  ])('rejects %j with SB_BAD_ADDRESS naming the bad part (%s)', (text, part) => {
    let failure: unknown;
    try {
      parseAddress(text);
    } catch (error) {
      failure = error;
    }
    expect(failure).toMatchObject({ code: 'SB_BAD_ADDRESS', name: 'InvalidArgumentError' });
    expect((failure as Error).message).toContain(part);
  });

  it('rejects non-strings', () => {
    expect(() => parseAddress(42 as unknown as string)).toThrow(
      expect.objectContaining({ code: 'SB_BAD_ADDRESS' }),
    );
  });
});

describe('formatAddress', () => {
  it('formats each kind', () => {
    expect(formatAddress({ kind: 'tcp', host: '127.0.0.1', port: 7070, tls: false })).toBe(
      'tcp://127.0.0.1:7070',
    );
    expect(formatAddress({ kind: 'tcp', host: '::1', port: 443, tls: true })).toBe(
      'tls://[::1]:443',
    );
    expect(formatAddress({ kind: 'unix', path: '/tmp/x.sock', abstract: false })).toBe(
      'unix:/tmp/x.sock',
    );
    expect(formatAddress({ kind: 'unix', path: 'name', abstract: true })).toBe('unix:@name');
  });

  it('round-trips through parseAddress (property, fixed seed)', () => {
    const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain());
    fc.assert(
      fc.property(host, fc.integer({ min: 0, max: 65535 }), fc.boolean(), (hostName, port, tls) => {
        const address = { kind: 'tcp' as const, host: hostName, port, tls };
        expect(parseAddress(formatAddress(address))).toEqual(address);
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});

describe('endpointText (the one formatter of node TCP endpoints)', () => {
  it('strips the IPv4-mapped prefix, brackets IPv6, and is empty when unknown', () => {
    expect(endpointText('::ffff:10.0.0.1', 51000, false)).toBe('tcp://10.0.0.1:51000');
    expect(endpointText('2001:db8::1', 443, true)).toBe('tls://[2001:db8::1]:443');
    expect(endpointText('127.0.0.1', 0, false)).toBe('tcp://127.0.0.1:0');
    expect(endpointText(undefined, 80, false)).toBe('');
    expect(endpointText('127.0.0.1', undefined, false)).toBe('');
    expect(normalizeHost('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(normalizeHost('::1')).toBe('::1');
  });
});
