/**
 * Address strings: parsing and formatting.
 *
 * Accepted forms (SPEC §4):
 *
 * | text                      | result                                             |
 * | ------------------------- | -------------------------------------------------- |
 * | `HOST:PORT`, `:PORT`      | `{ kind: 'tcp', host, port, tls: false }`          |
 * | `[v6]:PORT`               | `{ kind: 'tcp', host: 'v6', port, tls: false }`    |
 * | `tcp://HOST:PORT`         | same as `HOST:PORT`                                |
 * | `tls://HOST:PORT`         | `{ kind: 'tcp', ..., tls: true }`                  |
 * | `unix:/path`, `unix:rel`  | `{ kind: 'unix', path, abstract: false }`          |
 * | `unix:@name`              | `{ kind: 'unix', path: 'name', abstract: true }`   |
 *
 * A missing host (`:7070`) means `DEFAULTS.host`. Ports are decimal 0..65535
 * (0 asks the OS for a free port when listening). Abstract Unix sockets exist
 * only on Linux; node reaches them through a path that starts with `\0`
 * ({@link toNodePath}).
 */
import { InvalidArgumentError } from '../errors.js';
import { DEFAULTS } from '../options.js';
import { quote } from '../quote.js';

/** A TCP (optionally TLS) endpoint. */
export interface TcpAddress {
  readonly kind: 'tcp';
  /** Host name or IP literal, without brackets. */
  readonly host: string;
  /** Port 0..65535. */
  readonly port: number;
  /** True for `tls://` addresses. */
  readonly tls: boolean;
}

/** A Unix-domain socket endpoint. */
export interface UnixAddress {
  readonly kind: 'unix';
  /** Filesystem path, or for abstract sockets the name without the leading `@`. */
  readonly path: string;
  /** True for Linux abstract-namespace sockets (`unix:@name`). */
  readonly abstract: boolean;
}

/** Any address switchboard can connect to or listen on. */
export type Address = TcpAddress | UnixAddress;

function badAddress(text: string, why: string): InvalidArgumentError {
  // Addresses come from the caller, not the peer, so echoing them is safe and useful.
  return new InvalidArgumentError('SB_BAD_ADDRESS', `bad address ${quote(text)}: ${why}`);
}

function parsePort(text: string, portText: string): number {
  if (portText === '') {
    throw badAddress(text, 'missing port');
  }
  if (!/^[0-9]{1,5}$/.test(portText)) {
    throw badAddress(text, `port ${quote(portText)} is not a decimal number`);
  }
  const port = Number(portText);
  if (port > 65535) {
    throw badAddress(text, `port ${port} is out of range 0..65535`);
  }
  return port;
}

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?\.?$/;
const IPV6 = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9._-]+)?$/;

function parseHostPort(text: string, rest: string, tls: boolean): TcpAddress {
  let host: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) {
      throw badAddress(text, "missing ']' after IPv6 host");
    }
    host = rest.slice(1, close);
    if (host === '' || !IPV6.test(host) || !host.includes(':')) {
      throw badAddress(text, `host ${quote(host)} is not an IPv6 address`);
    }
    const after = rest.slice(close + 1);
    if (!after.startsWith(':')) {
      throw badAddress(text, "expected ':PORT' after ']'");
    }
    portText = after.slice(1);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) {
      throw badAddress(text, 'missing ":PORT"');
    }
    host = rest.slice(0, colon);
    portText = rest.slice(colon + 1);
    if (host.includes(':')) {
      throw badAddress(text, 'an IPv6 host must be written in brackets, e.g. [::1]:7070');
    }
    if (host === '') {
      host = DEFAULTS.host;
    } else if (!HOST_NAME.test(host)) {
      throw badAddress(text, `host ${quote(host)} is not a valid host name or IP`);
    }
  }
  if (portText.includes('/')) {
    throw badAddress(text, 'unexpected path after the port');
  }
  return { kind: 'tcp', host, port: parsePort(text, portText), tls };
}

/**
 * Parses an address string (see the module comment for the forms).
 * @throws InvalidArgumentError `SB_BAD_ADDRESS` naming the bad part (scheme, host, port, path).
 */
