/**
 * formatFrame (every command that prints frames: decode, connect, send, replay, tap)
 * with frames whose printed line is huge: the text escape must neither abort the
 * process inside V8 nor cost a callback per control byte, and a line longer than a
 * string can be is a stable SB_FRAME_TOO_LARGE, not a RangeError (SB_INTERNAL).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatFrame } from '../../src/cli/output.js';
import { FrameError } from '../../src/index.js';

/** The escape as it was done on the decoded text: the reference for what text prints. */
function referenceText(payload: Uint8Array): string {
  const text = new TextDecoder('utf-8').decode(payload);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g, (char) => {
    const code = char.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16)}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

/** Bytes that start, continue or break UTF-8 sequences, controls among them. */
const INTERESTING = [
  0x00, 0x09, 0x0a, 0x1b, 0x1f, 0x20, 0x41, 0x7f, 0x80, 0x85, 0x9b, 0x9f, 0xa0, 0xa8, 0xa9, 0xbf,
  0xc2, 0xc3, 0xe0, 0xe2, 0xed, 0xef, 0xbb, 0xf0, 0xf4, 0xff,
];
const bytes = fc
  .array(fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 255 })), {
    maxLength: 64,
  })
  .map((values) => Uint8Array.from(values));

describe('formatFrame text', () => {
  it('escapes exactly as the decoded-text escape did, on seeded random bytes', () => {
    fc.assert(
      fc.property(bytes, (payload) => {
        expect(formatFrame(payload, 'text')).toBe(referenceText(payload));
      }),
      { seed: 20261203, numRuns: 5000 },
    );
  });

  it('prints a 70 MB frame of zero bytes (the old escape aborted the process in V8)', () => {
    const line = formatFrame(new Uint8Array(70_000_000), 'text');
    expect(line.length).toBe(280_000_000);
    expect(line.slice(0, 8)).toBe('\\x00\\x00');
  });
});

describe('formatFrame past the longest string', () => {
  it('json of 70 MB of zero bytes is SB_FRAME_TOO_LARGE, not a RangeError', () => {
    const payload = new Uint8Array(70_000_000);
    const error = (() => {
      try {
        formatFrame(payload, 'json');
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(FrameError);
    expect((error as FrameError).code).toBe('SB_FRAME_TOO_LARGE');
    expect((error as FrameError).message).toContain('70000000-byte frame');
  });
});
