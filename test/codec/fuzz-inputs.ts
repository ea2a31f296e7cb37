/**
 * Seeded fuzz inputs for the codec decoders, shared by test/codec/fuzz.test.ts
 * and scripts/fuzz.ts. Each input is one of: random bytes; bytes from an
 * alphabet of the framings' special bytes (digits, ':', ',', CR, LF, 0x0b, 0x1c,
 * 0xff, header text); or valid wire bytes of a few payloads, then mutated
 * (flipped, deleted, inserted bytes, truncated) to reach deep decoder states.
 */
import type { Framing } from '../../src/index.js';
import { ascii, concat } from '../helpers/feed.js';

/** The specs every fuzz run covers. */
export const FUZZ_SPECS = [
  'line',
  'line:crlf',
  'delim:00',
  'delim:0d0a',
  'fixed:3',
  'length',
  'length:u8',
  'length:u16le',
  'length:u64',
  'digits:3',
  'varint',
  'netstring',
  'tagged:01=2,02=length:u8,03=0,04=length:u64le',
  'eof',
  'mllp',
  'content-length',
];

const SPECIAL = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0d, 0x1c, 0x2c, 0x30, 0x31, 0x39, 0x3a, 0x80, 0xff,
];
const HEADER_PIECES = [
  'Content-Length: ',
  'content-length:',
  '\r\n',
  '\r\n\r\n',
  '12',
  '0',
  'X: y',
  ':',
];

/** Random integer in [0, bound). */
function below(random: () => number, bound: number): number {
  return Math.floor(random() * bound);
}

function randomBytes(
  random: () => number,
  length: number,
  alphabet?: readonly number[],
): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) {
    bytes[index] =
      alphabet === undefined ? below(random, 256) : alphabet[below(random, alphabet.length)]!;
  }
  return bytes;
}

function validWire(framing: Framing, random: () => number): Uint8Array {
  const encoder = framing.createEncoder();
  const parts: Uint8Array[] = [];
  const count = framing.spec === 'eof' ? 1 : 1 + below(random, 4);
  for (let frame = 0; frame < count; frame++) {
    let payload = randomBytes(random, below(random, 12), random() < 0.5 ? SPECIAL : undefined);
    if (framing.spec === 'fixed:3') {
      payload = randomBytes(random, 3);
    } else if (framing.spec.startsWith('tagged')) {
      const type = 1 + below(random, 4);
      const size = type === 1 ? 2 : type === 3 ? 0 : below(random, 6);
      payload = concat([Uint8Array.of(type), randomBytes(random, size)]);
    }
    try {
      parts.push(...encoder.encode(payload));
    } catch {
      // A payload this framing cannot carry (e.g. containing the delimiter): skip it.
    }
  }
  return concat(parts);
}

function mutate(bytes: Uint8Array, random: () => number): Uint8Array {
  let out = bytes;
  const mutations = below(random, 4);
  for (let step = 0; step < mutations; step++) {
    const position = below(random, out.length + 1);
    const kind = below(random, 4);
    if (kind === 0 && out.length > 0) {
      out = out.slice();
      out[Math.min(position, out.length - 1)] = below(random, 256);
    } else if (kind === 1 && out.length > 0) {
      out = concat([out.subarray(0, position), out.subarray(position + 1)]);
    } else if (kind === 2) {
      out = concat([
        out.subarray(0, position),
        Uint8Array.of(SPECIAL[below(random, SPECIAL.length)]!),
        out.subarray(position),
      ]);
    } else {
      out = out.subarray(0, position);
    }
  }
  return out;
}

/** One fuzz input for `framing`, drawn from `random`. */
export function fuzzInput(framing: Framing, random: () => number): Uint8Array {
  const choice = random();
  if (choice < 0.25) {
    return randomBytes(random, below(random, 48));
  }
  if (choice < 0.45) {
    if (framing.spec === 'content-length') {
      const pieces: Uint8Array[] = [];
      for (let index = below(random, 8); index > 0; index--) {
        pieces.push(ascii(HEADER_PIECES[below(random, HEADER_PIECES.length)]!));
      }
      return concat(pieces);
    }
    return randomBytes(random, below(random, 48), SPECIAL);
  }
  return mutate(validWire(framing, random), random);
}
