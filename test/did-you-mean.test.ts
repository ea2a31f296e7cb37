import { describe, expect, it } from 'vitest';
import { didYouMean } from '../src/did-you-mean.js';

describe('didYouMean', () => {
  it('guesses a close name, counting a swapped pair of letters as one typo', () => {
    expect(didYouMean('ecoh', ['echo', 'chat', 'discard'])).toBe('echo');
    expect(didYouMean('--lisen', ['--listen', '--framing'])).toBe('--listen');
    expect(didYouMean('--verison', ['--help', '--version'])).toBe('--version');
    expect(didYouMean('sevre', ['serve', 'send'])).toBe('serve');
  });

  it('does not guess for a far word, or for a short word more than one edit away', () => {
    expect(didYouMean('frobnicate', ['serve', 'send', 'decode'])).toBeUndefined();
    expect(didYouMean('xyz', ['echo', 'chat'])).toBeUndefined();
    expect(didYouMean('ab', ['cd'])).toBeUndefined();
    expect(didYouMean('x'.repeat(10_000), ['echo'])).toBeUndefined();
  });
});
