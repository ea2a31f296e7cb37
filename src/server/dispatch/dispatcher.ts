/**
 * The dispatch interface, and {@link createDispatcher}: the one place that turns a
 * server's handler and dispatch model into the {@link Dispatcher} its accept path
 * hands connections to.
 *
 * Theory of operation
 * -------------------
 * The server's accept path (server.ts) admits a connection (limits, PROXY header) and
 * hands the raw socket to the dispatcher; every model resolves `serve()` once the
 * connection has ended, so the accept path can release its admission slot.
 *
 * | model       | connections live in             | the handler runs                                |
 * |-------------|---------------------------------|-------------------------------------------------|
 * | `loop`      | this event loop (loop.ts)       | here: a function, a built-in or a module        |
 * | `threads`   | this event loop (loop.ts)       | per frame in the pool (threads.ts); `chat` here |
 * | `processes` | worker processes (processes.ts) | there: a built-in or a module                   |
 *
 * A function handler cannot cross to a thread or a process, and a thread runs frames,
 * not connections: those are the option errors raised here. Whether a handler string
 * names a built-in or a module is decided once, by chooseHandler (handler-spec.ts).
 */
import type * as net from 'node:net';
import { InvalidArgumentError } from '../../errors.js';
import type { TlsServerOptions } from '../../net/tls.js';
import type { ConnectionSettings } from '../connection.js';
import type { ConnectionHandler } from '../connection-handler.js';
import { ConnectionSet } from '../connection-set.js';
import { chooseHandler, type HandlerChoice } from '../handler-spec.js';
import { type ChatRoom, connectionBody } from '../handlers.js';
import type { InputBudget } from '../input-budget.js';
import type { ProxyPreamble } from '../raw-socket.js';
import {
  loadRequestHandler,
  type RequestOptions,
  type ServerRequestHandler,
} from '../request-handler.js';
import { resolveHandlerModule } from './entry.js';
import { LocalDispatcher } from './loop.js';
import { ProcessDispatcher } from './processes.js';
import type { LiveTraffic, PoolHandler } from './protocol.js';
import { poolBody, poolRequestHandler, ThreadPool } from './threads.js';

/** The three dispatch models. */
export type DispatchModel = 'loop' | 'threads' | 'processes';

/** What the server's accept path needs from a dispatch model. */
export interface Dispatcher {
  readonly model: DispatchModel;
  /** Connections being served now. */
  readonly connections: number;
  /** Process ids of the worker processes (`processes`; empty otherwise). */
  readonly workerPids: readonly number[];
  /** Serves an admitted connection; resolves (never rejects) once it has ended. */
  serve(raw: net.Socket, proxy: ProxyPreamble | null): Promise<void>;
  /**
   * Optional form of {@link Dispatcher.serve} without a promise per connection (memory
   * per idle connection, #8): calls `onEnded(tag)` once the connection has ended.
   */
  serveWith?(
    raw: net.Socket,
    proxy: ProxyPreamble | null,
    onEnded: (tag: string) => void,
    tag: string,
  ): void;
  /**
   * The input budget of the connections served in this process (`loop`, `threads`), which
   * a PROXY header counts in while the server reads it; null for `processes` (each worker
   * reads the header and counts it in its own budget).
   */
  readonly inputBudget: InputBudget | null;
  /** Frames and bytes of connections still open. */
  liveTraffic(): LiveTraffic;
  /**
   * Graceful end of every connection: aborts handler signals, waits up to
   * `timeout` ms (0 = no limit), destroys the rest; resolves with how many were destroyed.
   */
  drain(timeout: number): Promise<number>;
  /** Releases the model's resources (worker threads or processes). */
  close(): Promise<void>;
}

/** What {@link createDispatcher} needs: the server's checked options. */
export interface DispatcherOptions {
  model: DispatchModel;
  /** A function (`loop` only), a built-in name or a module path. */
  handler: ConnectionHandler | string;
  /** Worker threads or processes (resolved: never 0). */
  workers: number;
  /** What every connection is served with (`requests` is added here). */
  settings: ConnectionSettings;
  /** sbp requests and heartbeats; null when neither is on. */
  requests: RequestOptions | null;
  /** The server's chat room (`chat`; with `processes`, the primary's room of workers). */
  room: ChatRoom;
  /** `processes`: the TLS options as given (each worker builds its own acceptor). */
  tls: TlsServerOptions | null;
  /** `processes`: the worker reads the PROXY header (the primary never reads). */
  proxyProtocol: boolean;
  /** `processes`: liveness pings (liveness.ts), ms; 0 = off. */
  workerHeartbeatInterval: number;
  /** `processes`: ms an unresponsive worker is kept; 0 = kept. */
  workerUnresponsiveTimeout: number;
}

function badOption(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SB_BAD_OPTION', `createServer: ${message}`);
}

