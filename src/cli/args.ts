/**
 * Command-line parsing shared by every command.
 *
 * Theory of operation: each command describes itself once, as a
 * {@link CommandSpec} (flags, positionals, summary, examples). That one
 * description drives three things, so they cannot drift apart: the
 * `node:util` `parseArgs` configuration, the `--help` text, and the checks
 * that turn strings into numbers. docs/CLI.md is tested against the `--help`
 * text, so a flag added here and not documented fails the test suite.
 *
 * Every usage problem throws a {@link UsageError}: an `InvalidArgumentError`
 * whose message names the command and the flag. main.ts maps it to exit code 2.
 */
import { parseArgs } from 'node:util';
import { SbpDataDecoder } from '../codec/sbp.js';
import { didYouMean } from '../did-you-mean.js';
import {
  DEFAULTS,
  type Decoder,
  type Framing,
  InvalidArgumentError,
  parseFraming,
} from '../index.js';
import { MAX_OPTION_FILE_BYTES, readFileUpTo } from '../read-file.js';
import { systemCode } from './output.js';

/** One flag of a command, described once for parsing, help and docs. */
export interface FlagSpec {
  /** Long name without the dashes, e.g. `max-frame`. */
  readonly name: string;
  /** `string` flags take a value; `boolean` flags do not. */
  readonly type: 'string' | 'boolean';
  /** Placeholder shown in help for the value, e.g. `SPEC`, `MS`. */
  readonly value?: string;
  /** One-line description for `--help` and docs/CLI.md. */
  readonly description: string;
  /** True when the flag may repeat (its values are collected in order). */
  readonly multiple?: boolean;
  /** Single-letter alias, e.g. `o` for `--output`. */
  readonly short?: string;
}

/** A parsed command line: flag values by long name, and positionals. */
export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly positionals: readonly string[];
}

/** What a command's `run` receives. */
export interface RunContext {
  readonly args: ParsedArgs;
  /** Aborted on SIGINT (and SIGTERM for `serve`). Commands stop their work when it fires. */
  readonly signal: AbortSignal;
}

/** A command: its description (for parsing, help and docs) and its behaviour. */
export interface CommandSpec {
  readonly name: string;
  /** Usage line after `switchboard `, e.g. `decode --framing SPEC [options] [FILE|-]`. */
  readonly usage: string;
  /** A few sentences shown under the usage line. */
  readonly description: string;
  readonly flags: readonly FlagSpec[];
  /** Smallest and largest positional count (`Infinity` for "any"). */
  readonly positionals: { readonly min: number; readonly max: number; readonly name: string };
  /** Example invocations (without the leading `switchboard `). */
  readonly examples: readonly string[];
  /**
   * When true, the command parses its own argv (pack/unpack: negative numbers are values,
   * not flags). It still gets `--help` handling from main.ts.
   */
  readonly rawArgs?: boolean;
  /**
   * Runs the command and resolves to its exit code. Throwing a SwitchboardError
   * makes main.ts print it and pick the exit code from its class.
   */
  run(context: RunContext): Promise<number>;
}

/** The `--help` flag every command accepts. */
export const HELP_FLAG: FlagSpec = {
  name: 'help',
  short: 'h',
  type: 'boolean',
  description: 'show this help and exit',
};

/** `--framing SPEC`, required by every command that frames bytes. */
export const FRAMING_FLAG: FlagSpec = {
  name: 'framing',
  short: 'f',
  type: 'string',
  value: 'SPEC',
  description: 'framing, e.g. line, length:u16be, netstring (required)',
};

/**
 * A byte count as help text shows it: `8 MiB`, `64 KiB`, `100 bytes`. Help states the
 * defaults of DEFAULTS through this, so a changed default changes the help.
 */
export function sizeText(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) {
      return `${bytes / size} ${unit}`;
    }
  }
  return `${bytes} bytes`;
}

/**
 * `--max-frame N`, read with {@link framingFromArgs}; `what` starts the description
 * (`largest payload in bytes`). Absent means the framing's own limit: the one
 * spelling of "default", as `maxFrame` left out is in the library (0 is refused).
 */
