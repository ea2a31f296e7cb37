/**
 * The catalog of bad inputs (issue #7): every way a peer can lie, stall, flood or
 * vanish, as data. bad-inputs.test.ts runs each case against an echo server and
 * checks the offending connection gets `expectedCode` while a well-behaved client
 * keeps echoing, and that server memory stays bounded.
 *
 * A case is either bytes (sent in `chunks`, then FIN / RST / nothing) or a scripted
 * behaviour that drives raw sockets through a {@link Peer} the test provides.
 * Cases whose `expectedCode` is `null` are valid edge cases (zero-length frames,
 * a delimiter split across chunks, ...) that must be echoed, not rejected.
 *
 * Cases that share `framing` + `serverOptions` + `fakeClock` + `tls` share one server.
 */
import type * as net from 'node:net';
import { lengthFraming } from '../../src/codec/length.js';
import type { Framing } from '../../src/codec/types.js';
import type { ErrorCode } from '../../src/errors.js';
import type { Channel } from '../../src/net/channel.js';
import { encodeProxyHeader } from '../../src/server/proxy-protocol.js';
import type { ServerOptions } from '../../src/server/server.js';

/** What a scripted behaviour can do; implemented by the test. */
export interface Peer {
  /** A raw TCP connection to the server (PROXY-less, plain). */
  connect(): Promise<net.Socket>;
  /** Writes `bytes` and resolves once the kernel took them (or the socket failed). */
  write(socket: net.Socket, bytes: Uint8Array | string): Promise<void>;
  /** Moves the server's manual clock `ms` forward in small steps, letting the good client echo between steps. */
  advance(ms: number): Promise<void>;
  /** Real-time pause (lets the server read what was written; never used to time assertions). */
  settle(ms?: number): Promise<void>;
  /** Everything the socket received so far, and whether it has closed. */
  seen(socket: net.Socket): { data: Buffer; closed: boolean };
  /** Resolves once the socket is closed (rejects after `limitMs`). */
  closed(socket: net.Socket, limitMs?: number): Promise<void>;
}

/** Sockets the server must fail with `expectedCode` (a script's result). */
export interface ScriptResult {
  offenders: net.Socket[];
}

/** Bytes to send, in chunks (with a real-time gap between chunks), then how to end. */
export interface BytesBehaviour {
  kind: 'bytes';
  chunks: Uint8Array[];
  /** `fin`: half-close after the last chunk; `rst`: reset; `hold`: keep the connection open. */
  end: 'fin' | 'rst' | 'hold';
  /** Real-time gap between chunks in ms, so that they arrive as separate reads. Default 0. */
  gapMs?: number;
}

/** A scripted peer. */
export interface ScriptBehaviour {
  kind: 'script';
  run(peer: Peer): Promise<ScriptResult>;
}

/** One catalog entry. */
export interface BadInputCase {
  name: string;
  /** Framing spec (the label; `serverOptions.framing` overrides it when it is a Framing object). */
  framing: string;
  serverOptions?: Partial<ServerOptions>;
  /** Give the server a manual clock (time-based cases). */
  fakeClock?: boolean;
  /** Serve over TLS (certificates made by the test). */
  tls?: boolean;
  behaviour: BytesBehaviour | ScriptBehaviour;
  /** The code the server reports for the offending connection; `null` = valid input, must be echoed. */
  expectedCode: ErrorCode | null;
  /** For valid cases: the exact bytes the client must get back. */
  expectedReply?: Uint8Array;
  /** Where the server reports it: diagnostics (`frame:error` / `connection:close`, default) or only the errors-by-code metric. */
  observedVia?: 'diagnostics' | 'metrics';
  /** Scripts: the least number of offenders the script must report. Default 1. */
  minOffenders?: number;
}

/** Concatenates strings (latin1), byte arrays and Uint8Arrays. */
export function bytes(...parts: (string | number[] | Uint8Array)[]): Uint8Array {
  return Buffer.concat(
    parts.map((part) =>
      typeof part === 'string'
        ? Buffer.from(part, 'latin1')
        : Array.isArray(part)
          ? Buffer.from(part)
          : Buffer.from(part.buffer, part.byteOffset, part.byteLength),
    ),
  );
}

const send = (chunks: Uint8Array[], end: BytesBehaviour['end'], gapMs = 0): BytesBehaviour => ({
  kind: 'bytes',
  chunks,
  end,
  gapMs,
});
const ff = (count: number): number[] => Array<number>(count).fill(0xff);

