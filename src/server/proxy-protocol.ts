/**
 * PROXY protocol v1 and v2 (HAProxy), sans-IO.
 *
 * Theory of operation
 * -------------------
 * A proxy in front of the server (HAProxy `send-proxy` / `send-proxy-v2`, AWS NLB,
 * ...) writes one header at the very start of each connection that tells the
 * server who the original client was. The header comes before any application
 * byte, so the server reads it first and only then hands the rest of the stream
 * to the framing decoder.
 *
 * {@link ProxyHeaderDecoder} is fed bytes with `push()` and asked with `next()`:
 * it returns the parsed {@link ProxyHeader}, or {@link NEED_DATA}, or throws a
 * {@link FrameError} with code `SB_PROXY_HEADER_INVALID` (sticky, like every
 * switchboard decoder). After a header, `remainder()` returns the bytes that
 * followed it (application data, untouched).
 *
 * States:
 *
 * | state      | on bytes                                  | next            |
 * |------------|-------------------------------------------|-----------------|
 * | DETECT     | the bytes so far must be a prefix of `PROXY ` or the v2 signature | V1 / V2 / ERROR |
 * | V1         | wait for CRLF within 107 bytes            | DONE / ERROR    |
 * | V2         | wait for 16 + len bytes (len <= 65535)     | DONE / ERROR    |
 * | DONE       | header returned once; later `next()` calls return it again | - |
 * | ERROR      | every call rethrows the same error         | -               |
 *
 * Bounds: garbage is rejected as soon as one byte diverges from both
 * signatures; v1 is rejected past 107 bytes without CRLF; v2 never buffers more
 * than 16 + 65535 bytes, and the declared length is checked against what the
 * address family needs before anything is allocated for it. Error messages name
 * the rule broken and the sizes, never the peer's bytes.
 *
 * Reference: HAProxy "The PROXY protocol" versions 1 & 2 (proxy-protocol.txt).
 */

import { checkBytes, checkObject } from '../arguments.js';
import { NEED_DATA, type NeedData } from '../codec/types.js';
import { FrameError, InvalidArgumentError } from '../errors.js';

/** The 12-byte v2 signature: `\r\n\r\n\0\r\nQUIT\n`. */
export const PROXY_V2_SIGNATURE: Uint8Array = Uint8Array.of(
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
);
const V1_PREFIX = Uint8Array.of(0x50, 0x52, 0x4f, 0x58, 0x59, 0x20); // "PROXY "
/** Longest v1 header, CRLF included (spec: 107 bytes). */
export const PROXY_V1_MAX_LENGTH = 107;
/** Longest v2 header: 16 fixed bytes + a 16-bit length. */
export const PROXY_V2_MAX_LENGTH = 16 + 0xffff;
const V2_FIXED = 16;
const UNIX_PATH_BYTES = 108;

/** TLV types defined by the v2 spec (section 2.2). */
export const PROXY_TLV = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  NETNS: 0x30,
} as const;

/** Address family of a PROXY header. `unspec` means "no addresses carried". */
export type ProxyFamily = 'IPv4' | 'IPv6' | 'unix' | 'unspec';
/** Transport of a PROXY header (v1 is always `stream`, or `unspec` for UNKNOWN). */
export type ProxyTransport = 'stream' | 'dgram' | 'unspec';

/**
 * One endpoint. For `unix`, `address` is the path (abstract names start with `@`;
 * control characters and `\` are written `\xNN`) and `port` is 0.
 */
export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

/** One v2 type-length-value extension. `value` is a copy, independent of the input. */
export interface ProxyTlv {
  readonly type: number;
  readonly value: Uint8Array;
}

/** A parsed PROXY header. */
export interface ProxyHeader {
  /** 1 (text) or 2 (binary). */
  readonly version: 1 | 2;
  /**
   * `proxy`: the addresses describe the original connection. `local`: the proxy
   * itself connected (health checks); use the real socket addresses.
   */
  readonly command: 'proxy' | 'local';
  readonly family: ProxyFamily;
  readonly transport: ProxyTransport;
  /** The original client, or `null` for `local` and `unspec`. */
  readonly source: ProxyEndpoint | null;
  /** The address the client connected to, or `null` for `local` and `unspec`. */
  readonly destination: ProxyEndpoint | null;
  /** v2 extensions in wire order (empty for v1). */
  readonly tlvs: readonly ProxyTlv[];
  /** Wire length of the header in bytes. */
  readonly length: number;
}

