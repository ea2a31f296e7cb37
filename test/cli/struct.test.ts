/**
 * `pack` and `unpack` against the CPython golden vectors in test/fixtures/struct/.
 * Spawning the CLI costs ~100 ms, so a fixed, evenly spread sample of the cases
 * that the command line can spell is checked (every format character is covered),
 * plus the spellings SPEC §6 names explicitly.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, killAll, runCli } from './cli-process.js';

// Spawning under load can take many seconds; cli-process.ts deadlines catch hangs.
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

afterEach(killAll);

type FixtureValue =
  | number
  | boolean
  | { bigint: string }
  | { bytes: string }
  | { float: string }
  | { str: string };

interface PackCase {
  format: string;
  values: FixtureValue[];
  hex: string;
  unpacked: FixtureValue[];
}

const fixtures = JSON.parse(
  readFileSync(new URL('../fixtures/struct/pack.json', import.meta.url), 'utf8'),
) as { cases: PackCase[] };

const INT_CHARS = 'bBhHiIlLqQnNP';
const FLOAT_CHARS = 'efd';

/** The format characters of `format` that take a value, in order (s/p once per item). */
function valueChars(format: string): string[] {
  const body = /^[@=<>!]/.test(format) ? format.slice(1) : format;
  const chars: string[] = [];
  for (const match of body.matchAll(/(\d*)(\S)/g)) {
    const count = match[1] === '' ? 1 : Number(match[1]);
    const char = match[2] as string;
    if (char === 'x') {
      continue;
    }
    if (char === 's' || char === 'p') {
      chars.push(char);
    } else {
      for (let index = 0; index < count; index += 1) {
        chars.push(char);
      }
    }
  }
  return chars;
}

/** The command-line spelling of a fixture value for format char `char`, or undefined. */
function spell(value: FixtureValue, char: string): string | undefined {
  if (INT_CHARS.includes(char)) {
    if (typeof value === 'number' && Number.isInteger(value)) {
      return String(value);
    }
    return typeof value === 'object' && 'bigint' in value ? value.bigint : undefined;
  }
  if (FLOAT_CHARS.includes(char)) {
    if (typeof value === 'number') {
      return Object.is(value, -0) ? '-0.0' : String(value);
    }
    return typeof value === 'object' && 'float' in value ? value.float : undefined;
  }
  if (char === '?') {
    return typeof value === 'boolean' ? String(value) : undefined;
  }
  return typeof value === 'object' && 'bytes' in value ? `0x${value.bytes}` : undefined;
}

/** What `unpack` prints for a fixture's unpacked value. */
function expectedJson(value: FixtureValue): unknown {
  if (typeof value === 'object') {
    if ('bigint' in value) {
      return value.bigint;
    }
    if ('bytes' in value) {
      return value.bytes;
    }
    if ('float' in value) {
      return value.float;
    }
  }
  return value;
}

const spellable = fixtures.cases.flatMap((testCase) => {
  const chars = valueChars(testCase.format);
  if (chars.length !== testCase.values.length) {
    return [];
  }
  const words = testCase.values.map((value, index) => spell(value, chars[index] as string));
  if (words.some((word) => word === undefined)) {
    return [];
  }
  return [{ ...testCase, chars, words: words as string[] }];
});

/**
 * Cases with a standard-size prefix (`< > ! =`) have no alignment, so many of them
 * concatenate into one format: one `pack` and one `unpack` spawn check them all.
 * Native cases (no prefix, `@`) align by position, so a sample runs one by one.
 */
