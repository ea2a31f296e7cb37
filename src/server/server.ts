/**
 * The switchboard server: `createServer(options)`.
 *
 * Theory of operation
 * -------------------
 * The listening socket only produces client sockets (the HOWTO's "switchboard
 * operator"); everything else is delegated:
 *
 *   accept -> admission (maxConnections, maxConnectionsPerIp)
 *          -> PROXY header (when proxyProtocol; per-IP charge moves to the real client)
 *          -> dispatcher.serve(socket)  [loop | threads | processes: dispatch/dispatcher.ts]
 *          -> admission released when serve() resolves
 *
 * Accept-loop states:
 *
 * | state     | a new connection                                   | close()                    |
 * |-----------|----------------------------------------------------|----------------------------|
 * | listening | admitted and served, or refused (see below)        | -> closing                 |
 * | closing   | destroyed at once (counted as refused: `closing`)  | joins the same completion  |
 * | closed    | (the listening socket is gone)                     | returns the same promise   |
 *
 * Refusal: a connection over a limit is accepted by the kernel and closed by us
 * at once, after one `SB_TOO_MANY_CONNECTIONS ...` frame when the framing
 * carries text. It is never left in the backlog, where the client could not tell
 * a full server from a hung one. Existing connections are unaffected.
 *
 * Close sequence (`close({ timeout })`, idempotent; concurrent calls share one promise):
 *   1. stop accepting (the listening socket closes; the kernel refuses new SYNs);
 *   2. abort every handler's `info.signal` and let handlers finish: each
 *      connection ends when its handler returns (its replies are flushed by a
 *      graceful channel close) or its peer leaves;
 *   3. after `timeout` ms (default `closeTimeout`; 0 = no limit) destroy what is left;
 *   4. stop the workers (threads/processes) and the `/metrics` endpoint;
 *   5. resolve `closed` and publish `switchboard:server:close`.
 */
import * as net from 'node:net';
import { availableParallelism } from 'node:os';
import type { InspectOptionsStylized } from 'node:util';
import type { CheckedFramingSpec, FramingSpec } from '../codec/framing-spec.js';
import { checkFramingOption, parseFraming } from '../codec/spec.js';
import type { Framing } from '../codec/types.js';
import { diagnosticChannels } from '../diagnostics.js';
import {
  ConnectionError,
  InvalidArgumentError,
  type SwitchboardError,
  toSwitchboardError,
} from '../errors.js';
import {
  type Address,
  endpointText,
  formatAddress,
  normalizeHost,
  parseAddress,
  toNodePath,
} from '../net/address.js';
import type { ChannelHeartbeatOptions } from '../net/channel.js';
import { type Clock, clockOption } from '../net/clock.js';
import { INSPECT, inspectSummary, type NodeInspectFunction } from '../net/inspect.js';
import { afterHandlesClosed } from '../net/schedule.js';
import { buildTlsServerOptions, type TlsServerOptions, tlsAcceptor } from '../net/tls.js';
import { resolveOptions } from '../options.js';
import { type BusStatus, ChatBridge, type ChatBus, DEFAULT_CHAT_ROOM } from './bus.js';
import type { ConnectionSettings } from './connection.js';
import type { ConnectionHandler } from './connection-handler.js';
import { createDispatcher, type Dispatcher, type DispatchModel } from './dispatch/dispatcher.js';
import type { CheckedHandlerSpec } from './handler-spec.js';
import { ChatRoom } from './handlers.js';
import { AdmissionControl, connectionLimits, SERVER_LIMITS_SCHEMA } from './limits.js';
import {
  type MetricsSnapshot,
  type RefusalReason,
  reportConnectionError,
  ServerMetrics,
} from './metrics.js';
import { connectNatsBus, type NatsBusOptions } from './nats-bus.js';
import { createMetricsRegistries, type MetricsEndpoint, serveMetrics } from './prometheus.js';
import { type ProxyPreamble, readProxyHeader } from './raw-socket.js';
import { resolveServerRequests, type ServerRequestHandler } from './request-handler.js';