function invalid(message: string): FrameError {
  return new FrameError('SB_PROXY_HEADER_INVALID', `PROXY header: ${message}`, { offset: 0 });
}

type DecoderState = 'detect' | 'v1' | 'v2' | 'done' | 'error';

/**
 * Incremental PROXY v1/v2 header decoder (sans-IO). Feed it with `push()`, poll
 * with `next()`; after a header, `remainder()` gives the bytes that followed it.
 */
export class ProxyHeaderDecoder {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #state: DecoderState = 'detect';
  #error: FrameError | null = null;
  #header: ProxyHeader | null = null;
  #remainder: Uint8Array = new Uint8Array(0);
  /** How many bytes of the v1 line were already searched for CRLF (no rescans). */
  #v1Searched = 0;

  /** Bytes pushed and not yet consumed by a header. */
  get buffered(): number {
    return this.#header === null ? this.#buffered : this.#remainder.byteLength;
  }

  /** Appends bytes. After the header was returned, pushed bytes go to the remainder. */
  push(chunk: Uint8Array): void {
    checkBytes('ProxyHeaderDecoder.push', 'chunk', chunk);
    if (this.#state === 'error') {
      throw this.#error;
    }
    if (chunk.byteLength === 0) {
      return;
    }
    if (this.#state === 'done') {
      this.#remainder = concat(
        [this.#remainder, chunk],
        this.#remainder.byteLength + chunk.byteLength,
      );
      return;
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
  }

  /**
   * Returns the header once complete, {@link NEED_DATA} while more bytes are needed,
   * or throws `FrameError` (`SB_PROXY_HEADER_INVALID`, sticky).
   */
  next(): ProxyHeader | NeedData {
    if (this.#state === 'error') {
      throw this.#error;
    }
    if (this.#header !== null) {
      return this.#header;
    }
    try {
      return this.#advance();
    } catch (error) {
      this.#state = 'error';
      this.#error = error instanceof FrameError ? error : invalid('internal parser error');
      this.#chunks = [];
      throw this.#error;
    }
  }

  /**
   * Declares the input finished. Throws `SB_PROXY_HEADER_INVALID` when no complete
   * header arrived (a connection that closes before its header is not valid).
   */
  end(): void {
    if (this.next() === NEED_DATA) {
      this.#state = 'error';
      this.#error = invalid(
        `connection ended after ${this.#buffered} bytes, before a complete header`,
      );
      throw this.#error;
    }
  }

  /** The bytes that followed the header (valid after `next()` returned a header). */
  remainder(): Uint8Array {
    return this.#remainder;
  }

