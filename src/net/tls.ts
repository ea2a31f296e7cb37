/**
 * TLS option builders for clients and servers.
 *
 * Policy, applied to every TLS connection switchboard makes or accepts:
 * - The lowest protocol version is TLS 1.2 (`DEFAULTS.minTlsVersion`); asking for a
 *   lower `minVersion` is refused with `SB_BAD_OPTION`.
 * - Clients verify the server certificate (`rejectUnauthorized: true`) unless told
 *   otherwise, and send SNI: `servername` defaults to the host when it is a name, not
 *   an IP literal (RFC 6066 forbids IP literals in SNI).
 * - Mutual TLS: a server with `requestCert: true` asks for a client certificate and,
 *   with `rejectUnauthorized` (default true when `requestCert`), refuses clients whose
 *   certificate does not chain to `ca`.
 */
import { isIP, type Socket as NetSocket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type ConnectionOptions,
  createSecureContext,
  type SecureContext,
  TLSSocket,
  type TlsOptions,
} from 'node:tls';
import {
  ConnectionError,
  InvalidArgumentError,
  TimeoutError,
  toSwitchboardError,
} from '../errors.js';
import { DEFAULTS, resolveOptions } from '../options.js';
import type { Clock } from './clock.js';

/** PEM text or bytes, or a list of them. */
export type PemInput = string | Uint8Array | Array<string | Uint8Array>;

/** TLS protocol versions switchboard accepts. */
export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** Client-side TLS options (a subset of `tls.ConnectionOptions`). */
export interface TlsClientOptions {
  /** Trusted CA certificates (PEM). Default: Node's built-in root store. */
  ca?: PemInput;
  /** Client certificate chain (PEM), for mutual TLS. */
  cert?: PemInput;
  /** Client private key (PEM), for mutual TLS. */
  key?: PemInput;
  /** SNI host name and the name the certificate must match. Default: the host, when it is not an IP. */
  servername?: string;
  /** Verify the server certificate. Default true. Turning it off allows impersonation. */
  rejectUnauthorized?: boolean;
  /** Lowest accepted version; never below TLSv1.2. Default TLSv1.2. */
  minVersion?: TlsVersion;
  /** ALPN protocols to offer. */
  ALPNProtocols?: string[];
}

/** Server-side TLS options (a subset of `tls.TlsOptions`). */
export interface TlsServerOptions {
  /** Server certificate chain (PEM). Required. */
  cert: PemInput;
  /** Server private key (PEM). Required. */
  key: PemInput;
  /** CAs trusted for client certificates (mutual TLS). */
  ca?: PemInput;
  /** Ask clients for a certificate (mutual TLS). Default false. */
  requestCert?: boolean;
  /** With `requestCert`, refuse clients without a valid certificate. Default true. */
  rejectUnauthorized?: boolean;
  /** Lowest accepted version; never below TLSv1.2. Default TLSv1.2. */
  minVersion?: TlsVersion;
  /** ALPN protocols the server supports. */
  ALPNProtocols?: string[];
}

function checkMinVersion(where: string, version: string | undefined): TlsVersion {
  const chosen = version ?? DEFAULTS.minTlsVersion;
  if (chosen !== 'TLSv1.2' && chosen !== 'TLSv1.3') {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      `${where}: option "minVersion" must be 'TLSv1.2' or 'TLSv1.3' (versions below TLS 1.2 are refused)`,
    );
  }
  return chosen;
}

function pem(value: PemInput | undefined): string | Buffer | Array<string | Buffer> | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (Array.isArray(value)) {
    return value.map((item) => (typeof item === 'string' ? item : Buffer.from(item)));
  }
  return typeof value === 'string' ? value : Buffer.from(value);
}

function isEmptyPem(value: PemInput | undefined): boolean {
  if (value === undefined || value === null) {
    return true;
  }
  if (Array.isArray(value)) {
    return value.every((item) => isEmptyPem(item));
  }
  return typeof value === 'string' ? value.trim() === '' : value.length === 0;
}

/** The scalar TLS options of clients, checked by type; the rest is checked below. */
const TLS_CLIENT_SCHEMA = {
  servername: { kind: 'string', default: undefined as string | undefined },
  rejectUnauthorized: { kind: 'boolean', default: undefined as boolean | undefined },
  minVersion: { kind: 'string', default: undefined as string | undefined },
} as const;
/** The scalar TLS options of servers. */
const TLS_SERVER_SCHEMA = {
  requestCert: { kind: 'boolean', default: undefined as boolean | undefined },
  rejectUnauthorized: { kind: 'boolean', default: undefined as boolean | undefined },
  minVersion: { kind: 'string', default: undefined as string | undefined },
} as const;
const PEM_OPTIONS = ['ca', 'cert', 'key'] as const;
const TLS_PASS_THROUGH = [...PEM_OPTIONS, 'ALPNProtocols'];