/** TLS settings of a server (mutual TLS with `requestCert` + `ca`). */
export type ServerTlsOptions = TlsServerOptions;

/**
 * Options of {@link createServer}. Times in ms, sizes in bytes; see docs/SERVER.md
 * for every limit's unit, default and the meaning of 0.
 */
export interface ServerOptions<F extends string = string, H extends string = string> {
  /** Address to listen on: `HOST:PORT`, `[v6]:PORT`, `:PORT`, `unix:/path`. Default `127.0.0.1:0` (a free port). */
  listen?: string;
  /**
   * Framing spec string (`line`, `length:u32be`, `sbp`, ...) or a Framing. Default `line`.
   * A literal spec is type-checked ({@link FramingSpec}); a computed `string` is
   * checked at run time.
   */
  framing?: CheckedFramingSpec<F> | Framing;
  /**
   * `'echo' | 'chat' | 'discard'`, a function `(channel, info)` (loop only), or
   * the path of a module whose default export is the handler: a connection
   * handler for `loop`/`processes`, a frame handler for `threads` (see FrameHandler).
   */
  handler: ConnectionHandler | CheckedHandlerSpec<H>;
  /** `'loop'` (default), `'threads'` or `'processes'`. */
  dispatch?: DispatchModel;
  /** Worker threads/processes. Default 0 = one per CPU (`os.availableParallelism()`). At most 256 (or the CPU count, if higher). */
  workers?: number;
  /** Concurrent connections served. Default 10000. 0 = unlimited. */
  maxConnections?: number;
  /** Concurrent connections per client IP (the PROXY client when proxied). Default 0 = unlimited. */
  maxConnectionsPerIp?: number;
  /** Largest frame, bytes, >= 1 (framing spec strings only). Absent: the framing's own (8 MiB; line/delim 64 KiB); 0 is refused (`SB_BAD_OPTION`). */
  maxFrame?: number;
  /** No inbound bytes for this long closes the connection (`SB_IDLE_TIMEOUT`), ms. Default 300000. 0 = off. */
  idleTimeout?: number;
  /** A started frame, the PROXY header and the TLS handshake must complete within this (`SB_FRAME_TIMEOUT`), ms. Default 30000. 0 = off. */
  frameTimeout?: number;
  /**
   * Queued output must make progress within this, and be taken by the peer within 2 x
   * this of being queued (`SB_WRITE_TIMEOUT`: a reader that stopped, or takes a byte now
   * and then), ms. Default 30000. 0 = off.
   */
  writeTimeout?: number;
  /** Output bytes queued for one connection before it is cut (`SB_OUTPUT_QUEUE_FULL`). Default 16 MiB. */
  maxQueuedOutput?: number;
  /**
   * Input bytes all connections together may hold: unread bytes, unfinished frames and
   * frames not yet received by the handler. Past it, the connection holding the most
   * (the largest unfinished frame) is cut with `SB_MEMORY_BUDGET`; the others keep
   * being served. With `processes`, each worker gets `floor(total / workers)`.
   * Default 256 MiB (`DEFAULTS.maxBufferedInputTotal`). `Infinity` = no budget.
   */
  maxBufferedInputTotal?: number;
  /**
   * Output bytes all connections together may hold: what switchboard queued for them
   * plus node's writable buffers (peers that do not read). Past it, the connection
   * holding the most is cut with `SB_OUTPUT_BUDGET`; the others keep being served.
   * With `processes`, each worker gets `floor(total / workers)`. Default 256 MiB
   * (`DEFAULTS.maxBufferedOutputTotal`). `Infinity` = no budget.
   */
  maxBufferedOutputTotal?: number;
  /** Kernel accept backlog. Default 511. */
  backlog?: number;
  /** TLS (and mutual TLS). Default: plain TCP. */
  tls?: ServerTlsOptions;
  /** Expect a PROXY protocol v1/v2 header first on every connection. Default false. */
  proxyProtocol?: boolean;
  /** Serve Prometheus metrics at `http://ADDR/metrics` (`HOST:PORT`). Default: off. */
  metrics?: string;
  /**
   * `processes`: the primary pings each worker over IPC this often, ms; a worker that
   * has not answered by the next ping is unresponsive (`SB_WORKER_UNRESPONSIVE`) and
   * gets no new connections until it answers. Default 1000. 0 = off.
   */
  workerHeartbeatInterval?: number;
  /**
   * `processes`: a worker unresponsive this long is killed (its connections end with
   * `SB_WORKER_CRASHED`) and replaced, ms. Default 10000. 0 = never replaced.
   */
  workerUnresponsiveTimeout?: number;
  /** Default timeout of `close()`, ms. Default 10000. 0 = wait for handlers without limit. */
  closeTimeout?: number;
  /** Timer source for connection deadlines (tests). Default: the global timers. */
  clock?: Clock;
  /**
   * Chat across instances (docs/SCALING.md): a NATS URL `nats://HOST:PORT` (several
   * comma-separated; `tls://` and `nats://USER:PASS@HOST:PORT` too), the options of
   * `connectNatsBus` (credentials, TLS: the server opens and closes that bus), or a
   * ChatBus the caller owns (the server does not close it).
   * `chat` frames are then also published on `switchboard.chat.lobby` and frames of
   * other instances delivered here. With `processes` the primary holds the one bus
   * connection and relays for its workers. Default: off.
   */
  bus?: string | NatsBusOptions | ChatBus;
  /**
   * `sbp` framing only: answers the clients' `channel.request()` (REQUEST -> RESPONSE,
   * docs/PROTOCOL.md), next to the `handler`, which gets the DATA messages. A function
   * `(body, context)` (`loop` only: a function cannot cross to a thread or process), or
   * the path of a module whose default export is one (every model; loaded once per
   * worker thread or process, as handler modules are). A handler that throws or
   * rejects answers the client with an ERROR (its `request()` rejects with
   * `SB_REQUEST_FAILED`) and is counted as `SB_HANDLER_ERROR`; the connection stays
   * up. Default: none (a REQUEST is then `SB_BAD_ENVELOPE` and ends the connection).
   *
   * @example
   * ```ts
   * import { createServer, openChannel } from 'switchboard';
   *
   * const server = await createServer({
   *   framing: 'sbp',
   *   handler: 'echo',
   *   onRequest: (body, context) => `${context.connectionId}: ${Buffer.from(body).toString()}`,
   * });
   * const channel = await openChannel(server.address, { framing: 'sbp' });
   * const reply = await channel.request('hello', { timeout: 5000 });
   * console.log(Buffer.from(reply).toString()); // "1: hello"
   * await channel.close();
   * await server.close();
   * ```
   */
  onRequest?: ServerRequestHandler | string;
  /**
   * `onRequest` must answer within this, ms, or the client gets an ERROR
   * (`SB_HANDLER_TIMEOUT`, counted; a late answer is dropped). Default 30000
   * (`DEFAULTS.requestTimeout`). 0 = no deadline.
   */
  requestTimeout?: number;
  /**
   * Requests of one connection whose `onRequest` is still running; the next gets an
   * ERROR (`SB_TOO_MANY_REQUESTS`, counted) without running. Default 64
   * (`DEFAULTS.maxPendingRequests`).
   */
  maxPendingRequests?: number;
  /**
   * `sbp` framing only: ping every connection every `interval` ms; a client that leaves
   * `maxOutstanding` pings unanswered is cut with `SB_PEER_UNRESPONSIVE` (counted).
   * `true` = every 15000 ms, 2 outstanding (`DEFAULTS.heartbeatInterval`,
   * `DEFAULTS.heartbeatMaxOutstanding`). switchboard clients in `sbp` mode answer by
   * themselves. Every model. Default: off.
   */
  heartbeat?: boolean | ChannelHeartbeatOptions;
}

