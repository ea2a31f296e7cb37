/**
 * Listener: the HOWTO's "server socket", pull-based.
 *
 * Theory of operation: node accepts connections eagerly; each one is wrapped in a
 * {@link Socket} at once (so its input is bounded from the first byte) and queued until
 * a caller takes it with {@link Listener.accept} or `for await`. The queue is bounded by
 * `acceptQueueLimit` (default `DEFAULTS.backlog`): beyond it, new connections are
 * destroyed immediately rather than left to pile up. For TLS, a connection is queued
 * only after its handshake succeeded ({@link acceptTls}, bounded by
 * `DEFAULTS.serverFrameTimeout`), and handshakes in progress count toward
 * `acceptQueueLimit` with the queue; failed handshakes (e.g. a mutual-TLS client with a
 * certificate from the wrong CA, or a peer that half-closes mid-handshake) are
 * dropped and counted in `tlsErrors`. `close()` ends the handshakes in progress.
 */

import * as net from 'node:net';
import { checkOptionsObject } from '../arguments.js';
import {
  ConnectionError,
  type SwitchboardError,
  TimeoutError,
  toSwitchboardError,
} from '../errors.js';
import { DEFAULTS, resolveOptions } from '../options.js';
import { type Address, formatAddress, toAddress, toNodePath } from './address.js';
import { type CallOptions, type Clock, clockOption, type Observable, waitUntil } from './clock.js';
import { afterHandlesClosed } from './schedule.js';
import { Socket } from './socket.js';
import {
  applyTcpTuning,
  SOCKET_TUNING_SCHEMA,
  type SocketTuningOptions,
} from './socket-options.js';
import {
  acceptTls,
  buildTlsServerOptions,
  type TlsAcceptor,
  type TlsServerOptions,
  tlsAcceptor,
} from './tls.js';

/** Options of {@link listen}; the {@link SocketTuningOptions} apply to every accepted socket. */
export interface ListenOptions extends SocketTuningOptions {
  /** Kernel accept backlog. Default `DEFAULTS.backlog`. */
  backlog?: number;
  /**
   * Accepted connections waiting for `accept()` (TLS: and those still handshaking) before
   * new ones are dropped. Default `DEFAULTS.backlog`.
   */
  acceptQueueLimit?: number;
  /**
   * TLS server options (turns TLS on even for a `tcp://` address; required for `tls://`).
   * Each handshake must finish within `DEFAULTS.serverFrameTimeout` (30 s).
   */
  tls?: TlsServerOptions;
}

const LISTEN_SCHEMA = {
  backlog: { kind: 'count', default: DEFAULTS.backlog as number, min: 1 },
  acceptQueueLimit: { kind: 'count', default: DEFAULTS.backlog as number, min: 1 },
  ...SOCKET_TUNING_SCHEMA,
} as const;

type ResolvedListen = { [K in keyof typeof LISTEN_SCHEMA]: (typeof LISTEN_SCHEMA)[K]['default'] };

/** A listening socket. Create with {@link listen}. */
export class Listener implements Observable, AsyncDisposable {
  /** The bound address, with the real port when port 0 was asked. */
  readonly address: Address;
  /** The underlying node server (for advanced use such as `maxConnections`). */
  readonly server: net.Server;
  /** Connections dropped because the accept queue was full. */
  droppedConnections = 0;
  /** TLS handshakes that failed (client refused). */
  tlsErrors = 0;
  private readonly queue: Socket[] = [];
  /**
   * TLS connections whose handshake is in progress. They count toward
   * `acceptQueueLimit` with the queue: otherwise peers that connect and send nothing
   * would each hold a TLS socket for the handshake deadline, without bound.
   */
  private readonly handshaking = new Set<net.Socket>();
  private readonly observers = new Set<() => void>();
  private readonly options: ResolvedListen;
  private readonly clock: Clock;
  /** TLS, handshaken per accepted socket by {@link acceptTls}; null for plain TCP. */
  private readonly acceptor: TlsAcceptor | null;
  private readonly unixAddress: Address | undefined;
  private closing = false;
  private closeError: SwitchboardError | undefined;
  private closePromise: Promise<void> | undefined;

