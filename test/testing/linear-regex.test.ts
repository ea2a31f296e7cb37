/**
 * matchText's matcher: it agrees with V8's RegExp on the regular part of the u-flag
 * syntax, refuses what is not regular, and runs hostile patterns in linear time (a
 * backtracking engine would not return from these tests), on a bounded slice of a
 * payload.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LinearRegex, UnsupportedPatternError } from '../../src/testing/linear-regex.js';
import {
  compileMatchText,
  MAX_MATCH_INPUT_BYTES,
  messageMatches,
  validateMessageFault,
} from '../../src/testing/message-faults.js';

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
  '[\\b]',
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

describe('LinearRegex', () => {
  it('answers test() as RegExp(pattern, "u") does', () => {
    for (const pattern of PATTERNS) {
      const expected = new RegExp(pattern, 'u');
      const linear = new LinearRegex(pattern);
      for (const input of INPUTS) {
        expect(linear.test(input), `${pattern} on ${JSON.stringify(input)}`).toBe(
          expected.test(input),
        );
      }
    }
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
        expect(new LinearRegex(source).test(input)).toBe(new RegExp(source, 'u').test(input));
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('refuses what is not regular or too large', () => {
    for (const pattern of [
      '(a)\\1',
      '(?=a)',
      '(?!a)',
      '(?<=a)',
      '(?<!a)',
      '\\b',
      '\\B',
      '\\p{L}',
      'a{2000}',
      '(?:a{40}){40}',
    ]) {
      expect(() => new LinearRegex(pattern), pattern).toThrow(UnsupportedPatternError);
    }
  });

  it('returns on catastrophic patterns over 16 KiB (a backtracking engine does not)', () => {
    const run = 'a'.repeat(16 * 1024);
    expect(new LinearRegex('(a+)+$').test(`${run}!`)).toBe(false);
    expect(new LinearRegex('(a|a)*b').test(run)).toBe(false);
    expect(new LinearRegex('.*.*.*.*x').test(run)).toBe(false);
    expect(new LinearRegex('(a+)+$').test(run)).toBe(true);
  });
});

describe('matchText', () => {
  it('runs the linear matcher, never RegExp, on the payload', () => {
    const fault = { type: 'message' as const, action: 'drop' as const, matchText: '(a+)+$' };
    validateMessageFault(fault);
    const payload = Buffer.from(`${'a'.repeat(MAX_MATCH_INPUT_BYTES - 1)}!`);
    expect(messageMatches(fault, payload)).toBe(false);
  });

  it('is searched in the first 16 KiB of a payload only', () => {
    const fault = { type: 'message' as const, action: 'drop' as const, matchText: 'NEEDLE' };
    validateMessageFault(fault);
    const before = Buffer.concat([
      Buffer.alloc(MAX_MATCH_INPUT_BYTES - 6, 0x20),
      Buffer.from('NEEDLE'),
    ]);
    const after = Buffer.concat([
      Buffer.alloc(MAX_MATCH_INPUT_BYTES - 5, 0x20),
      Buffer.from('NEEDLE'),
    ]);
    expect(messageMatches(fault, before)).toBe(true);
    expect(messageMatches(fault, after)).toBe(false);
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