/** A framing whose u16 length field counts its own 2 bytes (programmatic option). */
export const LENGTH_INCLUDES_HEADER: Framing = lengthFraming({
  lengthFieldLength: 2,
  lengthIncludesHeader: true,
});

const TAGGED = 'tagged:01=4,02=length:u16be';

const PROXY_SERVER: Partial<ServerOptions> = { proxyProtocol: true, frameTimeout: 1000 };

/** Server limits of the time-based group: writeTimeout < frameTimeout < idleTimeout, all on the manual clock. */
const TIMED_SERVER: Partial<ServerOptions> = {
  idleTimeout: 5000,
  frameTimeout: 3000,
  writeTimeout: 1000,
};

/** An echo handler that, on the frame `flood`, queues 1000 KB of replies without awaiting send(). */
async function floodingEcho(channel: Channel): Promise<void> {
  for (;;) {
    const frame = await channel.receive();
    if (frame === null) {
      return;
    }
    if (Buffer.from(frame).toString() === 'flood') {
      const line = 'y'.repeat(1000);
      for (let index = 0; index < 1000; index++) {
        void channel.send(line).catch(() => undefined);
      }
      continue;
    }
    await channel.send(frame);
  }
}

/** Writes 1 byte every `stepMs` of fake time after a started frame, for `steps` steps. */
function slowloris(start: string | Uint8Array, trickle: string, steps: number): ScriptBehaviour {
  return {
    kind: 'script',
    async run(peer) {
      const socket = await peer.connect();
      await peer.write(socket, start);
      await peer.settle(30);
      for (let step = 0; step < steps && !peer.seen(socket).closed; step++) {
        await peer.write(socket, trickle);
        await peer.settle(5);
        await peer.advance(500);
      }
      return { offenders: [socket] };
    },
  };
}

