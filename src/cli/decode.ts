/**
 * `switchboard decode`: split a byte stream into frames and print one per line.
 *
 * Bytes go through the framing's sans-IO decoder as they arrive; every frame is
 * printed before more input is read, so on bad input the frames before it are
 * already on stdout when the error (code and byte offset) goes to stderr and
 * the command exits 1. The byte offset is that of the first byte of the frame
 * that failed, counted from the start of the input (SPEC §2).
 */
import { isSwitchboardError } from '../index.js';
import {
  type CommandSpec,
  choiceFlag,
  FRAMING_FLAG,
  framingFromArgs,
  maxFrameFlag,
  messageDecoder,
  outputFlag,
} from './args.js';
import { decodeChunks } from './frames.js';
import {
  EXIT,
  exitCodeFor,
  formatError,
  formatFrame,
  OUTPUT_FORMATS,
  openInput,
  stdout,
} from './output.js';

/** The `decode` command. */
export const command: CommandSpec = {
  name: 'decode',
  usage: 'decode --framing SPEC [--max-frame N] [--output text|hex|json] [FILE|-]',
  description:
    'Reads FILE (or stdin when FILE is - or absent), splits it into frames with the framing\n' +
    'SPEC and prints one frame per line. On bad input the frames before it are printed, then\n' +
    'the error with its byte offset goes to stderr and the exit code is 1.',
  flags: [FRAMING_FLAG, maxFrameFlag(), outputFlag('frames print')],
  positionals: { min: 0, max: 1, name: 'FILE' },
  examples: [
    'decode --framing length:u16be capture.bin',
    'decode --framing netstring --output json < stream.bin',
  ],
  async run({ args, signal }) {
    const format = choiceFlag(args, command, 'output', OUTPUT_FORMATS, 'text');
    const framing = framingFromArgs(args, command);
    const input = await openInput(args.positionals[0]);
    // Offset of the first byte not yet returned as (part of) a frame: the start of
    // the frame being decoded, used when the decoder's error does not carry one.
    let consumed = 0;
    try {
      const finished = await decodeChunks(
        input,
        messageDecoder(framing),
        (frame, end) => {
          consumed = end;
          return stdout.line(formatFrame(frame, format));
        },
        signal,
      );
      return finished ? EXIT.ok : EXIT.interrupted;
    } catch (error) {
      if (!isSwitchboardError(error)) {
        throw error;
      }
      // The frames before the bad input go out first, then the error.
      await stdout.flush();
      process.stderr.write(`${formatError(error, error.offset ?? consumed)}\n`);
      return exitCodeFor(error);
    }
  },
};