/** Options of {@link Server.close}. */
export interface ServerCloseOptions {
  /** Time for handlers to finish before the rest is destroyed, ms. Default: the server's `closeTimeout`. 0 = no limit. */
  timeout?: number;
}

/** A running server. */
export interface Server extends AsyncDisposable {
  /** The listen address with the real port, e.g. `tcp://127.0.0.1:40123`, `tls://…`, `unix:/path`. */
  readonly address: string;
  /** The `/metrics` URL, or null when metrics are off. */
  readonly metricsUrl: string | null;
  /** The dispatch model in use. */
  readonly dispatch: DispatchModel;
  /** Connections being served now. */
  readonly connections: number;
  /** A snapshot of the counters (see docs/SERVER.md, "Metrics"). */
  readonly metrics: MetricsSnapshot;
  /** Process ids of the worker processes (`processes` model; empty otherwise). */
  readonly workerPids: readonly number[];
  /** The chat bus state and counters, or null without a `bus`. */
  readonly bus: BusStatus | null;
  /**
   * Graceful close (see the module comment). Idempotent: later and concurrent calls
   * return the same promise. Rejects only for an invalid `timeout` (`SB_BAD_OPTION`).
   */
  close(options?: ServerCloseOptions): Promise<void>;
  /** Resolves once the server is fully closed. */
  readonly closed: Promise<void>;
}

