/**
 * `switchboard connect`: an interactive framed client, `nc` for messages.
 *
 * Theory of operation: two independent loops share one connection.
 * - The writer reads stdin one line at a time; each line (LF removed) is sent
 *   as one frame. At EOF on stdin it half-closes (`shutdown('write')`): the
 *   peer sees EOF but can still answer.
 * - The reader pulls bytes from the socket through the framing's decoder and
 *   prints each frame on its own line, until the peer closes its side.
 *
 * The command ends when the reader has seen the peer's EOF: at once when the
 * peer closes first, or after the writer's half-close when stdin ends first
 * ("EOF on stdin half-closes and waits for the peer to finish"). With the
 * `eof` framing, stdin is one message: its bytes are sent as they come.
 *
 * The client flags and `--tls-*` reading exported here are shared with `send`.
 */
import { connect, type Framing, type Socket, type TlsClientOptions } from '../index.js';
import {
  type CommandSpec,
  choiceFlag,
  type FlagSpec,
  FRAMING_FLAG,
  framingFromArgs,
  maxFrameFlag,
  messageDecoder,
  outputFlag,
  type ParsedArgs,
  readFileFlag,
  stringFlag,
  UsageError,
} from './args.js';
import { framePrinter, receiveFrames, sendPieces, untilAborted } from './frames.js';
import { EXIT, OUTPUT_FORMATS } from './output.js';
import { encodedLines, INPUT_FORMATS, type InputFormat, inputFlag } from './records.js';

/** Flags shared by `connect` and `send`. */
export const CLIENT_FLAGS: readonly FlagSpec[] = [
  FRAMING_FLAG,
  outputFlag('received frames print'),
  maxFrameFlag('largest frame in bytes, both ways'),
  {
    name: 'tls-ca',
    type: 'string',
    value: 'F',
    description: 'PEM CA bundle to verify the server with (turns TLS on)',
  },
  {
    name: 'tls-cert',
    type: 'string',
    value: 'F',
    description: 'PEM client certificate for mutual TLS (needs --tls-key; turns TLS on)',
  },
  { name: 'tls-key', type: 'string', value: 'F', description: 'PEM private key for --tls-cert' },
  {
    name: 'tls-servername',
    type: 'string',
    value: 'NAME',
    description: 'name the server certificate must match (default: the host)',
  },
];

/**
 * Client TLS options from the `--tls-*` flags, or undefined when none is given
 * (a `tls://` address still turns TLS on, verified against the system's root CAs).
 */
export function tlsFromArgs(args: ParsedArgs, spec: CommandSpec): TlsClientOptions | undefined {
  const ca = stringFlag(args, spec, 'tls-ca');
  const cert = stringFlag(args, spec, 'tls-cert');
  const key = stringFlag(args, spec, 'tls-key');
  const servername = stringFlag(args, spec, 'tls-servername');
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError(`${spec.name}: --tls-cert and --tls-key go together`);
  }
  if (ca === undefined && cert === undefined && servername === undefined) {
    return undefined;
  }
  const options: TlsClientOptions = {};
  if (ca !== undefined) {
    options.ca = readFileFlag(spec, 'tls-ca', ca);
  }
  if (cert !== undefined && key !== undefined) {
    options.cert = readFileFlag(spec, 'tls-cert', cert);
    options.key = readFileFlag(spec, 'tls-key', key);
  }
  if (servername !== undefined) {
    options.servername = servername;
  }
  return options;
}

/** The `connect` command. */
export const command: CommandSpec = {
  name: 'connect',
  usage:
    'connect ADDR --framing SPEC [--input lines|hex|json] [--output text|hex|json]\n' +
    '                   [--max-frame N] [--tls-ca F] [--tls-cert F --tls-key F]\n' +
    '                   [--tls-servername NAME]',
  description:
    'Connects to ADDR (HOST:PORT, [v6]:PORT, tcp://, tls://, unix:/path). Each line read from\n' +
    'stdin (LF removed; with --input hex, hex; with --input json, a `decode --output json`\n' +
    'record) is sent as one frame; each frame received prints on its own line.\n' +
    'EOF on stdin half-closes the connection and waits for the peer to finish; the command\n' +
    'ends when the peer closes. With --framing eof, stdin is sent as one message.',
  flags: [...CLIENT_FLAGS, inputFlag('stdin lines become frames')],
  positionals: { min: 1, max: 1, name: 'ADDR' },
  examples: [
    'connect 127.0.0.1:7070 --framing line',
    'connect unix:/tmp/sb.sock --framing length:u16be --output hex',
  ],
  async run({ args, signal }) {
    const address = args.positionals[0] as string;
    const framing = framingFromArgs(args, command);
    const format = choiceFlag(args, command, 'output', OUTPUT_FORMATS, 'text');
    const tls = tlsFromArgs(args, command);
    const inputFormat = choiceFlag(args, command, 'input', INPUT_FORMATS, 'lines');
    const socket = await connect(address, { signal, ...(tls === undefined ? {} : { tls }) });
    await untilAborted(socket, signal, async () => {
      const reading = receiveFrames(socket, messageDecoder(framing), framePrinter(format));
      const writing = sendStdin(socket, framing, inputFormat);
      // If the peer finishes first, stdin may never end (a terminal): don't wait for it.
      writing.catch(() => {});
      const first = await Promise.race([reading.then(() => 'read'), writing.then(() => 'write')]);
      if (first === 'write') {
        await reading;
      }
    });
    return EXIT.ok;
  },
};

async function sendStdin(socket: Socket, framing: Framing, format: InputFormat): Promise<void> {
  if (framing.spec === 'eof' && format === 'lines') {
    for await (const chunk of process.stdin) {
      await socket.sendAll(chunk as Uint8Array);
    }
  } else {
    for await (const pieces of encodedLines(process.stdin, format, framing, 'stdin')) {
      await sendPieces(socket, pieces);
    }
  }
  await socket.shutdown('write');
}
