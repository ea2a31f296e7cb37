/**
 * Serving one admitted connection: PROXY header, TLS, Channel, handler, accounting.
 *
 * Theory of operation
 * -------------------
 * The accept path (server.ts, or a process worker) has already admitted the
 * connection. {@link ConnectionSet.serve} then takes the raw socket through these
 * steps, each of which can end it:
 *
 * | step          | what happens                                         | failure code               |
 * |---------------|------------------------------------------------------|----------------------------|
 * | PROXY header  | (done by the caller, see {@link readProxyHeader})    | SB_PROXY_HEADER_INVALID    |
 * | TLS           | wrap the raw socket when the listener could not      | SB_TLS_ERROR               |
 * | channel       | `Socket.from` + `new Channel` with the server limits | -                          |
 * | handler       | the dispatch body runs `(channel, info)`             | SB_HANDLER_ERROR, or the   |
 * |               |                                                      | channel's own error code   |
 * | close         | graceful `channel.close()` flushes queued replies    | -                          |
 *
 * A handler that throws a non-switchboard error is a handler bug: the connection
 * is destroyed with `SB_HANDLER_ERROR` (the original error as `cause`) and the
 * server keeps serving. A switchboard error escaping the handler (a FrameError or
 * timeout from `receive()`, a write timeout from `send()`) keeps its own code.
 *
 * Shutdown: `drain(timeout)` aborts every connection's `info.signal` (handlers
 * that loop forever should watch it), waits for connections to end, and after
 * `timeout` ms destroys what is left.
 */
import type * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import type { Framing } from '../codec/types.js';
import { NEED_DATA } from '../codec/types.js';
import { diagnosticChannels } from '../diagnostics.js';
import {
  ConnectionError,
  FrameError,
  SwitchboardError,
  TimeoutError,
  toSwitchboardError,
} from '../errors.js';
import { type Address, formatAddress, type UnixAddress } from '../net/address.js';
import { Channel } from '../net/channel.js';
import { type Clock, systemClock } from '../net/clock.js';
import { Socket } from '../net/socket.js';
import type { ServerMetrics } from './metrics.js';
import { type ProxyHeader, ProxyHeaderDecoder } from './proxy-protocol.js';

/** What a connection handler learns about its connection. */
export interface ConnectionInfo {
  /** Connection id, unique within the server (`"17"`; `"w2-17"` in process worker 2). */
  readonly id: string;
  /** Client address, e.g. `tcp://203.0.113.7:51000`; from the PROXY header when proxied. */
  readonly remoteAddress: string;
  /** The server address the client reached; from the PROXY header when proxied. */
  readonly localAddress: string;
  /** The client's TLS certificate (mutual TLS), or undefined. */
  readonly peerCertificate: Record<string, unknown> | undefined;
  /** True when the addresses came from a PROXY protocol header. */
  readonly proxied: boolean;
  /** The parsed PROXY header (with its TLVs), or null. */
  readonly proxyHeader: ProxyHeader | null;
  /** Aborted when the server starts closing: a handler that loops forever should stop. */
  readonly signal: AbortSignal;
}

/** The body that serves a connection: a handler, or a dispatch model's frame loop. */
export type ConnectionBody = (channel: Channel, info: ConnectionInfo) => Promise<void> | void;

/** A PROXY header read from a connection, and the bytes that followed it. */
export interface ProxyPreamble {
  readonly header: ProxyHeader;
  readonly remainder: Uint8Array;
}

/** Settings shared by every connection of a server. */
export interface ConnectionSettings {
  readonly serverId: number;
  readonly framing: Framing;
  readonly idleTimeout: number;
  readonly frameTimeout: number;
  readonly writeTimeout: number;
  readonly maxQueuedOutput: number;
  /** TLS to apply to raw sockets (when the listener is plain TCP), or null. */
  readonly tlsContext: tls.SecureContext | null;
  readonly tlsRequestCert: boolean;
  readonly tlsRejectUnauthorized: boolean;
  /** ALPN protocols the TLS server supports. */
  readonly tlsAlpnProtocols?: string[];
  readonly metrics: ServerMetrics;
  /** For Unix-socket listeners, the listen address (node reports no Unix peer address). */
  readonly unixAddress?: UnixAddress;
  readonly clock?: Clock;
}

