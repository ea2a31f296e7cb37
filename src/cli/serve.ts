/**
 * `switchboard serve`: run a switchboard server from the command line.
 *
 * Theory of operation: the flags map one to one onto `createServer` options.
 * Once the server listens, the first stdout line is exactly
 * `listening on <scheme>://<addr>` (the real port when `:0` was asked); scripts
 * and tests read the port from it. The command then waits for SIGINT/SIGTERM
 * (main.ts aborts `signal`), closes the server gracefully (stop accepting, let
 * handlers finish and flush, destroy what is left after the close timeout) and
 * exits 0.
 *
 * `--json` and `--verbose` are subscribers of the library's diagnostics
 * channels (SPEC §9): each event becomes one line on stderr, a JSON object or
 * a short human-readable line.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ConnectionError,
  createServer,
  DEFAULTS,
  InvalidArgumentError,
  type NatsBusOptions,
  type Server,
} from '../index.js';
import {
  booleanFlag,
  type CommandSpec,
  choiceFlag,
  type FlagSpec,
  FRAMING_FLAG,
  framingText,
  integerFlag,
  MAX_FRAME_BOUNDS,
  maxFrameFlag,
  type ParsedArgs,
  readFileFlag,
  sizeText,
  stringFlag,
  UsageError,
} from './args.js';
import { EXIT, stdout } from './output.js';

/** The diagnostics channels `--json`/`--verbose` print, by short event name. */
const EVENTS = {
  'server:listening': 'switchboard:server:listening',
  'connection:open': 'switchboard:connection:open',
  'connection:close': 'switchboard:connection:close',
  'frame:error': 'switchboard:frame:error',
  'server:close': 'switchboard:server:close',
  'bus:status': 'switchboard:bus:status',
} as const;

type ServerOptions = Parameters<typeof createServer>[0];

/** Where `serve` listens without --listen: the npm start and docs address. */
const DEFAULT_LISTEN = `${DEFAULTS.host}:7070`;

/**
 * A numeric `serve` flag: its help row and the createServer option it sets, in one
 * place, so a flag cannot be listed without being read (or read without a help row).
 * Each description states its default from DEFAULTS.
 */
interface NumericFlag extends FlagSpec {
  readonly option: keyof ServerOptions & string;
  readonly kind: 'bytes' | 'ms' | 'count';
  /** Smallest value accepted (the library's own minimum). */
  readonly min: number;
  /** Said after the "must be >= min" error: what to write instead. */
  readonly belowMin?: string;
  /** The dispatch models the option applies to; with another the flag is a usage error. */
  readonly models?: readonly ('threads' | 'processes')[];
}

function numericFlag(
  name: string,
  option: NumericFlag['option'],
  kind: NumericFlag['kind'],
  description: string,
  extra: Partial<Pick<NumericFlag, 'min' | 'belowMin' | 'models'>> = {},
): NumericFlag {
  return {
    ...extra,
    name,
    type: 'string',
    value: kind === 'ms' ? 'MS' : 'N',
    description,
    option,
    kind,
    min: extra.min ?? 0,
  };
}

