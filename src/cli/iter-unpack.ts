/**
 * `switchboard iter-unpack FORMAT [HEX|-]`: Python `struct.iter_unpack` from the
 * command line. The bytes must be a whole number of FORMAT-sized records (CPython's
 * rule); each record prints as one JSON array line, spelled as `unpack` prints.
 */
import { structValueRuns } from '../binary/format.js';
import { calcsize, iterUnpack } from '../index.js';
import type { CommandSpec } from './args.js';
import { EXIT, stdout } from './output.js';
import { expandRuns } from './pack.js';
import { formatAndHex, hexArgument, valuesLine } from './unpack.js';

/** The `iter-unpack` command. */
export const command: CommandSpec = {
  name: 'iter-unpack',
  usage: 'iter-unpack FORMAT [--] [HEX|-]',
  description:
    'Unpacks HEX (or stdin when HEX is - or absent) as consecutive records of the Python\n' +
    'struct FORMAT, as struct.iter_unpack does, and prints one JSON array per record. The\n' +
    'input must be a whole number of records; otherwise, as in CPython, exit 1 with\n' +
    'SB_STRUCT_ERROR and nothing printed.',
  flags: [],
  positionals: { min: 1, max: 2, name: 'FORMAT and HEX' },
  examples: ["iter-unpack '>HH' 000100020003000400050006"],
  rawArgs: true,
  async run({ args }) {
    const { format, hex } = formatAndHex(command.name, args.positionals);
    const bytes = await hexArgument(hex);
    // calcsize first: a bad format fails before any output.
    calcsize(format);
    // The value kinds are expanded once a record has been unpacked: a repeat count
    // (`999999999999I`) is then bounded by the input, not allocated from the format.
    let kinds: ReturnType<typeof expandRuns> | undefined;
    const lines: string[] = [];
    for (const values of iterUnpack(format, bytes)) {
      kinds ??= expandRuns(structValueRuns(format));
      lines.push(valuesLine(values, kinds));
    }
    for (const line of lines) {
      await stdout.line(line);
    }
    return EXIT.ok;
  },
};
