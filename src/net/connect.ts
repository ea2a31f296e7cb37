/**
 * Opening client connections: {@link connect} (wait until connected) and
 * {@link startConnect} (the HOWTO's non-blocking connect: returns at once, the socket
 * becomes writable in `select` once connected).
 *
 * TLS is used when the address is `tls://…` or when the `tls` option is given. Every
 * socket is opened with `allowHalfOpen` so `shutdown('write')` keeps the read side open,
 * `noDelay` (message protocols suffer from Nagle's algorithm), and TCP keepalive on
 * (`DEFAULTS.keepAlive`, initial delay `DEFAULTS.keepAliveInitialDelay`).
 */

import * as net from 'node:net';
import * as tls from 'node:tls';
import { checkOptionsObject } from '../arguments.js';
import { DEFAULTS, resolveOptions } from '../options.js';
import { type Address, toAddress, toNodePath } from './address.js';
import { clockOption } from './clock.js';
import { Socket } from './socket.js';
import {
  applyTcpTuning,
  SOCKET_TUNING_SCHEMA,
  type SocketTuningOptions,
} from './socket-options.js';
import { buildTlsClientOptions, type TlsClientOptions, withTlsMaterial } from './tls.js';

/** Options of {@link connect} and {@link startConnect}. Times in ms. */
export interface ConnectOptions extends SocketTuningOptions {
  /** Connect deadline in ms (TCP and TLS handshake). Default `DEFAULTS.connectTimeout` (30 s). 0 = none. */
  timeout?: number;
  /** Aborts the connection attempt (`SB_ABORTED`). */
  signal?: AbortSignal;
  /** TLS client options; giving them turns TLS on even for a `tcp://` address. */
  tls?: TlsClientOptions;
}

const CONNECT_SCHEMA = {
  timeout: { kind: 'ms', default: DEFAULTS.connectTimeout as number },
  ...SOCKET_TUNING_SCHEMA,
} as const;
/** connect()'s options that resolveOptions passes through unchecked (checked below). */
const CONNECT_PASS_THROUGH = ['signal', 'tls', 'clock'];
/** @internal Every option name connect() takes, for openChannel's unknown-option guess. */
export const CONNECT_OPTION_NAMES: readonly string[] = [
  ...Object.keys(CONNECT_SCHEMA),
  ...CONNECT_PASS_THROUGH,
];

/** tls.connect passes `allowHalfOpen` on to the TLSSocket, but its typings omit it. */
function halfOpen(options: tls.ConnectionOptions): tls.ConnectionOptions {
  return Object.assign(options, { allowHalfOpen: true });
}

/**
 * Starts connecting and returns the Socket at once, still connecting (the HOWTO's
 * non-blocking `connect`). Use {@link Socket.ready} or `select([], [socket])` to learn
 * when it is connected; failures surface there, in reads and writes, and in `closed`.
 * @throws InvalidArgumentError `SB_BAD_ADDRESS` / `SB_BAD_OPTION` for bad arguments.
 */
export function startConnect(address: string | Address, given: ConnectOptions = {}): Socket {
  const options = checkOptionsObject('connect', given) ?? {};
  const target = toAddress(address);
  const resolved = resolveOptions('connect', CONNECT_SCHEMA, options, {}, CONNECT_PASS_THROUGH);
  clockOption('connect', options.clock);
  const useTls = options.tls !== undefined || (target.kind === 'tcp' && target.tls);
  let transport: net.Socket;
  if (target.kind === 'unix') {
    const path = toNodePath(target);
    transport = useTls
      ? withTlsMaterial(() =>
          tls.connect(halfOpen({ ...buildTlsClientOptions('localhost', options.tls), path })),
        )
      : net.connect({ path, allowHalfOpen: true });
  } else if (useTls) {
    transport = withTlsMaterial(() =>
      tls.connect(
        halfOpen({
          ...buildTlsClientOptions(target.host, options.tls),
          host: target.host,
          port: target.port,
        }),
      ),
    );
  } else {
    transport = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
  }
  if (target.kind === 'tcp') {
    applyTcpTuning(transport, resolved);
  }
  const socketOptions = {
    readBufferLimit: resolved.readBufferLimit,
    trackLeaks: resolved.trackLeaks,
    tls: useTls,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(target.kind === 'unix' ? { unixAddress: target } : {}),
  };
  return Socket.from(transport, socketOptions);
}

/**
 * Connects (TCP, TLS or Unix) and resolves with a connected {@link Socket}.
 * @throws TimeoutError `SB_CONNECT_TIMEOUT` if not connected within `timeout` ms.
 * @throws ConnectionError `SB_CONNECTION_REFUSED` (nothing listening), `SB_HOST_UNREACHABLE`
 *   (name not resolved / no route), `SB_TLS_ERROR` (handshake or certificate rejected),
 *   `SB_ABORTED` (signal), `SB_NETWORK_ERROR` (other OS errors; `cause` has the original).
 * @throws InvalidArgumentError `SB_BAD_ADDRESS`, `SB_BAD_OPTION`.
 *
 * @example
 * ```ts
 * import { connect, listen } from 'switchboard';
 *
 * await using listener = await listen('127.0.0.1:0');
 * const accepting = listener.accept();
 * await using socket = await connect(listener.address, { timeout: 5_000 });
 * await using server = await accepting;
 * await socket.sendAll('hello');
 * await socket.shutdown('write'); // the peer's recv() now returns 0 bytes at the end
 * const request = await server.recvExactly(5, { timeout: 5_000 });
 * console.log(new TextDecoder().decode(request)); // hello
 * ```
 */
export async function connect(
  address: string | Address,
  given: ConnectOptions = {},
): Promise<Socket> {
  const options = checkOptionsObject('connect', given) ?? {};
  const socket = startConnect(address, options);
  const timeout = options.timeout ?? DEFAULTS.connectTimeout;
  try {
    await socket.ready({
      timeout,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (error) {
    socket.destroy();
    throw error;
  }
  return socket;
}
