/**
 * `switchboard encode`: the reverse of `decode`.
 *
 * Input records are read one line at a time and each becomes one payload,
 * framed by the framing's encoder and written to stdout:
 * - `--input lines` (default): each LF-terminated line, the LF removed, is a
 *   payload; a final trailing LF does not make an extra frame.
 * - `--input json`: each line is a record as `decode --output json` prints
 *   (`{"len":N,"hex":"...","text":...}`); the payload comes from `hex`, and a
 *   `len` that disagrees with it is an error. Blank lines are skipped. So
 *   `decode --output json | encode --input json` reproduces the input.
 */
import { FrameError, InvalidArgumentError } from '../index.js';
import {
  type CommandSpec,
  choiceFlag,
  FRAMING_FLAG,
  framingFromArgs,
  MAX_FRAME_FLAG,
} from './args.js';
import { EXIT, fromHex, openInput, readLines, stdout } from './output.js';

/** The `--input` formats. */
const INPUT_FORMATS = ['lines', 'json'] as const;

/** The `encode` command. */
export const command: CommandSpec = {
  name: 'encode',
  usage: 'encode --framing SPEC [--input lines|json] [--max-frame N] [FILE|-]',
  description:
    'Reads FILE (or stdin when FILE is - or absent) one line at a time and writes each line\n' +
    'as one frame of the framing SPEC to stdout. With --input json each line is a record as\n' +
    '`decode --output json` prints and the payload is its "hex", so decode | encode\n' +
    'reproduces the input byte for byte.',
  flags: [
    FRAMING_FLAG,
    {
      name: 'input',
      short: 'i',
      type: 'string',
      value: 'FORMAT',
      description: 'lines (default: one payload per LF-terminated line) or json',
    },
    {
      ...MAX_FRAME_FLAG,
      description: 'largest payload in bytes (default 8 MiB; line/delim 64 KiB)',
    },
  ],
  positionals: { min: 0, max: 1, name: 'FILE' },
  examples: [
    'encode --framing length:u16be messages.txt > framed.bin',
    'decode --framing netstring --output json in.bin | switchboard encode --framing netstring --input json',
  ],
  async run({ args, signal }) {
    const inputFormat = choiceFlag(args, command, 'input', INPUT_FORMATS, 'lines');
    const framing = framingFromArgs(args, command);
    const encoder = framing.createEncoder();
    const input = await openInput(args.positionals[0]);
    // A JSON record holds the payload twice (hex, text) and text may escape each
    // byte as \uXXXX; bound the line so one huge line cannot exhaust memory.
    const maxLine =
      inputFormat === 'json' ? Math.min(2 ** 31, framing.maxFrame * 8 + 4096) : framing.maxFrame;
    const tooLong = (): Error =>
      new InvalidArgumentError(
        'SB_PAYLOAD_TOO_LARGE',
        `an input line is longer than ${maxLine} bytes (maxFrame ${framing.maxFrame})`,
      );
    let lineNumber = 0;
    for await (const line of readLines(input, maxLine, tooLong)) {
      if (signal.aborted) {
        return EXIT.interrupted;
      }
      lineNumber += 1;
      const payload = inputFormat === 'json' ? parseRecord(line, lineNumber) : line;
      if (payload === undefined) {
        continue;
      }
      for (const piece of encoder.encode(payload)) {
        await stdout.write(piece);
      }
    }
    return EXIT.ok;
  },
};

const utf8 = new TextDecoder('utf-8');

/** Parses one `decode --output json` record; undefined for a blank line. */
function parseRecord(line: Uint8Array, lineNumber: number): Uint8Array | undefined {
  const text = utf8.decode(line);
  if (text.trim() === '') {
    return undefined;
  }
  const fail = (why: string): FrameError =>
    new FrameError('SB_BAD_INPUT_RECORD', `input line ${lineNumber}: ${why}`);
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    throw fail('not valid JSON');
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw fail('not a JSON object');
  }
  const fields = record as Record<string, unknown>;
  if (typeof fields.hex !== 'string') {
    throw fail('"hex" is missing or not a string');
  }
  const payload = fromHex(fields.hex);
  if (payload === undefined) {
    throw fail('"hex" is not an even-length hex string');
  }
  if (fields.len !== undefined && fields.len !== payload.byteLength) {
    throw fail(
      `"len" is ${JSON.stringify(fields.len)} but "hex" holds ${payload.byteLength} bytes`,
    );
  }
  return payload;
}
