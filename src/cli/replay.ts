/**
 * `switchboard replay FILE --target ADDR`: plays one side of a session recorded by
 * `switchboard proxy --framing SPEC --record FILE` back against a server, and prints
 * what comes back, so a captured session can be re-run against a fixed server.
 *
 * Theory of operation: the recording's connections are replayed one after another, in
 * the order they opened (so the output is deterministic). For each, replay connects,
 * sends the recorded side's messages (`--side client`: the `->` ones, the default;
 * `--side server`: the `<-` ones) encoded with the recording's framing, each after the
 * recorded gap divided by `--speed` (or back to back with `--fast`), while printing each
 * decoded reply as `#CONN DIR SIZE PAYLOAD` (DIR is the replies' direction). After the
 * last message it half-closes and reads until the server closes, or until no reply came
 * for `--timeout` ms. Raw records (bytes after a framing error) are sent as they are.
 */
import { connect, parseFraming } from '../index.js';
import { sleep } from '../net/clock.js';
import { readFileUpTo } from '../read-file.js';
import {
  type CommandSpec,
  choiceFlag,
  integerFlag,
  outputFlag,
  stringFlag,
  UsageError,
} from './args.js';
import { decodeChunks, sendPieces, socketChunks } from './frames.js';
import { EXIT, formatFrame, fromHex, OUTPUT_FORMATS, stdout } from './output.js';
import { encodeRecord } from './records.js';

interface Sent {
  t: number;
  bytes: Uint8Array;
  raw: boolean;
  /** Its line in the recording, 1-based (named when the framing refuses the payload). */
  line: number;
}

/** Largest record file read, in bytes (a recording is a debugging artefact, not a log). */
const MAX_RECORD_BYTES = 256 * 1024 * 1024;
/** `--speed`: as fast as recorded. */
const DEFAULT_SPEED = 1;
/** `--timeout`: after the last message, stop when no reply came for this long, ms. */
const QUIET_TIMEOUT_MS = 5_000;