const RENAMED_OPTIONS: Record<string, string> = {
  mode: 'handler',
  host: 'listen',
  port: 'listen',
  address: 'listen',
  maxFrameLength: 'maxFrame',
  connectionLimit: 'maxConnections',
  threads: 'workers',
};
const PASS_THROUGH = [
  'listen',
  'framing',
  'handler',
  'dispatch',
  'tls',
  'metrics',
  'clock',
  'bus',
  'onRequest',
  'heartbeat',
];
const DISPATCH_MODELS: readonly DispatchModel[] = ['loop', 'threads', 'processes'];
const REFUSAL_TEXT: Record<RefusalReason, string> = {
  max_connections: 'server is at maxConnections',
  max_connections_per_ip: 'too many connections from this address (maxConnectionsPerIp)',
  proxy_header: 'invalid PROXY header',
  closing: 'server is closing',
};

let nextServerId = 0;

function badOption(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SB_BAD_OPTION', `createServer: ${message}`);
}

/**
 * Starts a server and resolves once it is listening (and, for `threads` and
 * `processes`, once every worker has loaded the handler).
 * @throws InvalidArgumentError `SB_BAD_OPTION`, `SB_BAD_ADDRESS`, `SB_BAD_FRAMING_SPEC` for bad options.
 * @throws ConnectionError when the address cannot be bound (e.g. in use).
 * @throws SwitchboardError `SB_HANDLER_ERROR` when a handler module fails to load in a worker.
 */
