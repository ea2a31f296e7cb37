/**
 * Seeded, bounded fuzzing of the PROXY protocol parser: the properties of
 * test/codec/fuzz-proxy.ts (decode, roundtrip, encode) with fast-check seed 42 and a
 * few hundred runs each. `npm run fuzz -- --spec proxy --iterations N` runs them longer.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { encodeProxyHeader, PROXY_V1_MAX_LENGTH } from '../../src/server/proxy-protocol.js';
import { PROXY_FUZZ_PROPERTIES } from '../codec/fuzz-proxy.js';
import { fuzzSuite } from '../codec/fuzz-suite.js';

fuzzSuite('fuzz: PROXY protocol v1/v2 parser', PROXY_FUZZ_PROPERTIES);

describe('found by the fuzzer', () => {
  // Known defect, kept visible: encodeProxyHeader writes v1 lines longer than the spec's
  // 107 bytes when the IPv6 texts are long (up to 45 characters each), which every
  // receiver, ours included, rejects. `it.fails` flips to a failure once the encoder
  // refuses them; then drop `.fails` here and the tally special case in fuzz-proxy.ts.
  it.fails('encodeProxyHeader refuses a v1 line over 107 bytes', () => {
    const address = 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255';
    const init = {
      version: 1 as const,
      source: { address, port: 65535 },
      destination: { address, port: 65535 },
    };
    let bytes: Uint8Array | undefined;
    expect(() => {
      bytes = encodeProxyHeader(init);
    }).toThrow(InvalidArgumentError);
    expect(bytes?.length ?? 0).toBeLessThanOrEqual(PROXY_V1_MAX_LENGTH);
  });
});