interface Batch {
  format: string;
  words: string[];
  hex: string;
  unpacked: unknown[];
  count: number;
}
const PER_BATCH = 400;
const batches: Batch[] = [];
for (const prefix of ['<', '>', '!', '=']) {
  const cases = spellable
    .filter((testCase) => testCase.format.startsWith(prefix))
    .slice(0, PER_BATCH);
  batches.push({
    format: prefix + cases.map((testCase) => testCase.format.slice(1)).join(''),
    words: cases.flatMap((testCase) => testCase.words),
    hex: cases.map((testCase) => testCase.hex).join(''),
    unpacked: cases.flatMap((testCase) => testCase.unpacked.map(expectedJson)),
    count: cases.length,
  });
}
const nativeCases = spellable.filter((testCase) => !/^[<>!=]/.test(testCase.format));
const nativeFirstOfChar = new Map<string, (typeof spellable)[number]>();
for (const testCase of nativeCases) {
  for (const char of testCase.chars) {
    if (!nativeFirstOfChar.has(char)) {
      nativeFirstOfChar.set(char, testCase);
    }
  }
}
for (const testCase of new Set(nativeFirstOfChar.values())) {
  batches.push({
    format: testCase.format,
    words: testCase.words,
    hex: testCase.hex,
    unpacked: testCase.unpacked.map(expectedJson),
    count: 1,
  });
}
const covered = batches.reduce((sum, batch) => sum + batch.count, 0);

describe('pack/unpack agree with the CPython golden vectors', () => {
  it('the vectors cover every value-taking format character, in both sizes', () => {
    expect(spellable.length).toBeGreaterThan(200);
    const standardChars = new Set(batches.slice(0, 4).flatMap((batch) => valueChars(batch.format)));
    expect([...standardChars].sort().join('')).toBe([...'?BHILQbcdefhilpqs'].sort().join(''));
    expect([...nativeFirstOfChar.keys()].sort().join('')).toBe(
      [...'?BHILNPQbcdefhilnpqs'].sort().join(''),
    );
  });

  it(`pack prints CPython's bytes and unpack prints its values (${covered} vectors)`, async () => {
    const packs = await Promise.all(
      batches.map((batch) => runCli(['pack', batch.format, '--', ...batch.words])),
    );
    const unpacks = await Promise.all(
      batches.map((batch) => runCli(['unpack', batch.format, batch.hex])),
    );
    batches.forEach((batch, index) => {
      const label = `${batch.format} ${batch.words.join(' ')}`.slice(0, 200);
      const packed = packs[index];
      const unpacked = unpacks[index];
      expect(packed?.stderr, label).toBe('');
      expect(packed?.stdout.toString(), label).toBe(`${batch.hex}\n`);
      expect(unpacked?.stderr, label).toBe('');
      expect(JSON.parse(unpacked?.stdout.toString() ?? ''), label).toEqual(batch.unpacked);
    });
  });
});

describe('pack/unpack spellings (SPEC §6)', () => {
  it('negative numbers are values, not flags; -- is accepted', async () => {
    const [plain, dashed, unpacked] = await Promise.all([
      runCli(['pack', '<h', '-5']),
      runCli(['pack', '--', '<h', '-5']),
      runCli(['unpack', '<h', 'fbff']),
    ]);
    expect(plain.stdout.toString()).toBe('fbff\n');
    expect(dashed.stdout.toString()).toBe('fbff\n');
    expect(unpacked.stdout.toString()).toBe('[-5]\n');
  });

  it('floats with nan/inf/-inf, ? as true/false, c/s/p as 0x hex in and plain hex out, 64-bit as strings', async () => {
    const packed = await runCli([
      'pack',
      '>d?3sqcf',
      '-inf',
      'true',
      '0x616263',
      '-9007199254740993',
      '0x7a',
      'nan',
    ]);
    expect(packed.code).toBe(0);
    const hex = packed.stdout.toString().trim();
    const unpacked = await runCli(['unpack', '>d?3sqcf', hex]);
    expect(unpacked.stdout.toString()).toBe(
      '["-inf",true,"616263","-9007199254740993","7a","nan"]\n',
    );
  });

  it('a StructError exits 1 with SB_STRUCT_ERROR; a bad flag exits 2', async () => {
    const results = await Promise.all([
      runCli(['pack', '<h', '40000']),
      runCli(['pack', '<h', 'abc']),
      runCli(['pack', '<hh', '1']),
      runCli(['pack', 'z', '1']),
      runCli(['unpack', '<i', '0102']),
      runCli(['unpack', '<h', 'xyz']),
      runCli(['pack', '4s', 'abcd']),
    ]);
    for (const result of results) {
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(/^switchboard: SB_STRUCT_ERROR: .+\n$/);
    }
    const usage = await runCli(['unpack', '--frobnicate', '<h', '0000']);
    expect(usage.code).toBe(2);
  });
});
