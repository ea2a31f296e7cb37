/**
 * Fuzz properties of the PROXY protocol parser (src/server/proxy-protocol.ts), shared by
 * test/server/proxy-fuzz.test.ts (seeded, a few hundred runs) and `npm run fuzz -- --spec
 * proxy` (as many runs as asked).
 *
 * - decode: random bytes, v1-looking text, v2-looking binary and mutated valid headers
 *   (bit flips, truncation, inserted/deleted bytes, lies in the v2 length and TLV length
 *   fields), fed whole, in random chunks and one byte at a time. Only `FrameError
 *   SB_PROXY_HEADER_INVALID` may be thrown (and never the parser's "internal parser
 *   error" fallback, which would hide a bug); every feeding agrees with the whole input
 *   and with parseProxyHeader; whenever the decoder asks for more data it holds less than
 *   the bound the header kind allows (a prefix of a signature: < 12 bytes; v1: < 107; v2:
 *   < 16 + the declared length <= 16 + 65535), and a returned header is within it too.
 * - roundtrip: a valid random header is encoded, followed by application bytes, and
 *   decodes (whole and split) to what was encoded, with the application bytes as the
 *   remainder.
 * - encode: encodeProxyHeader with random, often invalid, endpoints and TLVs either
 *   throws InvalidArgumentError with a known code or returns bytes that decode cleanly.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NEED_DATA } from '../../src/codec/types.js';
import {
  encodeProxyHeader,
  PROXY_TLV,
  PROXY_V1_MAX_LENGTH,
  PROXY_V2_MAX_LENGTH,
  PROXY_V2_SIGNATURE,
  type ProxyEndpoint,
  type ProxyHeader,
  ProxyHeaderDecoder,
  type ProxyHeaderInit,
  type ProxyTlv,
  parseProxyHeader,
} from '../../src/server/proxy-protocol.js';
import { hex } from '../helpers/feed.js';
import {
  chunkings,
  expectKnownError,
  type FuzzProperty,
  type LengthField,
  mutate,
  mutationsArbitrary,
  splitsArbitrary,
  type Wire,
} from './fuzz-wire.js';

const V1_PREFIX = new TextEncoder().encode('PROXY ');
const V2_FIXED = 16;
const ADDRESS_BYTES = { unspec: 0, IPv4: 12, IPv6: 36, unix: 216 } as const;

/** What one feeding of the decoder ended with. */
export interface ProxyOutcome {
  /** `ok` or the error code. */
  readonly code: string;
  readonly header: ProxyHeader | null;
  /** Hex of the bytes after the header. */
  readonly remainder: string;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((byte, index) => bytes[index] === byte);
}

function isPrefixOf(bytes: Uint8Array, whole: Uint8Array): boolean {
  return bytes.length <= whole.length && bytes.every((byte, index) => whole[index] === byte);
}

/** The documented buffering bound for a decoder that holds `pending` and wants more. */
function assertWaitingWithinBound(pending: Uint8Array): void {
  if (startsWith(pending, V1_PREFIX)) {
    assert.ok(
      pending.length < PROXY_V1_MAX_LENGTH,
      `v1: waiting with ${pending.length} bytes, bound ${PROXY_V1_MAX_LENGTH}`,
    );
  } else if (startsWith(pending, PROXY_V2_SIGNATURE)) {
    const declared = pending.length >= V2_FIXED ? (pending[14]! << 8) | pending[15]! : 0;
    assert.ok(
      pending.length < V2_FIXED + declared || pending.length < V2_FIXED,
      `v2: waiting with ${pending.length} bytes for a ${declared}-byte body`,
    );
    assert.ok(pending.length < PROXY_V2_MAX_LENGTH, `v2: waiting with ${pending.length} bytes`);
  } else {
    assert.ok(
      isPrefixOf(pending, V1_PREFIX) || isPrefixOf(pending, PROXY_V2_SIGNATURE),
      `waiting with ${pending.length} bytes that match neither signature`,
    );
  }
}

function assertHeaderWithinBound(header: ProxyHeader): void {
  const bound = header.version === 1 ? PROXY_V1_MAX_LENGTH : PROXY_V2_MAX_LENGTH;
  assert.ok(header.length <= bound, `v${header.version} header of ${header.length} bytes`);
}

function decoderError(error: unknown): string {
  const code = expectKnownError(error, ['FrameError']);
  assert.equal(code, 'SB_PROXY_HEADER_INVALID');
  assert.doesNotMatch(
    (error as Error).message,
    /internal parser error/,
    'a non-FrameError escaped the parser and was masked',
  );
  return code;
}