interface LiveConnection {
  readonly channel: Channel | null;
  readonly raw: net.Socket;
  /** Created on the first read of `info.signal` (most handlers never look; it saves memory per connection). */
  abort: AbortController | null;
}

/** Formats a node endpoint as a switchboard address string. */
export function endpointText(
  host: string | undefined,
  port: number | undefined,
  tlsOn: boolean,
): string {
  if (host === undefined || port === undefined) {
    return '';
  }
  const address: Address = {
    kind: 'tcp',
    host: host.startsWith('::ffff:') ? host.slice(7) : host,
    port,
    tls: tlsOn,
  };
  return formatAddress(address);
}

/**
 * Reads a PROXY header from a raw socket before anything else touches it. On
 * success the socket is paused, with the bytes after the header left to the
 * caller (`remainder`). Rejects with `SB_PROXY_HEADER_INVALID` (garbage, EOF
 * before the header) or `SB_FRAME_TIMEOUT` (header not complete within
 * `timeout` ms; 0 = no limit).
 */
export function readProxyHeader(
  raw: net.Socket,
  timeout: number,
  clock: Clock | undefined,
): Promise<ProxyPreamble> {
  const decoder = new ProxyHeaderDecoder();
  const timers = clock ?? {
    setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
    clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
  };
  return new Promise<ProxyPreamble>((resolve, reject) => {
    let timer: unknown;
    const finish = (): void => {
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('error', onError);
      raw.off('close', onEnd);
      if (timer !== undefined) {
        timers.clearTimeout(timer);
      }
    };
    const onData = (chunk: Buffer): void => {
      try {
        decoder.push(chunk);
        const header = decoder.next();
        if (header === NEED_DATA) {
          return;
        }
        raw.pause();
        finish();
        resolve({ header, remainder: decoder.remainder() });
      } catch (error) {
        finish();
        reject(toSwitchboardError(error));
      }
    };
    const onEnd = (): void => {
      finish();
      try {
        decoder.end();
      } catch (error) {
        reject(toSwitchboardError(error));
        return;
      }
      reject(
        new FrameError(
          'SB_PROXY_HEADER_INVALID',
          'PROXY header: connection ended before the header',
        ),
      );
    };
    const onError = (error: Error): void => {
      finish();
      reject(toSwitchboardError(error));
    };
    if (timeout > 0) {
      timer = timers.setTimeout(() => {
        finish();
        reject(
          new TimeoutError(
            'SB_FRAME_TIMEOUT',
            `PROXY header not complete within frameTimeout ${timeout} ms`,
          ),
        );
      }, timeout);
    }
    raw.on('data', onData);
    raw.on('end', onEnd);
    raw.on('close', onEnd);
    raw.on('error', onError);
  });
}

/**
 * A Duplex over `raw` whose readable side first yields `prefix`. Needed to start
 * TLS over a socket whose first bytes were already read (the PROXY header's
 * remainder): `tls.TLSSocket` on a plain `net.Socket` reads from the kernel
 * handle directly and would never see bytes put back with `unshift()`.
 */
function prefixedDuplex(raw: net.Socket, prefix: Uint8Array): Duplex {
  const duplex = new Duplex({
    read() {
      raw.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      raw.write(chunk, callback);
    },
    final(callback) {
      raw.end(callback);
    },
    destroy(error, callback) {
      raw.destroy(error ?? undefined);
      callback(error);
    },
  });
  duplex.push(prefix);
  raw.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) {
      raw.pause();
    }
  });
  raw.on('end', () => duplex.push(null));
  raw.on('error', (error) => duplex.destroy(error));
  raw.on('close', () => duplex.destroy());
  return duplex;
}

/**
 * The {@link ConnectionInfo} handed to handlers. A class (not an object literal
 * with a closure) because one exists per connection: its `signal` getter lives on
 * the prototype, and the AbortController is only created when a handler reads it.
 */
class ServedConnectionInfo implements ConnectionInfo {
  readonly id: string;
  readonly remoteAddress: string;
  readonly localAddress: string;
  readonly peerCertificate: Record<string, unknown> | undefined;
  readonly proxyHeader: ProxyHeader | null;
  readonly #live: LiveConnection;
  readonly #owner: ConnectionSet;

