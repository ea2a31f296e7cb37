/**
 * The FaultProxy's addresses: parses a listen address and a target (`HOST:PORT`,
 * `[v6]:PORT`, `tcp://`, `{ host, port }`, a unix path) and refuses any host that is not
 * loopback, so a test's proxy can never forward to or listen on another machine.
 */
import net from 'node:net';
import { parseFraming } from '../codec/spec.js';
import { InvalidArgumentError } from '../errors.js';
import { invalid } from './fault-types.js';

/** Where a proxy forwards its connections. */
export type ResolvedTarget =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string };

function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') {
    return true;
  }
  if (net.isIPv4(host)) {
    return host.startsWith('127.');
  }
  if (host.toLowerCase().startsWith('::ffff:')) {
    const mapped = host.slice('::ffff:'.length);
    return net.isIPv4(mapped) && mapped.startsWith('127.');
  }
  return false;
}

function parsePort(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new InvalidArgumentError('SB_BAD_ADDRESS', `FaultProxy: ${what} has an invalid port`);
  }
  return Number(text);
}

/** Parses `HOST:PORT` / `[v6]:PORT` (optionally `tcp://`-prefixed) and checks it is loopback. */
export function parseHostPort(address: string, what: string): { host: string; port: number } {
  const text = address.startsWith('tcp://') ? address.slice('tcp://'.length) : address;
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  let host: string;
  let portText: string;
  if (bracketed !== null) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0 || text.indexOf(':') !== colon) {
      throw new InvalidArgumentError(
        'SB_BAD_ADDRESS',
        `FaultProxy: ${what} must be HOST:PORT or [v6]:PORT`,
      );
    }
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  const port = parsePort(portText, what);
  if (!isLoopbackHost(host)) {
    throw invalid(`${what} host must be a loopback address (127.0.0.0/8, ::1, localhost)`);
  }
  return { host, port };
}

export function resolveTarget(target: unknown): ResolvedTarget {
  if (typeof target === 'string') {
    if (target.startsWith('unix:')) {
      const path = target.slice('unix:'.length);
      if (path.length === 0) {
        throw new InvalidArgumentError('SB_BAD_ADDRESS', 'FaultProxy: target unix path is empty');
      }
      return { kind: 'unix', path };
    }
    if (target.startsWith('/')) {
      return { kind: 'unix', path: target };
    }
    return { kind: 'tcp', ...parseHostPort(target, 'target') };
  }
  if (typeof target === 'object' && target !== null && 'host' in target && 'port' in target) {
    const { host, port } = target as { host: unknown; port: unknown };
    if (typeof host !== 'string' || typeof port !== 'number' || !Number.isInteger(port)) {
      throw invalid('target must be { host: string, port: integer }');
    }
    if (port < 1 || port > 65535) {
      throw new InvalidArgumentError('SB_BAD_ADDRESS', 'FaultProxy: target port must be 1..65535');
    }
    if (!isLoopbackHost(host)) {
      throw invalid('target host must be a loopback address (127.0.0.0/8, ::1, localhost)');
    }
    return { kind: 'tcp', host, port };
  }
  throw invalid('option "target" is required: HOST:PORT, { host, port } or a unix path');
}

/**
 * Checks a listen address, a target and a framing spec as {@link FaultProxy.start} would,
 * without listening. Throws InvalidArgumentError.
 * @internal
 */
export function validateProxyAddresses(listen: string, target: string, framing?: string): void {
  parseHostPort(listen, 'listen');
  resolveTarget(target);
  if (framing !== undefined) {
    parseFraming(framing);
  }
}
