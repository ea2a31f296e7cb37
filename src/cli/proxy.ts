/**
 * `switchboard proxy`: a loopback TCP proxy that injects faults, for trying a
 * client or server against a bad network by hand. It wraps the library's
 * `FaultProxy` (switchboard/testing); every fault given applies to both
 * directions. The first stdout line is `listening on tcp://HOST:PORT`, as for
 * `serve`, so scripts can read the port when `:0` was asked.
 *
 * With `--api ADDR` it serves Toxiproxy's HTTP API instead (`ToxiproxyServer`), and
 * proxies are created through it; the first line is `api listening on http://HOST:PORT`.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { DEFAULTS } from '../index.js';
import {
  FaultProxy,
  type FaultProxyEvent,
  type FaultProxyMessage,
  ToxiproxyServer,
} from '../testing/index.js';
import { DEFAULT_SEED } from '../testing/seeded-random.js';
import {
  booleanFlag,
  type CommandSpec,
  choiceFlag,
  integerFlag,
  maxFrameFlag,
  optionalFramingFromArgs,
  outputFlag,
  stringFlag,
  UsageError,
} from './args.js';
import { EXIT, OUTPUT_FORMATS, stdout } from './output.js';
import { RecordFormatter, TapFormatter } from './tap.js';

/** Where the proxy listens without --listen: a free loopback port. */
const DEFAULT_LISTEN = `${DEFAULTS.host}:0`;

/** Output (tap lines, records) buffered before lines are dropped, in bytes. */
const OUTPUT_BACKLOG_BYTES = 8 * 1024 * 1024;