/** Feeds `chunks` (which concatenate to `input`) to one decoder, checking the bounds. */
function feedProxy(input: Uint8Array, chunks: readonly Uint8Array[]): ProxyOutcome {
  const decoder = new ProxyHeaderDecoder();
  let pushed = 0;
  let header: ProxyHeader | null = null;
  try {
    for (const chunk of chunks) {
      decoder.push(chunk);
      pushed += chunk.length;
      const result = decoder.next();
      if (result === NEED_DATA) {
        assert.equal(header, null, 'NEED_DATA after a header was returned');
        assert.equal(decoder.buffered, pushed, 'buffered before the header');
        assertWaitingWithinBound(input.subarray(0, pushed));
      } else {
        assertHeaderWithinBound(result);
        if (header !== null) {
          assert.equal(result, header, 'next() after the header returns the same header');
        }
        header = result;
        assert.equal(decoder.buffered, pushed - header.length, 'buffered after the header');
      }
    }
    decoder.end();
  } catch (error) {
    if (error instanceof assert.AssertionError) {
      throw error;
    }
    const code = decoderError(error);
    // Sticky: every later call rethrows the same error.
    assert.throws(
      () => decoder.next(),
      (again) => again === error,
    );
    assert.throws(
      () => decoder.push(Uint8Array.of(0)),
      (again) => again === error,
    );
    return { code, header: null, remainder: '' };
  }
  assert.ok(header !== null, 'end() returned without a header');
  assert.equal(hex(decoder.remainder()), hex(input.subarray(header.length)), 'remainder');
  return { code: 'ok', header, remainder: hex(decoder.remainder()) };
}

/**
 * Decodes `input` whole, split at `points`, byte by byte (when small) and through
 * parseProxyHeader; checks every invariant and that all agree. Returns the outcome.
 */
export function checkProxyInput(input: Uint8Array, points: readonly number[]): ProxyOutcome {
  const whole = feedProxy(input, [input]);
  for (const [label, chunks] of chunkings(input, points)) {
    assert.deepEqual(feedProxy(input, chunks), whole, `${label} vs whole`);
  }
  let parsed: ProxyOutcome;
  try {
    const result = parseProxyHeader(input);
    parsed =
      result === NEED_DATA
        ? { code: 'SB_PROXY_HEADER_INVALID', header: null, remainder: '' }
        : { code: 'ok', header: result.header, remainder: hex(result.rest) };
  } catch (error) {
    parsed = { code: decoderError(error), header: null, remainder: '' };
  }
  assert.deepEqual(parsed, whole, 'parseProxyHeader vs decoder');
  return whole;
}

// ---------------------------------------------------------------- generators

const portArbitrary = fc.integer({ min: 0, max: 0xffff });
const ipv4Endpoint = fc.record({ address: fc.ipV4(), port: portArbitrary });
/** Up to 45 characters: eight zero-padded groups, or six and a dotted IPv4 tail. */
const longIPv6 = fc
  .record({
    groups: fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }),
    tail: fc.option(fc.array(fc.integer({ min: 100, max: 255 }), { minLength: 4, maxLength: 4 })),
  })
  .map(({ groups, tail }) => {
    const text = groups.map((group) => group.toString(16).padStart(4, '0'));
    return tail === null ? text.join(':') : `${text.slice(0, 6).join(':')}:${tail.join('.')}`;
  });
const ipv6Endpoint = fc.record({ address: fc.oneof(fc.ipV6(), longIPv6), port: portArbitrary });

/** Bytes of the v1 line `encodeProxyHeader(init)` writes for TCP4/TCP6. */
const PATH_CHARS = [...'abcxyz019/._-~ é€'];
const unixPath = fc
  .oneof(
    fc.string({ unit: fc.constantFrom(...PATH_CHARS), maxLength: 110 }),
    fc
      .string({ unit: fc.constantFrom(...PATH_CHARS), minLength: 1, maxLength: 110 })
      .map((name) => `@${name}`),
  )
  .filter((path) => new TextEncoder().encode(path.replace(/^@/, '')).length <= 107);
const unixEndpoint = fc.record({ address: unixPath, port: fc.constant(0) });
const tlvArbitrary: fc.Arbitrary<ProxyTlv> = fc.record({
  // CRC32C only through `checksum: true`: a random CRC32C value would fail verification.
  type: fc.nat(255).filter((type) => type !== PROXY_TLV.CRC32C),
  value: fc.uint8Array({ maxLength: 40 }),
});