  constructor(
    id: string,
    remoteAddress: string,
    localAddress: string,
    peerCertificate: Record<string, unknown> | undefined,
    proxyHeader: ProxyHeader | null,
    live: LiveConnection,
    owner: ConnectionSet,
  ) {
    this.id = id;
    this.remoteAddress = remoteAddress;
    this.localAddress = localAddress;
    this.peerCertificate = peerCertificate;
    this.proxyHeader = proxyHeader;
    this.#live = live;
    this.#owner = owner;
  }

  get proxied(): boolean {
    return this.proxyHeader !== null && this.proxyHeader.source !== null;
  }

  get signal(): AbortSignal {
    if (this.#live.abort === null) {
      this.#live.abort = new AbortController();
      if (this.#owner.draining) {
        this.#live.abort.abort();
      }
    }
    return this.#live.abort.signal;
  }
}

/** The connections one server (or one process worker) is serving. */
export class ConnectionSet {
  readonly #settings: ConnectionSettings;
  readonly #body: ConnectionBody;
  readonly #live = new Set<LiveConnection>();
  readonly #idle = new Set<() => void>();
  #draining = false;

  constructor(settings: ConnectionSettings, body: ConnectionBody) {
    this.#settings = settings;
    this.#body = body;
  }

  /** Connections being served. */
  get size(): number {
    return this.#live.size;
  }

  /** True once `drain()` has started (late `info.signal` reads come back aborted). */
  get draining(): boolean {
    return this.#draining;
  }