  #advance(): ProxyHeader | NeedData {
    if (this.#state === 'detect') {
      const head = this.#peek(Math.min(this.#buffered, PROXY_V2_SIGNATURE.byteLength));
      if (isPrefixOf(head, PROXY_V2_SIGNATURE)) {
        if (head.byteLength < PROXY_V2_SIGNATURE.byteLength) {
          return NEED_DATA;
        }
        this.#state = 'v2';
      } else if (isPrefixOf(head.subarray(0, V1_PREFIX.byteLength), V1_PREFIX)) {
        if (head.byteLength < V1_PREFIX.byteLength) {
          return NEED_DATA;
        }
        this.#state = 'v1';
      } else {
        throw invalid('no v1 or v2 signature at the start of the connection');
      }
    }
    if (this.#state === 'v1') {
      return this.#advanceV1();
    }
    return this.#advanceV2();
  }

  #advanceV1(): ProxyHeader | NeedData {
    const window = this.#peek(Math.min(this.#buffered, PROXY_V1_MAX_LENGTH));
    let end = -1;
    for (let index = Math.max(1, this.#v1Searched); index < window.byteLength; index++) {
      if (window[index] === 0x0a) {
        if (window[index - 1] !== 0x0d) {
          throw invalid('v1 line ends with LF without CR');
        }
        end = index + 1;
        break;
      }
    }
    if (end === -1) {
      this.#v1Searched = window.byteLength;
      if (window.byteLength >= PROXY_V1_MAX_LENGTH) {
        throw invalid(`v1 line longer than ${PROXY_V1_MAX_LENGTH} bytes`);
      }
      return NEED_DATA;
    }
    const header = parseV1Line(window.subarray(0, end));
    return this.#finish(header);
  }

  #advanceV2(): ProxyHeader | NeedData {
    if (this.#buffered < V2_FIXED) {
      return NEED_DATA;
    }
    const fixed = this.#peek(V2_FIXED);
    const versionCommand = fixed[12]!;
    if (versionCommand >> 4 !== 2) {
      throw invalid(`v2 version nibble is ${versionCommand >> 4}, expected 2`);
    }
    const commandNibble = versionCommand & 0x0f;
    if (commandNibble > 1) {
      throw invalid(`v2 command ${commandNibble} is not LOCAL (0) or PROXY (1)`);
    }
    const familyByte = fixed[13]!;
    const familyNibble = familyByte >> 4;
    const transportNibble = familyByte & 0x0f;
    if (familyNibble > 3 || transportNibble > 2) {
      throw invalid(
        `v2 family/transport byte 0x${familyByte.toString(16).padStart(2, '0')} is undefined`,
      );
    }
    const declared = (fixed[14]! << 8) | fixed[15]!;
    const family = (['unspec', 'IPv4', 'IPv6', 'unix'] as const)[familyNibble]!;
    const needed = ADDRESS_BYTES[family];
    if (commandNibble === 1 && declared < needed) {
      throw invalid(
        `v2 length ${declared} is shorter than the ${needed} bytes of a ${family} address block`,
      );
    }
    if (this.#buffered < V2_FIXED + declared) {
      return NEED_DATA;
    }
    const whole = this.#peek(V2_FIXED + declared);
    const header = parseV2Body(
      whole,
      commandNibble === 1 ? 'proxy' : 'local',
      family,
      transportNibble,
    );
    return this.#finish(header);
  }

  #finish(header: ProxyHeader): ProxyHeader {
    const all = this.#peek(this.#buffered);
    this.#remainder = all.subarray(header.length);
    this.#chunks = [];
    this.#buffered = 0;
    this.#header = header;
    this.#state = 'done';
    return header;
  }

  /** Returns the first `count` buffered bytes as one view, merging chunks once when needed. */
  #peek(count: number): Uint8Array {
    const first = this.#chunks[0];
    if (first === undefined) {
      return new Uint8Array(0);
    }
    if (first.byteLength >= count) {
      return first.subarray(0, count);
    }
    const merged = concat(this.#chunks, this.#buffered);
    this.#chunks = [merged];
    return merged.subarray(0, count);
  }
}

const ADDRESS_BYTES: Record<ProxyFamily, number> = {
  unspec: 0,
  IPv4: 12,
  IPv6: 36,
  unix: 2 * UNIX_PATH_BYTES,
};