export const command: CommandSpec = {
  name: 'replay',
  usage:
    'replay FILE --target ADDR [--side client|server] [--speed N|--fast] [--output text|hex|json]',
  description:
    'Plays one side of a recording (switchboard proxy --framing SPEC --record FILE) back\n' +
    'against ADDR, one recorded connection after another, and prints every reply\n' +
    'as "#CONN DIR SIZE PAYLOAD". Recorded gaps are kept (divided by --speed) unless --fast.',
  flags: [
    {
      name: 'target',
      short: 't',
      type: 'string',
      value: 'ADDR',
      description: 'the server to replay against, HOST:PORT (required)',
    },
    {
      name: 'side',
      type: 'string',
      value: 'SIDE',
      description: 'which side to play: client (the -> messages, default) or server (<-)',
    },
    {
      name: 'speed',
      type: 'string',
      value: 'N',
      description: `play N times faster than recorded (default ${DEFAULT_SPEED})`,
    },
    { name: 'fast', type: 'boolean', description: 'send back to back, ignoring recorded gaps' },
    outputFlag('replies print'),
    {
      name: 'timeout',
      type: 'string',
      value: 'MS',
      description: `after the last message, stop waiting when no reply came for MS (default ${QUIET_TIMEOUT_MS})`,
    },
  ],
  positionals: { min: 1, max: 1, name: 'FILE' },
  examples: [
    'replay session.jsonl --target 127.0.0.1:7070 --fast',
    'replay session.jsonl --target 127.0.0.1:7070 --speed 10 --output json',
  ],
  async run({ args, signal }) {
    const file = args.positionals[0] as string;
    const target = stringFlag(args, command, 'target', true);
    const side = choiceFlag(args, command, 'side', ['client', 'server'] as const, 'client');
    const format = choiceFlag(args, command, 'output', OUTPUT_FORMATS, 'text');
    const fast = args.values.fast === true;
    const speedText = stringFlag(args, command, 'speed');
    const speed = speedText === undefined ? DEFAULT_SPEED : Number(speedText);
    if (!(speed > 0) || !Number.isFinite(speed)) {
      throw new UsageError('replay: --speed must be a number > 0');
    }
    const timeout = integerFlag(args, command, 'timeout', { kind: 'ms' }) ?? QUIET_TIMEOUT_MS;
    const { framing: spec, connections } = await readRecording(
      file,
      side === 'client' ? '->' : '<-',
    );
    const framing = parseFraming(spec);
    const replyArrow = side === 'client' ? '<-' : '->';
    for (const [conn, messages] of connections) {
      if (signal.aborted) {
        return EXIT.interrupted;
      }
      const socket = await connect(target.replace(/^tcp:\/\//, ''), { signal });
      try {
        const encoder = framing.createEncoder();
        const reading = decodeChunks(
          socketChunks(socket, () => ({ timeout, signal }), true),
          framing.createDecoder(),
          (frame) =>
            stdout.line(`#${conn} ${replyArrow} ${frame.length} ${formatFrame(frame, format)}`),
        );
        // The reader's failure is awaited below; keep it from being unhandled meanwhile.
        reading.catch(() => undefined);
        const started = performance.now();
        const first = messages[0]?.t ?? 0;
        for (const message of messages) {
          if (!fast) {
            const due = started + (message.t - first) / speed;
            const wait = due - performance.now();
            // sleep() waits out gaps past a node timer's 24.8 days in pieces (one
            // oversized setTimeout runs after 1 ms), and returns early on SIGINT.
            const slept = await sleep(wait, signal).then(
              () => true,
              () => false,
            );
            if (!slept) {
              return EXIT.interrupted;
            }
          }
          // A payload the framing refuses (an edited or foreign file) is a data error
          // naming its line, as `encode` reports one, not the encoder's caller fault.
          const pieces = message.raw
            ? [message.bytes]
            : encodeRecord(encoder, message.bytes, `replay: ${file} line ${message.line}`);
          await sendPieces(socket, pieces, { signal });
        }
        await socket.shutdown();
        await reading;
      } finally {
        socket.destroy();
      }
    }
    await stdout.flush();
    return EXIT.ok;
  },
};

/** Reads a recording: its framing and, per connection in order, the side's messages. */
async function readRecording(
  file: string,
  dir: '->' | '<-',
): Promise<{ framing: string; connections: Map<number, Sent[]> }> {
  let text: string;
  try {
    // Stopped at the cap, not read whole first (a recording named /dev/zero is endless).
    const data = readFileUpTo(file, MAX_RECORD_BYTES);
    if (data === null) {
      throw new UsageError(`replay: ${file} is larger than ${MAX_RECORD_BYTES} bytes`);
    }
    text = data.toString('utf8');
  } catch (error) {
    if (error instanceof UsageError) {
      throw error;
    }
    throw new UsageError(`replay: cannot read ${file}`);
  }
  const lines = text.split('\n').filter((line) => line.trim().length > 0);
  const parse = (line: string, index: number): Record<string, unknown> => {
    try {
      const value = JSON.parse(line) as unknown;
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        return value as Record<string, unknown>;
      }
    } catch {
      // reported below
    }
    throw new UsageError(`replay: ${file} line ${index + 1} is not a record`);
  };
  const header = lines.length > 0 ? parse(lines[0]!, 0) : {};
  if (header.type !== 'switchboard-record' || typeof header.framing !== 'string') {
    throw new UsageError(`replay: ${file} is not a switchboard recording (no header line)`);
  }
  const connections = new Map<number, Sent[]>();
  lines.slice(1).forEach((line, offset) => {
    const record = parse(line, offset + 1);
    const conn = record.conn;
    if (typeof conn !== 'number' || typeof record.t !== 'number') {
      throw new UsageError(`replay: ${file} line ${offset + 2} is not a record`);
    }
    if (!connections.has(conn)) {
      connections.set(conn, []);
    }
    if (record.dir !== dir || typeof record.hex !== 'string') {
      return;
    }
    const bytes = fromHex(record.hex);
    if (bytes === undefined) {
      throw new UsageError(`replay: ${file} line ${offset + 2} has bad hex`);
    }
    connections.get(conn)!.push({
      t: record.t,
      bytes,
      raw: record.raw === true,
      line: offset + 2,
    });
  });
  return { framing: header.framing, connections };
}