export async function createServer<F extends string = string, H extends string = string>(
  options: ServerOptions<F, H>,
): Promise<Server> {
  if (options === null || typeof options !== 'object') {
    throw badOption('options must be an object');
  }
  const limits = resolveOptions(
    'createServer',
    SERVER_LIMITS_SCHEMA,
    options,
    RENAMED_OPTIONS,
    PASS_THROUGH,
  );
  clockOption('createServer', options.clock);
  const dispatch = options.dispatch ?? 'loop';
  if (!DISPATCH_MODELS.includes(dispatch)) {
    throw badOption(`option "dispatch" must be one of ${DISPATCH_MODELS.join(', ')}`);
  }
  const listenAddress = parseAddress(options.listen ?? ':0');
  if (listenAddress.kind === 'tcp' && listenAddress.tls && options.tls === undefined) {
    throw badOption('a tls:// listen address needs the "tls" option (cert and key)');
  }
  const framing = resolveServerFraming(options.framing ?? 'line', limits.maxFrame);
  // Widened: the literal check is for the caller; the run-time checks below see any string.
  const handler: ConnectionHandler | string = options.handler;
  if (typeof handler !== 'function' && (typeof handler !== 'string' || handler === '')) {
    throw badOption(
      'option "handler" must be "echo", "chat", "discard", a function or a module path',
    );
  }
  const requests = resolveServerRequests(options, framing, dispatch, limits);
  const workers = limits.workers === 0 ? availableParallelism() : limits.workers;
  // A typo's extra zeros must not start workers until the process dies of OOM (threads)
  // or the kernel kills it (processes): more than this is never useful.
  const maxWorkers = Math.max(MAX_WORKERS, availableParallelism());
  if (workers > maxWorkers) {
    throw badOption(`option "workers" must be at most ${maxWorkers} (got ${workers})`);
  }
  if (options.metrics !== undefined && typeof options.metrics !== 'string') {
    throw badOption('option "metrics" must be an address string such as "127.0.0.1:9464"');
  }
  const metricsAddress = options.metrics === undefined ? null : parseAddress(options.metrics);
  if (metricsAddress !== null && metricsAddress.kind !== 'tcp') {
    throw badOption('option "metrics" must be a TCP address');
  }
  const tlsOptions = options.tls === undefined ? null : buildTlsServerOptions(options.tls);
  const serverId = ++nextServerId;
  const metrics = new ServerMetrics();
  const room = new ChatRoom();
  // Every model does the TLS handshake per connection (not with tls.createServer): a
  // PROXY header must be read before it, a processes worker gets a raw socket, and a
  // handshake that fails, times out or meets EOF is then a served connection with an
  // id, reported on diagnostics like any other failure (tls.Server leaves a peer
  // that half-closes mid-handshake open until handshakeTimeout).
  const settings: ConnectionSettings = {
    serverId,
    framing,
    limits: connectionLimits(limits),
    tls: tlsOptions === null ? null : tlsAcceptor(tlsOptions),
    metrics,
    ...(listenAddress.kind === 'unix' ? { unixAddress: listenAddress } : {}),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  };
  const dispatcher = await createDispatcher({
    model: dispatch,
    handler,
    workers,
    settings,
    requests,
    room,
    tls: options.tls ?? null,
    proxyProtocol: limits.proxyProtocol,
    workerHeartbeatInterval: limits.workerHeartbeatInterval,
    workerUnresponsiveTimeout: limits.workerUnresponsiveTimeout,
  });
  metrics.liveTraffic = () => dispatcher.liveTraffic();
  let bus: ServerBus | null;
  try {
    bus = await attachBus(options.bus, handler, room);
  } catch (error) {
    await dispatcher.drain(0);
    await dispatcher.close();
    throw error;
  }

  const server = new SwitchboardServer({
    serverId,
    listenAddress,
    framing,
    limits,
    dispatcher,
    metrics,
    tlsEnabled: tlsOptions !== null,
    clock: options.clock,
    bus,
  });
  try {
    await server.listen(limits.backlog);
    if (metricsAddress !== null && metricsAddress.kind === 'tcp') {
      await server.startMetrics(metricsAddress.host, metricsAddress.port);
    }
  } catch (error) {
    await server.close({ timeout: 0 });
    throw toSwitchboardError(error);
  }
  diagnosticChannels.serverListening.publish({
    serverId,
    address: server.address,
    dispatch,
    metricsAddress: server.metricsUrl,
  });
  return server;
}

/** Most worker threads or processes (or one per CPU, when there are more CPUs). */
const MAX_WORKERS = 256;

/** A server's chat bus: the bus, the bridge to its room (chat only), and whether the server closes the bus. */
interface ServerBus {
  bus: ChatBus;
  bridge: ChatBridge | null;
  owned: boolean;
}

async function attachBus(
  option: ServerOptions['bus'],
  handler: ServerOptions['handler'],
  room: ChatRoom,
): Promise<ServerBus | null> {
  if (option === undefined) {
    return null;
  }
  let bus: ChatBus;
  let owned = false;
  if (typeof option === 'string') {
    bus = await connectNatsBus({ servers: option });
    owned = true;
  } else if (
    option !== null &&
    typeof option === 'object' &&
    typeof (option as ChatBus).publish === 'function' &&
    typeof (option as ChatBus).subscribe === 'function'
  ) {
    bus = option as ChatBus;
  } else if (option !== null && typeof option === 'object' && 'servers' in option) {
    bus = await connectNatsBus(option);
    owned = true;
  } else {
    throw badOption(
      'option "bus" must be a nats://HOST:PORT URL, connectNatsBus options ({ servers, ... }) or a ChatBus',
    );
  }
  let bridge: ChatBridge | null = null;
  if (handler === 'chat') {
    bridge = new ChatBridge(room, bus, DEFAULT_CHAT_ROOM);
    bridge.start();
    // Once createServer resolves, this instance receives what others publish.
    await bus.flush();
  }
  return { bus, bridge, owned };
}