/** A valid header to encode (v1 or v2, every family, command, transport, TLVs, checksum). */
export const proxyInitArbitrary: fc.Arbitrary<ProxyHeaderInit> = fc.oneof(
  fc.record({
    version: fc.constant(1 as const),
    family: fc.constant('IPv4' as const),
    source: ipv4Endpoint,
    destination: ipv4Endpoint,
  }),
  fc.record({
    version: fc.constant(1 as const),
    family: fc.constant('IPv6' as const),
    source: ipv6Endpoint,
    destination: ipv6Endpoint,
  }),
  fc.record({
    version: fc.constant(1 as const),
    command: fc.constantFrom('proxy' as const, 'local' as const),
    family: fc.constant('unspec' as const),
  }),
  {
    weight: 3,
    arbitrary: fc
      .record({
        command: fc.constantFrom('proxy' as const, 'local' as const),
        transport: fc.option(fc.constantFrom('stream' as const, 'dgram' as const), {
          nil: undefined,
        }),
        tlvs: fc.array(tlvArbitrary, { maxLength: 4 }),
        checksum: fc.boolean(),
        endpoints: fc.oneof(
          fc.record({
            family: fc.constant('IPv4' as const),
            pair: fc.tuple(ipv4Endpoint, ipv4Endpoint),
          }),
          fc.record({
            family: fc.constant('IPv6' as const),
            pair: fc.tuple(ipv6Endpoint, ipv6Endpoint),
          }),
          fc.record({
            family: fc.constant('unix' as const),
            pair: fc.tuple(unixEndpoint, unixEndpoint),
          }),
          fc.record({ family: fc.constant('unspec' as const), pair: fc.constant(null) }),
        ),
      })
      .map(({ command, transport, tlvs, checksum, endpoints }): ProxyHeaderInit => {
        const init: ProxyHeaderInit = {
          version: 2,
          command,
          family: endpoints.family,
          tlvs,
          checksum,
        };
        if (transport !== undefined) {
          init.transport = transport;
        }
        if (endpoints.pair !== null) {
          [init.source, init.destination] = endpoints.pair;
        }
        return init;
      }),
  },
);

/** The positions of the v2 length field and of every TLV length field in `bytes`. */
function v2LengthFields(bytes: Uint8Array): LengthField[] {
  if (!startsWith(bytes, PROXY_V2_SIGNATURE) || bytes.length < V2_FIXED) {
    return [];
  }
  const declared = (bytes[14]! << 8) | bytes[15]!;
  const fields: LengthField[] = [{ offset: 14, size: 2, actual: declared }];
  const family = (['unspec', 'IPv4', 'IPv6', 'unix'] as const)[bytes[13]! >> 4] ?? 'unspec';
  const local = (bytes[12]! & 0x0f) === 0;
  let at = V2_FIXED + (local ? 0 : ADDRESS_BYTES[family]);
  while (at + 3 <= V2_FIXED + declared) {
    const length = (bytes[at + 1]! << 8) | bytes[at + 2]!;
    fields.push({ offset: at + 1, size: 2, actual: length });
    at += 3 + length;
  }
  return fields;
}

/** A valid encoding of `init` plus application bytes, as mutable wire. */
function validWire(init: ProxyHeaderInit, trailing: Uint8Array): Wire {
  const header = encodeProxyHeader(init);
  const bytes = new Uint8Array(header.length + trailing.length);
  bytes.set(header);
  bytes.set(trailing, header.length);
  return { bytes, lengthFields: v2LengthFields(header) };
}

const V1_TOKENS = [
  'PROXY',
  ' ',
  ' ',
  'TCP4',
  'TCP6',
  'UNKNOWN',
  'UDP4',
  '127.0.0.1',
  '255.255.255.255',
  '256.1.1.1',
  '::1',
  '::ffff:1.2.3.4',
  'ffff',
  '0',
  '01',
  '65535',
  '65536',
  '\r\n',
  '\r',
  '\n',
  ':',
  '.',
  '\u0000',
  'é',
];
const v1Text = fc
  .array(fc.constantFrom(...V1_TOKENS), { maxLength: 16 })
  .map((tokens) => new TextEncoder().encode(`PROXY ${tokens.join('')}`));