export function parseAddress(text: string): Address {
  if (typeof text !== 'string') {
    throw new InvalidArgumentError('SB_BAD_ADDRESS', 'address must be a string');
  }
  const trimmed = text.trim();
  if (trimmed === '') {
    throw badAddress(text, 'empty address');
  }
  if (trimmed.startsWith('unix:')) {
    let path = trimmed.slice('unix:'.length);
    if (path.startsWith('//')) {
      path = path.slice(2); // unix:///tmp/x -> /tmp/x
    }
    if (path === '') {
      throw badAddress(text, 'missing socket path after "unix:"');
    }
    if (path.startsWith('@')) {
      const name = path.slice(1);
      if (name === '') {
        throw badAddress(text, 'missing abstract socket name after "@"');
      }
      return { kind: 'unix', path: name, abstract: true };
    }
    if (path.includes('\0')) {
      throw badAddress(text, 'socket path contains a NUL byte');
    }
    return { kind: 'unix', path, abstract: false };
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(trimmed);
  if (scheme !== null) {
    const name = scheme[1]!.toLowerCase();
    if (name !== 'tcp' && name !== 'tls') {
      throw badAddress(text, `unknown scheme "${scheme[1]}://" (use tcp://, tls:// or unix:)`);
    }
    return parseHostPort(text, trimmed.slice(scheme[0].length), name === 'tls');
  }
  return parseHostPort(text, trimmed, false);
}

/**
 * Formats an address as text that {@link parseAddress} reads back:
 * `tcp://127.0.0.1:7070`, `tls://[::1]:443`, `unix:/tmp/x.sock`, `unix:@name`.
 */
export function formatAddress(address: Address): string {
  checkAddressObject(address);
  if (address.kind === 'unix') {
    return address.abstract ? `unix:@${address.path}` : `unix:${address.path}`;
  }
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${address.tls ? 'tls' : 'tcp'}://${host}:${address.port}`;
}

/**
 * A host as node reports it, without the IPv4-mapped prefix: a dual-stack socket
 * reports an IPv4 peer as `::ffff:10.0.0.1`, which is the peer `10.0.0.1`.
 */
export function normalizeHost(host: string): string {
  return host.startsWith('::ffff:') ? host.slice(7) : host;
}

/**
 * A node endpoint (`remoteAddress`/`remotePort` of a socket, or a PROXY header's)
 * as address text, e.g. `tcp://10.0.0.1:51000`; '' when the host or port is
 * unknown. The one formatter of TCP endpoints: the host goes through
 * {@link normalizeHost}.
 */
export function endpointText(
  host: string | undefined,
  port: number | undefined,
  tls: boolean,
): string {
  if (host === undefined || port === undefined) {
    return '';
  }
  return formatAddress({ kind: 'tcp', host: normalizeHost(host), port, tls });
}

/**
 * A listening server's `server.address()` as `HOST:PORT` (`[v6]:PORT` for IPv6),
 * ready for {@link parseAddress} or `connect()`; '' before it listens (or for a pipe).
 */
export function listeningText(
  info: { address: string; family: string; port: number } | string | null,
): string {
  if (typeof info !== 'object' || info === null) {
    return '';
  }
  return info.family === 'IPv6' ? `[${info.address}]:${info.port}` : `${info.address}:${info.port}`;
}

/** The path node's `net` module expects for a Unix address (`\0name` for abstract sockets). */
export function toNodePath(address: UnixAddress): string {
  return address.abstract ? `\0${address.path}` : address.path;
}

/** Accepts either an address string or an already parsed {@link Address}. */
export function toAddress(address: string | Address): Address {
  if (typeof address === 'string') {
    return parseAddress(address);
  }
  checkAddressObject(address);
  return address;
}

/**
 * Throws `SB_BAD_ADDRESS` unless `address` is a {@link TcpAddress} or {@link UnixAddress}
 * in shape (a caller in plain JS may pass null, a number or a half-built object).
 */
function checkAddressObject(address: unknown): asserts address is Address {
  const candidate = address as Record<string, unknown> | null;
  const ok =
    typeof candidate === 'object' &&
    candidate !== null &&
    ((candidate.kind === 'tcp' &&
      typeof candidate.host === 'string' &&
      typeof candidate.port === 'number' &&
      Number.isInteger(candidate.port) &&
      candidate.port >= 0 &&
      candidate.port <= 65535 &&
      (candidate.tls === undefined || typeof candidate.tls === 'boolean')) ||
      (candidate.kind === 'unix' &&
        typeof candidate.path === 'string' &&
        (candidate.abstract === undefined || typeof candidate.abstract === 'boolean')));
  if (!ok) {
    throw new InvalidArgumentError(
      'SB_BAD_ADDRESS',
      'an address must be a string or { kind: "tcp", host, port } / { kind: "unix", path }',
    );
  }
}