function isPrefixOf(head: Uint8Array, signature: Uint8Array): boolean {
  for (let index = 0; index < head.byteLength; index++) {
    if (head[index] !== signature[index]) {
      return false;
    }
  }
  return true;
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

const IPV4_PATTERN = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const PORT_PATTERN = /^(0|[1-9]\d{0,4})$/;

function parseV1Line(line: Uint8Array): ProxyHeader {
  // The line is ASCII by spec; any byte outside printable ASCII (besides the CRLF) is garbage.
  for (let index = 0; index < line.byteLength - 2; index++) {
    const byte = line[index]!;
    if (byte < 0x20 || byte > 0x7e) {
      throw invalid(`v1 line has a non-printable byte at offset ${index}`);
    }
  }
  const text = new TextDecoder('latin1').decode(line.subarray(0, line.byteLength - 2));
  const fields = text.split(' ');
  const protocol = fields[1];
  if (protocol === 'UNKNOWN') {
    // Spec: "the receiver must ignore anything presented before the CRLF".
    return {
      version: 1,
      command: 'proxy',
      family: 'unspec',
      transport: 'unspec',
      source: null,
      destination: null,
      tlvs: [],
      length: line.byteLength,
    };
  }
  if (protocol !== 'TCP4' && protocol !== 'TCP6') {
    throw invalid('v1 protocol is not TCP4, TCP6 or UNKNOWN');
  }
  if (fields.length !== 6) {
    throw invalid(`v1 line has ${fields.length} fields, expected 6`);
  }
  const [, , sourceAddress, destinationAddress, sourcePort, destinationPort] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const family: ProxyFamily = protocol === 'TCP4' ? 'IPv4' : 'IPv6';
  for (const address of [sourceAddress, destinationAddress]) {
    const ok = family === 'IPv4' ? IPV4_PATTERN.test(address) : isIPv6Text(address);
    if (!ok) {
      throw invalid(`v1 address is not a valid ${family} address`);
    }
  }
  return {
    version: 1,
    command: 'proxy',
    family,
    transport: 'stream',
    source: { address: sourceAddress, port: parseV1Port(sourcePort) },
    destination: { address: destinationAddress, port: parseV1Port(destinationPort) },
    tlvs: [],
    length: line.byteLength,
  };
}

function parseV1Port(text: string): number {
  if (!PORT_PATTERN.test(text)) {
    throw invalid('v1 port is not a decimal number without leading zeros');
  }
  const port = Number(text);
  if (port > 0xffff) {
    throw invalid('v1 port is above 65535');
  }
  return port;
}

function isIPv6Text(text: string): boolean {
  return ipv6TextToBytes(text) !== null;
}

/** Parses RFC 4291 text (with "::" and an optional embedded IPv4 tail); null when invalid. */
function ipv6TextToBytes(text: string): Uint8Array | null {
  if (text.length < 2 || text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) {
    return null;
  }
  const halves = text.split('::');
  if (halves.length > 2) {
    return null;
  }
  const parseGroups = (part: string): number[] | null => {
    if (part === '') {
      return [];
    }
    const groups: number[] = [];
    const pieces = part.split(':');
    for (let index = 0; index < pieces.length; index++) {
      const piece = pieces[index]!;
      if (index === pieces.length - 1 && piece.includes('.')) {
        if (!IPV4_PATTERN.test(piece)) {
          return null;
        }
        const [a, b, c, d] = piece.split('.').map(Number) as [number, number, number, number];
        groups.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        groups.push(Number.parseInt(piece, 16));
      } else {
        return null;
      }
    }
    return groups;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (head === null || tail === null) {
    return null;
  }
  const present = head.length + tail.length;
  if (halves.length === 2 ? present > 7 : present !== 8) {
    return null;
  }
  const groups = [...head, ...Array<number>(8 - present).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((group, index) => {
    out[2 * index] = group >> 8;
    out[2 * index + 1] = group & 0xff;
  });
  return out;
}

function parseV2Body(
  whole: Uint8Array,
  command: 'proxy' | 'local',
  family: ProxyFamily,
  transportNibble: number,
): ProxyHeader {
  const transport = (['unspec', 'stream', 'dgram'] as const)[transportNibble]!;
  const view = new DataView(whole.buffer, whole.byteOffset, whole.byteLength);
  // LOCAL: "the receiver must accept this connection as valid and must use the real
  // connection endpoints and discard the protocol block including the family". We still
  // parse TLVs after the address block when the family is known and fits.
  let source: ProxyEndpoint | null = null;
  let destination: ProxyEndpoint | null = null;
  let addressBytes = ADDRESS_BYTES[family];
  if (addressBytes > whole.byteLength - V2_FIXED) {
    // Only reachable for LOCAL (PROXY was length-checked): ignore the block entirely.
    addressBytes = whole.byteLength - V2_FIXED;
  } else if (command === 'proxy') {
    const at = V2_FIXED;
    if (family === 'IPv4') {
      source = { address: formatIPv4(whole, at), port: view.getUint16(at + 8) };
      destination = { address: formatIPv4(whole, at + 4), port: view.getUint16(at + 10) };
    } else if (family === 'IPv6') {
      source = { address: formatIPv6(whole, at), port: view.getUint16(at + 32) };
      destination = { address: formatIPv6(whole, at + 16), port: view.getUint16(at + 34) };
    } else if (family === 'unix') {
      source = { address: formatUnixPath(whole.subarray(at, at + UNIX_PATH_BYTES)), port: 0 };
      destination = {
        address: formatUnixPath(whole.subarray(at + UNIX_PATH_BYTES, at + 2 * UNIX_PATH_BYTES)),
        port: 0,
      };
    }
  }
  const tlvs = parseTlvs(whole, V2_FIXED + addressBytes);
  const checksum = tlvs.find((tlv) => tlv.type === PROXY_TLV.CRC32C);
  if (checksum !== undefined) {
    verifyChecksum(whole, checksum);
  }
  return {
    version: 2,
    command,
    family: command === 'local' ? 'unspec' : family,
    transport,
    source,
    destination,
    tlvs,
    length: whole.byteLength,
  };
}

function parseTlvs(whole: Uint8Array, start: number): ProxyTlv[] {
  const tlvs: ProxyTlv[] = [];
  let at = start;
  while (at < whole.byteLength) {
    if (whole.byteLength - at < 3) {
      throw invalid(`v2 TLV header truncated: ${whole.byteLength - at} bytes left, need 3`);
    }
    const type = whole[at]!;
    const length = (whole[at + 1]! << 8) | whole[at + 2]!;
    if (at + 3 + length > whole.byteLength) {
      throw invalid(`v2 TLV declares ${length} bytes, only ${whole.byteLength - at - 3} remain`);
    }
    tlvs.push({ type, value: whole.slice(at + 3, at + 3 + length) });
    at += 3 + length;
  }
  return tlvs;
}

function verifyChecksum(whole: Uint8Array, tlv: ProxyTlv): void {
  if (tlv.value.byteLength !== 4) {
    throw invalid(`v2 CRC32C TLV has ${tlv.value.byteLength} bytes, expected 4`);
  }
  const expected = new DataView(tlv.value.buffer, tlv.value.byteOffset, 4).getUint32(0);
  // The checksum covers the whole header with the checksum field itself set to zero.
  const copy = whole.slice();
  const fieldAt = findTlvValueOffset(copy, PROXY_TLV.CRC32C);
  copy.fill(0, fieldAt, fieldAt + 4);
  if (crc32c(copy) !== expected) {
    throw invalid('v2 CRC32C checksum does not match the header');
  }
}

function findTlvValueOffset(whole: Uint8Array, type: number): number {
  const familyNibble = whole[13]! >> 4;
  const family = (['unspec', 'IPv4', 'IPv6', 'unix'] as const)[familyNibble]!;
  let at = V2_FIXED + Math.min(ADDRESS_BYTES[family], whole.byteLength - V2_FIXED);
  while (at < whole.byteLength) {
    const length = (whole[at + 1]! << 8) | whole[at + 2]!;
    if (whole[at] === type) {
      return at + 3;
    }
    at += 3 + length;
  }
  return whole.byteLength;
}

function formatIPv4(bytes: Uint8Array, at: number): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
}

/** RFC 5952 text form: lowercase, leading zeros dropped, the longest zero run as "::". */
function formatIPv6(bytes: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let index = 0; index < 8; index++) {
    groups.push((bytes[at + 2 * index]! << 8) | bytes[at + 2 * index + 1]!);
  }
  let bestStart = -1;
  let bestLength = 0;
  for (let index = 0; index < 8; ) {
    if (groups[index] !== 0) {
      index++;
      continue;
    }
    let end = index;
    while (end < 8 && groups[end] === 0) {
      end++;
    }
    if (end - index > bestLength && end - index >= 2) {
      bestStart = index;
      bestLength = end - index;
    }
    index = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) {
    return hex.join(':');
  }
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLength).join(':');
  return `${head}::${tail}`;
}