  /** @internal Use {@link listen}. */
  constructor(
    server: net.Server,
    address: Address,
    options: ResolvedListen,
    clock: Clock,
    acceptor: TlsAcceptor | null,
  ) {
    this.server = server;
    this.address = address;
    this.options = options;
    this.clock = clock;
    this.acceptor = acceptor;
    this.unixAddress = address.kind === 'unix' ? address : undefined;
    server.on('connection', this.onConnection);
    server.on('error', this.onServerError);
  }

  /** The bound address as text, e.g. `tcp://127.0.0.1:40123`. */
  get url(): string {
    return formatAddress(this.address);
  }

  /** Connections accepted by the kernel and waiting for {@link accept}. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Registers `wake`, called whenever the state may have changed (what `select()`
   * waits on); returns the unregistering function. Public because the class
   * implements `Observable` (net/clock.ts).
   */
  observe(wake: () => void): () => void {
    this.observers.add(wake);
    return () => {
      this.observers.delete(wake);
    };
  }

  private notify(): void {
    for (const wake of this.observers) {
      wake();
    }
  }

  private readonly onConnection = (transport: net.Socket): void => {
    if (
      this.closing ||
      this.queue.length + this.handshaking.size >= this.options.acceptQueueLimit
    ) {
      this.droppedConnections += 1;
      transport.destroy();
      return;
    }
    if (this.unixAddress === undefined) {
      applyTcpTuning(transport, this.options);
    }
    if (this.acceptor === null) {
      this.enqueue(transport);
      return;
    }
    // The handshake is bounded like a server's connection preface (serverFrameTimeout).
    this.handshaking.add(transport);
    acceptTls(transport, this.acceptor, {
      timeout: DEFAULTS.serverFrameTimeout,
      clock: this.clock,
    }).then(
      (secure) => {
        this.handshaking.delete(transport);
        this.enqueue(secure);
      },
      () => {
        this.handshaking.delete(transport);
        if (!this.closing) {
          this.tlsErrors += 1; // not the handshakes close() ended
        }
      },
    );
  };

  private enqueue(transport: net.Socket): void {
    if (this.closing || this.queue.length >= this.options.acceptQueueLimit) {
      this.droppedConnections += 1;
      transport.destroy();
      return;
    }
    const socket = Socket.from(transport, {
      readBufferLimit: this.options.readBufferLimit,
      trackLeaks: this.options.trackLeaks,
      tls: this.acceptor !== null,
      clock: this.clock,
      ...(this.address.kind === 'unix' ? { unixAddress: this.address } : {}),
    });
    this.queue.push(socket);
    this.notify();
  }

  private readonly onServerError = (error: Error): void => {
    this.closeError = toSwitchboardError(error);
    this.notify();
  };

  /** True when a connection is waiting, so {@link accept} would not block. */
  isReadable(): boolean {
    return this.queue.length > 0;
  }

  /**
   * Takes the next accepted connection, waiting for one if needed.
   * @throws TimeoutError `SB_TIMEOUT` if none arrived within `timeout` ms (the listener stays usable).
   * @throws ConnectionError `SB_ABORTED` on abort; `SB_CONNECTION_CLOSED` once the listener is closed.
   */
  async accept(options?: CallOptions): Promise<Socket> {
    for (;;) {
      await waitUntil(
        this,
        () => this.queue.length > 0 || this.closing || this.closeError !== undefined,
        options,
        this.clock,
        () => new TimeoutError('SB_TIMEOUT', `no connection within ${options?.timeout} ms`),
      );
      const socket = this.queue.shift();
      if (socket !== undefined) {
        return socket;
      }
      if (this.closing || this.closeError !== undefined) {
        throw (
          this.closeError ?? new ConnectionError('SB_CONNECTION_CLOSED', 'the listener is closed')
        );
      }
      // Another accept() waiting at the same time took the connection that woke both
      // (one wake-up per arrival): wait for the next, as recv() does, instead of
      // reporting an open listener as closed.
    }
  }