export function maxFrameFlag(what = 'largest frame in bytes'): FlagSpec {
  return {
    name: 'max-frame',
    type: 'string',
    value: 'N',
    description: `${what} (default ${sizeText(DEFAULTS.maxFrame)}; line/delim ${sizeText(DEFAULTS.maxLineFrame)})`,
  };
}

/** `-o, --output FORMAT` for a command that prints frames; `what` says what prints. */
export function outputFlag(what: string): FlagSpec {
  return {
    name: 'output',
    short: 'o',
    type: 'string',
    value: 'FORMAT',
    description: `${what} as text (default), hex, or json ({"len":N,"hex":..,"text":..})`,
  };
}

/** A usage error: bad or missing flag, bad positional. Exit code 2. */
export class UsageError extends InvalidArgumentError {
  constructor(message: string) {
    super('SB_BAD_OPTION', message);
  }
}

/** Parses `argv` (the words after the command name) against `spec`. Throws {@link UsageError}. */
export function parseCommandArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const options: Record<
    string,
    { type: 'string' | 'boolean'; short?: string; multiple?: boolean }
  > = {};
  for (const flag of [...spec.flags, HELP_FLAG]) {
    const option: { type: 'string' | 'boolean'; short?: string; multiple?: boolean } = {
      type: flag.type,
    };
    if (flag.short !== undefined) {
      option.short = flag.short;
    }
    if (flag.multiple === true) {
      option.multiple = true;
    }
    options[flag.name] = option;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(`${spec.name}: ${describeParseError(error, spec, argv)}`);
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (values.help === true) {
    return { values, positionals: parsed.positionals };
  }
  const count = parsed.positionals.length;
  if (count < spec.positionals.min) {
    throw new UsageError(`${spec.name}: missing ${spec.positionals.name}`);
  }
  if (count > spec.positionals.max) {
    const extra = parsed.positionals[spec.positionals.max] ?? '';
    throw new UsageError(
      `${spec.name}: unexpected argument '${printable(extra)}' (takes at most ${spec.positionals.max})`,
    );
  }
  return { values, positionals: parsed.positionals };
}

/**
 * The one message for an unknown option, for every command and the top level, so they
 * all read alike: `unknown option '<word>' (did you mean '<flag>'?)`, or
 * `(see switchboard <command> --help)` when no flag is close; a command's caller
 * prefixes `<command>: ` as for its other usage errors. The word is quoted (and
 * made printable) as every other CLI message quotes what the user typed.
 * @param command The command's name, or undefined for the top level (`switchboard -x`).
 * @param known Every flag the command takes, spelled as typed (`--listen`).
 */
export function unknownOption(
  command: string | undefined,
  word: string,
  known: readonly string[],
): string {
  const guess = didYouMean(word.split('=')[0] ?? word, known);
  const help = command === undefined ? 'switchboard --help' : `switchboard ${command} --help`;
  const hint = guess === undefined ? `see ${help}` : `did you mean '${guess}'?`;
  return `unknown option '${printable(word)}' (${hint})`;
}

/** Turns a `parseArgs` error into a message that names the flag. */
function describeParseError(error: unknown, spec: CommandSpec, argv: readonly string[]): string {
  const code =
    typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  const message = error instanceof Error ? error.message : String(error);
  // Node quotes the flag as '--name' or '-f, --name'; report the long name.
  const flag = /'(?:-[^-' ], )?(--?[^' ]+)/.exec(message)?.[1];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const names = [...spec.flags, HELP_FLAG].map((known) => `--${known.name}`);
      return unknownOption(spec.name, flag ?? message, names);
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = flag ?? '';
      if (/ambiguous/.test(message)) {
        // `--idle-timeout -5`: parseArgs will not take a value that starts with a dash.
        const value = argv[argv.indexOf(name) + 1] ?? '';
        if (/^-\d/.test(value)) {
          // Not ">= 0": some flags start at 1 (--max-frame, --connections), and the
          // command's own range check, which knows, runs only on a parsed value.
          return `option ${name} cannot be negative, got '${printable(value)}'`;
        }
        return `option ${name} needs a value (write ${name}=${printable(value)} for a value that starts with '-')`;
      }
      if (/argument missing/.test(message)) {
        return `option ${name} needs a value`;
      }
      return `option ${name} does not take a value`;
    }
    default:
      return message;
  }
}

