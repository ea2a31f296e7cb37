/**
 * The public runtime surface, pinned. src/index.ts ("switchboard") and
 * src/testing/index.ts ("switchboard/testing") name every export; this test
 * lists the runtime values they yield, sorted, so a new export (or one that
 * slips out through a re-exported module) fails here until the list below is
 * changed on purpose. Types are not runtime values; typedoc's notExported
 * validation (`npm run docs`) covers them.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const MAIN = [
  'BUS_HEADERS',
  'Channel',
  'ConnectionError',
  'DEFAULTS',
  'DEFAULT_CHAT_ROOM',
  'DEFAULT_SUBJECT_PREFIX',
  'ERROR_CODES',
  'FrameError',
  'HOST_ENDIANNESS',
  'Heartbeat',
  'InvalidArgumentError',
  'Listener',
  'MAX_VARINT_BYTES',
  'NEED_DATA',
  'PROXY_TLV',
  'ProxyHeaderDecoder',
  'SbpType',
  'Socket',
  'Struct',
  'StructError',
  'SwitchboardError',
  'TimeoutError',
  'UnexpectedEofError',
  'calcsize',
  'connect',
  'connectNatsBus',
  'contentLengthFraming',
  'createServer',
  'decode',
  'decodeBigVarint',
  'decodeStream',
  'decodeTransform',
  'decodeVarint',
  'delimFraming',
  'diagnosticChannels',
  'digitsFraming',
  'encode',
  'encodeEnvelope',
  'encodeProxyHeader',
  'encodeStream',
  'encodeTransform',
  'encodeVarint',
  'encodeVarintInto',
  'eofFraming',
  'fixedFraming',
  'formatAddress',
  'htonl',
  'htons',
  'isSwitchboardError',
  'iterUnpack',
  'lengthFraming',
  'lineFraming',
  'listen',
  'mllpFraming',
  'netstringFraming',
  'ntohl',
  'ntohs',
  'openChannel',
  'pack',
  'packInto',
  'parseAddress',
  'parseEnvelope',
  'parseFraming',
  'parseProxyHeader',
  'readBigUint',
  'readUint',
  'sbpFraming',
  'select',
  'startConnect',
  'taggedFraming',
  'unpack',
  'unpackFrom',
  'varintFraming',
  'varintLength',
  'writeBigUint',
  'writeUint',
];

const TESTING = ['FaultProxy', 'TOXIPROXY_API_VERSION', 'ToxiproxyServer'];

/**
 * Internals that were public once (issue #16); none may come back by accident.
 * `DiagnosticChannel` and `NatsChatBus` stay public as types only: they are what
 * `diagnosticChannels` and `connectNatsBus` return, but users never construct them.
 */
const INTERNAL = [
  'BaseDecoder',
  'ByteQueue',
  'DiagnosticChannel',
  'LATENCY_BUCKETS_SECONDS',
  'NatsChatBus',
  'PROXY_V1_MAX_LENGTH',
  'PROXY_V2_MAX_LENGTH',
  'PROXY_V2_SIGNATURE',
  'SbpDataDecoder',
  'SbpDecoder',
  'buildTlsClientOptions',
  'buildTlsServerOptions',
  'crc32c',
  'decodeVarintInto',
  'readVarint',
  'structValueRuns',
  'toSwitchboardError',
];

describe('public exports', () => {
  it('"switchboard" exports exactly the pinned runtime values', async () => {
    const api = await import('../src/index.js');
    expect(Object.keys(api).sort()).toEqual([...MAIN].sort());
  });

  it('"switchboard/testing" exports exactly the pinned runtime values', async () => {
    const api = await import('../src/testing/index.js');
    expect(Object.keys(api).sort()).toEqual([...TESTING].sort());
  });

  it('no internal name is public', async () => {
    const names = new Set([
      ...Object.keys(await import('../src/index.js')),
      ...Object.keys(await import('../src/testing/index.js')),
    ]);
    expect(INTERNAL.filter((name) => names.has(name))).toEqual([]);
  });

  it('the entry points name each export: no `export *`', () => {
    for (const entry of ['../src/index.ts', '../src/testing/index.ts']) {
      const text = readFileSync(new URL(entry, import.meta.url), 'utf8');
      expect(text, entry).not.toMatch(/export\s*\*/);
    }
  });
});