/** The connection limits and timeouts, in help order. */
const LIMIT_FLAGS: readonly NumericFlag[] = [
  numericFlag('max-frame', 'maxFrame', 'bytes', maxFrameFlag().description, MAX_FRAME_BOUNDS),
  numericFlag(
    'max-connections',
    'maxConnections',
    'count',
    `connections served at once (default ${DEFAULTS.maxConnections}; 0 = unlimited); extra ones are refused at once`,
  ),
  numericFlag(
    'max-connections-per-ip',
    'maxConnectionsPerIp',
    'count',
    `connections at once from one client IP (default ${DEFAULTS.maxConnectionsPerIp}; 0 = unlimited)`,
  ),
  numericFlag(
    'idle-timeout',
    'idleTimeout',
    'ms',
    `close a connection with no traffic either way for MS ms (default ${DEFAULTS.serverIdleTimeout}; 0 = off)`,
  ),
  numericFlag(
    'frame-timeout',
    'frameTimeout',
    'ms',
    `a started frame must complete within MS ms (default ${DEFAULTS.serverFrameTimeout}; 0 = off)`,
  ),
  numericFlag(
    'write-timeout',
    'writeTimeout',
    'ms',
    `close a connection whose queued output makes no progress for MS ms, or is not taken within 2 x MS (default ${DEFAULTS.writeTimeout}; 0 = off)`,
  ),
  numericFlag(
    'max-queued-output',
    'maxQueuedOutput',
    'bytes',
    `output bytes queued for one connection before it is cut (default ${sizeText(DEFAULTS.maxQueuedOutput)})`,
    { min: 1 },
  ),
  numericFlag(
    'max-buffered-input-total',
    'maxBufferedInputTotal',
    'bytes',
    `input bytes all connections may hold together (default ${sizeText(DEFAULTS.maxBufferedInputTotal)}); past it the largest holder is cut`,
    { min: 1 },
  ),
  numericFlag(
    'max-buffered-output-total',
    'maxBufferedOutputTotal',
    'bytes',
    `output bytes all connections may hold together (default ${sizeText(DEFAULTS.maxBufferedOutputTotal)}); past it the largest holder is cut`,
    { min: 1 },
  ),
  numericFlag(
    'backlog',
    'backlog',
    'count',
    `kernel accept queue length (default ${DEFAULTS.backlog})`,
    { min: 1 },
  ),
  numericFlag(
    'close-timeout',
    'closeTimeout',
    'ms',
    `on SIGINT/SIGTERM, let busy connections finish for MS ms, then cut them (default ${DEFAULTS.closeTimeout}; 0 = no limit); idle ones close at once`,
  ),
];

/** The worker pool of `threads` and `processes`, in help order (after --dispatch). */
const WORKER_FLAGS: readonly NumericFlag[] = [
  // Not refused with `loop` (where it does nothing): scripts pass it for every model.
  numericFlag('workers', 'workers', 'count', 'worker threads or processes (default: one per CPU)', {
    min: 1,
  }),
  numericFlag(
    'worker-heartbeat-interval',
    'workerHeartbeatInterval',
    'ms',
    `processes: ping each worker every MS ms; one that leaves ${DEFAULTS.workerHeartbeatMaxMissed} in a row unanswered gets no new connections (default ${DEFAULTS.workerHeartbeatInterval}; 0 = off)`,
    { models: ['processes'] },
  ),
  numericFlag(
    'worker-unresponsive-timeout',
    'workerUnresponsiveTimeout',
    'ms',
    `processes: kill and replace a worker unresponsive for MS ms (default ${DEFAULTS.workerUnresponsiveTimeout}; 0 = never)`,
    { models: ['processes'] },
  ),
];

