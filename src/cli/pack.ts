/**
 * `switchboard pack FORMAT VALUE...`: Python `struct.pack` from the command line.
 *
 * Value spellings (SPEC §6), shared with `unpack` (which prints them back):
 *
 * | format chars          | on the command line          | in `unpack`'s JSON        |
 * | --------------------- | ---------------------------- | ------------------------- |
 * | `b B h H i I l L`     | decimal integer, e.g. `-5`   | number                    |
 * | `q Q n N P` (64-bit)  | decimal integer              | decimal string            |
 * | `e f d`               | JS number, `nan`, `inf`, `-inf` | number, `"nan"`, `"inf"`, `"-inf"` |
 * | `?`                   | `true` / `false`             | `true` / `false`          |
 * | `c s p`               | hex with `0x`, e.g. `0x6869` | plain hex string `"6869"` |
 *
 * Native `l`/`L` (no byte-order prefix, or `@`) are 64-bit on x86-64 Linux and
 * print as strings too. The command parses its own argv: a word such as `-5`
 * or `-inf` is a value, never a flag; `--` before the values is accepted.
 * Every bad value, like every error `pack` itself raises, is a `StructError`
 * (`SB_STRUCT_ERROR`, exit 1), as CPython raises `struct.error`.
 */
import { type StructValueKind, type StructValueRun, structValueRuns } from '../binary/format.js';
import { calcsize, pack, StructError, type StructValue } from '../index.js';
import { type CommandSpec, printable, UsageError, unknownOption } from './args.js';
import { EXIT, fromHex, stdout, toHex } from './output.js';

/** One value kind per value of a format, from the library's {@link structValueRuns}. */
export function expandRuns(runs: readonly StructValueRun[]): StructValueKind[] {
  return runs.flatMap((run) => Array<StructValueKind>(run.count).fill(run.kind));
}

/** How many values the runs of a format take. */
function countValues(runs: readonly StructValueRun[]): number {
  return runs.reduce((sum, run) => sum + run.count, 0);
}

/** Parses one command-line value for a value of `kind`; `position` is 1-based for messages. */
export function parseValue(text: string, kind: StructValueKind, position: number): StructValue {
  const fail = (expected: string): StructError =>
    new StructError(`value ${position} must be ${expected}, got '${printable(text)}'`);
  switch (kind) {
    case 'int':
    case 'int64': {
      if (!/^[-+]?\d+$/.test(text)) {
        throw fail('a decimal integer');
      }
      if (kind === 'int64') {
        return BigInt(text);
      }
      const value = Number(text);
      // Out-of-range values reach pack, which raises CPython's range error.
      return Number.isSafeInteger(value) ? value : BigInt(text);
    }
    case 'float': {
      const special = SPECIAL_FLOATS[text.toLowerCase()];
      if (special !== undefined) {
        return special;
      }
      if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text)) {
        throw fail('a number, nan, inf or -inf');
      }
      return Number(text);
    }
    case 'bool':
      if (text === 'true') {
        return true;
      }
      if (text === 'false') {
        return false;
      }
      throw fail('true or false');
    default: {
      const bytes = /^0x/i.test(text) ? fromHex(text.slice(2)) : undefined;
      if (bytes === undefined) {
        throw fail('hex bytes with a 0x prefix (e.g. 0x6869)');
      }
      return bytes;
    }
  }
}

const SPECIAL_FLOATS: Record<string, number> = {
  nan: Number.NaN,
  '+nan': Number.NaN,
  '-nan': Number.NaN,
  inf: Number.POSITIVE_INFINITY,
  '+inf': Number.POSITIVE_INFINITY,
  infinity: Number.POSITIVE_INFINITY,
  '-inf': Number.NEGATIVE_INFINITY,
  '-infinity': Number.NEGATIVE_INFINITY,
};

/**
 * Splits pack/unpack argv by hand: everything is a positional except `--help`
 * (handled by main.ts) and one `--` separator. Any other word starting with
 * `--` is an unknown option (exit 2); single-dash words such as `-5` are values.
 */
export function rawPositionals(name: string, argv: readonly string[]): string[] {
  const positionals: string[] = [];
  let afterSeparator = false;
  for (const word of argv) {
    if (!afterSeparator && word === '--') {
      afterSeparator = true;
      continue;
    }
    if (!afterSeparator && word.startsWith('--')) {
      throw new UsageError(`${name}: ${unknownOption(name, word, ['--help'])}`);
    }
    positionals.push(word);
  }
  return positionals;
}

/** Most bytes `pack` prints (as hex: twice as many characters, what `unpack` reads at most). */
const MAX_PACKED_BYTES = 64 * 1024 * 1024;

/** The `pack` command. */
export const command: CommandSpec = {
  name: 'pack',
  usage: 'pack FORMAT [--] VALUE...',
  description:
    'Packs the VALUEs with the Python struct FORMAT and prints the bytes as lowercase hex.\n' +
    'Integers in decimal (negative numbers are values, not flags); floats as numbers or\n' +
    'nan/inf/-inf; ? as true/false; c/s/p as hex with a 0x prefix. Errors CPython would\n' +
    'raise exit 1 with SB_STRUCT_ERROR.',
  flags: [],
  positionals: { min: 1, max: Number.POSITIVE_INFINITY, name: 'FORMAT' },
  examples: ["pack '<h' -5", "pack '>I2s?d' 7 0x6869 true -inf", "pack '!q' -- -9007199254740993"],
  rawArgs: true,
  async run({ args }) {
    const [format, ...words] = rawPositionals(command.name, args.positionals);
    if (format === undefined) {
      throw new UsageError('pack: missing FORMAT');
    }
    const runs = structValueRuns(format);
    const expected = countValues(runs);
    if (expected !== words.length) {
      throw new StructError(`pack expected ${expected} items for packing (got ${words.length})`);
    }
    // Checked before packing: past this the hex line could not even be a string
    // (SB_INTERNAL after allocating the bytes); unpack reads at most as much hex.
    const size = calcsize(format);
    if (size > MAX_PACKED_BYTES) {
      throw new StructError(
        `pack: the format packs ${size} bytes, more than the ${MAX_PACKED_BYTES} this command prints`,
      );
    }
    const kinds = expandRuns(runs);
    const values = words.map((word, index) => parseValue(word, kinds[index] ?? 'int', index + 1));
    const bytes = pack(format, ...values);
    await stdout.line(toHex(bytes));
    return EXIT.ok;
  },
};