/** The catalog. */
export const BAD_INPUT_CASES: readonly BadInputCase[] = [
  // ---- line ---------------------------------------------------------------------
  {
    name: 'line: zero-length frame (empty line) is valid and echoed',
    framing: 'line',
    behaviour: send([bytes('\n')], 'hold'),
    expectedCode: null,
    expectedReply: bytes('\n'),
  },
  {
    name: 'line: no LF past maxFrame (70 KiB line, default 64 KiB limit)',
    framing: 'line',
    behaviour: send([bytes('x'.repeat(70 * 1024))], 'hold'),
    expectedCode: 'SB_FRAME_TOO_LARGE',
  },
  {
    name: 'line: last line without its LF, then EOF',
    framing: 'line',
    behaviour: send([bytes('complete\npartial')], 'fin'),
    expectedCode: 'SB_UNEXPECTED_EOF',
  },
  {
    name: 'line: half-close after whole frames: replies flushed, clean close',
    framing: 'line',
    behaviour: send([bytes('one\ntwo\r\n')], 'fin'),
    expectedCode: null,
    expectedReply: bytes('one\ntwo\n'),
  },
  {
    name: 'line: spoofed PROXY v1 header on a server without proxyProtocol is plain data',
    framing: 'line',
    behaviour: send([bytes('PROXY TCP4 203.0.113.9 198.51.100.1 4444 443\r\nhi\n')], 'hold'),
    expectedCode: null,
    expectedReply: bytes('PROXY TCP4 203.0.113.9 198.51.100.1 4444 443\nhi\n'),
  },
  {
    name: 'line: RST in the middle of a line',
    framing: 'line',
    behaviour: send([bytes('half a li')], 'rst', 30),
    expectedCode: 'SB_CONNECTION_RESET',
  },
  // ---- delim ----------------------------------------------------------------------
  {
    name: 'delim:0d0a: delimiter split across chunks is valid',
    framing: 'delim:0d0a',
    behaviour: send([bytes('hello\r'), bytes('\nworld\r'), bytes('\n')], 'hold', 30),
    expectedCode: null,
    expectedReply: bytes('hello\r\nworld\r\n'),
  },
  {
    name: 'delim:0d0a: no delimiter past maxFrame (lone CRs do not count)',
    framing: 'delim:0d0a',
    behaviour: send([bytes('ab\r'.repeat(24 * 1024))], 'hold'),
    expectedCode: 'SB_FRAME_TOO_LARGE',
  },
  {
    name: 'delim:0d0a: truncated at EOF after half the delimiter',
    framing: 'delim:0d0a',
    behaviour: send([bytes('frame\r')], 'fin'),
    expectedCode: 'SB_UNEXPECTED_EOF',
  },
  // ---- length -------------------------------------------------------------------
  {
    name: 'length:u32be: zero-length frame is valid and echoed',
    framing: 'length:u32be',
    behaviour: send([bytes([0, 0, 0, 0])], 'hold'),
    expectedCode: null,
    expectedReply: bytes([0, 0, 0, 0]),
  },
  {
    name: 'length:u32be: header claims 0xffffffff (4 GiB), then 8 MiB of body follows',
    framing: 'length:u32be',
    behaviour: {
      kind: 'script',
      async run(peer) {
        const socket = await peer.connect();
        await peer.write(socket, bytes(ff(4)));
        const body = new Uint8Array(64 * 1024).fill(0x41);
        for (let sent = 0; sent < 128 && !peer.seen(socket).closed; sent++) {
          await peer.write(socket, body);
        }
        return { offenders: [socket] };
      },
    },
    expectedCode: 'SB_FRAME_TOO_LARGE',
  },
  {
    name: 'length:u32be: header one byte over maxFrame (8 MiB + 1)',
    framing: 'length:u32be',
    behaviour: send([bytes([0x00, 0x80, 0x00, 0x01])], 'hold'),
    expectedCode: 'SB_FRAME_TOO_LARGE',
  },
  {
    name: 'length:u32be: truncated inside the header',
    framing: 'length:u32be',
    behaviour: send([bytes([0, 0])], 'fin'),
    expectedCode: 'SB_UNEXPECTED_EOF',
  },
  {
    name: 'length:u32be: truncated inside the body',
    framing: 'length:u32be',
    behaviour: send([bytes([0, 0, 0, 100], 'only ten b')], 'fin'),
    expectedCode: 'SB_UNEXPECTED_EOF',
  },
  {
    name: 'length:u32be: RST mid-frame',
    framing: 'length:u32be',
    behaviour: send([bytes([0, 0, 0, 100], 'x'.repeat(10))], 'rst', 30),
    expectedCode: 'SB_CONNECTION_RESET',
  },
  {
    name: 'length:u64be: header claims 2^64-1',
    framing: 'length:u64be',
    behaviour: send([bytes(ff(8))], 'hold'),
    expectedCode: 'SB_FRAME_TOO_LARGE',
  },
  {
    name: 'length:u64be: header claims 2^53+1 (past exact doubles)',
    framing: 'length:u64be',
    behaviour: send([bytes([0, 0x20, 0, 0, 0, 0, 0, 1])], 'hold'),
    expectedCode: 'SB_FRAME_TOO_LARGE',
  },
  {
    name: 'length:u16be incl. header: length field 1, shorter than its own header',
    framing: 'length:u16be (lengthIncludesHeader)',
    serverOptions: { framing: LENGTH_INCLUDES_HEADER },
    behaviour: send([bytes([0, 1, 0x41])], 'hold'),
    expectedCode: 'SB_BAD_LENGTH_PREFIX',
  },
  // ---- varint -------------------------------------------------------------------
  {
    name: 'varint: zero-length frame is valid and echoed',
    framing: 'varint',
    behaviour: send([bytes([0])], 'hold'),
    expectedCode: null,
    expectedReply: bytes([0]),
  },
  {
    name: 'varint: overlong, 11 continuation bytes',
    framing: 'varint',
    behaviour: send([bytes([...Array<number>(10).fill(0x80), 0x01])], 'hold'),
    expectedCode: 'SB_VARINT_OVERLONG',
  },
  {
    name: 'varint: 10th byte overflows 64 bits',
    framing: 'varint',
    behaviour: send([bytes([...Array<number>(9).fill(0xff), 0x7f])], 'hold'),
    expectedCode: 'SB_VARINT_OVERLONG',
  },
  {
    name: 'varint: claims 2^64-1',
    framing: 'varint',
    behaviour: send([bytes([...Array<number>(9).fill(0xff), 0x01])], 'hold'),
    expectedCode: 'SB_FRAME_TOO_LARGE',
  },
  {
    name: 'varint: claims 1 GiB',
    framing: 'varint',
    behaviour: send([bytes([0x80, 0x80, 0x80, 0x80, 0x04])], 'hold'),
    expectedCode: 'SB_FRAME_TOO_LARGE',
  },
  {
    name: 'varint: truncated inside the prefix',
    framing: 'varint',
    behaviour: send([bytes([0x80])], 'fin'),
    expectedCode: 'SB_UNEXPECTED_EOF',
  },
  {
    name: 'varint: truncated inside the body',
    framing: 'varint',
    behaviour: send([bytes([0x10], 'short')], 'fin'),
    expectedCode: 'SB_UNEXPECTED_EOF',
  },
  // ---- digits -------------------------------------------------------------------
  {
    name: 'digits:8: zero-length frame "00000000" is valid and echoed',
    framing: 'digits:8',
    behaviour: send([bytes('00000000')], 'hold'),
    expectedCode: null,
    expectedReply: bytes('00000000'),
  },
  {
    name: 'digits:8: a letter in the length',
    framing: 'digits:8',
    behaviour: send([bytes('0000a012hello')], 'hold'),
    expectedCode: 'SB_BAD_DIGITS',
  },
  {
    name: 'digits:8: a sign in the length',
    framing: 'digits:8',
    behaviour: send([bytes('-0000005hello')], 'hold'),
    expectedCode: 'SB_BAD_DIGITS',
  },
  {
    name: 'digits:8: 99999999 is past maxFrame',
    framing: 'digits:8',
    behaviour: send([bytes('99999999')], 'hold'),
    expectedCode: 'SB_FRAME_TOO_LARGE',
  },
  {
    name: 'digits:8: truncated inside the length',
    framing: 'digits:8',
    behaviour: send([bytes('0000')], 'fin'),
    expectedCode: 'SB_UNEXPECTED_EOF',
  },
  // ---- netstring ----------------------------------------------------------------
  {
    name: 'netstring: zero-length "0:," is valid and echoed',
    framing: 'netstring',
    behaviour: send([bytes('0:,')], 'hold'),
    expectedCode: null,
    expectedReply: bytes('0:,'),
  },
  {
    name: "netstring: body not followed by ','",
    framing: 'netstring',
    behaviour: send([bytes('5:hello!')], 'hold'),
    expectedCode: 'SB_BAD_NETSTRING',
  },
  {
    name: 'netstring: leading zero in the length',
    framing: 'netstring',
    behaviour: send([bytes('05:hello,')], 'hold'),
    expectedCode: 'SB_BAD_NETSTRING',
  },
  {
    name: "netstring: ':' without a length",
    framing: 'netstring',
    behaviour: send([bytes(':hello,')], 'hold'),
    expectedCode: 'SB_BAD_NETSTRING',
  },
  {
    name: 'netstring: non-digit in the length',
    framing: 'netstring',
    behaviour: send([bytes('1x:a,')], 'hold'),
    expectedCode: 'SB_BAD_DIGITS',
  },
  {
    name: 'netstring: length 999999999999 past maxFrame',
    framing: 'netstring',
    behaviour: send([bytes('999999999999:')], 'hold'),
    expectedCode: 'SB_FRAME_TOO_LARGE',
  },
  {
    name: 'netstring: truncated before the comma',
    framing: 'netstring',
    behaviour: send([bytes('5:hello')], 'fin'),
    expectedCode: 'SB_UNEXPECTED_EOF',
  },
  // ---- tagged -------------------------------------------------------------------
  {
    name: `${TAGGED}: unknown type byte 0x07`,
    framing: TAGGED,
    behaviour: send([bytes([0x07, 1, 2, 3, 4])], 'hold'),
    expectedCode: 'SB_UNKNOWN_TYPE_BYTE',
  },
  {
    name: `${TAGGED}: truncated fixed body (type 01, 2 of 4 bytes)`,
    framing: TAGGED,
    behaviour: send([bytes([0x01, 1, 2])], 'fin'),
    expectedCode: 'SB_UNEXPECTED_EOF',
  },
  {
    name: `${TAGGED}: truncated length-prefixed body (type 02)`,
    framing: TAGGED,
    behaviour: send([bytes([0x02, 0, 10, 1, 2])], 'fin'),
    expectedCode: 'SB_UNEXPECTED_EOF',
  },
  // ---- fixed ------------------------------------------------------------------------
  {
    name: 'fixed:8: truncated frame at EOF',
    framing: 'fixed:8',
    behaviour: send([bytes('12345678abc')], 'fin'),
    expectedCode: 'SB_UNEXPECTED_EOF',
  },
  // ---- mllp -------------------------------------------------------------------------
  {
    name: 'mllp: frame does not start with 0x0b',
    framing: 'mllp',
    serverOptions: { maxFrame: 4096 },
    behaviour: send([bytes('MSH|^~\\&|\x1c\r')], 'hold'),
    expectedCode: 'SB_BAD_MLLP',
  },
  {
    name: 'mllp: end block 0x1c not followed by 0x0d',
    framing: 'mllp',
    serverOptions: { maxFrame: 4096 },
    behaviour: send([bytes('\x0bMSH|x\x1cX')], 'hold'),
    expectedCode: 'SB_BAD_MLLP',
  },
  {
    name: 'mllp: no end block before EOF',
    framing: 'mllp',
    serverOptions: { maxFrame: 4096 },
    behaviour: send([bytes('\x0bMSH|never ends')], 'fin'),
    expectedCode: 'SB_UNEXPECTED_EOF',
  },
  {
    name: 'mllp: no end block past maxFrame',
    framing: 'mllp',
    serverOptions: { maxFrame: 4096 },
    behaviour: send([bytes('\x0b', 'z'.repeat(5000))], 'hold'),
    expectedCode: 'SB_FRAME_TOO_LARGE',
  },
  // ---- content-length -----------------------------------------------------------
  {
    name: 'content-length: header block without Content-Length',
    framing: 'content-length',
    behaviour: send([bytes('Content-Type: text/plain\r\n\r\n{}')], 'hold'),
    expectedCode: 'SB_BAD_HEADER',
  },
  {
    name: 'content-length: negative Content-Length',
    framing: 'content-length',
    behaviour: send([bytes('Content-Length: -5\r\n\r\n')], 'hold'),
    expectedCode: 'SB_BAD_HEADER',
  },
  {
    name: 'content-length: Content-Length twice',
    framing: 'content-length',
    behaviour: send([bytes('Content-Length: 2\r\ncontent-length: 2\r\n\r\n{}')], 'hold'),
    expectedCode: 'SB_BAD_HEADER',
  },
  {
    name: 'content-length: non-numeric Content-Length',
    framing: 'content-length',
    behaviour: send([bytes('Content-Length: 0x10\r\n\r\n')], 'hold'),
    expectedCode: 'SB_BAD_HEADER',
  },
  {
    name: 'content-length: header line ended by a bare LF',
    framing: 'content-length',
    behaviour: send([bytes('Content-Length: 2\n\r\n{}')], 'hold'),
    expectedCode: 'SB_BAD_HEADER',
  },
  {
    name: 'content-length: header block over 8 KiB (endless X- headers)',
    framing: 'content-length',
    behaviour: send([bytes('X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'.repeat(400))], 'hold'),
    expectedCode: 'SB_BAD_HEADER',
  },
  {
    name: 'content-length: Content-Length 18446744073709551615',
    framing: 'content-length',
    behaviour: send([bytes('Content-Length: 18446744073709551615\r\n\r\n')], 'hold'),
    expectedCode: 'SB_FRAME_TOO_LARGE',
  },
  {
    name: 'content-length: body truncated at EOF',
    framing: 'content-length',
    behaviour: send([bytes('Content-Length: 10\r\n\r\n{"a"')], 'fin'),
    expectedCode: 'SB_UNEXPECTED_EOF',
  },
  // ---- PROXY protocol (proxyProtocol: true, line) ---------------------------------
  {
    name: 'proxy: garbage instead of a header (an HTTP request)',
    framing: 'line',
    serverOptions: PROXY_SERVER,
    fakeClock: true,
    behaviour: send([bytes('GET / HTTP/1.1\r\nHost: x\r\n\r\n')], 'hold'),
    expectedCode: 'SB_PROXY_HEADER_INVALID',
  },
  {
    name: 'proxy: v1 truncated, then EOF',
    framing: 'line',
    serverOptions: PROXY_SERVER,
    fakeClock: true,
    behaviour: send([bytes('PROXY TCP4 192.0.2.1 ')], 'fin'),
    expectedCode: 'SB_PROXY_HEADER_INVALID',
  },
  {
    name: 'proxy: v1 longer than 107 bytes without CRLF',
    framing: 'line',
    serverOptions: PROXY_SERVER,
    fakeClock: true,
    behaviour: send([bytes(`PROXY TCP4 ${'1'.repeat(120)}`)], 'hold'),
    expectedCode: 'SB_PROXY_HEADER_INVALID',
  },
  {
    name: 'proxy: v1 spoofed with mismatched family (TCP4 with IPv6 addresses)',
    framing: 'line',
    serverOptions: PROXY_SERVER,
    fakeClock: true,
    behaviour: send([bytes('PROXY TCP4 2001:db8::1 2001:db8::2 1000 2000\r\nhi\n')], 'hold'),
    expectedCode: 'SB_PROXY_HEADER_INVALID',
  },
  {
    name: 'proxy: v1 port out of range',
    framing: 'line',
    serverOptions: PROXY_SERVER,
    fakeClock: true,
    behaviour: send([bytes('PROXY TCP4 192.0.2.1 192.0.2.2 70000 80\r\n')], 'hold'),
    expectedCode: 'SB_PROXY_HEADER_INVALID',
  },
  {
    name: 'proxy: v2 truncated after the signature, then EOF',
    framing: 'line',
    serverOptions: PROXY_SERVER,
    fakeClock: true,
    behaviour: send(
      [
        encodeProxyHeader({
          version: 2,
          source: { address: '192.0.2.1', port: 1 },
          destination: { address: '192.0.2.2', port: 2 },
        }).subarray(0, 14),
      ],
      'fin',
    ),
    expectedCode: 'SB_PROXY_HEADER_INVALID',
  },
  {
    name: 'proxy: v2 with a tampered address (CRC32C TLV no longer matches)',
    framing: 'line',
    serverOptions: PROXY_SERVER,
    fakeClock: true,
    behaviour: send(
      [
        (() => {
          const header = encodeProxyHeader({
            version: 2,
            source: { address: '192.0.2.1', port: 1000 },
            destination: { address: '192.0.2.2', port: 2000 },
            checksum: true,
          }).slice();
          header[16] = 10; // source address 192.0.2.1 -> 10.0.2.1 (spoofed after signing)
          return header;
        })(),
      ],
      'hold',
    ),
    expectedCode: 'SB_PROXY_HEADER_INVALID',
  },
  {
    name: 'proxy: v2 with version nibble 3',
    framing: 'line',
    serverOptions: PROXY_SERVER,
    fakeClock: true,
    behaviour: send(
      [
        (() => {
          const header = encodeProxyHeader({
            version: 2,
            source: { address: '192.0.2.1', port: 1000 },
            destination: { address: '192.0.2.2', port: 2000 },
          }).slice();
          header[12] = 0x31;
          return header;
        })(),
      ],
      'hold',
    ),
    expectedCode: 'SB_PROXY_HEADER_INVALID',
  },
  {
    name: 'proxy: header started and never finished (frameTimeout)',
    framing: 'line',
    serverOptions: PROXY_SERVER,
    fakeClock: true,
    behaviour: {
      kind: 'script',
      async run(peer) {
        const socket = await peer.connect();
        await peer.write(socket, 'PROXY TCP4 19');
        await peer.settle(30);
        await peer.advance(1500);
        return { offenders: [socket] };
      },
    },
    expectedCode: 'SB_FRAME_TIMEOUT',
  },
  // ---- TLS ------------------------------------------------------------------------
  {
    name: 'tls: random garbage on a TLS port',
    framing: 'line',
    tls: true,
    behaviour: send(
      [bytes(Array.from({ length: 512 }, (_, index) => (index * 131 + 7) & 0xff))],
      'hold',
    ),
    expectedCode: 'SB_TLS_ERROR',
  },
  {
    name: 'tls: plain-text line protocol on a TLS port',
    framing: 'line',
    tls: true,
    behaviour: send([bytes('hello, is this the echo server?\n')], 'hold'),
    expectedCode: 'SB_TLS_ERROR',
  },
  {
    name: 'tls: a TLS record header claiming a handshake, then EOF',
    framing: 'line',
    tls: true,
    behaviour: send([bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])], 'fin'),
    expectedCode: 'SB_TLS_ERROR',
  },
  // ---- time-based (manual clock; writeTimeout 1 s < frameTimeout 3 s < idleTimeout 5 s)
  {
    name: 'slowloris: a line trickled 1 byte per 500 ms (frameTimeout)',
    framing: 'line',
    serverOptions: TIMED_SERVER,
    fakeClock: true,
    behaviour: slowloris('G', 'E', 10),
    expectedCode: 'SB_FRAME_TIMEOUT',
  },
  {
    name: 'idle: connects and never sends a byte (idleTimeout)',
    framing: 'line',
    serverOptions: TIMED_SERVER,
    fakeClock: true,
    behaviour: {
      kind: 'script',
      async run(peer) {
        const socket = await peer.connect();
        await peer.settle(20);
        await peer.advance(5500);
        return { offenders: [socket] };
      },
    },
    expectedCode: 'SB_IDLE_TIMEOUT',
  },
  {
    name: 'half-open peer: talks, then vanishes without FIN or RST (idleTimeout)',
    framing: 'line',
    serverOptions: TIMED_SERVER,
    fakeClock: true,
    behaviour: {
      kind: 'script',
      async run(peer) {
        const socket = await peer.connect();
        await peer.write(socket, 'are you there?\n');
        for (let wait = 0; wait < 200 && peer.seen(socket).data.length < 15; wait++) {
          await peer.settle(5);
        }
        if (peer.seen(socket).data.toString() !== 'are you there?\n') {
          throw new Error('half-open case: the first echo did not arrive');
        }
        await peer.advance(5500);
        return { offenders: [socket] };
      },
    },
    expectedCode: 'SB_IDLE_TIMEOUT',
  },
  {
    name: 'never reads: pushes 32 KiB lines, reads no echo (writeTimeout)',
    framing: 'line',
    serverOptions: TIMED_SERVER,
    fakeClock: true,
    behaviour: {
      kind: 'script',
      async run(peer) {
        const socket = await peer.connect();
        socket.pause();
        const line = bytes('w'.repeat(32 * 1024 - 1), '\n');
        for (let round = 0; round < 1000; round++) {
          if (socket.write(line)) {
            continue;
          }
          const drained = await Promise.race([
            new Promise<boolean>((resolve) => socket.once('drain', () => resolve(true))),
            peer.settle(200).then(() => false),
          ]);
          if (!drained) {
            break;
          }
        }
        await peer.advance(1500);
        socket.resume();
        return { offenders: [socket] };
      },
    },
    expectedCode: 'SB_WRITE_TIMEOUT',
  },
  // ---- a handler that does not await send() ------------------------------------------
  {
    name: 'never reads, handler floods without awaiting send (maxQueuedOutput 64 KiB)',
    framing: 'line',
    serverOptions: { handler: floodingEcho, maxQueuedOutput: 64 * 1024 },
    behaviour: {
      kind: 'script',
      async run(peer) {
        const socket = await peer.connect();
        socket.pause();
        await peer.write(socket, 'flood\n');
        await peer.settle(50);
        socket.resume();
        return { offenders: [socket] };
      },
    },
    expectedCode: 'SB_OUTPUT_QUEUE_FULL',
  },
  // ---- connection flood ----------------------------------------------------------
  {
    name: 'flood: 12 connections at once past maxConnections 4 (good client holds 1)',
    framing: 'line',
    serverOptions: { maxConnections: 4 },
    behaviour: {
      kind: 'script',
      async run(peer) {
        const sockets = await Promise.all(Array.from({ length: 12 }, () => peer.connect()));
        await Promise.all(sockets.map((socket) => peer.write(socket, 'hi\n')));
        // Each either echoes (served) or gets the refusal line and a close.
        for (let wait = 0; wait < 400; wait++) {
          const settled = sockets.every((socket) => {
            const { data, closed } = peer.seen(socket);
            return closed || data.toString() === 'hi\n';
          });
          if (settled) {
            break;
          }
          await peer.settle(5);
        }
        const refused = sockets.filter((socket) =>
          peer.seen(socket).data.toString().startsWith('SB_TOO_MANY_CONNECTIONS '),
        );
        const served = sockets.filter((socket) => !refused.includes(socket));
        for (const socket of served) {
          socket.end();
        }
        await Promise.all(served.map((socket) => peer.closed(socket)));
        return { offenders: refused };
      },
    },
    expectedCode: 'SB_TOO_MANY_CONNECTIONS',
    minOffenders: 9,
  },
];