function resolveServerFraming(framing: string | Framing, maxFrame: number | undefined): Framing {
  if (typeof framing === 'string') {
    return parseFraming(framing, { maxFrame });
  }
  checkFramingOption('createServer', framing, maxFrame);
  return framing;
}

interface ServerParts {
  serverId: number;
  listenAddress: Address;
  framing: Framing;
  limits: {
    maxConnections: number;
    maxConnectionsPerIp: number;
    proxyProtocol: boolean;
    frameTimeout: number;
    closeTimeout: number;
  };
  dispatcher: Dispatcher;
  metrics: ServerMetrics;
  /** TLS is on (the handshake is done per connection). */
  tlsEnabled: boolean;
  clock: Clock | undefined;
  /** The chat bus, or null. */
  bus: ServerBus | null;
}

class SwitchboardServer implements Server {
  readonly #parts: ServerParts;
  readonly #netServer: net.Server;
  readonly #admission: AdmissionControl;
  #address = '';
  #metricsEndpoint: MetricsEndpoint | null = null;
  #state: 'starting' | 'listening' | 'closing' | 'closed' = 'starting';
  #closing: Promise<void> | null = null;
  readonly closed: Promise<void>;
  #resolveClosed: () => void = () => undefined;
  readonly #refusing = new Set<net.Socket>();
  /** Admitted sockets whose PROXY header is still being read. */
  readonly #preface = new Set<net.Socket>();