/** The `serve` command. */
export const command: CommandSpec = {
  name: 'serve',
  usage:
    'serve --listen ADDR --framing SPEC --mode echo|chat|discard|MODULE [--max-frame N]\n' +
    '                   [--max-connections N] [--max-connections-per-ip N]\n' +
    '                   [--idle-timeout MS] [--frame-timeout MS] [--write-timeout MS]\n' +
    '                   [--max-queued-output N] [--max-buffered-input-total N]\n' +
    '                   [--max-buffered-output-total N] [--backlog N]\n' +
    '                   [--close-timeout MS]\n' +
    '                   [--dispatch loop|threads|processes] [--workers N]\n' +
    '                   [--worker-heartbeat-interval MS] [--worker-unresponsive-timeout MS]\n' +
    '                   [--tls-cert F --tls-key F [--tls-ca F]] [--proxy-protocol]\n' +
    '                   [--metrics ADDR] [--bus nats://HOST:PORT] [--bus-creds F]\n' +
    '                   [--bus-token-file F] [--bus-user NAME --bus-password-file F]\n' +
    '                   [--bus-tls-ca F] [--bus-tls-cert F --bus-tls-key F]\n' +
    '                   [--json] [--verbose]',
  description:
    'Runs a server. The first stdout line is exactly `listening on <scheme>://<addr>` (with\n' +
    'the real port when :0 was asked). Modes: echo (send each frame back), chat (each frame\n' +
    'goes to every other client), discard, or the path of a JS/TS module whose default\n' +
    'export is a handler (channel, info) => Promise<void>. SIGINT/SIGTERM close gracefully\n' +
    'and exit 0.',
  flags: [
    {
      name: 'listen',
      short: 'l',
      type: 'string',
      value: 'ADDR',
      description: `where to listen (default ${DEFAULT_LISTEN}; port 0 = a free port)`,
    },
    FRAMING_FLAG,
    {
      name: 'mode',
      short: 'm',
      type: 'string',
      value: 'MODE',
      description: 'echo (default), chat, discard, or the path of a handler module',
    },
    ...LIMIT_FLAGS,
    {
      name: 'dispatch',
      type: 'string',
      value: 'MODEL',
      description: 'loop (default), threads or processes',
    },
    ...WORKER_FLAGS,
    {
      name: 'tls-cert',
      type: 'string',
      value: 'F',
      description: 'PEM certificate chain: serve TLS (needs --tls-key)',
    },
    { name: 'tls-key', type: 'string', value: 'F', description: 'PEM private key for --tls-cert' },
    {
      name: 'tls-ca',
      type: 'string',
      value: 'F',
      description: 'PEM CA bundle: require and verify client certificates (mutual TLS)',
    },
    {
      name: 'proxy-protocol',
      type: 'boolean',
      description: 'expect a PROXY protocol v1/v2 header on every connection',
    },
    {
      name: 'metrics',
      type: 'string',
      value: 'ADDR',
      description: 'serve Prometheus metrics on http://ADDR/metrics',
    },
    {
      name: 'bus',
      type: 'string',
      value: 'URL',
      description:
        'NATS bus (nats://HOST:PORT, tls://HOST:PORT for TLS) so chat rooms span server processes',
    },
    {
      name: 'bus-creds',
      type: 'string',
      value: 'F',
      description: 'NATS .creds file (user JWT and NKey seed) for --bus',
    },
    {
      name: 'bus-token-file',
      type: 'string',
      value: 'F',
      description: 'file holding the NATS token for --bus (a token flag would show in ps)',
    },
    {
      name: 'bus-user',
      type: 'string',
      value: 'NAME',
      description: 'NATS user for --bus (needs --bus-password-file)',
    },
    {
      name: 'bus-password-file',
      type: 'string',
      value: 'F',
      description: 'file holding the password of --bus-user',
    },
    {
      name: 'bus-tls-ca',
      type: 'string',
      value: 'F',
      description: 'PEM CA bundle the NATS server certificate must chain to (TLS for --bus)',
    },
    {
      name: 'bus-tls-cert',
      type: 'string',
      value: 'F',
      description:
        'PEM client certificate for a NATS server that verifies clients (needs --bus-tls-key)',
    },
    {
      name: 'bus-tls-key',
      type: 'string',
      value: 'F',
      description: 'PEM private key for --bus-tls-cert',
    },
    {
      name: 'json',
      type: 'boolean',
      description:
        'one JSON event per line on stderr (connections, errors, listening, close; not with --verbose)',
    },
    {
      name: 'verbose',
      type: 'boolean',
      description: 'one human-readable event per line on stderr',
    },
  ],
  positionals: { min: 0, max: 0, name: 'argument' },
  examples: [
    'serve --listen 127.0.0.1:7070 --framing line --mode chat',
    'serve --listen 127.0.0.1:0 --framing length:u16be --mode echo --json',
    'serve --listen unix:/tmp/sb.sock --framing netstring --mode ./handler.ts',
  ],
  async run({ args, signal }) {
    const json = booleanFlag(args, 'json');
    const verbose = booleanFlag(args, 'verbose');
    if (json && verbose) {
      throw new UsageError(
        'serve: --json and --verbose are two formats of the same events; pick one',
      );
    }
    const options = await serverOptions(args);
    const unsubscribe = json || verbose ? subscribeEvents(json ? 'json' : 'text') : () => {};
    try {
      const server = await createServerOrExplain(options);
      await stdout.line(`listening on ${server.address}`);
      if (server.metricsUrl !== null) {
        await stdout.line(`metrics on ${server.metricsUrl}`);
      }
      await stdout.flush();
      await new Promise<void>((resolve) => {
        signal.addEventListener('abort', () => resolve(), { once: true });
        void server.closed.then(() => resolve());
      });
      await closeSaying(
        server,
        (options.closeTimeout as number | undefined) ?? DEFAULTS.closeTimeout,
      );
    } finally {
      unsubscribe();
    }
    return EXIT.ok;
  },
};

