/**
 * `switchboard unpack FORMAT HEX`: Python `struct.unpack` from the command line.
 * Prints the values as a JSON array on one line, spelled as `pack` reads them
 * (see the table in pack.ts): 64-bit integers as decimal strings, bytes as plain
 * hex strings, non-finite floats as `"nan"`, `"inf"`, `"-inf"`.
 */
import { StructError, type StructValueKind, structValueRuns, unpack } from '../index.js';
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

/** The `unpack` command. */
export const command: CommandSpec = {
  name: 'unpack',
  usage: 'unpack FORMAT [--] HEX',
  description:
    'Unpacks the bytes given as HEX (optional 0x prefix) with the Python struct FORMAT and\n' +
    'prints the values as a JSON array on one line: integers as numbers (64-bit ones as\n' +
    'decimal strings), floats as numbers or "nan"/"inf"/"-inf", ? as true/false, c/s/p as\n' +
    'plain hex strings. Errors CPython would raise exit 1 with SB_STRUCT_ERROR.',
  flags: [],
  positionals: { min: 2, max: 2, name: 'FORMAT and HEX' },
  examples: ["unpack '<h' fbff", "unpack '>I2s?d' 00000007686901fff0000000000000"],
  rawArgs: true,
  async run({ args }) {
    const positionals = rawPositionals(command.name, args.positionals);
    const [format, hex] = positionals;
    if (format === undefined || hex === undefined) {
      throw new UsageError(`unpack: missing ${format === undefined ? 'FORMAT' : 'HEX'}`);
    }
    if (positionals.length > 2) {
      throw new UsageError('unpack: takes FORMAT and HEX only');
    }
    const bytes = fromHex(hex.replace(/^0x/i, ''));
    if (bytes === undefined) {
      throw new StructError('HEX must be an even number of hex digits (optional 0x prefix)');
    }
    const values = unpack(format, bytes);
    // After unpack: the number of values is bounded by the input's size.
    const kinds = expandRuns(structValueRuns(format));
    const items = values.map((value, index) => valueToJson(value, kinds[index]));
    await stdout.line(`[${items.join(',')}]`);
    return EXIT.ok;
  },
};