/** Reads a string flag; throws when `required` and absent. */
export function stringFlag(args: ParsedArgs, spec: CommandSpec, name: string): string | undefined;
export function stringFlag(
  args: ParsedArgs,
  spec: CommandSpec,
  name: string,
  required: true,
): string;
export function stringFlag(
  args: ParsedArgs,
  spec: CommandSpec,
  name: string,
  required = false,
): string | undefined {
  const value = args.values[name];
  if (Array.isArray(value)) {
    return value[value.length - 1];
  }
  if (typeof value === 'string') {
    return value;
  }
  if (required) {
    throw new UsageError(`${spec.name}: --${name} is required`);
  }
  return undefined;
}

/** Reads a boolean flag. */
export function booleanFlag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** Reads a repeatable string flag (empty when absent). */
export function listFlag(args: ParsedArgs, name: string): string[] {
  const value = args.values[name];
  if (Array.isArray(value)) {
    return value;
  }
  return typeof value === 'string' ? [value] : [];
}

const SIZE_SUFFIXES: Record<string, number> = {
  '': 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
};

/**
 * Reads a non-negative integer flag. `kind: 'bytes'` also accepts the binary
 * suffixes `k`/`KiB`, `m`/`MiB`, `g`/`GiB`. Throws a {@link UsageError} naming the flag.
 */
export function integerFlag(
  args: ParsedArgs,
  spec: CommandSpec,
  name: string,
  options: {
    kind?: 'bytes' | 'ms' | 'count';
    min?: number;
    max?: number;
    /** Said after the "must be >= min" error: what to write instead. */
    belowMin?: string;
  } = {},
): number | undefined {
  const text = stringFlag(args, spec, name);
  if (text === undefined) {
    return undefined;
  }
  const kind = options.kind ?? 'count';
  const match = /^(\d+)([a-zA-Z]*)$/.exec(text.trim());
  const suffix = match?.[2]?.toLowerCase() ?? '';
  const multiplier = kind === 'bytes' ? SIZE_SUFFIXES[suffix] : suffix === '' ? 1 : undefined;
  const unit = kind === 'bytes' ? ' (bytes; k/m/g suffixes allowed)' : kind === 'ms' ? ' (ms)' : '';
  const min = options.min ?? 0;
  if (match === null || multiplier === undefined) {
    // Say the range the flag really takes: "non-negative" for --max-frame, which
    // refuses 0, sent the next try to another usage error.
    const range = min === 0 ? 'a non-negative integer' : `an integer >= ${min}`;
    throw new UsageError(
      `${spec.name}: --${name} must be ${range}${unit}, got '${printable(text)}'`,
    );
  }
  const value = Number(match[1]) * multiplier;
  if (!Number.isSafeInteger(value)) {
    // Said as too large: "must be >= 1" for 99999999999999999999 named the wrong end.
    throw new UsageError(`${spec.name}: --${name} is too large${unit}, got '${printable(text)}'`);
  }
  if (value < min) {
    const hint = value < min && options.belowMin !== undefined ? `; ${options.belowMin}` : '';
    throw new UsageError(
      `${spec.name}: --${name} must be >= ${min}${unit}, got '${printable(text)}'${hint}`,
    );
  }
  if (options.max !== undefined && value > options.max) {
    throw new UsageError(
      `${spec.name}: --${name} must be <= ${options.max}${unit}, got '${printable(text)}'`,
    );
  }
  return value;
}

/**
 * Reads `--framing`, required, or says what to write: the flag a newcomer forgets
 * first (`nc` needs none), so the message names the spec `nc`'s lines need and where
 * the others are, not only that the flag is missing.
 */
export function framingText(args: ParsedArgs, spec: CommandSpec): string {
  const text = stringFlag(args, spec, 'framing');
  if (text === undefined) {
    throw new UsageError(
      `${spec.name}: --framing is required: how messages are cut from the byte stream, the same on both ends (e.g. --framing line for what nc types, or --framing length:u32be; every spec: switchboard ${spec.name} --help)`,
    );
  }
  return text;
}