const v2Binary = fc
  .record({
    versionCommand: fc.oneof(fc.constantFrom(0x20, 0x21), fc.nat(255)),
    familyTransport: fc.oneof(fc.constantFrom(0x00, 0x11, 0x12, 0x21, 0x22, 0x31), fc.nat(255)),
    declared: fc.oneof(fc.nat(300), fc.constantFrom(12, 36, 216, 0xffff)),
    body: fc.uint8Array({ maxLength: 300 }),
  })
  .map(({ versionCommand, familyTransport, declared, body }) => {
    const bytes = new Uint8Array(V2_FIXED + body.length);
    bytes.set(PROXY_V2_SIGNATURE);
    bytes[12] = versionCommand;
    bytes[13] = familyTransport;
    bytes[14] = declared >> 8;
    bytes[15] = declared & 0xff;
    bytes.set(body, V2_FIXED);
    return bytes;
  });

/** Long inputs near the bounds: v1 text without CRLF, v2 headers of up to 65535 body bytes. */
const nearBounds = fc.oneof(
  fc
    .record({ length: fc.integer({ min: 90, max: 200 }), crlfAt: fc.nat(220) })
    .map(({ length, crlfAt }) => {
      const bytes = new Uint8Array(length).fill(0x41);
      bytes.set(V1_PREFIX);
      if (crlfAt + 1 < length && crlfAt > V1_PREFIX.length) {
        bytes[crlfAt] = 0x0d;
        bytes[crlfAt + 1] = 0x0a;
      }
      return bytes;
    }),
  fc
    .record({
      declared: fc.integer({ min: 0xff00, max: 0xffff }),
      missing: fc.integer({ min: -8, max: 8 }),
    })
    .map(({ declared, missing }) => {
      // LOCAL, unspec: the body is one NOOP TLV filling it (or more bytes than declared).
      const length = Math.max(V2_FIXED, V2_FIXED + declared - missing);
      const bytes = new Uint8Array(length);
      bytes.set(PROXY_V2_SIGNATURE);
      bytes[12] = 0x20;
      bytes[14] = declared >> 8;
      bytes[15] = declared & 0xff;
      bytes[V2_FIXED] = PROXY_TLV.NOOP;
      bytes[V2_FIXED + 1] = (declared - 3) >> 8;
      bytes[V2_FIXED + 2] = (declared - 3) & 0xff;
      return bytes;
    }),
);

/** Inputs for the decode property. */
export const proxyInputArbitrary: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({
        init: proxyInitArbitrary,
        trailing: fc.uint8Array({ maxLength: 8 }),
        mutations: mutationsArbitrary,
      })
      .map(({ init, trailing, mutations }) => mutate(validWire(init, trailing), mutations)),
  },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 2, arbitrary: v1Text },
  {
    weight: 2,
    arbitrary: fc
      .record({ bytes: v2Binary, mutations: mutationsArbitrary })
      .map(({ bytes, mutations }) =>
        mutate({ bytes, lengthFields: v2LengthFields(bytes) }, mutations),
      ),
  },
  { weight: 1, arbitrary: nearBounds },
);

// ---------------------------------------------------------------- round trip

