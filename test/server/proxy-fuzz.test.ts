/**
 * Seeded, bounded fuzzing of the PROXY protocol parser: the properties of
 * test/codec/fuzz-proxy.ts (decode, roundtrip, encode) with fast-check seed 42 and a
 * few hundred runs each. `npm run fuzz -- --spec proxy --iterations N` runs them longer.
 */
import { describe, expect, it } from 'vitest';
import { encodeProxyHeader, PROXY_V1_MAX_LENGTH } from '../../src/server/proxy-protocol.js';
import { PROXY_FUZZ_PROPERTIES } from '../codec/fuzz-proxy.js';
import { fuzzSuite } from '../codec/fuzz-suite.js';

fuzzSuite('fuzz: PROXY protocol v1/v2 parser', PROXY_FUZZ_PROPERTIES);

describe('found by the fuzzer', () => {
  // encodeProxyHeader once wrote long IPv6 spellings (up to 45 characters) as given,
  // making v1 lines of up to 116 bytes that every receiver rejects; it now writes
  // RFC 5952 text, at most 39 characters.
  it('encodeProxyHeader writes v1 IPv6 in RFC 5952 form, within 107 bytes', () => {
    const address = 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255';
    const bytes = encodeProxyHeader({
      version: 1,
      source: { address, port: 65535 },
      destination: { address: '0:0:0:0:0:ffff:192.0.2.1', port: 1 },
    });
    expect(bytes.length).toBeLessThanOrEqual(PROXY_V1_MAX_LENGTH);
    expect(new TextDecoder().decode(bytes)).toBe(
      'PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ::ffff:c000:201 65535 1\r\n',
    );
  });
});