/** The `proxy` command. */
export const command: CommandSpec = {
  name: 'proxy',
  usage:
    'proxy --listen ADDR --target ADDR [--latency MS] [--jitter MS] [--bandwidth BYTES_PER_S]\n' +
    '                   [--slice N] [--reset-after BYTES] [--blackhole]\n' +
    '                   [--framing SPEC [--max-frame N] [--tap] [--output text|hex|json]\n' +
    '                   [--record FILE]]\n' +
    '       switchboard proxy --api ADDR [--seed N]',
  description:
    'Listens on ADDR and forwards every connection to the target, injecting the faults\n' +
    'given (in both directions). Both addresses must be loopback (127.0.0.1, ::1, localhost)\n' +
    'or unix sockets: the proxy is a testing tool. Runs until interrupted (exit 130).\n' +
    'With --framing and --tap, prints every message crossing in each direction (->\n' +
    'client to target, <- back); --record writes them as JSON lines for replay. Bytes are\n' +
    'forwarded exactly as received. With --api, serves the Toxiproxy HTTP API on ADDR\n' +
    '(loopback only) instead: create proxies and toxics with any Toxiproxy client.',
  flags: [
    {
      name: 'api',
      type: 'string',
      value: 'ADDR',
      description: 'serve the Toxiproxy-compatible HTTP API on ADDR (e.g. 127.0.0.1:8474)',
    },
    {
      name: 'seed',
      type: 'string',
      value: 'N',
      description: `PRNG seed for jitter, toxicity and probabilities (default ${DEFAULT_SEED})`,
    },
    {
      name: 'listen',
      short: 'l',
      type: 'string',
      value: 'ADDR',
      description: `where to listen, HOST:PORT (default ${DEFAULT_LISTEN}, a free port)`,
    },
    {
      name: 'target',
      short: 't',
      type: 'string',
      value: 'ADDR',
      description: 'where to forward: HOST:PORT, tcp://HOST:PORT or unix:/path (required)',
    },
    {
      name: 'latency',
      type: 'string',
      value: 'MS',
      description: 'delay every chunk by MS milliseconds',
    },
    {
      name: 'jitter',
      type: 'string',
      value: 'MS',
      description: 'add a uniform random +-MS to the latency (never reorders)',
    },
    {
      name: 'bandwidth',
      type: 'string',
      value: 'BYTES_PER_S',
      description: 'forward at most this many bytes per second',
    },
    {
      name: 'slice',
      type: 'string',
      value: 'N',
      description: 'deliver at most N bytes per write (1 = byte by byte)',
    },
    {
      name: 'reset-after',
      type: 'string',
      value: 'BYTES',
      description: 'reset (RST) a connection after BYTES bytes in one direction',
    },
    {
      name: 'blackhole',
      type: 'boolean',
      description: 'read and drop everything; connections stay open and silent',
    },
    {
      name: 'framing',
      short: 'f',
      type: 'string',
      value: 'SPEC',
      description: 'decode each direction with this framing (for --tap and --record)',
    },
    maxFrameFlag(),
    {
      name: 'tap',
      type: 'boolean',
      description: 'print every message in each direction: time, #conn, -> or <-, size, payload',
    },
    outputFlag('tap payloads print'),
    {
      name: 'record',
      type: 'string',
      value: 'FILE',
      description: 'write every message as a JSON line to FILE (for switchboard replay)',
    },
  ],
  positionals: { min: 0, max: 0, name: 'argument' },
  examples: [
    'proxy --api 127.0.0.1:8474',
    'proxy --listen 127.0.0.1:7071 --target 127.0.0.1:7070 --latency 50 --jitter 20',
    'proxy --listen 127.0.0.1:7071 --target 127.0.0.1:7070 --slice 1',
    'proxy --listen 127.0.0.1:7071 --target 127.0.0.1:7070 --framing line --tap',
  ],
  async run({ args, signal }) {
    const seed = integerFlag(args, command, 'seed', { kind: 'count' });
    const api = stringFlag(args, command, 'api');
    if (api !== undefined) {
      const server = await ToxiproxyServer.start({
        listen: api,
        ...(seed === undefined ? {} : { seed }),
      });
      try {
        await stdout.line(`api listening on ${server.url}`);
        await stdout.flush();
        await waitForAbort(signal);
      } finally {
        await server.close();
      }
      return EXIT.interrupted;
    }
    const listen = stringFlag(args, command, 'listen') ?? DEFAULT_LISTEN;
    const target = stringFlag(args, command, 'target', true);
    const latency = integerFlag(args, command, 'latency', { kind: 'ms' });
    const jitter = integerFlag(args, command, 'jitter', { kind: 'ms' });
    const bandwidth = integerFlag(args, command, 'bandwidth', { kind: 'bytes', min: 1 });
    const slice = integerFlag(args, command, 'slice', { kind: 'bytes', min: 1 });
    const resetAfter = integerFlag(args, command, 'reset-after', { kind: 'bytes' });
    const decoding = optionalFramingFromArgs(args, command);
    const tap = booleanFlag(args, 'tap');
    const format = choiceFlag(args, command, 'output', OUTPUT_FORMATS, 'text');
    const recordPath = stringFlag(args, command, 'record');
    if ((tap || recordPath !== undefined) && decoding === undefined) {
      throw new UsageError('proxy: --tap and --record need --framing SPEC');
    }
    const tapFormatter = tap ? new TapFormatter(format) : undefined;
    const recorder = recordPath === undefined ? undefined : new RecordFormatter();
    let record: WriteStream | undefined;
    // The proxy never waits for its outputs (the traffic must not change), so a slow
    // stdout or disk would buffer without bound: past OUTPUT_BACKLOG_BYTES lines are
    // dropped and counted, and the count is printed when output flows again.
    let droppedRecords = 0;
    let droppedTap = 0;
    const writeRecord = (line: string | undefined): void => {
      if (line === undefined || record === undefined) {
        return;
      }
      if (record.writableLength > OUTPUT_BACKLOG_BYTES) {
        droppedRecords += 1;
        return;
      }
      if (droppedRecords > 0) {
        process.stderr.write(
          `proxy: ${droppedRecords} records dropped (the record file is slow)\n`,
        );
        droppedRecords = 0;
      }
      record.write(`${line}\n`);
    };
    const printTap = (line: string | undefined): void => {
      if (line === undefined) {
        return;
      }
      if (process.stdout.writableLength > OUTPUT_BACKLOG_BYTES) {
        droppedTap += 1;
        return;
      }
      if (droppedTap > 0) {
        stdout.line(`(${droppedTap} tap lines dropped: stdout is slow)`).catch(() => undefined);
        droppedTap = 0;
      }
      stdout.line(line).catch(() => undefined);
    };
    const onMessage =
      tapFormatter === undefined && recorder === undefined
        ? undefined
        : (message: FaultProxyMessage): void => {
            printTap(tapFormatter?.message(message));
            writeRecord(recorder?.message(message));
          };
    const onEvent =
      onMessage === undefined
        ? undefined
        : (event: FaultProxyEvent): void => {
            printTap(tapFormatter?.event(event));
            writeRecord(recorder?.event(event));
          };
    if (recordPath !== undefined && recorder !== undefined) {
      const stream = createWriteStream(recordPath, { flags: 'w' });
      await new Promise<void>((resolve, reject) => {
        stream.once('open', () => resolve());
        stream.once('error', () =>
          reject(new UsageError(`proxy: cannot write the record file ${recordPath}`)),
        );
      });
      stream.on('error', () => undefined);
      record = stream;
      // The spec as given, which replay parses again.
      writeRecord(recorder.header(stringFlag(args, command, 'framing') ?? '', target));
    }
    const proxy = await FaultProxy.start({
      listen,
      target: target.replace(/^tcp:\/\//, ''),
      ...(seed === undefined ? {} : { seed }),
      ...(decoding === undefined ? {} : { framing: decoding }),
      ...(onMessage === undefined ? {} : { onMessage }),
      ...(onEvent === undefined ? {} : { onEvent }),
    });
    try {
      if (latency !== undefined || jitter !== undefined) {
        proxy.addFault('both', { type: 'latency', ms: latency ?? 0, jitterMs: jitter ?? 0 });
      }
      if (bandwidth !== undefined) {
        proxy.addFault('both', { type: 'bandwidth', bytesPerSecond: bandwidth });
      }
      if (slice !== undefined) {
        proxy.addFault('both', { type: 'slice', maxBytes: slice });
      }
      if (resetAfter !== undefined) {
        proxy.addFault('both', { type: 'resetAfter', bytes: resetAfter });
      }
      if (booleanFlag(args, 'blackhole')) {
        proxy.addFault('both', { type: 'blackhole' });
      }
      await stdout.line(`listening on tcp://${proxy.address}`);
      await stdout.flush();
      await waitForAbort(signal);
    } finally {
      await proxy.close();
      if (record !== undefined) {
        const stream = record;
        await new Promise<void>((resolve) => stream.end(() => resolve()));
      }
      await stdout.flush();
    }
    return EXIT.interrupted;
  },
};

function waitForAbort(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
