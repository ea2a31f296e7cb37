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
import { isIP } from 'node:net';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { InvalidArgumentError } from '../errors.js';
import { DEFAULTS } from '../options.js';

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

/**
 * Builds `tls.connect` options for `host`: min TLS 1.2, verification on, SNI.
 * @throws InvalidArgumentError `SB_BAD_OPTION` for a `minVersion` below TLS 1.2.
 */
export function buildTlsClientOptions(
  host: string,
  options: TlsClientOptions = {},
): ConnectionOptions {
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
  if (options === undefined || options.cert === undefined || options.key === undefined) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      'tls server: options "cert" and "key" are required',
    );
  }
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
