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
  type Server,
} from '../index.js';
import {
  booleanFlag,
  type CommandSpec,
  choiceFlag,
  FRAMING_FLAG,
  integerFlag,
  MAX_FRAME_FLAG,
  type ParsedArgs,
  readFileFlag,
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

/** The `serve` command. */
export const command: CommandSpec = {
  name: 'serve',
  usage:
    'serve --listen ADDR --framing SPEC --mode echo|chat|discard|MODULE [--max-frame N]\n' +
    '                   [--max-connections N] [--idle-timeout MS] [--frame-timeout MS]\n' +
    '                   [--max-buffered-input-total N]\n' +
    '                   [--close-timeout MS]\n' +
    '                   [--dispatch loop|threads|processes] [--workers N]\n' +
    '                   [--tls-cert F --tls-key F [--tls-ca F]] [--proxy-protocol]\n' +
    '                   [--metrics ADDR] [--bus nats://HOST:PORT] [--json] [--verbose]',
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
      description: 'where to listen (default 127.0.0.1:7070; port 0 = a free port)',
    },
    FRAMING_FLAG,
    {
      name: 'mode',
      short: 'm',
      type: 'string',
      value: 'MODE',
      description: 'echo (default), chat, discard, or the path of a handler module',
    },
    MAX_FRAME_FLAG,
    {
      name: 'max-connections',
      type: 'string',
      value: 'N',
      description: 'connections served at once (default 10000); extra ones are refused at once',
    },
    {
      name: 'idle-timeout',
      type: 'string',
      value: 'MS',
      description:
        'close a connection with no traffic either way for MS ms (default 300000; 0 = off)',
    },
    {
      name: 'frame-timeout',
      type: 'string',
      value: 'MS',
      description: 'a started frame must complete within MS ms (default 30000; 0 = off)',
    },
    {
      name: 'max-buffered-input-total',
      type: 'string',
      value: 'N',
      description:
        'input bytes all connections may hold together (default 256m); past it the largest holder is cut',
    },
    {
      name: 'close-timeout',
      type: 'string',
      value: 'MS',
      description:
        'on SIGINT/SIGTERM, let busy connections finish for MS ms, then cut them (default 10000; 0 = no limit); idle ones close at once',
    },
    {
      name: 'dispatch',
      type: 'string',
      value: 'MODEL',
      description: 'loop (default), threads or processes',
    },
    {
      name: 'workers',
      type: 'string',
      value: 'N',
      description: 'worker threads or processes (default: one per CPU)',
    },
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
      description: 'NATS bus (nats://HOST:PORT) so chat rooms span server processes',
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
      throw new ConnectionError(
        error.code,
        `${error.message} (another process is listening there: pick another address with --${flag} ${next}; with npm start: npm start -- --${flag} ${next})`,
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

/** Maps the flags onto `createServer` options; throws UsageError for bad values. */
async function serverOptions(args: ParsedArgs): Promise<ServerOptions> {
  const mode = stringFlag(args, command, 'mode') ?? 'echo';
  const options: Record<string, unknown> = {
    listen: stringFlag(args, command, 'listen') ?? '127.0.0.1:7070',
    framing: stringFlag(args, command, 'framing', true),
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
  const numbers: Array<[string, string, 'bytes' | 'ms' | 'count']> = [
    ['max-frame', 'maxFrame', 'bytes'],
    ['max-connections', 'maxConnections', 'count'],
    ['idle-timeout', 'idleTimeout', 'ms'],
    ['frame-timeout', 'frameTimeout', 'ms'],
    ['max-buffered-input-total', 'maxBufferedInputTotal', 'bytes'],
    ['close-timeout', 'closeTimeout', 'ms'],
    ['workers', 'workers', 'count'],
  ];
  for (const [flag, option, kind] of numbers) {
    const value = integerFlag(args, command, flag, {
      kind,
      min:
        flag === 'max-frame' || flag === 'workers' || flag === 'max-buffered-input-total' ? 1 : 0,
    });
    if (value !== undefined) {
      options[option] = value;
    }
  }
  if (booleanFlag(args, 'proxy-protocol')) {
    options.proxyProtocol = true;
  }
  const metrics = stringFlag(args, command, 'metrics');
  if (metrics !== undefined) {
    options.metrics = metrics;
  }
  const bus = stringFlag(args, command, 'bus');
  if (bus !== undefined) {
    // Passed through as is: a server without bus support rejects the option by name.
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