/**
 * `createServer`, with a hint when the address is taken: the one error a newcomer
 * meets on a second `npm start`, so it says how to pick another port.
 */
async function createServerOrExplain(options: ServerOptions): Promise<Server> {
  try {
    return await createServer(options);
  } catch (error) {
    const cause =
      error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
    if (error instanceof ConnectionError && cause?.code === 'EADDRINUSE') {
      // Name the flag whose address is taken: the main port or the --metrics one.
      const busyPort = (cause as { port?: unknown }).port;
      const metricsPort = portOf(options.metrics);
      const flag =
        metricsPort !== undefined && busyPort === metricsPort && busyPort !== portOf(options.listen)
          ? 'metrics'
          : 'listen';
      const port = portOf(flag === 'metrics' ? options.metrics : options.listen);
      const next = port === undefined ? '127.0.0.1:7071' : `127.0.0.1:${port + 1}`;
      // Node's own words (the library's message adds a hint of its own, for callers
      // of createServer: this one names the flag instead).
      const words = cause instanceof Error ? cause.message : error.message;
      throw new ConnectionError(
        error.code,
        `${words} (another process is listening there: pick another address with --${flag} ${next}; with npm start: npm start -- --${flag} ${next})`,
        { cause },
      );
    }
    throw error;
  }
}

/** After idle connections had time to end (DEFAULTS.closeIdleQuiet, and then some), ms. */
const CLOSE_NOTICE_DELAY = 8 * DEFAULTS.closeIdleQuiet;

/**
 * Closes `server`; if that is not done once idle connections have had time to end
 * ({@link CLOSE_NOTICE_DELAY}), says on stderr what it waits for, so a Ctrl-C that
 * takes seconds is explained (#14): `closing: waiting for 3 connections, up to 10 s`.
 */
async function closeSaying(server: Server, timeout: number): Promise<void> {
  let done = false;
  const closing = server.close().finally(() => {
    done = true;
  });
  const notice = setTimeout(() => {
    const open = server.connections;
    if (done || open === 0) {
      return;
    }
    const limit = timeout === 0 ? 'with no time limit' : `up to ${formatSeconds(timeout)}`;
    process.stderr.write(
      `closing: waiting for ${open} connection${open === 1 ? '' : 's'}, ${limit}\n`,
    );
  }, CLOSE_NOTICE_DELAY);
  try {
    await closing;
  } finally {
    clearTimeout(notice);
  }
}

function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}

/** The port of a `HOST:PORT` address option, if it has one. */
function portOf(address: unknown): number | undefined {
  const port = /:(\d+)$/.exec(String(address))?.[1];
  return port === undefined ? undefined : Number(port);
}