/**
 * Builds the dispatcher of `options.model`, loading the handler (and the `onRequest`
 * module) here, in every worker thread or in every worker process; resolves once all
 * of them have loaded it.
 * @throws InvalidArgumentError `SB_BAD_OPTION` for a handler the model cannot run.
 * @throws SwitchboardError `SB_HANDLER_ERROR` when a module fails to load in a worker.
 */
export async function createDispatcher(options: DispatcherOptions): Promise<Dispatcher> {
  switch (options.model) {
    case 'loop':
      return loopDispatcher(options);
    case 'threads':
      return threadsDispatcher(options);
    case 'processes':
      return processesDispatcher(options);
  }
}

function withRequests(
  settings: ConnectionSettings,
  requests: RequestOptions | null,
  onRequest: ServerRequestHandler | undefined,
): ConnectionSettings {
  return requests === null ? settings : { ...settings, requests: { ...requests, onRequest } };
}

async function loopDispatcher(options: DispatcherOptions): Promise<Dispatcher> {
  const { handler, requests } = options;
  const body =
    typeof handler === 'function'
      ? handler
      : await connectionBody(chooseHandler(handler), options.room);
  const onRequest = requests?.onRequest;
  const settings = withRequests(
    options.settings,
    requests,
    typeof onRequest === 'string'
      ? await loadRequestHandler(resolveHandlerModule(onRequest))
      : onRequest,
  );
  return new LocalDispatcher('loop', new ConnectionSet(settings, body));
}

async function threadsDispatcher(options: DispatcherOptions): Promise<Dispatcher> {
  const { handler, requests } = options;
  if (typeof handler === 'function') {
    throw badOption(
      'dispatch "threads" needs a handler module path (functions cannot cross threads), or a built-in',
    );
  }
  const choice = chooseHandler(handler);
  // Requests run in the pool, as frames do (the Channel stays on the main thread).
  const requestModule =
    typeof requests?.onRequest === 'string' ? resolveHandlerModule(requests.onRequest) : null;
  const poolHandler = framesInPool(choice);
  let pool: ThreadPool | null = null;
  if (poolHandler !== null) {
    pool = await ThreadPool.start(options.workers, poolHandler, requestModule);
  } else if (requestModule !== null) {
    pool = await ThreadPool.start(options.workers, { builtin: 'discard' }, requestModule);
  }
  // chat: relaying needs every client's socket, which lives on the main thread.
  const body =
    poolHandler === null
      ? await connectionBody(choice, options.room)
      : poolBody(pool!, options.settings.metrics);
  const settings = withRequests(
    options.settings,
    requests,
    pool === null || requestModule === null ? undefined : poolRequestHandler(pool),
  );
  const started = pool;
  return new LocalDispatcher(
    'threads',
    new ConnectionSet(settings, body),
    started === null ? undefined : () => started.close(),
  );
}

/** What the pool runs for `choice`: every handler but `chat`, which has no frame form (null). */
function framesInPool(choice: HandlerChoice): PoolHandler | null {
  if ('module' in choice) {
    return choice;
  }
  const name = choice.builtin;
  return name === 'chat' ? null : { builtin: name };
}

async function processesDispatcher(options: DispatcherOptions): Promise<Dispatcher> {
  const { handler, requests, settings, workers } = options;
  if (typeof handler === 'function') {
    throw badOption(
      'dispatch "processes" needs a built-in or a handler module path (functions cannot cross processes)',
    );
  }
  if (settings.clock !== undefined) {
    throw badOption('option "clock" is not supported with dispatch "processes"');
  }
  const limits = settings.limits;
  return ProcessDispatcher.start({
    workers,
    handler: chooseHandler(handler),
    serverId: settings.serverId,
    framing: settings.framing.spec,
    maxFrame: settings.framing.maxFrame,
    limits: {
      ...limits,
      // Each worker enforces its share: connections are spread evenly over workers.
      maxBufferedInputTotal: Math.max(1, Math.floor(limits.maxBufferedInputTotal / workers)),
      maxBufferedOutputTotal: Math.max(1, Math.floor(limits.maxBufferedOutputTotal / workers)),
    },
    proxyProtocol: options.proxyProtocol,
    unixAddress: settings.unixAddress ?? null,
    tls: options.tls,
    requests:
      requests === null
        ? null
        : {
            ...requests,
            onRequest:
              typeof requests.onRequest === 'string'
                ? resolveHandlerModule(requests.onRequest)
                : null,
          },
    heartbeatInterval: options.workerHeartbeatInterval,
    unresponsiveTimeout: options.workerUnresponsiveTimeout,
    metrics: settings.metrics,
    // Workers join this room; with a bus it is bridged like the loop model's (server.ts).
    chatRoom: options.room,
  });
}
