/**
 * `switchboard encode`: the reverse of `decode`.
 *
 * Input records are read one line at a time and each becomes one payload,
 * framed by the framing's encoder and written to stdout:
 * - `--input lines` (default): each LF-terminated line, the LF removed, is a
 *   payload; a final trailing LF does not make an extra frame.
 * - `--input hex` and `--input json`: see records.ts. So
 *   `decode --output json | encode --input json` reproduces the input.
 */
import {
  type CommandSpec,
  choiceFlag,
  FRAMING_FLAG,
  framingFromArgs,
  maxFrameFlag,
} from './args.js';
import { EXIT, openInput, stdout } from './output.js';
import { encodedLines, INPUT_FORMATS, inputFlag } from './records.js';

/** The `encode` command. */
export const command: CommandSpec = {
  name: 'encode',
  usage: 'encode --framing SPEC [--input lines|hex|json] [--max-frame N] [FILE|-]',
  description:
    'Reads FILE (or stdin when FILE is - or absent) one line at a time and writes each line\n' +
    'as one frame of the framing SPEC to stdout. With --input hex each line is a payload in\n' +
    'hex; with --input json each line is a record as `decode --output json` prints and the\n' +
    'payload is its "hex", so decode | encode reproduces the input byte for byte. A line\n' +
    'the framing cannot encode is a data error (exit 1).',
  flags: [
    FRAMING_FLAG,
    inputFlag('each line becomes a payload'),
    maxFrameFlag('largest payload in bytes'),
  ],
  positionals: { min: 0, max: 1, name: 'FILE' },
  examples: [
    'encode --framing length:u16be messages.txt > framed.bin',
    'decode --framing netstring --output json in.bin | switchboard encode --framing netstring --input json',
  ],
  async run({ args, signal }) {
    const format = choiceFlag(args, command, 'input', INPUT_FORMATS, 'lines');
    const framing = framingFromArgs(args, command);
    const input = await openInput(args.positionals[0]);
    for await (const pieces of encodedLines(input, format, framing, 'input')) {
      if (signal.aborted) {
        return EXIT.interrupted;
      }
      for (const piece of pieces) {
        await stdout.write(piece);
      }
    }
    return EXIT.ok;
  },
};