/** Maps the flags onto `createServer` options; throws UsageError for bad values. Exported for tests. */
export async function serverOptions(args: ParsedArgs): Promise<ServerOptions> {
  const mode = stringFlag(args, command, 'mode') ?? 'echo';
  const options: Record<string, unknown> = {
    listen: stringFlag(args, command, 'listen') ?? DEFAULT_LISTEN,
    framing: framingText(args, command),
    // echo|chat|discard are built-ins; anything else is a module path createServer resolves.
    handler: mode,
    dispatch: choiceFlag(
      args,
      command,
      'dispatch',
      ['loop', 'threads', 'processes'] as const,
      'loop',
    ),
  };
  for (const flag of [...LIMIT_FLAGS, ...WORKER_FLAGS]) {
    const value = integerFlag(args, command, flag.name, flag);
    if (value === undefined) {
      continue;
    }
    const dispatch = options.dispatch as 'loop' | 'threads' | 'processes';
    if (flag.models !== undefined && !(flag.models as readonly string[]).includes(dispatch)) {
      throw new UsageError(
        `serve: --${flag.name} applies to --dispatch ${flag.models.join(' or ')}, not ${dispatch}`,
      );
    }
    options[flag.option] = value;
  }
  if (booleanFlag(args, 'proxy-protocol')) {
    options.proxyProtocol = true;
  }
  const metrics = stringFlag(args, command, 'metrics');
  if (metrics !== undefined) {
    options.metrics = metrics;
  }
  const bus = busOption(args);
  if (bus !== undefined) {
    options.bus = bus;
  }
  const cert = stringFlag(args, command, 'tls-cert');
  const key = stringFlag(args, command, 'tls-key');
  const ca = stringFlag(args, command, 'tls-ca');
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError('serve: --tls-cert and --tls-key go together');
  }
  if (ca !== undefined && cert === undefined) {
    throw new UsageError('serve: --tls-ca needs --tls-cert and --tls-key');
  }
  if (cert !== undefined && key !== undefined) {
    options.tls = {
      cert: readFileFlag(command, 'tls-cert', cert),
      key: readFileFlag(command, 'tls-key', key),
      ...(ca === undefined
        ? {}
        : { ca: readFileFlag(command, 'tls-ca', ca), requestCert: true, rejectUnauthorized: true }),
    };
  }
  if (options.dispatch === 'loop' && TYPESCRIPT_PATH.test(mode)) {
    options.handler = await loadTypeScriptHandler(mode);
  }
  return options as unknown as ServerOptions;
}

/** The `--bus*` flags that need `--bus`. */
const BUS_FLAGS = [
  'bus-creds',
  'bus-token-file',
  'bus-user',
  'bus-password-file',
  'bus-tls-ca',
  'bus-tls-cert',
  'bus-tls-key',
];

/** The secret in `file` for `--flag`: one line, the newline an editor or `echo` leaves dropped. */
function secretFile(flag: string, file: string): string {
  const secret = readFileFlag(command, flag, file).replace(/\r?\n$/, '');
  if (secret.trim() === '') {
    throw new UsageError(`serve: --${flag} file '${file}' is empty`);
  }
  return secret;
}

/**
 * `--bus` and its credential/TLS flags as the `bus` option: the URL alone, or
 * connectNatsBus options. The creds, CA, certificate and key are passed as paths
 * (the library reads and checks them, naming the option); the token and password
 * files are read here: a secret on the command line would show in `ps`.
 */
function busOption(args: ParsedArgs): ServerOptions['bus'] {
  const url = stringFlag(args, command, 'bus');
  const given = BUS_FLAGS.filter((name) => stringFlag(args, command, name) !== undefined);
  if (url === undefined) {
    if (given.length > 0) {
      throw new UsageError(`serve: --${given[0]} needs --bus`);
    }
    return undefined;
  }
  if (given.length === 0) {
    return url;
  }
  const creds = stringFlag(args, command, 'bus-creds');
  const tokenFile = stringFlag(args, command, 'bus-token-file');
  const ca = stringFlag(args, command, 'bus-tls-ca');
  const cert = stringFlag(args, command, 'bus-tls-cert');
  const key = stringFlag(args, command, 'bus-tls-key');
  const user = stringFlag(args, command, 'bus-user');
  const passwordFile = stringFlag(args, command, 'bus-password-file');
  if ((user === undefined) !== (passwordFile === undefined)) {
    throw new UsageError('serve: --bus-user and --bus-password-file go together');
  }
  const kinds = [creds, tokenFile, user].filter((value) => value !== undefined).length;
  if (kinds > 1) {
    throw new UsageError(
      'serve: --bus-creds, --bus-token-file and --bus-user are kinds of credentials; pick one',
    );
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError('serve: --bus-tls-cert and --bus-tls-key go together');
  }
  const options: NatsBusOptions = { servers: url };
  if (creds !== undefined) {
    options.credsFile = creds;
  }
  if (tokenFile !== undefined) {
    options.token = secretFile('bus-token-file', tokenFile);
  }
  if (user !== undefined && passwordFile !== undefined) {
    options.user = user;
    options.pass = secretFile('bus-password-file', passwordFile);
  }
  if (ca !== undefined || cert !== undefined) {
    options.tls = {
      ...(ca === undefined ? {} : { caFile: ca }),
      ...(cert === undefined || key === undefined ? {} : { certFile: cert, keyFile: key }),
    };
  }
  return options;
}