  constructor(parts: ServerParts) {
    this.#parts = parts;
    this.#admission = new AdmissionControl(
      parts.limits.maxConnections,
      parts.limits.maxConnectionsPerIp,
    );
    this.closed = new Promise<void>((resolve) => {
      this.#resolveClosed = resolve;
    });
    // processes: the primary must not read a byte before handing the socket over.
    // noDelay: TCP_NODELAY on every accepted connection, as on every switchboard Socket
    // (SOCKET_TUNING_SCHEMA): Socket.from() wraps the accepted socket without touching
    // it, and with Nagle's algorithm a write smaller than one segment waits for the ACK
    // of the previous one (chat fan-out lost ~30% of its throughput to it, #15).
    const serverOptions = {
      allowHalfOpen: true,
      noDelay: true,
      pauseOnConnect: parts.dispatcher.model === 'processes',
    };
    this.#netServer = net.createServer(serverOptions);
    this.#netServer.on('connection', (socket: net.Socket) => this.#onConnection(socket));
    this.#netServer.on('error', () => {
      // Accept errors (EMFILE, ...) are transient for a listening server; listen() errors are handled there.
    });
  }

  get address(): string {
    return this.#address;
  }

  get metricsUrl(): string | null {
    return this.#metricsEndpoint?.url ?? null;
  }

  get dispatch(): DispatchModel {
    return this.#parts.dispatcher.model;
  }

  get connections(): number {
    return this.#parts.dispatcher.connections;
  }

  get metrics(): MetricsSnapshot {
    return this.#parts.metrics.snapshot();
  }

  get workerPids(): readonly number[] {
    return this.#parts.dispatcher.workerPids;
  }

  get bus(): BusStatus | null {
    return this.#parts.bus?.bus.status ?? null;
  }

  /** What `util.inspect(server)` / `console.log(server)` show: a summary, not the internals. */
  [INSPECT](depth: number, options: InspectOptionsStylized, inspect: NodeInspectFunction): string {
    const summary: Record<string, unknown> = {
      state: this.#state,
      address: this.#address,
      framing: this.#parts.framing.spec,
      dispatch: this.#parts.dispatcher.model,
      connections: this.#parts.dispatcher.connections,
    };
    if (this.#parts.dispatcher.model !== 'loop') {
      summary.workerPids = this.#parts.dispatcher.workerPids;
    }
    if (this.#metricsEndpoint !== null) {
      summary.metricsUrl = this.#metricsEndpoint.url;
    }
    return inspectSummary('Server', summary, depth, options, inspect);
  }

  async listen(backlog: number): Promise<void> {
    const address = this.#parts.listenAddress;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(toSwitchboardError(error));
      this.#netServer.once('error', onError);
      const done = (): void => {
        this.#netServer.off('error', onError);
        resolve();
      };
      if (address.kind === 'unix') {
        this.#netServer.listen({ path: toNodePath(address), backlog }, done);
      } else {
        this.#netServer.listen({ host: address.host, port: address.port, backlog }, done);
      }
    });
    this.#state = 'listening';
    const bound = this.#netServer.address();
    if (address.kind === 'unix' || bound === null || typeof bound === 'string') {
      this.#address = formatAddress(address);
    } else {
      this.#address = formatAddress({
        kind: 'tcp',
        host: bound.address,
        port: bound.port,
        tls: this.#parts.tlsEnabled,
      });
    }
  }

  async startMetrics(host: string, port: number): Promise<void> {
    const registries = await createMetricsRegistries(this.#parts.metrics, this.#parts.bus);
    this.#metricsEndpoint = await serveMetrics(registries, host, port, {
      ...(this.#parts.clock === undefined ? {} : { clock: this.#parts.clock }),
    });
  }

  #onConnection(socket: net.Socket): void {
    const parts = this.#parts;
    socket.on('error', ignoreError);
    if (this.#state !== 'listening') {
      parts.metrics.recordRefusal('closing');
      socket.destroy();
      return;
    }
    const socketIp = normalizeIp(socket.remoteAddress);
    const refusal = this.#admission.admit(socketIp);
    if (refusal !== null) {
      this.#refuse(socket, refusal);
      return;
    }
    // In the processes model the worker reads the PROXY header (the primary never reads).
    if (!parts.limits.proxyProtocol || parts.dispatcher.model === 'processes') {
      this.#serve(socket, null, socketIp);
      return;
    }
    // Until its header is read, the connection belongs to no dispatcher: track it so
    // that close() can destroy it.
    this.#preface.add(socket);
    readProxyHeader(
      socket,
      parts.limits.frameTimeout,
      parts.clock,
      parts.dispatcher.inputBudget,
    ).then(
      (proxy: ProxyPreamble) => {
        this.#preface.delete(socket);
        let chargedIp = socketIp;
        const source = proxy.header.source;
        if (source !== null && proxy.header.family !== 'unix') {
          const rebound = this.#admission.rebind(socketIp, source.address);
          if (rebound !== null) {
            this.#admission.release(socketIp);
            this.#refuse(socket, rebound);
            return;
          }
          chargedIp = source.address;
        }
        if (this.#state !== 'listening') {
          this.#admission.release(chargedIp);
          parts.metrics.recordRefusal('closing');
          socket.destroy();
          return;
        }
        this.#serve(socket, proxy, chargedIp);
      },
      (error: SwitchboardError) => {
        this.#preface.delete(socket);
        this.#admission.release(socketIp);
        if (this.#state !== 'listening') {
          parts.metrics.recordRefusal('closing'); // destroyed by close() before its header
          socket.destroy();
          return;
        }
        parts.metrics.recordRefusal('proxy_header');
        this.#reportRefused(socket, error);
        socket.destroy();
      },
    );
  }

  /** Hands an admitted connection to the dispatcher; its admission is released when it ends. */
  #serve(socket: net.Socket, proxy: ProxyPreamble | null, ip: string): void {
    const dispatcher = this.#parts.dispatcher;
    if (dispatcher.serveWith !== undefined) {
      // One server-wide callback instead of a promise and a closure per connection (#8).
      dispatcher.serveWith(socket, proxy, this.#releaseAdmission, ip);
      return;
    }
    // Released whether serve() resolves or (against its contract) rejects: a rejection
    // here would be unhandled and would keep the slot forever (#14).
    const release = (): void => this.#admission.release(ip);
    dispatcher.serve(socket, proxy).then(release, release);
  }

  readonly #releaseAdmission = (ip: string): void => this.#admission.release(ip);

  /** Counts and publishes the error of a connection refused before it was served (no id yet). */
  #reportRefused(socket: net.Socket, error: SwitchboardError): void {
    const parts = this.#parts;
    reportConnectionError(
      parts.metrics,
      { serverId: parts.serverId, connectionId: null, remoteAddress: socketText(socket) },
      error,
    );
  }

  /**
   * Closes an over-limit connection at once: one refusal frame when the framing
   * carries text and the connection is not TLS (the socket here is still the raw
   * TCP stream: plaintext in it is not a TLS record, and the client would report a
   * protocol error instead of the refusal), then FIN. Reading continues (and is discarded) so the close
   * completes; a peer that never closes is destroyed after a short grace period.
   */
  #refuse(socket: net.Socket, reason: RefusalReason): void {
    const parts = this.#parts;
    parts.metrics.recordRefusal(reason);
    const error = new ConnectionError(
      'SB_TOO_MANY_CONNECTIONS',
      `${REFUSAL_TEXT[reason]}; connection refused`,
    );
    this.#reportRefused(socket, error);
    this.#refusing.add(socket);
    const grace = setTimeout(() => socket.destroy(), 2000);
    grace.unref();
    socket.on('close', () => {
      clearTimeout(grace);
      this.#refusing.delete(socket);
    });
    socket.on('data', () => undefined);
    if (parts.framing.carriesText && !parts.tlsEnabled) {
      const line = new TextEncoder().encode(`${error.code} ${error.message}`);
      let chunks: Uint8Array[] = [];
      try {
        chunks = parts.framing.createEncoder().encode(line);
      } catch {
        chunks = []; // a framing too small for the message: close without it
      }
      for (const chunk of chunks) {
        socket.write(chunk);
      }
    }
    socket.end();
  }

  close(options?: ServerCloseOptions): Promise<void> {
    if (this.#closing === null) {
      // `?.`: null (plain JS) means no options, as for every call's options.
      const timeout = options?.timeout ?? this.#parts.limits.closeTimeout;
      if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
        return Promise.reject(
          new InvalidArgumentError(
            'SB_BAD_OPTION',
            'close: option "timeout" must be a number of ms >= 0',
          ),
        );
      }
      this.#closing = this.#runClose(timeout);
    }
    return this.#closing;
  }

  async #runClose(timeout: number): Promise<void> {
    const parts = this.#parts;
    this.#state = 'closing';
    const listenerClosed = new Promise<void>((resolve) => {
      if (!this.#netServer.listening) {
        resolve();
        return;
      }
      this.#netServer.close(() => resolve());
    });
    for (const socket of this.#preface) {
      socket.destroy(); // not served yet: nothing to let finish
    }
    const destroyed = await parts.dispatcher.drain(timeout);
    for (const socket of this.#refusing) {
      socket.destroy();
    }
    await parts.dispatcher.close();
    // After the drain, so frames the last clients sent were published.
    parts.bus?.bridge?.stop();
    if (parts.bus?.owned === true) {
      await parts.bus.bus.close();
    }
    await listenerClosed;
    await this.#metricsEndpoint?.close();
    await afterHandlesClosed(); // so no handle of ours is listed once close() resolves
    this.#state = 'closed';
    diagnosticChannels.serverClose.publish({
      serverId: parts.serverId,
      address: this.#address,
      destroyed,
      metrics: { ...parts.metrics.snapshot() },
    });
    this.#resolveClosed();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * One shared no-op 'error' listener (not a closure per connection): errors are
 * reported through the Socket/Channel once served; before that, they just end the socket.
 */
function ignoreError(): void {}

/** The peer's IP for per-IP limits ('unknown' when node no longer knows it). */
function normalizeIp(address: string | undefined): string {
  return address === undefined ? 'unknown' : normalizeHost(address);
}

function socketText(socket: net.Socket): string {
  return endpointText(normalizeIp(socket.remoteAddress), socket.remotePort, false);
}