  /** Frames and bytes of live connections (not yet folded into the totals). */
  liveStats(): { framesIn: number; framesOut: number; bytesIn: number; bytesOut: number } {
    const sum = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0 };
    for (const connection of this.#live) {
      const stats = connection.channel?.stats;
      if (stats !== undefined) {
        sum.framesIn += stats.framesReceived;
        sum.framesOut += stats.framesSent;
        sum.bytesIn += stats.bytesReceived;
        sum.bytesOut += stats.bytesSent;
      }
    }
    return sum;
  }

  /**
   * Serves one admitted connection to its end. Never rejects: failures are
   * counted, published and end the connection only.
   */
  async serve(raw: net.Socket, id: string, proxy: ProxyPreamble | null): Promise<void> {
    const settings = this.#settings;
    const metrics = settings.metrics;
    const started = Date.now();
    let transport: net.Socket = raw;
    let channel: Channel | null = null;
    const placeholder: LiveConnection = { channel: null, raw, abort: null };
    this.#live.add(placeholder);
    let live = placeholder;
    let remoteAddress = ''; // set once known; computed from the raw socket only if we fail before
    let failure: SwitchboardError | null = null;
    metrics.connectionsOpen += 1;
    metrics.connectionsAccepted += 1;
    try {
      if (settings.tlsContext !== null) {
        transport = await this.#startTls(raw, proxy?.remainder ?? new Uint8Array(0));
      } else if (proxy !== null && proxy.remainder.byteLength > 0) {
        raw.unshift(
          Buffer.from(
            proxy.remainder.buffer,
            proxy.remainder.byteOffset,
            proxy.remainder.byteLength,
          ),
        );
      }
      const tlsOn = settings.tlsContext !== null;
      const socket = Socket.from(transport, {
        tls: tlsOn,
        trackLeaks: false,
        ...(settings.unixAddress === undefined ? {} : { unixAddress: settings.unixAddress }),
        ...(settings.clock === undefined ? {} : { clock: settings.clock }),
      });
      channel = new Channel(socket, {
        framing: settings.framing,
        idleTimeout: settings.idleTimeout,
        frameTimeout: settings.frameTimeout,
        writeTimeout: settings.writeTimeout,
        maxQueuedOutput: settings.maxQueuedOutput,
        ...(settings.clock === undefined ? {} : { clock: settings.clock }),
      });
      transport.resume();
      this.#live.delete(placeholder);
      live = { channel, raw, abort: null };
      this.#live.add(live);
      const source = proxy?.header.source ?? null;
      const destination = proxy?.header.destination ?? null;
      const proxied = source !== null;
      remoteAddress = proxied ? proxyEndpointText(proxy!.header, 'source') : socket.remoteAddress;
      const info = new ServedConnectionInfo(
        id,
        remoteAddress,
        destination !== null
          ? proxyEndpointText(proxy!.header, 'destination')
          : socket.localAddress,
        socket.peerCertificate,
        proxy?.header ?? null,
        live,
        this,
      );
      diagnosticChannels.connectionOpen.publish({
        serverId: settings.serverId,
        connectionId: id,
        remoteAddress: info.remoteAddress,
        localAddress: info.localAddress,
        proxied,
      });
      const handlerStarted = performance.now();
      try {
        await this.#body(channel, info);
      } finally {
        metrics.handlerLatency.connection.observe(performance.now() - handlerStarted);
      }
      await channel.close();
      const error = await channel.closed;
      if (error instanceof SwitchboardError && channel.error !== undefined) {
        failure = error;
      }
    } catch (error) {
      failure =
        error instanceof SwitchboardError
          ? error
          : new SwitchboardError(
              'SB_HANDLER_ERROR',
              'the connection handler threw; connection closed',
              { cause: error },
            );
      if (channel !== null) {
        channel.destroy(failure);
      } else {
        transport.destroy();
        raw.destroy();
      }
    } finally {
      if (remoteAddress === '') {
        remoteAddress = endpointText(
          raw.remoteAddress,
          raw.remotePort,
          settings.tlsContext !== null,
        );
      }
      this.#live.delete(live);
      metrics.connectionsOpen -= 1;
      const stats = channel?.stats;
      if (stats !== undefined) {
        metrics.framesIn += stats.framesReceived;
        metrics.framesOut += stats.framesSent;
        metrics.bytesIn += stats.bytesReceived;
        metrics.bytesOut += stats.bytesSent;
      }
      if (failure !== null) {
        metrics.recordError(failure.code);
        diagnosticChannels.frameError.publish({
          serverId: settings.serverId,
          connectionId: id,
          remoteAddress,
          code: failure.code,
          error: failure,
        });
      }
      diagnosticChannels.connectionClose.publish({
        serverId: settings.serverId,
        connectionId: id,
        remoteAddress,
        code: failure?.code ?? null,
        error: failure,
        durationMs: Date.now() - started,
        framesIn: stats?.framesReceived ?? 0,
        framesOut: stats?.framesSent ?? 0,
        bytesIn: stats?.bytesReceived ?? 0,
        bytesOut: stats?.bytesSent ?? 0,
      });
      if (this.#live.size === 0) {
        for (const wake of this.#idle) {
          wake();
        }
      }
    }
  }

  /**
   * The server side of the TLS handshake over a raw socket (after any PROXY header).
   * Settles once: `secure` resolves; an error, EOF before `secure` (a peer that
   * half-closes mid-handshake can never finish it) or frameTimeout on the server's
   * clock rejects and destroys both sockets.
   */
  #startTls(raw: net.Socket, prefix: Uint8Array): Promise<tls.TLSSocket> {
    const settings = this.#settings;
    const clock = settings.clock ?? systemClock;
    const underlying = prefix.byteLength > 0 ? prefixedDuplex(raw, prefix) : raw;
    const secure = new tls.TLSSocket(underlying as net.Socket, {
      isServer: true,
      secureContext: settings.tlsContext!,
      requestCert: settings.tlsRequestCert,
      rejectUnauthorized: settings.tlsRejectUnauthorized,
      ...(settings.tlsAlpnProtocols === undefined
        ? {}
        : { ALPNProtocols: settings.tlsAlpnProtocols }),
    });
    raw.resume();
    return new Promise<tls.TLSSocket>((resolve, reject) => {
      let timer: unknown;
      const settle = (): void => {
        if (timer !== undefined) {
          clock.clearTimeout(timer);
        }
        secure.off('secure', onSecure);
        secure.off('error', onError);
        secure.off('end', onEnd);
      };
      const onError = (error: Error): void => {
        settle();
        // Anything the dying TLS socket still emits is moot: the rejection reports it.
        secure.on('error', () => undefined);
        secure.destroy();
        raw.destroy();
        const wrapped = toSwitchboardError(error);
        reject(
          wrapped.code === 'SB_NETWORK_ERROR'
            ? new ConnectionError('SB_TLS_ERROR', `TLS handshake failed: ${error.message}`, {
                cause: error,
              })
            : wrapped,
        );
      };
      const onEnd = (): void =>
        onError(new ConnectionError('SB_TLS_ERROR', 'peer closed during the TLS handshake'));
      const onSecure = (): void => {
        // A bare TLSSocket only records the client-certificate verdict; refusing an
        // unauthorized client is tls.Server's job, so it is done here (mutual TLS).
        if (settings.tlsRequestCert) {
          const verdict = clientCertificateVerdict(secure);
          if (verdict !== null && settings.tlsRejectUnauthorized) {
            onError(new ConnectionError('SB_TLS_ERROR', `client certificate rejected: ${verdict}`));
            return;
          }
        }
        settle();
        resolve(secure);
      };
      secure.once('secure', onSecure);
      secure.once('error', onError);
      secure.once('end', onEnd);
      if (settings.frameTimeout > 0) {
        timer = clock.setTimeout(
          () =>
            onError(
              new TimeoutError(
                'SB_FRAME_TIMEOUT',
                `TLS handshake not complete within frameTimeout ${settings.frameTimeout} ms`,
              ),
            ),
          settings.frameTimeout,
        );
      }
    });
  }

  /**
   * Graceful end: aborts every handler's signal, waits until every connection
   * ended or `timeout` ms passed (0 = no limit), then destroys the rest.
   * Resolves with the number destroyed.
   */
  async drain(timeout: number): Promise<number> {
    this.#draining = true;
    for (const connection of this.#live) {
      connection.abort?.abort();
    }
    if (this.#live.size === 0) {
      return 0;
    }
    let wake: () => void = () => undefined;
    const allDone = new Promise<void>((resolve) => {
      wake = resolve;
      this.#idle.add(resolve);
    });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      if (timeout > 0) {
        timer = setTimeout(() => resolve('expired'), timeout);
      }
    });
    const outcome = await Promise.race([allDone.then(() => 'done' as const), expired]);
    clearTimeout(timer);
    this.#idle.delete(wake);
    if (outcome === 'done') {
      return 0;
    }
    return this.destroyAll(
      new ConnectionError(
        'SB_CONNECTION_CLOSED',
        `server closed; connection outlived closeTimeout ${timeout} ms`,
      ),
    );
  }

  /** Destroys every live connection at once; resolves with how many there were. */
  async destroyAll(error: SwitchboardError): Promise<number> {
    const victims = [...this.#live];
    for (const connection of victims) {
      if (connection.channel !== null) {
        connection.channel.destroy(error);
      } else {
        connection.raw.destroy();
      }
    }
    if (this.#live.size > 0) {
      await new Promise<void>((resolve) => {
        this.#idle.add(resolve);
      });
    }
    return victims.length;
  }
}

