/**
 * `switchboard unpack FORMAT HEX`: Python `struct.unpack` from the command line.
 * Prints the values as a JSON array on one line, spelled as `pack` reads them
 * (see the table in pack.ts): 64-bit integers as decimal strings, bytes as plain
 * hex strings, non-finite floats as `"nan"`, `"inf"`, `"-inf"`.
 */
import { type StructValueKind, structValueRuns } from '../binary/format.js';
import { StructError, unpack } from '../index.js';
import { type CommandSpec, UsageError } from './args.js';
import { EXIT, fromHex, stdout, toHex } from './output.js';
import { expandRuns, rawPositionals } from './pack.js';

/** Spells one unpacked value as JSON. */
export function valueToJson(value: unknown, kind: StructValueKind | undefined): string {
  if (typeof value === 'bigint') {
    return JSON.stringify(value.toString());
  }
  if (value instanceof Uint8Array) {
    return JSON.stringify(toHex(value));
  }
  if (typeof value === 'number') {
    if (Number.isNaN(value)) {
      return '"nan"';
    }
    if (!Number.isFinite(value)) {
      return value > 0 ? '"inf"' : '"-inf"';
    }
    if (kind === 'int64') {
      // Native l/L are 64-bit; the library may return them as numbers.
      return JSON.stringify(String(value));
    }
    return Object.is(value, -0) ? '-0' : JSON.stringify(value);
  }
  if (typeof value === 'boolean') {
    return JSON.stringify(value);
  }
  throw new StructError(`unpack returned a value of unexpected type ${typeof value}`);
}

/** The most hex text `unpack`/`iter-unpack` read from stdin (64 MiB of bytes). */
const MAX_STDIN_HEX = 128 * 1024 * 1024;

/**
 * The bytes of a HEX argument, or of stdin when it is `-` or absent (so that
 * `pack ... | unpack FORMAT` works). Whitespace anywhere is ignored (`de ad be ef`,
 * a trailing newline); an optional `0x` prefix is allowed. A bad digit is named by
 * position, an odd count as such.
 */
export async function hexArgument(hex: string | undefined): Promise<Uint8Array> {
  const text = hex === undefined || hex === '-' ? await readStdinText() : hex;
  const digits = text.replace(/\s+/g, '').replace(/^0x/i, '');
  const bad = /[^0-9a-fA-F]/.exec(digits);
  if (bad !== null) {
    throw new StructError(
      `HEX has a character that is not a hex digit at position ${bad.index + 1} (digits 0-9, a-f; optional 0x prefix)`,
    );
  }
  const bytes = fromHex(digits);
  if (bytes === undefined) {
    throw new StructError(`HEX has an odd number of hex digits (${digits.length})`);
  }
  return bytes;
}

async function readStdinText(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_STDIN_HEX) {
      throw new StructError(`HEX on stdin is longer than ${MAX_STDIN_HEX} characters`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('latin1');
}

/** One JSON array line for the values unpacked with `format`. */
export function valuesLine(values: readonly unknown[], kinds: readonly StructValueKind[]): string {
  const items = values.map((value, index) => valueToJson(value, kinds[index]));
  return `[${items.join(',')}]`;
}

/** FORMAT and the optional HEX of `unpack` and `iter-unpack`. */
export function formatAndHex(
  name: string,
  argv: readonly string[],
): { format: string; hex: string | undefined } {
  const positionals = rawPositionals(name, argv);
  const [format, hex] = positionals;
  if (format === undefined) {
    throw new UsageError(`${name}: missing FORMAT`);
  }
  if (positionals.length > 2) {
    throw new UsageError(`${name}: takes FORMAT and HEX only`);
  }
  return { format, hex };
}

/** The `unpack` command. */
export const command: CommandSpec = {
  name: 'unpack',
  usage: 'unpack FORMAT [--] [HEX|-]',
  description:
    'Unpacks the bytes given as HEX (optional 0x prefix, whitespace ignored; read from\n' +
    'stdin when HEX is - or absent) with the Python struct FORMAT and prints the values\n' +
    'as a JSON array on one line: integers as numbers (64-bit ones as decimal strings),\n' +
    'floats as numbers or "nan"/"inf"/"-inf", ? as true/false, c/s/p as plain hex\n' +
    'strings. Errors CPython would raise exit 1 with SB_STRUCT_ERROR.',
  flags: [],
  positionals: { min: 1, max: 2, name: 'FORMAT and HEX' },
  examples: [
    "unpack '<h' fbff",
    "unpack '>I2s?d' 00000007686901fff0000000000000",
    "pack '!HI' 7 42 | switchboard unpack '!HI'",
  ],
  rawArgs: true,
  async run({ args }) {
    const { format, hex } = formatAndHex(command.name, args.positionals);
    const bytes = await hexArgument(hex);
    const values = unpack(format, bytes);
    // After unpack: the number of values is bounded by the input's size.
    await stdout.line(valuesLine(values, expandRuns(structValueRuns(format))));
    return EXIT.ok;
  },
};
