/**
 * A numeric flag past 2^53 is "too large", not "must be >= 1": the message named the
 * wrong end of the range for `--max-frame 99999999999999999999` or `--max-frame 9999999999g`.
 */
import { describe, expect, it } from 'vitest';
import { integerFlag, parseCommandArgs } from '../../src/cli/args.js';
import { command } from '../../src/cli/decode.js';

function maxFrame(text: string): number | undefined {
  const args = parseCommandArgs(command, ['--framing', 'line', '--max-frame', text]);
  return integerFlag(args, command, 'max-frame', { kind: 'bytes', min: 1 });
}

describe('integerFlag past the safe integers', () => {
  for (const text of ['99999999999999999999', '9999999999g', '9007199254740993']) {
    it(`--max-frame ${text} is too large`, () => {
      expect(() => maxFrame(text)).toThrow(
        expect.objectContaining({
          code: 'SB_BAD_OPTION',
          message: expect.stringMatching(/^decode: --max-frame is too large \(bytes/),
        }),
      );
    });
  }

  it('0 is still below the minimum', () => {
    expect(() => maxFrame('0')).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/must be >= 1/) }),
    );
  });
});
