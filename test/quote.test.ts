/**
 * A caller's text quoted in an error message (a framing spec, an address) reaches a
 * terminal through the CLI: no control character passes raw, and a huge string makes
 * a short message.
 */
import { describe, expect, it } from 'vitest';
import { formatError } from '../src/cli/output.js';
import { InvalidArgumentError, parseAddress, parseFraming } from '../src/index.js';

/** C0 but tab, DEL, C1, U+2028/9 and the bidirectional overrides and isolates. */
const RAW_CONTROL =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

function messageOf(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a throw');
}

describe('quoted caller text in messages', () => {
  const hostile = [
    '\x1b[2J\x1b[31mline',
    'length:\x9b31m',
    'line:\u202egnp.exe',
    'x\ny\rz',
    'fixed:\x00',
  ];

  for (const spec of hostile) {
    it(`parseFraming(${JSON.stringify(spec)}): SB_BAD_FRAMING_SPEC without a raw control`, () => {
      const message = messageOf(() => parseFraming(spec));
      expect(message).toMatch(/^bad framing spec "/);
      expect(message).not.toMatch(RAW_CONTROL);
    });
    it(`parseAddress(${JSON.stringify(spec)}:80): no raw control`, () => {
      expect(messageOf(() => parseAddress(`${spec}:80`))).not.toMatch(RAW_CONTROL);
    });
  }

  it('a 1 MB spec makes a message of a few hundred characters, naming its length', () => {
    const message = messageOf(() => parseFraming('x'.repeat(1_000_000)));
    expect(message.length).toBeLessThan(1000);
    expect(message).toContain('(1000000 characters)');
  });

  it('a plain spec is quoted as before', () => {
    expect(messageOf(() => parseFraming('line:nope' as string))).toBe(
      'bad framing spec "line:nope": "nope" is not a line ending (expected "line" or "line:crlf")',
    );
  });

  it("the CLI's error line escapes what a message quotes raw (a file name)", () => {
    const line = formatError(
      new InvalidArgumentError('SB_INVALID_ARGUMENT', "cannot read input file '\x1b[2J\x9b1m'"),
    );
    expect(line).toBe("switchboard: SB_INVALID_ARGUMENT: cannot read input file '\\x1b[2J\\x9b1m'");
  });
});