/**
 * Checks a `tls` option's shape: an object whose options are all known and of their
 * documented type. Why: without it `tls: 5` or `tls: 'yes'` turned TLS on with
 * defaults, a typo (`requestcert: true`) left mutual TLS silently off, and
 * `rejectUnauthorized: 'false'` was taken as verifying; every one is `SB_BAD_OPTION`
 * naming the option, with a did-you-mean for a near-miss name.
 */
function checkTlsOptions(where: string, options: unknown, server: boolean): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      `${where}: option "tls" must be an object of TLS options`,
    );
  }
  resolveOptions(
    `${where}: tls`,
    server ? TLS_SERVER_SCHEMA : TLS_CLIENT_SCHEMA,
    options,
    {},
    TLS_PASS_THROUGH,
  );
  const given = options as Record<string, unknown>;
  for (const name of PEM_OPTIONS) {
    const value = given[name];
    const isPem = (item: unknown): boolean =>
      typeof item === 'string' || item instanceof Uint8Array;
    if (value !== undefined && !isPem(value) && !(Array.isArray(value) && value.every(isPem))) {
      throw new InvalidArgumentError(
        'SB_BAD_OPTION',
        `${where}: tls: option "${name}" must be PEM text or bytes, or a list of them`,
      );
    }
  }
  const alpn = given.ALPNProtocols;
  if (
    alpn !== undefined &&
    !(Array.isArray(alpn) && alpn.every((protocol) => typeof protocol === 'string'))
  ) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      `${where}: tls: option "ALPNProtocols" must be an array of strings`,
    );
  }
}

/**
 * Builds `tls.connect` options for `host`: min TLS 1.2, verification on, SNI.
 * @throws InvalidArgumentError `SB_BAD_OPTION` for options that are not an object of
 *   known TLS options of their types, or a `minVersion` below TLS 1.2.
 */
export function buildTlsClientOptions(
  host: string,
  options: TlsClientOptions = {},
  where = 'connect',
): ConnectionOptions {
  checkTlsOptions(where, options, false);
  const result: ConnectionOptions = {
    minVersion: checkMinVersion('tls client', options.minVersion),
    rejectUnauthorized: options.rejectUnauthorized ?? true,
  };
  const servername = options.servername ?? (isIP(host) === 0 ? host : undefined);
  if (servername !== undefined) {
    result.servername = servername;
  }
  const ca = pem(options.ca);
  const cert = pem(options.cert);
  const key = pem(options.key);
  if (ca !== undefined) {
    result.ca = ca;
  }
  if (cert !== undefined) {
    result.cert = cert;
  }
  if (key !== undefined) {
    result.key = key;
  }
  if (options.ALPNProtocols !== undefined) {
    result.ALPNProtocols = options.ALPNProtocols;
  }
  return result;
}

/**
 * Builds `tls.createServer` options: min TLS 1.2, optional mutual TLS.
 * @throws InvalidArgumentError `SB_BAD_OPTION` when `cert`/`key` are missing or `minVersion` is below TLS 1.2.
 */
export function buildTlsServerOptions(options: TlsServerOptions): TlsOptions {
  // An empty cert or key (an empty file) counts as missing: node skips it, and the
  // server would listen and fail every handshake.
  if (
    typeof options !== 'object' ||
    options === null ||
    isEmptyPem(options.cert) ||
    isEmptyPem(options.key)
  ) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      'tls server: options "cert" and "key" are required (and not empty)',
    );
  }
  checkTlsOptions('tls server', options, true);
  const requestCert = options.requestCert ?? false;
  const result: TlsOptions = {
    minVersion: checkMinVersion('tls server', options.minVersion),
    cert: pem(options.cert),
    key: pem(options.key),
    requestCert,
    rejectUnauthorized: requestCert ? (options.rejectUnauthorized ?? true) : false,
  };
  const ca = pem(options.ca);
  if (ca !== undefined) {
    result.ca = ca;
  }
  if (options.ALPNProtocols !== undefined) {
    result.ALPNProtocols = options.ALPNProtocols;
  }
  return result;
}

/** The server side of TLS, made once per server by {@link tlsAcceptor}; used by {@link acceptTls}. */
export interface TlsAcceptor {
  readonly secureContext: SecureContext;
  readonly requestCert: boolean;
  readonly rejectUnauthorized: boolean;
  readonly ALPNProtocols?: string[];
}

/** A {@link TlsAcceptor} from {@link buildTlsServerOptions}' result. */
/**
 * @internal Runs `load` (createSecureContext, tls.connect) and turns OpenSSL's "no start
 * line", "key values mismatch", ... into `SB_BAD_OPTION`: the caller's certificate, key
 * or CA is wrong (a caller fault, exit 2 in the CLI), not an internal error. The
 * message names no file content.
 */
export function withTlsMaterial<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof InvalidArgumentError) {
      throw error;
    }
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      'tls: the certificate, key or CA cannot be used (not PEM, or the key does not match the certificate)',
      { cause: error },
    );
  }
}