/** RFC 5952 text of an IPv6 address (the WHATWG URL serializer implements it). */
function canonicalIPv6(text: string): string {
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

function expectedEndpoint(endpoint: ProxyEndpoint | undefined, family: string): ProxyEndpoint {
  assert.ok(endpoint !== undefined);
  // Both versions carry IPv6 in RFC 5952 form: v2 as bytes decoded to it, v1 because
  // the encoder writes it (any other spelling could overflow the 107-byte line).
  const address = family === 'IPv6' ? canonicalIPv6(endpoint.address) : endpoint.address;
  return { address, port: family === 'unix' ? 0 : endpoint.port };
}

/** What decoding `encodeProxyHeader(init)` must give (the checksum TLV's value aside). */
function expectedHeader(init: ProxyHeaderInit, length: number): ProxyHeader {
  const command = init.command ?? 'proxy';
  const family = init.family ?? 'unspec';
  const carriesAddresses = command === 'proxy' && family !== 'unspec';
  if (init.version === 1) {
    return {
      version: 1,
      command: 'proxy',
      family: carriesAddresses ? family : 'unspec',
      transport: carriesAddresses ? 'stream' : 'unspec',
      source: carriesAddresses ? expectedEndpoint(init.source, family) : null,
      destination: carriesAddresses ? expectedEndpoint(init.destination, family) : null,
      tlvs: [],
      length,
    };
  }
  const tlvs = (init.tlvs ?? []).map(({ type, value }) => ({ type, value }));
  if (init.checksum === true) {
    tlvs.push({ type: PROXY_TLV.CRC32C, value: new Uint8Array(4) });
  }
  return {
    version: 2,
    command,
    family: carriesAddresses ? family : 'unspec',
    transport: init.transport ?? (carriesAddresses ? 'stream' : 'unspec'),
    source: carriesAddresses ? expectedEndpoint(init.source, family) : null,
    destination: carriesAddresses ? expectedEndpoint(init.destination, family) : null,
    tlvs,
    length,
  };
}

function withoutChecksumValue(header: ProxyHeader): ProxyHeader {
  return {
    ...header,
    tlvs: header.tlvs.map((tlv) =>
      tlv.type === PROXY_TLV.CRC32C ? { type: tlv.type, value: new Uint8Array(4) } : tlv,
    ),
  };
}

// ---------------------------------------------------------------- encode with bad input

const looseEndpoint = fc.record({
  address: fc.oneof(
    fc.ipV4(),
    fc.ipV6(),
    longIPv6,
    unixPath,
    fc.string({ maxLength: 50 }),
    fc.constantFrom('', '1.2.3', '::', ':::', '1.2.3.04', 'fe80::1%eth0', 'x'.repeat(200)),
  ),
  port: fc.oneof(
    portArbitrary,
    fc.constantFrom(-1, 65536, 1.5, Number.NaN, Number.POSITIVE_INFINITY),
  ),
});
const looseInitArbitrary: fc.Arbitrary<ProxyHeaderInit> = fc.record(
  {
    version: fc.constantFrom(1 as const, 2 as const),
    command: fc.constantFrom('proxy' as const, 'local' as const),
    family: fc.constantFrom('IPv4' as const, 'IPv6' as const, 'unix' as const, 'unspec' as const),
    transport: fc.constantFrom('stream' as const, 'dgram' as const, 'unspec' as const),
    source: looseEndpoint,
    destination: looseEndpoint,
    tlvs: fc.array(
      fc.record({
        // A caller's CRC32C TLV is refused (`checksum: true` is the way to get one).
        type: fc.oneof(
          tlvArbitrary.map((tlv) => tlv.type),
          fc.constantFrom(-1, 256, 1.5, PROXY_TLV.CRC32C),
        ),
        value: fc.oneof(
          { weight: 9, arbitrary: fc.uint8Array({ maxLength: 40 }) },
          { weight: 1, arbitrary: fc.constantFrom(new Uint8Array(65_500), new Uint8Array(65_536)) },
        ),
      }),
      { maxLength: 3 },
    ),
    checksum: fc.boolean(),
  },
  { requiredKeys: ['version'] },
);

/** The three PROXY fuzz properties (decode, roundtrip, encode). */
export const PROXY_FUZZ_PROPERTIES: readonly FuzzProperty[] = [
  {
    name: 'proxy/decode',
    check: (run, tally) =>
      fc.assert(
        fc.property(proxyInputArbitrary, splitsArbitrary, (input, points) => {
          tally(checkProxyInput(input, points).code);
        }),
        run,
      ),
  },
  {
    name: 'proxy/roundtrip',
    check: (run, tally) =>
      fc.assert(
        fc.property(
          proxyInitArbitrary,
          fc.uint8Array({ maxLength: 16 }),
          splitsArbitrary,
          (init, trailing, points) => {
            const { bytes } = validWire(init, trailing);
            const outcome = checkProxyInput(bytes, points);
            assert.equal(outcome.code, 'ok', 'a valid header failed to decode');
            const length = bytes.length - trailing.length;
            assert.deepEqual(withoutChecksumValue(outcome.header!), expectedHeader(init, length));
            assert.equal(outcome.remainder, hex(trailing));
            tally(`v${init.version}`);
          },
        ),
        run,
      ),
  },
  {
    name: 'proxy/encode',
    check: (run, tally) =>
      fc.assert(
        fc.property(looseInitArbitrary, (init) => {
          let bytes: Uint8Array;
          try {
            bytes = encodeProxyHeader(init);
          } catch (error) {
            tally(expectKnownError(error, ['InvalidArgumentError']));
            return;
          }
          if (init.version === 1) {
            // Found by this fuzzer: long IPv6 spellings once made v1 lines over 107 bytes.
            assert.ok(bytes.length <= PROXY_V1_MAX_LENGTH, `v1 line of ${bytes.length} bytes`);
          }
          // What the encoder writes, the decoder must accept, whole and exactly.
          const outcome = feedProxy(bytes, [bytes]);
          assert.equal(outcome.code, 'ok', `encoder output ${hex(bytes)} does not decode`);
          assert.equal(outcome.header!.length, bytes.length);
          tally('ok');
        }),
        run,
      ),
  },
];
