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
import { calcsize, pack, StructError } from '../index.js';
import { type CommandSpec, printable, UsageError } from './args.js';
import { EXIT, fromHex, stdout, toHex } from './output.js';

/** How one value of a format is spelled. */
export type ValueKind = 'int' | 'int64' | 'float' | 'bool' | 'bytes';

/** A value `pack` accepts: what the library's `pack` takes for each kind. */
export type StructValue = number | bigint | boolean | Uint8Array;

const KIND_BY_CHAR: Record<string, ValueKind | 'pad'> = {
  x: 'pad',
  c: 'bytes',
  s: 'bytes',
  p: 'bytes',
  b: 'int',
  B: 'int',
  '?': 'bool',
  h: 'int',
  H: 'int',
  i: 'int',
  I: 'int',
  l: 'int',
  L: 'int',
  q: 'int64',
  Q: 'int64',
  n: 'int64',
  N: 'int64',
  P: 'int64',
  e: 'float',
  f: 'float',
  d: 'float',
};

/**
 * The kind of every value a format packs, in order (`x` pads take none; `s`/`p`
 * take one value whatever the count; others take `count` values). Throws a
 * StructError for a character CPython would reject.
 */
export function valueKinds(format: string): ValueKind[] {
  // The library validates the format first, with CPython's exact messages.
  calcsize(format);
  let body = format;
  let native = true;
  const order = format[0];
  if (order !== undefined && '@=<>!'.includes(order)) {
    native = order === '@';
    body = format.slice(1);
  }
  const kinds: ValueKind[] = [];
  const item = /\s*(\d*)(\S)/gy;
  for (;;) {
    const start = item.lastIndex;
    if (/^\s*$/.test(body.slice(start))) {
      break;
    }
    const match = item.exec(body);
    if (match === null) {
      throw new StructError('bad char in struct format');
    }
    const count = match[1] === '' ? 1 : Number(match[1]);
    const char = match[2] ?? '';
    let kind = KIND_BY_CHAR[char];
    if (kind === undefined || (!native && (char === 'n' || char === 'N' || char === 'P'))) {
      throw new StructError('bad char in struct format');
    }
    if (native && (char === 'l' || char === 'L')) {
      kind = 'int64';
    }
    if (kind === 'pad') {
      continue;
    }
    if (char === 's' || char === 'p') {
      kinds.push('bytes');
    } else {
      for (let index = 0; index < count; index += 1) {
        kinds.push(kind);
      }
    }
  }
  return kinds;
}

/** Parses one command-line value for a value of `kind`; `position` is 1-based for messages. */
export function parseValue(text: string, kind: ValueKind, position: number): StructValue {
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
      throw new UsageError(`${name}: unknown option ${printable(word)}`);
    }
    positionals.push(word);
  }
  return positionals;
}

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
    const kinds = valueKinds(format);
    if (kinds.length !== words.length) {
      throw new StructError(
        `pack expected ${kinds.length} items for packing (got ${words.length})`,
      );
    }
    const values = words.map((word, index) => parseValue(word, kinds[index] ?? 'int', index + 1));
    const bytes = pack(format, ...values);
    await stdout.line(toHex(bytes));
    return EXIT.ok;
  },
};