function formatUnixPath(field: Uint8Array): string {
  if (field[0] === 0) {
    // Linux abstract namespace: leading NUL, name padded with NULs.
    let end = field.byteLength;
    while (end > 1 && field[end - 1] === 0) {
      end--;
    }
    return end <= 1 ? '' : `@${pathText(field.subarray(1, end))}`;
  }
  const nul = field.indexOf(0);
  return pathText(field.subarray(0, nul === -1 ? field.byteLength : nul));
}

/**
 * A unix path as text, with control characters (C0, DEL, C1) and `\` written `\xNN`:
 * the path is the peer's bytes and becomes the connection's remoteAddress, which logs
 * print (`serve --verbose`); raw, an ESC or a LF in it would drive the reader's
 * terminal or forge log lines. Legitimate paths have none, so they read as they are.
 */
function pathText(bytes: Uint8Array): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
  return new TextDecoder().decode(bytes).replace(/[\u0000-\u001f\u007f-\u009f\\]/g, (char) => {
    return `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

let crc32cTable: Uint32Array | null = null;

/** CRC-32C (Castagnoli), as used by the v2 `PP2_TYPE_CRC32C` TLV. */
export function crc32c(bytes: Uint8Array): number {
  if (crc32cTable === null) {
    crc32cTable = new Uint32Array(256);
    for (let index = 0; index < 256; index++) {
      let value = index;
      for (let bit = 0; bit < 8; bit++) {
        value = value & 1 ? (value >>> 1) ^ 0x82f63b78 : value >>> 1;
      }
      crc32cTable[index] = value >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc = crc32cTable[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * Parses one complete PROXY header at the start of `bytes`. Returns the header
 * and the bytes after it, or {@link NEED_DATA} when `bytes` holds only a prefix of
 * a header. Throws `FrameError` (`SB_PROXY_HEADER_INVALID`).
 */
export function parseProxyHeader(
  bytes: Uint8Array,
): { header: ProxyHeader; rest: Uint8Array } | NeedData {
  checkBytes('parseProxyHeader', 'bytes', bytes);
  const decoder = new ProxyHeaderDecoder();
  decoder.push(bytes);
  const header = decoder.next();
  if (header === NEED_DATA) {
    return NEED_DATA;
  }
  return { header, rest: decoder.remainder() };
}

/** What {@link encodeProxyHeader} needs. */
export interface ProxyHeaderInit {
  /** 1 (text) or 2 (binary). */
  version: 1 | 2;
  /** Default `proxy`. v1 has no LOCAL; use `family: 'unspec'` (UNKNOWN) there. */
  command?: 'proxy' | 'local';
  /** Default: `IPv4`/`IPv6` guessed from `source.address`; `unspec` when there is no source. */
  family?: ProxyFamily;
  /** v2 only. Default `stream` (or `unspec` for `unspec`/`local`). */
  transport?: ProxyTransport;
  source?: ProxyEndpoint;
  destination?: ProxyEndpoint;
  /** v2 only: TLVs written after the addresses (not CRC32C: use `checksum`). */
  tlvs?: readonly ProxyTlv[];
  /** v2 only: append a `PP2_TYPE_CRC32C` TLV with the header checksum. */
  checksum?: boolean;
}

/**
 * Encodes a PROXY header (for tests, and for clients and proxies that must
 * speak to a PROXY-enabled server). Throws `InvalidArgumentError` on bad input.
 */
export function encodeProxyHeader(init: ProxyHeaderInit): Uint8Array {
  checkProxyInit(init);
  const command = init.command ?? 'proxy';
  const family =
    init.family ??
    (init.source === undefined ? 'unspec' : init.source.address.includes(':') ? 'IPv6' : 'IPv4');
  if (init.version === 1) {
    return encodeV1(command, family, init);
  }
  return encodeV2(command, family, init);
}

/** Checks the shape of an init from plain JS: each field's type and enum, not its text. */
function checkProxyInit(init: ProxyHeaderInit): void {
  const bad = (what: string): InvalidArgumentError =>
    new InvalidArgumentError('SB_INVALID_ARGUMENT', `encodeProxyHeader: ${what}`);
  checkObject('encodeProxyHeader', 'init', init);
  const oneOf = (value: unknown, allowed: readonly unknown[]): boolean =>
    value === undefined || allowed.includes(value);
  if (init.version !== 1 && init.version !== 2) {
    throw bad('version must be 1 or 2');
  }
  if (
    !oneOf(init.command, ['proxy', 'local']) ||
    !oneOf(init.family, ['IPv4', 'IPv6', 'unix', 'unspec']) ||
    !oneOf(init.transport, ['stream', 'dgram', 'unspec']) ||
    !oneOf(init.checksum, [true, false])
  ) {
    throw bad('command, family, transport or checksum is not one of its documented values');
  }
  for (const endpoint of [init.source, init.destination]) {
    if (
      endpoint !== undefined &&
      (typeof endpoint !== 'object' || endpoint === null || typeof endpoint.address !== 'string')
    ) {
      throw bad('source and destination must be { address: string, port: number }');
    }
  }
  if (
    init.tlvs !== undefined &&
    (!Array.isArray(init.tlvs) ||
      !init.tlvs.every(
        (tlv) => typeof tlv === 'object' && tlv !== null && tlv.value instanceof Uint8Array,
      ))
  ) {
    throw bad('tlvs must be an array of { type: number, value: Uint8Array }');
  }
}

function requireEndpoints(init: ProxyHeaderInit): [ProxyEndpoint, ProxyEndpoint] {
  if (init.source === undefined || init.destination === undefined) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      'encodeProxyHeader: source and destination are required',
    );
  }
  for (const endpoint of [init.source, init.destination]) {
    if (!Number.isInteger(endpoint.port) || endpoint.port < 0 || endpoint.port > 0xffff) {
      throw new InvalidArgumentError(
        'SB_INVALID_ARGUMENT',
        'encodeProxyHeader: port must be an integer 0..65535',
      );
    }
  }
  return [init.source, init.destination];
}

function encodeV1(
  command: 'proxy' | 'local',
  family: ProxyFamily,
  init: ProxyHeaderInit,
): Uint8Array {
  if (command === 'local' || family === 'unspec') {
    return new TextEncoder().encode('PROXY UNKNOWN\r\n');
  }
  if (family === 'unix') {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      'encodeProxyHeader: v1 cannot carry unix addresses',
    );
  }
  const [source, destination] = requireEndpoints(init);
  for (const endpoint of [source, destination]) {
    const ok =
      family === 'IPv4' ? IPV4_PATTERN.test(endpoint.address) : isIPv6Text(endpoint.address);
    if (!ok) {
      throw new InvalidArgumentError(
        'SB_INVALID_ARGUMENT',
        `encodeProxyHeader: address is not a valid ${family} address`,
      );
    }
  }
  const protocol = family === 'IPv4' ? 'TCP4' : 'TCP6';
  // IPv6 goes out in its RFC 5952 form (as inet_ntop writes it): a valid but long
  // spelling (up to 45 characters, e.g. with an embedded IPv4 tail) would push the
  // line past the 107 bytes every receiver accepts; the canonical form is at most 39.
  const text = (address: string): string =>
    family === 'IPv4' ? address : formatIPv6(parseIPv6Bytes(address), 0);
  return new TextEncoder().encode(
    `PROXY ${protocol} ${text(source.address)} ${text(destination.address)} ${source.port} ${destination.port}\r\n`,
  );
}

function encodeV2(
  command: 'proxy' | 'local',
  family: ProxyFamily,
  init: ProxyHeaderInit,
): Uint8Array {
  const addressFamily = command === 'local' ? 'unspec' : family;
  const transport = init.transport ?? (addressFamily === 'unspec' ? 'unspec' : 'stream');
  const addressBytes = ADDRESS_BYTES[addressFamily];
  const tlvs = [...(init.tlvs ?? [])];
  if (tlvs.some((tlv) => tlv.type === PROXY_TLV.CRC32C)) {
    // A checksum is a function of the finished header: a caller's value could only
    // be wrong (and fail verification at the receiver), so the encoder computes it.
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      'encodeProxyHeader: pass checksum: true instead of a CRC32C TLV (the encoder computes it)',
    );
  }
  if (init.checksum === true) {
    tlvs.push({ type: PROXY_TLV.CRC32C, value: new Uint8Array(4) });
  }
  const tlvBytes = tlvs.reduce((sum, tlv) => sum + 3 + tlv.value.byteLength, 0);
  const length = addressBytes + tlvBytes;
  if (length > 0xffff) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `encodeProxyHeader: v2 body of ${length} bytes exceeds 65535`,
    );
  }
  const out = new Uint8Array(V2_FIXED + length);
  const view = new DataView(out.buffer);
  out.set(PROXY_V2_SIGNATURE, 0);
  out[12] = 0x20 | (command === 'proxy' ? 1 : 0);
  const familyNibble = { unspec: 0, IPv4: 1, IPv6: 2, unix: 3 }[addressFamily];
  const transportNibble = { unspec: 0, stream: 1, dgram: 2 }[transport];
  out[13] = (familyNibble << 4) | transportNibble;
  view.setUint16(14, length);
  let at = V2_FIXED;
  if (addressFamily !== 'unspec') {
    const [source, destination] = requireEndpoints(init);
    if (addressFamily === 'IPv4') {
      out.set(parseIPv4Bytes(source.address), at);
      out.set(parseIPv4Bytes(destination.address), at + 4);
      view.setUint16(at + 8, source.port);
      view.setUint16(at + 10, destination.port);
    } else if (addressFamily === 'IPv6') {
      out.set(parseIPv6Bytes(source.address), at);
      out.set(parseIPv6Bytes(destination.address), at + 16);
      view.setUint16(at + 32, source.port);
      view.setUint16(at + 34, destination.port);
    } else {
      out.set(encodeUnixPath(source.address), at);
      out.set(encodeUnixPath(destination.address), at + UNIX_PATH_BYTES);
    }
    at += addressBytes;
  }
  let checksumAt = -1;
  for (const tlv of tlvs) {
    if (!Number.isInteger(tlv.type) || tlv.type < 0 || tlv.type > 0xff) {
      throw new InvalidArgumentError(
        'SB_INVALID_ARGUMENT',
        'encodeProxyHeader: TLV type must be a byte',
      );
    }
    out[at] = tlv.type;
    view.setUint16(at + 1, tlv.value.byteLength);
    out.set(tlv.value, at + 3);
    if (tlv.type === PROXY_TLV.CRC32C) {
      checksumAt = at + 3;
    }
    at += 3 + tlv.value.byteLength;
  }
  if (init.checksum === true) {
    view.setUint32(checksumAt, crc32c(out));
  }
  return out;
}

function parseIPv4Bytes(text: string): Uint8Array {
  if (!IPV4_PATTERN.test(text)) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      'encodeProxyHeader: address is not a valid IPv4 address',
    );
  }
  return Uint8Array.from(text.split('.').map(Number));
}

function parseIPv6Bytes(text: string): Uint8Array {
  const bytes = ipv6TextToBytes(text);
  if (bytes === null) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      'encodeProxyHeader: address is not a valid IPv6 address',
    );
  }
  return bytes;
}

function encodeUnixPath(path: string): Uint8Array {
  const out = new Uint8Array(UNIX_PATH_BYTES);
  const abstract = path.startsWith('@');
  const bytes = new TextEncoder().encode(abstract ? path.slice(1) : path);
  if (bytes.byteLength + 1 > UNIX_PATH_BYTES) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `encodeProxyHeader: unix path longer than ${UNIX_PATH_BYTES - 1} bytes`,
    );
  }
  out.set(bytes, abstract ? 1 : 0);
  return out;
}