  /** `for await (const socket of listener)`: accepts until the listener is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<Socket> {
    for (;;) {
      let socket: Socket;
      try {
        socket = await this.accept();
      } catch (error) {
        if (
          error instanceof ConnectionError &&
          error.code === 'SB_CONNECTION_CLOSED' &&
          this.closing
        ) {
          return;
        }
        throw error;
      }
      yield socket;
    }
  }

  /**
   * Stops listening (idempotent). Connections not yet accepted are destroyed; sockets
   * already accepted are left to their owners. Resolves once the port is released.
   */
  close(): Promise<void> {
    if (this.closePromise === undefined) {
      this.closing = true;
      for (const socket of this.queue.splice(0)) {
        socket.destroy();
      }
      for (const transport of this.handshaking) {
        transport.destroy();
      }
      this.closePromise = new Promise<void>((resolve) => {
        // server.close() calls back only when every connection has ended; we do not
        // own accepted connections, so resolve as soon as the listening handle is gone.
        this.server.close();
        void afterHandlesClosed().then(resolve);
      });
      this.notify();
    }
    return this.closePromise;
  }

  /** `await using listener = await listen(...)` closes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Binds and listens. Port 0 picks a free port; {@link Listener.address} reports it.
 * A missing host means `DEFAULTS.host` (127.0.0.1).
 * @throws ConnectionError `SB_NETWORK_ERROR` (e.g. EADDRINUSE, EACCES; `cause` has the original).
 * @throws InvalidArgumentError `SB_BAD_ADDRESS`, `SB_BAD_OPTION` (e.g. `tls://` without `tls` options).
 *
 * @example
 * ```ts
 * import { connect, listen } from 'switchboard';
 *
 * // The switchboard operator: the listening socket only hands out connections.
 * await using listener = await listen('127.0.0.1:0');
 * const served = (async () => {
 *   await using client = await listener.accept(); // one socket per connection
 *   const line = await client.recvUntil('\n', { timeout: 5_000 }); // null at EOF
 *   await client.sendAll(line === null ? 'bye\n' : 'pong\n');
 * })();
 * const socket = await connect(listener.address);
 * await socket.sendAll('ping\n');
 * const reply = await socket.recvExactly(5, { timeout: 5_000 });
 * console.log(new TextDecoder().decode(reply)); // pong
 * await socket.close(); // close your sockets: the server's side sees EOF and closes too
 * await served;
 * ```
 */
export async function listen(
  address: string | Address,
  given: ListenOptions = {},
): Promise<Listener> {
  const options = checkOptionsObject('listen', given) ?? {};
  const target = toAddress(address);
  const resolved = resolveOptions('listen', LISTEN_SCHEMA, options, {}, ['tls', 'clock']);
  const clock = clockOption('listen', options.clock);
  const wantsTls = target.kind === 'tcp' && target.tls;
  if (wantsTls && options.tls === undefined) {
    // buildTlsServerOptions names the missing cert/key.
    buildTlsServerOptions(undefined as unknown as TlsServerOptions);
  }
  const acceptor =
    options.tls === undefined ? null : tlsAcceptor(buildTlsServerOptions(options.tls));
  const useTls = acceptor !== null;
  const server = net.createServer({ allowHalfOpen: true });
  const listenOptions: net.ListenOptions =
    target.kind === 'unix'
      ? { path: toNodePath(target), backlog: resolved.backlog }
      : { host: target.host, port: target.port, backlog: resolved.backlog };
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      server.removeListener('listening', onListening);
      reject(toSwitchboardError(error));
    };
    const onListening = (): void => {
      server.removeListener('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(listenOptions);
  });
  let bound: Address = target;
  const info = server.address();
  if (target.kind === 'tcp' && info !== null && typeof info === 'object') {
    bound = { kind: 'tcp', host: info.address, port: info.port, tls: useTls };
  }
  return new Listener(server, bound, resolved, clock, acceptor);
}