/** Reads `--framing` (required) and `--max-frame` (optional) into a Framing. */
export function framingFromArgs(args: ParsedArgs, spec: CommandSpec): Framing {
  const text = framingText(args, spec);
  return parseFraming(text, { maxFrame: maxFrameFromArgs(args, spec) });
}

/**
 * Reads an optional `--framing` (proxy: framing only for the tap) and `--max-frame`:
 * undefined without `--framing`, where a `--max-frame` would be ignored, so refused.
 */
export function optionalFramingFromArgs(args: ParsedArgs, spec: CommandSpec): Framing | undefined {
  const text = stringFlag(args, spec, 'framing');
  const maxFrame = maxFrameFromArgs(args, spec);
  if (text === undefined) {
    if (maxFrame !== undefined) {
      throw new UsageError(`${spec.name}: --max-frame needs --framing SPEC`);
    }
    return undefined;
  }
  return parseFraming(text, { maxFrame });
}

/** The bounds of `--max-frame N`: as `maxFrame` in the library, at least 1. */
export const MAX_FRAME_BOUNDS = {
  kind: 'bytes',
  min: 1,
  belowMin: "leave it out for the framing's default",
} as const;

/** `--max-frame N`: at least 1; undefined when absent (the framing's own limit). */
export function maxFrameFromArgs(args: ParsedArgs, spec: CommandSpec): number | undefined {
  return integerFlag(args, spec, 'max-frame', MAX_FRAME_BOUNDS);
}

/**
 * The decoder of the messages a command reads: the framing's own, except for `sbp`,
 * whose decoder yields whole envelopes (for a Channel's session); a command wants the
 * bodies of DATA envelopes, which SbpDataDecoder yields (see its rules for the rest).
 */
export function messageDecoder(framing: Framing): Decoder {
  return framing.spec === 'sbp' ? new SbpDataDecoder(framing.maxFrame) : framing.createDecoder();
}

/** Reads a flag whose value must be one of `choices`. */
export function choiceFlag<T extends string>(
  args: ParsedArgs,
  spec: CommandSpec,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const text = stringFlag(args, spec, name);
  if (text === undefined) {
    return fallback;
  }
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(
      `${spec.name}: --${name} must be one of ${choices.join('|')}, got '${printable(text)}'`,
    );
  }
  return text as T;
}

/** Keeps user-supplied text short and free of control characters inside error messages. */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 60 ? `${clean.slice(0, 57)}...` : clean;
}

/** Renders the `--help` text of a command. */
export function formatHelp(spec: CommandSpec): string {
  const rows = [...spec.flags, HELP_FLAG].map((flag) => {
    const names = `${flag.short === undefined ? '    ' : `-${flag.short}, `}--${flag.name}`;
    const left = flag.value === undefined ? names : `${names} ${flag.value}`;
    const repeat = flag.multiple === true ? ' (repeatable)' : '';
    return { left, right: `${flag.description}${repeat}` };
  });
  const width = Math.max(...rows.map((row) => row.left.length)) + 2;
  const lines = [
    `Usage: switchboard ${spec.usage}`,
    '',
    spec.description,
    '',
    'Options:',
    ...rows.map((row) => `  ${row.left.padEnd(width)}${row.right}`),
  ];
  if (spec.examples.length > 0) {
    lines.push('', 'Examples:', ...spec.examples.map((example) => `  switchboard ${example}`));
  }
  return `${lines.join('\n')}\n`;
}

/** Reads the file named by a flag (a PEM file, say) as text; an unreadable or huge file is a usage error. */
export function readFileFlag(spec: CommandSpec, flag: string, path: string): string {
  let data: Buffer | null;
  try {
    data = readFileUpTo(path, MAX_OPTION_FILE_BYTES);
  } catch (error) {
    throw new UsageError(
      `${spec.name}: cannot read --${flag} file '${printable(path)}' (${systemCode(error)})`,
    );
  }
  if (data === null) {
    throw new UsageError(
      `${spec.name}: --${flag} file '${printable(path)}' is larger than ${MAX_OPTION_FILE_BYTES} bytes`,
    );
  }
  return data.toString('utf8');
}