export function tlsAcceptor(options: TlsOptions): TlsAcceptor {
  const secureContext = withTlsMaterial(() => createSecureContext(options));
  return {
    secureContext,
    requestCert: options.requestCert === true,
    rejectUnauthorized: options.rejectUnauthorized !== false,
    ...(options.ALPNProtocols === undefined
      ? {}
      : { ALPNProtocols: options.ALPNProtocols as string[] }),
  };
}

/**
 * The server side of a TLS handshake over an accepted socket (or a Duplex that
 * replays bytes already read from it, such as what followed a PROXY header).
 * Every server-side handshake goes through here rather than tls.Server, which
 * leaves a peer that half-closes mid-handshake open until its handshakeTimeout and
 * reports failures without the connection.
 *
 * Settles once: `secure` resolves; an error, EOF before `secure` (the handshake can
 * never finish), a client certificate that fails verification (with `requestCert`
 * and `rejectUnauthorized`) or `timeout` ms on `clock` (0 = none) rejects with
 * `SB_TLS_ERROR` / `SB_FRAME_TIMEOUT` and destroys `raw`.
 */
export function acceptTls(
  raw: NetSocket,
  acceptor: TlsAcceptor,
  handshake: { timeout: number; clock: Clock; underlying?: Duplex },
): Promise<TLSSocket> {
  const { timeout, clock } = handshake;
  const secure = new TLSSocket((handshake.underlying ?? raw) as NetSocket, {
    isServer: true,
    secureContext: acceptor.secureContext,
    requestCert: acceptor.requestCert,
    rejectUnauthorized: acceptor.rejectUnauthorized,
    ...(acceptor.ALPNProtocols === undefined ? {} : { ALPNProtocols: acceptor.ALPNProtocols }),
  });
  raw.resume();
  return new Promise<TLSSocket>((resolve, reject) => {
    let timer: unknown;
    const settle = (): void => {
      if (timer !== undefined) {
        clock.clearTimeout(timer);
      }
      secure.off('secure', onSecure);
      secure.off('error', onError);
      secure.off('end', onEnd);
      secure.off('close', onEnd);
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
      // A bare TLSSocket only records the client-certificate verdict; setting
      // `authorized` / `authorizationError` and refusing an unauthorized client is
      // tls.Server's job, so it is done here as tls.Server does it (mutual TLS).
      if (acceptor.requestCert) {
        const verdict = clientCertificateVerdict(secure);
        if (verdict === null) {
          secure.authorized = true;
        } else {
          (secure as { authorizationError: unknown }).authorizationError = verdict;
          if (acceptor.rejectUnauthorized) {
            onError(new ConnectionError('SB_TLS_ERROR', `client certificate rejected: ${verdict}`));
            return;
          }
        }
      }
      settle();
      limitRenegotiation(secure);
      resolve(secure);
    };
    secure.once('secure', onSecure);
    secure.once('error', onError);
    secure.once('end', onEnd);
    // Destroyed here without an error (a listener closing): settle now, not at the deadline.
    secure.once('close', onEnd);
    if (timeout > 0) {
      timer = clock.setTimeout(
        () =>
          onError(
            new TimeoutError('SB_FRAME_TIMEOUT', `TLS handshake not complete within ${timeout} ms`),
          ),
        timeout,
      );
    }
  });
}

/**
 * Client-initiated renegotiation (TLS 1.2; TLS 1.3 has none) costs the server a
 * full handshake each time, so tls.Server limits it: node counts every handshake
 * the client starts and, past `tls.CLIENT_RENEG_LIMIT` (3) within
 * `tls.CLIENT_RENEG_WINDOW` (600 s), reports `ERR_TLS_SESSION_ATTACK` — through
 * `_emitTLSError`, which on a socket tls.Server has not yet released (and a bare
 * TLSSocket is never released) only emits the internal `_tlsError` event that
 * tls.Server listens to. Nothing else stops the handshake, which is how a bare
 * TLSSocket allowed 40 of 40 renegotiations (#14). Here the socket listens to that
 * event as tls.Server does and ends the connection with `SB_TLS_ERROR` (the node
 * error as `cause`), so the limit is node's own, in every dispatch model (all of
 * them handshake here). test/reliability/tls-renegotiation.test.ts proves it with
 * a node client and with `openssl s_client`, so a node that renamed the event
 * would fail there, not silently.
 */
function limitRenegotiation(secure: TLSSocket): void {
  secure.on('_tlsError', (error: Error) => {
    if (!secure.destroyed) {
      secure.destroy(
        new ConnectionError('SB_TLS_ERROR', `TLS: ${error.message}; connection closed`, {
          cause: error,
        }),
      );
    }
  });
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
function clientCertificateVerdict(secure: TLSSocket): string | null {
  const handle = (secure as unknown as { ssl?: Partial<VerifyingHandle> }).ssl;
  if (typeof handle?.verifyError !== 'function') {
    return 'cannot verify (node TLS handle without verifyError)';
  }
  const error = handle.verifyError();
  if (error === null || error === undefined) {
    const peer = secure.getPeerCertificate();
    return peer === null || Object.keys(peer).length === 0 ? 'no certificate' : null;
  }
  return (error as { code?: string }).code ?? error.message;
}