const TYPESCRIPT_PATH = /\.(c|m)?tsx?$/;

/**
 * Loads a `.ts` handler module in this process through tsx (`tsx/esm/api`
 * `tsImport`) and returns its default export. A `.ts` file outside a
 * `"type": "module"` package compiles to CommonJS, whose namespace's `default`
 * is `module.exports`; the handler is then `module.exports.default`.
 * (`threads`/`processes` workers load the module themselves.)
 */
async function loadTypeScriptHandler(path: string): Promise<unknown> {
  const file = resolve(path);
  if (!existsSync(file)) {
    throw new UsageError(`serve: --mode: handler module '${path}' does not exist`);
  }
  let api: { tsImport: (specifier: string, parentUrl: string) => Promise<Record<string, unknown>> };
  try {
    api = (await import('tsx/esm/api')) as typeof api;
  } catch (error) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      'serve: a TypeScript handler module needs the "tsx" package installed (or use the compiled .js file)',
      { cause: error },
    );
  }
  const loaded = await api.tsImport(pathToFileURL(file).href, import.meta.url);
  let handler: unknown = loaded.default;
  if (typeof handler !== 'function' && typeof handler === 'object' && handler !== null) {
    handler = (handler as Record<string, unknown>).default;
  }
  if (typeof handler !== 'function') {
    throw new UsageError(`serve: --mode: handler module '${path}' has no default export function`);
  }
  return handler;
}

/** Subscribes to every server diagnostics channel; returns the unsubscriber. */
function subscribeEvents(style: 'json' | 'text'): () => void {
  const subscriptions: Array<() => void> = [];
  for (const [event, channel] of Object.entries(EVENTS)) {
    const listener = (message: unknown): void => {
      const line = style === 'json' ? jsonEvent(event, message) : textEvent(event, message);
      process.stderr.write(`${line}\n`);
    };
    diagnosticsChannel.subscribe(channel, listener);
    subscriptions.push(() => diagnosticsChannel.unsubscribe(channel, listener));
  }
  return () => {
    for (const unsubscribe of subscriptions) {
      unsubscribe();
    }
  };
}

/** One JSON line: the event name, the time, and the payload with errors as {code, message}. */
function jsonEvent(event: string, message: unknown): string {
  const fields: Record<string, unknown> = { event, time: new Date().toISOString() };
  if (typeof message === 'object' && message !== null) {
    for (const [key, value] of Object.entries(message)) {
      fields[key] = value instanceof Error ? errorFields(value) : value;
    }
  }
  return JSON.stringify(fields, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}

function errorFields(error: Error): { code: string | undefined; message: string } {
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  return { code, message: error.message };
}

/** One human-readable line per event. */
function textEvent(event: string, message: unknown): string {
  const fields = (typeof message === 'object' && message !== null ? message : {}) as Record<
    string,
    unknown
  >;
  const time = new Date().toISOString();
  switch (event) {
    case 'connection:open':
      return `${time} open #${fields.connectionId} from ${fields.remoteAddress}`;
    case 'connection:close':
      return `${time} close #${fields.connectionId} ${fields.code ?? 'ok'} after ${fields.durationMs} ms, frames in ${fields.framesIn} out ${fields.framesOut}`;
    case 'frame:error': {
      const error = fields.error instanceof Error ? fields.error.message : '';
      return `${time} error #${fields.connectionId ?? '-'} from ${fields.remoteAddress}: ${fields.code}: ${error}`;
    }
    case 'server:listening':
      return `${time} listening on ${fields.address} (${fields.dispatch})`;
    case 'bus:status':
      return `${time} bus ${fields.state} ${fields.server || '-'} (instance ${fields.instanceId}, reconnects ${fields.reconnects}, dropped ${fields.dropped})`;
    default:
      return `${time} closed ${fields.address}`;
  }
}
