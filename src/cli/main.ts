#!/usr/bin/env node
/**
 * `switchboard <command> [options]`: the command dispatcher.
 *
 * Theory of operation: main.ts knows each command only by name, summary and a
 * lazy `import()` of its module, so `switchboard decode` never loads the code of
 * `serve`. It parses the command's flags from the command's own
 * {@link CommandSpec}, handles `--help` and `--version`, runs the command, and
 * turns the outcome into an exit code (SPEC §6):
 *
 * | outcome                                   | exit |
 * | ----------------------------------------- | ---- |
 * | success                                   | 0    |
 * | FrameError, UnexpectedEofError, StructError | 1  |
 * | usage error (bad flag, InvalidArgumentError) | 2 |
 * | ConnectionError, TimeoutError             | 3    |
 * | SIGINT (except `serve`: graceful close, 0) | 130 |
 *
 * SIGINT aborts the command's `signal`; a command that does not finish within
 * a grace period ends the process with 130. `serve` also treats SIGTERM so, and
 * has no grace limit (its close has its own timeout). A second signal exits
 * with 130 at once.
 */
import { readFileSync } from 'node:fs';
import { didYouMean } from '../did-you-mean.js';
import {
  type CommandSpec,
  formatHelp,
  type ParsedArgs,
  parseCommandArgs,
  printable,
  UsageError,
  unknownOption,
} from './args.js';
import { EXIT, reportError, stdout } from './output.js';

interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<{ command: CommandSpec }>;
}

/** Every command, in the order `switchboard --help` lists them. */
const COMMANDS: Record<string, CommandEntry> = {
  serve: {
    summary: 'run a server: echo, chat, discard or your handler module',
    load: () => import('./serve.js'),
  },
  connect: {
    summary: 'interactive client: stdin lines become frames, frames print as lines',
    load: () => import('./connect.js'),
  },
  send: {
    summary: 'send messages, half-close, print every reply until EOF',
    load: () => import('./send.js'),
  },
  decode: {
    summary: 'split a byte stream (file or stdin) into frames, one per line',
    load: () => import('./decode.js'),
  },
  encode: {
    summary: 'frame lines or decode --output json records into a byte stream',
    load: () => import('./encode.js'),
  },
  pack: {
    summary: 'pack values with a Python struct format; prints hex',
    load: () => import('./pack.js'),
  },
  unpack: {
    summary: 'unpack hex with a Python struct format; prints a JSON array',
    load: () => import('./unpack.js'),
  },
  'iter-unpack': {
    summary: 'unpack consecutive records of a Python struct format; one JSON array each',
    load: () => import('./iter-unpack.js'),
  },
  calcsize: {
    summary: 'print the size in bytes of a Python struct format',
    load: () => import('./calcsize.js'),
  },
  proxy: {
    summary: 'TCP proxy that injects faults, taps framed messages; Toxiproxy HTTP API',
    load: () => import('./proxy.js'),
  },
  replay: {
    summary: 'play one side of a recorded session (proxy --record) against a server',
    load: () => import('./replay.js'),
  },
  bench: {
    summary: 'load generator: msgs/s, MB/s and latency percentiles',
    load: () => import('./bench.js'),
  },
};

/** Milliseconds a command gets to stop after SIGINT before the process exits with 130. */
const INTERRUPT_GRACE_MS = 500;

function packageVersion(): string {
  const url = new URL('../../package.json', import.meta.url);
  const manifest = JSON.parse(readFileSync(url, 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}

function topLevelHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 2;
  const rows = Object.entries(COMMANDS).map(
    ([name, entry]) => `  ${name.padEnd(width)}${entry.summary}`,
  );
  return [
    'Usage: switchboard <command> [options]',
    '',
    'Message-oriented sockets from the command line.',
    '',
    'Commands:',
    ...rows,
    '',
    'Options:',
    '  -h, --help     show this help (or `switchboard <command> --help`)',
    '  -V, --version  print the version and exit',
    '',
    'Exit codes: 0 ok, 1 data or protocol error, 2 usage error, 3 network error, 130 interrupted.',
    '',
  ].join('\n');
}

/** The message for a first word that names no command, with a guess when one is close. */
function unknownCommand(word: string): string {
  if (word.startsWith('-')) {
    return unknownOption(undefined, word, ['--help', '--version']);
  }
  const guess = didYouMean(word, Object.keys(COMMANDS));
  const hint = guess === undefined ? 'see switchboard --help' : `did you mean '${guess}'?`;
  return `unknown command '${printable(word)}' (${hint})`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stderr.write(topLevelHelp());
    return EXIT.usage;
  }
  if (first === '--help' || first === '-h') {
    process.stdout.write(topLevelHelp());
    return EXIT.ok;
  }
  if (first === '--version' || first === '-V') {
    process.stdout.write(`${packageVersion()}\n`);
    return EXIT.ok;
  }
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      process.stdout.write(topLevelHelp());
      return EXIT.ok;
    }
    const entry = Object.hasOwn(COMMANDS, topic) ? COMMANDS[topic] : undefined;
    if (entry === undefined) {
      throw new UsageError(unknownCommand(topic));
    }
    process.stdout.write(formatHelp((await entry.load()).command));
    return EXIT.ok;
  }
  const entry = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (entry === undefined) {
    throw new UsageError(unknownCommand(first));
  }
  const { command } = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    // Checked before parsing so that `--help` works even next to a bad flag.
    const beforeDoubleDash = rest.indexOf('--') === -1 ? rest : rest.slice(0, rest.indexOf('--'));
    if (beforeDoubleDash.includes('--help') || beforeDoubleDash.includes('-h')) {
      process.stdout.write(formatHelp(command));
      return EXIT.ok;
    }
  }
  const args: ParsedArgs =
    command.rawArgs === true ? { values: {}, positionals: rest } : parseCommandArgs(command, rest);
  return runWithSignals(command, args);
}

async function runWithSignals(command: CommandSpec, args: ParsedArgs): Promise<number> {
  const controller = new AbortController();
  const graceful = command.name === 'serve';
  const onSignal = (): void => {
    if (controller.signal.aborted) {
      // A second signal: stop waiting for the graceful path.
      process.exit(EXIT.interrupted);
    }
    controller.abort();
    if (!graceful) {
      setTimeout(() => process.exit(EXIT.interrupted), INTERRUPT_GRACE_MS).unref();
    }
  };
  process.on('SIGINT', onSignal);
  if (graceful) {
    process.on('SIGTERM', onSignal);
  }
  try {
    const code = await command.run({ args, signal: controller.signal });
    return controller.signal.aborted && !graceful ? EXIT.interrupted : code;
  } catch (error) {
    if (controller.signal.aborted && !graceful) {
      // The interruption made the command fail (an aborted read, a destroyed socket).
      return EXIT.interrupted;
    }
    throw error;
  }
}

process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  // The reader went away (`switchboard decode big.bin | head`): stop quietly.
  if (error.code === 'EPIPE') {
    process.exit(EXIT.ok);
  }
  throw error;
});

main(process.argv.slice(2))
  .catch(async (error: unknown) => {
    // Output produced before the error goes out before it.
    await stdout.flush();
    return reportError(error);
  })
  .then(async (code) => {
    await stdout.flush();
    process.exit(code);
  });
