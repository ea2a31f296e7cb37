/**
 * `switchboard calcsize FORMAT`: Python `struct.calcsize` from the command line.
 * Prints the size in bytes of the Python struct FORMAT as one decimal line.
 */
import { calcsize } from '../index.js';
import { type CommandSpec, UsageError } from './args.js';
import { EXIT, stdout } from './output.js';
import { rawPositionals } from './pack.js';

/** The `calcsize` command. */
export const command: CommandSpec = {
  name: 'calcsize',
  usage: 'calcsize FORMAT',
  description:
    'Prints the number of bytes the Python struct FORMAT packs to, as struct.calcsize\n' +
    'does. A format CPython rejects exits 1 with SB_STRUCT_ERROR.',
  flags: [],
  positionals: { min: 1, max: 1, name: 'FORMAT' },
  examples: ["calcsize '!HHIq'", "calcsize '@bi'"],
  rawArgs: true,
  async run({ args }) {
    const positionals = rawPositionals(command.name, args.positionals);
    const [format] = positionals;
    if (format === undefined || positionals.length > 1) {
      throw new UsageError('calcsize: takes one FORMAT');
    }
    await stdout.line(String(calcsize(format)));
    return EXIT.ok;
  },
};
