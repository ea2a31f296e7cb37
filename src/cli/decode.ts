/**
 * `switchboard decode`: split a byte stream into frames and print one per line.
 *
 * Bytes go through the framing's sans-IO decoder as they arrive; every frame is
 * printed before more input is read, so on bad input the frames before it are
 * already on stdout when the error (code and byte offset) goes to stderr and
 * the command exits 1. The byte offset is that of the first byte of the frame
 * that failed, counted from the start of the input (SPEC §2).
 */
import { isSwitchboardError, NEED_DATA } from '../index.js';
import {
  type CommandSpec,
  choiceFlag,
  FRAMING_FLAG,
  framingFromArgs,
  MAX_FRAME_FLAG,
  messageDecoder,
} from './args.js';
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
  flags: [
    FRAMING_FLAG,
    MAX_FRAME_FLAG,
    {
      name: 'output',
      short: 'o',
      type: 'string',
      value: 'FORMAT',
      description: 'text (default), hex, or json ({"len":..,"hex":..,"text":..})',
    },
  ],
  positionals: { min: 0, max: 1, name: 'FILE' },
  examples: [
    'decode --framing length:u16be capture.bin',
    'decode --framing netstring --output json < stream.bin',
  ],
  async run({ args, signal }) {
    const format = choiceFlag(args, command, 'output', OUTPUT_FORMATS, 'text');
    const framing = framingFromArgs(args, command);
    const input = await openInput(args.positionals[0]);
    const decoder = messageDecoder(framing);
    // Offset of the first byte not yet returned as (part of) a frame: the start of
    // the frame being decoded, used when the decoder's error does not carry one.
    let consumed = 0;
    let pushed = 0;
    const drain = async (): Promise<void> => {
      for (;;) {
        const frame = decoder.next();
        if (frame === NEED_DATA) {
          return;
        }
        consumed = pushed - decoder.buffered;
        await stdout.line(formatFrame(frame, format));
      }
    };
    try {
      for await (const chunk of input) {
        if (signal.aborted) {
          return EXIT.interrupted;
        }
        pushed += chunk.byteLength;
        decoder.push(chunk);
        await drain();
      }
      decoder.end();
      await drain();
    } catch (error) {
      if (!isSwitchboardError(error)) {
        throw error;
      }
      // The frames before the bad input go out first, then the error.
      await stdout.flush();
      process.stderr.write(`${formatError(error, error.offset ?? consumed)}\n`);
      return exitCodeFor(error);
    }
    return EXIT.ok;
  },
};
