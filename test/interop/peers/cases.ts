/**
 * The messages each framing is exercised with in the interop tests: text for the
 * text framings, arbitrary bytes (NUL, CR, LF, 0xff, empty, a 40 000-byte body that
 * spans many TCP segments) for the binary-safe ones.
 */

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Messages any line-based peer can carry (no LF, no trailing CR). */
export const TEXT_MESSAGES: readonly Uint8Array[] = [
  utf8('hello'),
  utf8(''),
  utf8('spaces, tabs\tand \u00fcn\u00efc\u00f6de'),
  utf8('x'.repeat(3_000)),
];

/** Messages for binary-safe framings. */
export const BINARY_MESSAGES: readonly Uint8Array[] = [
  ...TEXT_MESSAGES,
  Uint8Array.of(0x00, 0xff, 0x0a, 0x0d, 0x3a, 0x2c),
  Uint8Array.from({ length: 40_000 }, (_, index) => index % 251),
];

/** Messages of exactly `size` bytes, for `fixed:size`. */
export function fixedMessages(size: number): Uint8Array[] {
  return [
    utf8('a'.repeat(size)),
    new Uint8Array(size),
    Uint8Array.from({ length: size }, (_, index) => 255 - index),
  ];
}

/** Hex of each message, the form the Python peers take on the command line with --hex. */
export function hexArgs(messages: readonly Uint8Array[]): string[] {
  return messages.map((message) => Buffer.from(message).toString('hex'));
}
