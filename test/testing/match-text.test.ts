/**
 * matchText, through the message fault that carries it: it agrees with V8's RegExp on
 * the regular part of the u-flag syntax (but for the documented RE2 meanings of `.` and
 * `\s`), refuses what is not regular, and runs hostile patterns in linear time (a
 * backtracking engine would not return from these tests), on a bounded slice of a
 * payload.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compileMatchText,
  MAX_MATCH_INPUT_BYTES,
  type MessageFault,
  messageMatches,
  validateMessageFault,
} from '../../src/testing/message-faults.js';

/** A drop fault on `matchText`, validated as addFault and the API do. */
function fault(matchText: string): MessageFault {
  const made: MessageFault = { type: 'message', action: 'drop', matchText };
  validateMessageFault(made);
  return made;
}

/** Whether a fault on `pattern` selects a message whose payload is `text` (UTF-8). */
function selects(pattern: MessageFault, text: string): boolean {
  return messageMatches(pattern, Buffer.from(text));
}

const PATTERNS = [
  'abc',
  '^abc$',
  'a|b',
  '(a|b)*c',
  'a{2,3}',
  '^a{2}$',
  '[a-c]+d',
  '[^x]y',
  '\\d+\\.\\d+',
  '\\w\\s\\W',
  '.',
  '^$',
  '',
  '(?:ab)+$',
  '(?<n>x)y?z',
  'a*?b',
  '\\u{1F600}',
  '[\\u0041-\\u0043]',
  '\\uD83D\\uDE00',
  'x{0}y',
  '\\^\\$',
  '[\\]]',
  '[-a]',
  '[a-]',
  '^PUBLISH',
  '(a+)+$',
  'é.',
  '[\\d\\s]+x',
  'a{3,}',
  '(|a)+b',
  '\\x41\\t',
  '\\bfoo\\b',
  '\\Bo',
  '\\p{L}+$',
  '\\p{Lu}',
  '\\P{L}',
  '\\p{Script=Greek}',
  '\\p{sc=Greek}',
  '[\\uD83D\\uDE00-\\uD83D\\uDE4F]',
  '\\\\k',
  '\\0',
  '\\cJ',
  '[^]',
  '[]',
  '\\/',
];
const INPUTS = [
  '',
  'abc',
  'xabcx',
  'aab',
  'aaa',
  'aaaa',
  'c',
  'ababc',
  'bd',
  'zy',
  '3.14',
  'a !',
  '\n',
  'abab',
  'xz',
  'xyz',
  'aaab',
  '😀',
  'B',
  'y',
  '^$',
  ']',
  '-',
  'PUBLISH x',
  'aaaaa!',
  'éx',
  '1 2x',
  'é\n',
  'A\t',
  '\b',
  'b',
  'foo bar',
  'afoo',
  'Ωμέγα',
  '\\k',
  '\0',
  '😃',
];

/** Whether V8 takes it (a quantified anchor is a syntax error in u-mode). */
function isValidPattern(source: string): boolean {
  try {
    new RegExp(source, 'u');
    return true;
  } catch {
    return false;
  }
}

describe('matchText', () => {
  it('selects a message as RegExp(pattern, "u").test(payload) does', () => {
    for (const pattern of PATTERNS) {
      const expected = new RegExp(pattern, 'u');
      const matchText = fault(pattern);
      for (const input of INPUTS) {
        expect(selects(matchText, input), `${pattern} on ${JSON.stringify(input)}`).toBe(
          expected.test(input),
        );
      }
    }
  });

  it('gives `.` and `\\s` their RE2 meanings (docs/TESTING.md)', () => {
    // `.` is any character but \n (JavaScript also excludes \r, U+2028, U+2029).
    expect(selects(fault('^a.b$'), 'a\rb')).toBe(true);
    expect(selects(fault('^a.b$'), 'a\nb')).toBe(false);
    // `\s` is [\t\n\f\r ] (JavaScript adds \v and Unicode spaces).
    expect(selects(fault('a\\sb'), 'a\tb')).toBe(true);
    expect(selects(fault('a\\sb'), 'a\u00a0b')).toBe(false);
  });

  it('agrees with RegExp on generated patterns and inputs (seeded)', () => {
    const atom = fc.constantFrom('a', 'b', '.', '[ab]', '[^a]', '\\d', '(?:a|b)', '(a|)', '^', '$');
    const quantifier = fc.constantFrom('', '', '*', '+', '?', '{2}', '{1,2}', '*?');
    const pattern = fc
      .array(fc.tuple(atom, quantifier), { minLength: 1, maxLength: 6 })
      .map((parts) => parts.map(([a, q]) => a + q).join(''))
      .filter(isValidPattern);
    fc.assert(
      fc.property(pattern, fc.stringMatching(/^[ab1\n]{0,8}$/), (source, input) => {
        expect(selects(fault(source), input)).toBe(new RegExp(source, 'u').test(input));
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('refuses what is not regular or too large', () => {
    for (const pattern of [
      '(a)\\1',
      '(?<n>a)\\k<n>',
      '(a)(a)(a)(a)(a)(a)(a)(a)\\8',
      '(a)(a)(a)(a)(a)(a)(a)(a)(a)\\9',
      '(?=a)',
      '(?!a)',
      '(?<=a)',
      '(?<!a)',
      '[\\b]',
      '\\p{Letter}',
      'a{2000}',
      '(?:a{40}){40}',
      '(?:a{100}){10}b{100}',
    ]) {
      expect(typeof compileMatchText(pattern), pattern).toBe('string');
    }
  });

  it('returns on catastrophic patterns over 16 KiB of a payload (a backtracking engine does not)', () => {
    const run = 'a'.repeat(MAX_MATCH_INPUT_BYTES - 1);
    expect(selects(fault('(a+)+$'), `${run}!`)).toBe(false); // 16 KiB, all of it read
    expect(selects(fault('(a|a)*b'), run)).toBe(false);
    expect(selects(fault('.*.*.*.*x'), run)).toBe(false);
    expect(selects(fault('(a+)+$'), run)).toBe(true);
    // Past the 16 KiB the payload is not read, so the '!' that fails `(a+)+$` is unseen.
    expect(selects(fault('(a+)+$'), `${run}a!`)).toBe(true);
  });

  it('is searched in the first 16 KiB of a payload only', () => {
    const needle = fault('NEEDLE');
    const before = Buffer.concat([
      Buffer.alloc(MAX_MATCH_INPUT_BYTES - 6, 0x20),
      Buffer.from('NEEDLE'),
    ]);
    const after = Buffer.concat([
      Buffer.alloc(MAX_MATCH_INPUT_BYTES - 5, 0x20),
      Buffer.from('NEEDLE'),
    ]);
    expect(messageMatches(needle, before)).toBe(true);
    expect(messageMatches(needle, after)).toBe(false);
  });

  it('refuses patterns over 256 characters, invalid ones and non-regular ones', () => {
    expect(typeof compileMatchText('a'.repeat(256))).toBe('object');
    for (const text of ['a'.repeat(257), '(', '(a)\\1', '(?=x)']) {
      expect(typeof compileMatchText(text), text).toBe('string');
      expect(() =>
        validateMessageFault({ type: 'message', action: 'drop', matchText: text }),
      ).toThrow(expect.objectContaining({ code: 'SB_INVALID_ARGUMENT' }));
    }
  });
});
