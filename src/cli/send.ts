/**
 * `switchboard send`: a one-shot request, the HOWTO's HTTP-like exchange.
 *
 * Connects, sends each MESSAGE (UTF-8) as one frame, then the contents of
 * `--file` as one more frame, shuts down its write side so the peer sees EOF,
 * and prints every reply frame until the peer closes. `--timeout` bounds the
 * whole exchange (connect, send, replies); when it passes the command fails
 * with `SB_TIMEOUT` (or `SB_CONNECT_TIMEOUT`), exit 3.
 */
import { createReadStream } from 'node:fs';
import { type CallOptions, connect, InvalidArgumentError } from '../index.js';
import {
  type CommandSpec,
  choiceFlag,
  framingFromArgs,
  integerFlag,
  messageDecoder,
  stringFlag,
} from './args.js';
import { CLIENT_FLAGS, tlsFromArgs } from './connect.js';
import { framePrinter, receiveFrames, sendPieces, untilAborted } from './frames.js';
import { EXIT, OUTPUT_FORMATS, systemCode } from './output.js';
import { encodeRecord, INPUT_FORMATS, inputFlag, payloadOf } from './records.js';

/** The `send` command. */
export const command: CommandSpec = {
  name: 'send',
  usage:
    'send ADDR --framing SPEC [MESSAGE...] [--input lines|hex|json] [--file F] [--timeout MS]\n' +
    '                   [--output text|hex|json] [--max-frame N] [--tls-ca F]\n' +
    '                   [--tls-cert F --tls-key F] [--tls-servername NAME]',
  description:
    'Connects to ADDR, sends each MESSAGE as one frame, then the contents of --file F (- for\n' +
    'stdin) as one frame, shuts down its write side, and prints every reply frame until the\n' +
    'peer closes. With --framing eof the messages are sent back to back as the one message.',
  flags: [
    ...CLIENT_FLAGS,
    inputFlag('each MESSAGE is read'),
    {
      name: 'file',
      type: 'string',
      value: 'F',
      description: "send F's bytes as one more message (- = stdin)",
    },
    {
      name: 'timeout',
      short: 't',
      type: 'string',
      value: 'MS',
      description: 'deadline for the whole exchange in ms (default 0 = none)',
    },
  ],
  positionals: { min: 1, max: Number.POSITIVE_INFINITY, name: 'ADDR' },
  examples: [
    "send 127.0.0.1:7070 --framing line 'hello' 'world'",
    'send 127.0.0.1:8080 --framing eof --file request.txt --timeout 5000',
  ],
  async run({ args, signal }) {
    const [address, ...messages] = args.positionals as string[];
    const framing = framingFromArgs(args, command);
    const format = choiceFlag(args, command, 'output', OUTPUT_FORMATS, 'text');
    const timeout = integerFlag(args, command, 'timeout', { kind: 'ms' }) ?? 0;
    const file = stringFlag(args, command, 'file');
    const inputFormat = choiceFlag(args, command, 'input', INPUT_FORMATS, 'lines');
    const payloads: Uint8Array[] = [];
    for (const [index, message] of messages.entries()) {
      const payload = payloadOf(Buffer.from(message, 'utf8'), inputFormat, `message ${index + 1}`);
      if (payload !== undefined) {
        payloads.push(payload);
      }
    }
    if (file !== undefined) {
      payloads.push(await readWhole(file, framing.maxFrame));
    }
    const deadline = timeout > 0 ? Date.now() + timeout : undefined;
    // The time left for the next call; never 0, which would mean "no deadline".
    const callOptions = (): CallOptions | undefined =>
      deadline === undefined ? undefined : { timeout: Math.max(1, deadline - Date.now()) };
    const tls = tlsFromArgs(args, command);
    const socket = await connect(address as string, {
      signal,
      ...(tls === undefined ? {} : { tls }),
      ...callOptions(),
    });
    await untilAborted(socket, signal, async () => {
      const encoder = framing.createEncoder();
      // Read replies while sending: a peer that answers each message before
      // reading the next must not deadlock against a large batch.
      const reading = receiveFrames(
        socket,
        messageDecoder(framing),
        framePrinter(format),
        callOptions,
      );
      reading.catch(() => {});
      for (const [index, payload] of payloads.entries()) {
        const pieces = encodeRecord(encoder, payload, `message ${index + 1}`);
        await sendPieces(socket, pieces, callOptions());
      }
      await socket.shutdown('write');
      await reading;
    });
    return EXIT.ok;
  },
};

/**
 * The bytes of `path` (`-`: stdin), read as a stream and refused with
 * `SB_PAYLOAD_TOO_LARGE` as soon as they pass `maxFrame`, so a huge or endless file
 * (`/dev/zero`) cannot exhaust memory: the framing would refuse the message anyway.
 */
async function readWhole(path: string, maxFrame: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  const source = path === '-' ? process.stdin : createReadStream(path);
  try {
    for await (const chunk of source) {
      total += (chunk as Buffer).length;
      if (total > maxFrame) {
        throw new InvalidArgumentError(
          'SB_PAYLOAD_TOO_LARGE',
          `--file: more than ${maxFrame} bytes (maxFrame ${maxFrame})`,
        );
      }
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof InvalidArgumentError || path === '-') {
      throw error;
    }
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `cannot read --file '${path}' (${systemCode(error)})`,
    );
  }
  return Buffer.concat(chunks);
}