function proxyEndpointText(header: ProxyHeader, which: 'source' | 'destination'): string {
  const endpoint = header[which]!;
  if (header.family === 'unix') {
    return endpoint.address.startsWith('@')
      ? `unix:${endpoint.address}`
      : `unix:${endpoint.address}`;
  }
  return formatAddress({ kind: 'tcp', host: endpoint.address, port: endpoint.port, tls: false });
}

/** The part of node's TLS handle that holds the peer-certificate verdict. */
interface VerifyingHandle {
  verifyError(): Error | null;
}

/**
 * Why the client certificate fails verification against the server's CAs, or null
 * when it passes. tls.Server computes this in its own 'secure' hook (and sets
 * `authorized`); a TLSSocket made with `new tls.TLSSocket` (needed to read a PROXY
 * header first, or for a socket handed to a worker process) only records it on its
 * handle, which node exposes as `ssl` — the same call tls.Server makes. Fails closed:
 * a handle without `verifyError` counts as unverified.
 */
function clientCertificateVerdict(secure: tls.TLSSocket): string | null {
  const handle = (secure as unknown as { ssl?: Partial<VerifyingHandle> }).ssl;
  if (typeof handle?.verifyError !== 'function') {
    return 'cannot verify (node TLS handle without verifyError)';
  }
  const error = handle.verifyError();
  if (error === null || error === undefined) {
    return secure.getPeerCertificate() === null ||
      Object.keys(secure.getPeerCertificate()).length === 0
      ? 'no certificate'
      : null;
  }
  return (error as { code?: string }).code ?? error.message;
}
