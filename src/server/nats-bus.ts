/**
 * The NATS implementation of the chat bus (see bus.ts for the bus's rules and
 * states): one `@nats-io/transport-node` connection per instance.
 *
 * Theory of operation
 * -------------------
 * {@link connectNatsBus} checks its options and opens the connection. The client
 * package is an optional peer dependency: it is imported on first use through
 * {@link importOptional} (a server without a bus never loads it), so a missing
 * package is `SB_MISSING_DEPENDENCY`, and its types appear only here, never in the
 * public declarations (the public type is the {@link NatsChatBus} interface).
 *
 * Room `R` is the NATS subject `PREFIX.R`; the envelope travels in NATS headers
 * (`Sb-Origin`, `Sb-Sender`, `Sb-Seq`) and the payload is the frame, unchanged.
 *
 * Credentials and TLS. nats.js 3.x takes `user`/`pass`, `token`, an authenticator
 * and `tls` as options, but ignores credentials in a server URL: `nats://u:p@h:4222`
 * reaches the server without them (and with a numeric password, nats.js reads the
 * password as the port). So {@link parseBusUrls} takes `user:pass@` (user/pass) or
 * `token@` (a token) out of the URLs, as the Go client and nats-server's own tools
 * read them, and hands nats.js bare URLs plus options. Files (a `.creds` file, CA,
 * client certificate and key) are read when the bus is created, so a wrong path or
 * unusable PEM is `SB_BAD_OPTION` at once, not a failure at every reconnect. TLS is
 * TLS 1.2 at least (as everywhere in switchboard) and verifies the server. Secrets
 * stay in the closure that hands them to nats.js: no error message, status event or
 * inspected object shows them, and a URL we print has its password masked
 * ({@link redactBusUrl}).
 *
 * Why our own pending buffer: nats.js (2.x, and 3.x still: `resetOutbound()` at
 * every connect attempt), unlike the Go client with its `ReconnectBufSize`,
 * discards its outbound buffer at every reconnect attempt and does not bound it
 * meanwhile. So while not connected the bus keeps up to `maxPendingBytes` of
 * messages itself, replays them in order once reconnected (after one round trip,
 * so re-sent subscriptions are in place), and drops and counts what does not fit.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { checkServerIdentity, createSecureContext, type PeerCertificate } from 'node:tls';
import type {
  Authenticator,
  ConnectionOptions,
  MsgHdrs,
  NatsConnection,
  Subscription,
  TlsOptions,
} from '@nats-io/transport-node';
import { type BusStatusMessage, diagnosticChannels } from '../diagnostics.js';
import { ConnectionError, TimeoutError } from '../errors.js';
import { withTlsMaterial } from '../net/tls.js';
import { DEFAULTS } from '../options.js';
import { MAX_OPTION_FILE_BYTES, readFileUpTo } from '../read-file.js';
import {
  BUS_HEADERS,
  type BusMessage,
  type BusState,
  type BusStatus,
  badBusOption,
  checkRoom,
  DEFAULT_SUBJECT_PREFIX,
  isSubjectToken,
  type NatsChatBus,
} from './bus.js';
import { importOptional } from './optional-dependency.js';

/** TLS to the NATS server (files are PEM, read when the bus is created). */
export interface NatsBusTlsOptions {
  /** CA bundle the server's certificate must chain to. Default: Node's built-in root store. */
  caFile?: string;
  /** Client certificate chain, for a server that verifies clients (`verify: true`). Needs `keyFile`. */
  certFile?: string;
  /** Private key of `certFile`. */
  keyFile?: string;
}

/** Options of {@link connectNatsBus}. Times in ms, sizes in bytes. */
export interface NatsBusOptions {
  /**
   * NATS server URL(s): `nats://HOST:PORT` or `tls://HOST:PORT` (TLS required),
   * several separated by commas. `nats://USER:PASS@HOST:PORT` and
   * `nats://TOKEN@HOST:PORT` carry credentials (percent-encoded), like the options below.
   */
  servers: string | readonly string[];
  /** User name (nats-server `authorization { user, password }`). Needs `pass`. */
  user?: string;
  /** Password of `user`. */
  pass?: string;
  /** Token (nats-server `authorization { token }`). Not with `user`/`pass` or `credsFile`. */
  token?: string;
  /** A NATS `.creds` file (user JWT and NKey seed, as `nsc` writes it): decentralized auth. */
  credsFile?: string;
  /** TLS: `true` (verify against Node's root store) or files. Default: on for `tls://` URLs. */
  tls?: boolean | NatsBusTlsOptions;
  /** The envelope's origin, at most 128 characters. Default: 12 random hex digits. */
  instanceId?: string;
  /** Subject prefix. Default `switchboard.chat`. */
  subjectPrefix?: string;
  /** Wait between reconnect attempts, ms. Default 250. */
  reconnectTimeWait?: number;
  /** The first connection must succeed within this, ms. Default 5000. */
  connectTimeout?: number;
  /** Bytes of messages kept while not connected. Default 8 MiB. 0 = drop while not connected. */
  maxPendingBytes?: number;
  /** Client ping interval (detects a dead server), ms. Default 5000. */
  pingInterval?: number;
}

const NATS_DEFAULTS = Object.freeze({
  subjectPrefix: DEFAULT_SUBJECT_PREFIX,
  reconnectTimeWait: 250,
  connectTimeout: 5000,
  maxPendingBytes: 8 * 1024 * 1024,
  pingInterval: 5000,
});
/** Longest `instanceId` (the envelope's origin). */
const MAX_INSTANCE_ID_LENGTH = 128;

/** Credentials of a bus (one kind at most). Internal: never printed or exposed. */
type BusAuth =
  | { readonly kind: 'user'; readonly user: string; readonly pass: string }
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'creds'; readonly creds: Uint8Array; readonly file: string };

/** The `servers` option, parsed: bare URLs, and what their user-info and schemes said. */
export interface BusUrls {
  /** The URLs without credentials (what nats.js gets, and what messages show). */
  readonly urls: string[];
  /** True when one of them is `tls://`. */
  readonly tls: boolean;
  /** Credentials from the URLs' user-info, or null. */
  readonly auth: { user: string; pass: string } | { token: string } | null;
}

/**
 * `url` with its user-info masked: `nats://u:***@h`, `nats://***@h` (a token). Works
 * on text that does not parse as a URL too, so an error message can quote it.
 */
export function redactBusUrl(url: string): string {
  return url.replace(
    /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)@/,
    (_match, scheme: string, info: string) => {
      const colon = info.indexOf(':');
      return colon === -1 ? `${scheme}***@` : `${scheme}${info.slice(0, colon)}:***@`;
    },
  );
}

function decodeUserInfo(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw badBusOption('a server URL has credentials that are not valid percent-encoding');
  }
}

/**
 * Parses and validates the `servers` option: `nats://` or `tls://` URLs, credentials
 * (`user:pass@`, `token@`) taken out. Every URL that has credentials must have the same.
 */
export function parseBusUrls(servers: string | readonly string[]): BusUrls {
  if (
    typeof servers !== 'string' &&
    !(Array.isArray(servers) && servers.every((entry) => typeof entry === 'string'))
  ) {
    throw badBusOption('servers must be a string or an array of strings (nats://HOST:PORT)');
  }
  const list = typeof servers === 'string' ? servers.split(',') : [...servers];
  const entries = list.map((entry) => entry.trim()).filter((entry) => entry !== '');
  if (entries.length === 0) {
    throw badBusOption('no NATS server given (expected nats://HOST:PORT)');
  }
  const urls: string[] = [];
  let tls = false;
  let info: string | null = null;
  for (const entry of entries) {
    let parsed: URL;
    try {
      parsed = new URL(entry);
    } catch {
      throw badBusOption(`"${redactBusUrl(entry)}" is not a URL (expected nats://HOST:PORT)`);
    }
    if ((parsed.protocol !== 'nats:' && parsed.protocol !== 'tls:') || parsed.hostname === '') {
      throw badBusOption(
        `"${redactBusUrl(entry)}" is not a nats://HOST:PORT or tls://HOST:PORT URL`,
      );
    }
    tls ||= parsed.protocol === 'tls:';
    if (parsed.username !== '' || parsed.password !== '') {
      const entryInfo = `${parsed.username}:${parsed.password}`;
      if (info !== null && info !== entryInfo) {
        throw badBusOption(
          'the server URLs carry different credentials (give them once, as options)',
        );
      }
      info = entryInfo;
      parsed.username = '';
      parsed.password = '';
    }
    // Host and port only: nats.js reads nothing else of the URL.
    urls.push(`${parsed.protocol}//${parsed.host}`);
  }
  let auth: BusUrls['auth'] = null;
  if (info !== null) {
    const colon = info.indexOf(':');
    const user = decodeUserInfo(info.slice(0, colon));
    const pass = decodeUserInfo(info.slice(colon + 1));
    // `token@host` has no password (and `:token@host` no user): a token, as the Go client reads it.
    auth = user !== '' && pass !== '' ? { user, pass } : { token: user === '' ? pass : user };
  }
  return { urls, tls, auth };
}

/** The bare URLs of the `servers` option (see {@link parseBusUrls}). */
export function parseBusServers(servers: string | readonly string[]): string[] {
  return parseBusUrls(servers).urls;
}

/** Reads `file` for option `name`; a bad path is `SB_BAD_OPTION` naming both (never the content). */
function readOptionFile(name: string, file: unknown): Buffer {
  if (typeof file !== 'string' || file === '') {
    throw badBusOption(`option "${name}" must be a file path`);
  }
  let data: Buffer | null;
  try {
    data = readFileUpTo(file, MAX_OPTION_FILE_BYTES);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw badBusOption(`option "${name}": cannot read ${file} (${String(code ?? 'error')})`);
  }
  if (data === null) {
    throw badBusOption(`option "${name}": ${file} is larger than ${MAX_OPTION_FILE_BYTES} bytes`);
  }
  if (data.toString('utf8').trim() === '') {
    throw badBusOption(`option "${name}": ${file} is empty`);
  }
  return data;
}

function secretString(name: string, value: unknown): string {
  // A control character (a file's trailing newline, pasted along) is a mistake that
  // would never match the server's secret: said here rather than as "refused".
  const hasControl = (text: string): boolean => {
    for (let index = 0; index < text.length; index += 1) {
      const unit = text.charCodeAt(index);
      if (unit < 0x20 || unit === 0x7f) {
        return true;
      }
    }
    return false;
  };
  if (typeof value !== 'string' || value === '' || hasControl(value)) {
    throw badBusOption(`option "${name}" must be a non-empty string without control characters`);
  }
  return value;
}

/** The credentials of `options` and its URLs: at most one kind, else `SB_BAD_OPTION`. */
function resolveAuth(options: NatsBusOptions, fromUrls: BusUrls['auth']): BusAuth | null {
  const given = [
    options.user !== undefined || options.pass !== undefined ? 'user/pass' : null,
    options.token !== undefined ? 'token' : null,
    options.credsFile !== undefined ? 'credsFile' : null,
    fromUrls !== null ? 'credentials in the server URL' : null,
  ].filter((kind) => kind !== null);
  if (given.length > 1) {
    throw badBusOption(`give one kind of credentials, not ${given.join(' and ')}`);
  }
  if (fromUrls !== null) {
    return 'user' in fromUrls
      ? {
          kind: 'user',
          user: secretString('user', fromUrls.user),
          pass: secretString('pass', fromUrls.pass),
        }
      : { kind: 'token', token: secretString('token', fromUrls.token) };
  }
  if (options.user !== undefined || options.pass !== undefined) {
    if (options.user === undefined || options.pass === undefined) {
      throw badBusOption('options "user" and "pass" go together');
    }
    return {
      kind: 'user',
      user: secretString('user', options.user),
      pass: secretString('pass', options.pass),
    };
  }
  if (options.token !== undefined) {
    return { kind: 'token', token: secretString('token', options.token) };
  }
  if (options.credsFile !== undefined) {
    const file = options.credsFile;
    return { kind: 'creds', creds: readOptionFile('credsFile', file), file };
  }
  return null;
}

/**
 * A PEM file holding a `-----BEGIN ...LABEL-----` block. Node skips a CA bundle
 * without one in silence (every handshake would then fail as "unknown CA").
 */
function readPem(name: string, file: unknown, label: string): string {
  const text = readOptionFile(name, file).toString('utf8');
  if (!new RegExp(`-----BEGIN [A-Z0-9 ]*${label}-----`).test(text)) {
    throw badBusOption(`option "${name}": ${String(file)} holds no PEM ${label}`);
  }
  return text;
}

/**
 * The certificate check of a TLS bus. nats.js names the host it verifies only for
 * a server given by name (resolved to addresses); for an IP address it starts TLS
 * on the socket without a host, so node verifies the certificate against
 * "localhost" — a certificate for localhost passed for any address, and one for the
 * address itself failed. Then (`host` is "localhost") the certificate must match
 * one of the configured IP addresses (or localhost, if that was configured).
 */
function serverIdentityCheck(
  servers: readonly string[],
): (host: string, cert: PeerCertificate) => Error | undefined {
  const hosts = servers.map((url) => new URL(url).hostname.replace(/^\[|\]$/g, ''));
  const candidates = hosts.filter((host) => isIP(host) !== 0 || host === 'localhost');
  return (host, cert) => {
    if (host !== 'localhost' || candidates.length === 0) {
      return checkServerIdentity(host, cert);
    }
    let failure: Error | undefined;
    for (const candidate of candidates) {
      failure = checkServerIdentity(candidate, cert);
      if (failure === undefined) {
        return undefined;
      }
    }
    return failure;
  };
}

/** TLS material for nats.js, checked now: min TLS 1.2, server verified. Null = no TLS asked. */
function resolveTls(option: NatsBusOptions['tls'], tlsUrl: boolean): TlsSettings | null {
  if (option === undefined || option === false) {
    return tlsUrl ? { minVersion: DEFAULTS.minTlsVersion } : null;
  }
  if (option === true) {
    return { minVersion: DEFAULTS.minTlsVersion };
  }
  if (option === null || typeof option !== 'object' || Array.isArray(option)) {
    throw badBusOption('option "tls" must be true, false or { caFile, certFile, keyFile }');
  }
  for (const key of Object.keys(option)) {
    if (key !== 'caFile' && key !== 'certFile' && key !== 'keyFile') {
      throw badBusOption(`unknown tls option "${key}" (expected caFile, certFile, keyFile)`);
    }
  }
  if ((option.certFile === undefined) !== (option.keyFile === undefined)) {
    throw badBusOption('options "tls.certFile" and "tls.keyFile" go together');
  }
  const settings: TlsSettings = { minVersion: DEFAULTS.minTlsVersion };
  if (option.caFile !== undefined) {
    settings.ca = readPem('tls.caFile', option.caFile, 'CERTIFICATE');
  }
  if (option.certFile !== undefined) {
    settings.cert = readPem('tls.certFile', option.certFile, 'CERTIFICATE');
    settings.key = readPem('tls.keyFile', option.keyFile, 'PRIVATE KEY');
  }
  // Unusable PEM (not a certificate, a key that does not match) is the caller's fault,
  // said now rather than at every handshake (withTlsMaterial never quotes the content).
  withTlsMaterial(() => createSecureContext(settings));
  return settings;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw badBusOption(`option "${name}" must be a finite number >= 0`);
  }
  return value;
}
/**
 * Connects to NATS and resolves with a {@link ChatBus} in state `connected`.
 * @throws InvalidArgumentError `SB_BAD_OPTION` for a bad URL or option, `SB_MISSING_DEPENDENCY`
 *   when the optional peer package `@nats-io/transport-node` is not installed.
 * @throws ConnectionError `SB_CONNECTION_REFUSED` / TimeoutError `SB_CONNECT_TIMEOUT`
 *   when the first connection fails (later losses are reconnected, not thrown).
 */
export async function connectNatsBus(options: NatsBusOptions): Promise<NatsChatBus> {
  if (options === null || typeof options !== 'object') {
    throw badBusOption('options must be an object');
  }
  const { urls: servers, tls: tlsUrl, auth: urlAuth } = parseBusUrls(options.servers);
  const auth = resolveAuth(options, urlAuth);
  const tls = resolveTls(options.tls, tlsUrl);
  const subjectPrefix = options.subjectPrefix ?? NATS_DEFAULTS.subjectPrefix;
  if (typeof subjectPrefix !== 'string') {
    throw badBusOption('subjectPrefix must be a string');
  }
  if (!subjectPrefix.split('.').every((token) => isSubjectToken(token))) {
    throw badBusOption(`subjectPrefix "${subjectPrefix}" is not a valid NATS subject`);
  }
  const instanceId = options.instanceId ?? randomBytes(6).toString('hex');
  // At most 128 characters: receivers deduplicate origin/sender keys of up to 256 only
  // (bus.ts), so a longer id would silently turn deduplication off for this instance.
  if (
    typeof instanceId !== 'string' ||
    instanceId === '' ||
    instanceId.length > MAX_INSTANCE_ID_LENGTH ||
    /[\r\n]/.test(instanceId)
  ) {
    throw badBusOption(
      `instanceId must be a non-empty single-line string of at most ${MAX_INSTANCE_ID_LENGTH} characters`,
    );
  }
  const reconnectTimeWait = nonNegative(
    'reconnectTimeWait',
    options.reconnectTimeWait,
    NATS_DEFAULTS.reconnectTimeWait,
  );
  const connectTimeout = nonNegative(
    'connectTimeout',
    options.connectTimeout,
    NATS_DEFAULTS.connectTimeout,
  );
  const maxPendingBytes = nonNegative(
    'maxPendingBytes',
    options.maxPendingBytes,
    NATS_DEFAULTS.maxPendingBytes,
  );
  const pingInterval = nonNegative(
    'pingInterval',
    options.pingInterval,
    NATS_DEFAULTS.pingInterval,
  );
  return openNatsBus({
    servers,
    instanceId,
    subjectPrefix,
    reconnectTimeWait,
    connectTimeout,
    maxPendingBytes,
    pingInterval,
    auth,
    tls,
  });
}

/** Validated settings of one NATS bus ({@link connectNatsBus} checks them). Times in ms. */
export interface NatsBusSettings {
  servers: string[];
  instanceId: string;
  subjectPrefix: string;
  reconnectTimeWait: number;
  connectTimeout: number;
  maxPendingBytes: number;
  pingInterval: number;
  /** Credentials, or null. */
  auth: BusAuth | null;
  /** TLS material, or null for none (then TLS is still used when the server offers it). */
  tls: TlsSettings | null;
}

/** What the bus hands nats.js as `tls` (passed on to node's tls.connect). */
interface TlsSettings {
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  ca?: string;
  cert?: string;
  key?: string;
}

/** Rough per-message overhead counted against `maxPendingBytes` (subject + headers). */
const PENDING_OVERHEAD = 96;

interface PendingMessage {
  subject: string;
  payload: Uint8Array;
  headers: MsgHdrs;
  bytes: number;
}

/**
 * Loads the client, connects, and resolves with a bus in state `connected`.
 * @throws InvalidArgumentError `SB_MISSING_DEPENDENCY` without `@nats-io/transport-node`.
 * @throws ConnectionError `SB_CONNECTION_REFUSED` / TimeoutError `SB_CONNECT_TIMEOUT`
 *   when the first connection fails (later losses are reconnected, not thrown).
 */
export async function openNatsBus(settings: NatsBusSettings): Promise<NatsChatBus> {
  const nats = await importOptional(
    '@nats-io/transport-node',
    () => import('@nats-io/transport-node'),
  );
  const { servers, instanceId, reconnectTimeWait, connectTimeout, auth } = settings;
  const secrets: Partial<ConnectionOptions> = {};
  if (auth?.kind === 'user') {
    secrets.user = auth.user;
    secrets.pass = auth.pass;
  } else if (auth?.kind === 'token') {
    secrets.token = auth.token;
  } else if (auth?.kind === 'creds') {
    const authenticator: Authenticator = nats.credsAuthenticator(auth.creds);
    try {
      authenticator(''); // parses the file now: a bad one is the caller's fault, said once
    } catch {
      throw badBusOption(
        `option "credsFile": ${auth.file} does not hold a user JWT and an NKey seed (a NATS .creds file)`,
      );
    }
    secrets.authenticator = authenticator;
  }
  if (settings.tls !== null) {
    // minVersion and checkServerIdentity are not in nats.js's TlsOptions type, but it
    // passes every field on to tls.connect.
    secrets.tls = {
      ...settings.tls,
      checkServerIdentity: serverIdentityCheck(servers),
    } as TlsOptions;
  }
  let connection: NatsConnection;
  try {
    connection = await nats.connect({
      ...secrets,
      servers,
      name: `switchboard-${instanceId}`,
      noEcho: true,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait,
      reconnectJitter: Math.min(100, reconnectTimeWait),
      timeout: connectTimeout === 0 ? 20_000 : connectTimeout,
      pingInterval: settings.pingInterval,
      maxPingOut: 2,
    });
  } catch (error) {
    // 3.x throws one class per cause; its `name` says which (TimeoutError, ConnectionError, ...).
    const name = error instanceof Error ? error.name : 'error';
    if (name === 'AuthorizationError' || name === 'UserAuthenticationExpiredError') {
      // The server's own words ("Authorization Violation") name no secret.
      throw new ConnectionError(
        'SB_AUTH_FAILED',
        `bus: NATS at ${servers.join(',')} refused the credentials (${name})`,
        { cause: error },
      );
    }
    if (isTlsFailure(error)) {
      throw new ConnectionError(
        'SB_TLS_ERROR',
        `bus: TLS to NATS at ${servers.join(',')} failed (${tlsReason(error)})`,
        { cause: error },
      );
    }
    if (name === 'TimeoutError') {
      throw new TimeoutError(
        'SB_CONNECT_TIMEOUT',
        `bus: no NATS connection to ${servers.join(',')} within connectTimeout ${connectTimeout} ms`,
        { cause: error },
      );
    }
    throw new ConnectionError(
      'SB_CONNECTION_REFUSED',
      `bus: cannot connect to NATS at ${servers.join(',')} (${name})`,
      { cause: error },
    );
  }
  return new NatsBus(connection, () => nats.headers(), settings);
}

/**
 * An `Sb-Seq` value: a plain decimal of 1 to 16 digits (what {@link NatsBus.publish}
 * writes), else 0 (not deduplicated). Number() would also take "0x10", "1e3", " 5 ".
 */
export function parseSeq(text: string): number {
  if (!/^[0-9]{1,16}$/.test(text)) {
    return 0;
  }
  const seq = Number(text);
  return Number.isSafeInteger(seq) && seq > 0 ? seq : 0;
}

/** Node's TLS error codes (certificate verification, handshake). */
const TLS_CODE = /^(ERR_SSL|ERR_TLS|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH)/;

/** The node error code under `error` (nats.js wraps some in a `cause`), or ''. */
function tlsReason(error: unknown): string {
  for (let level = error, depth = 0; depth < 4 && level instanceof Error; depth += 1) {
    const code = (level as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_CODE.test(code)) {
      return code;
    }
    level = (level as { cause?: unknown }).cause;
  }
  return '';
}

function isTlsFailure(error: unknown): boolean {
  if (tlsReason(error) !== '') {
    return true;
  }
  // nats.js's own words when TLS was asked for and the server has none.
  return (
    error instanceof Error &&
    /server does not support 'tls'|'tls' is not available/.test(error.message)
  );
}

/** A {@link NatsChatBus} over one NATS connection. Built by {@link openNatsBus}. */
class NatsBus implements NatsChatBus {
  readonly instanceId: string;
  readonly #connection: NatsConnection;
  readonly #makeHeaders: () => MsgHdrs;
  readonly #subjectPrefix: string;
  readonly #maxPendingBytes: number;
  readonly #pending: PendingMessage[] = [];
  #pendingBytes = 0;
  #state: BusState = 'connected';
  #server: string;
  #reconnects = 0;
  #published = 0;
  #received = 0;
  #dropped = 0;
  #closing: Promise<void> | null = null;
  readonly #subscriptions = new Set<Subscription>();

  constructor(connection: NatsConnection, makeHeaders: () => MsgHdrs, settings: NatsBusSettings) {
    this.#connection = connection;
    this.#makeHeaders = makeHeaders;
    this.instanceId = settings.instanceId;
    this.#subjectPrefix = settings.subjectPrefix;
    this.#maxPendingBytes = settings.maxPendingBytes;
    this.#server = connection.getServer();
    this.#publishStatus('connecting', null);
    // Both chains end in a handler: a throw inside (a publish on a connection that
    // closed meanwhile) must not become an unhandled rejection (#14).
    const lost = (error: unknown): void => {
      this.#setState('disconnected', error instanceof Error ? error : null);
    };
    this.#watchStatus().catch(lost);
    connection.closed().then(lost, lost);
  }

  get status(): BusStatus {
    return {
      state: this.#state,
      instanceId: this.instanceId,
      server: this.#state === 'connected' ? this.#server : '',
      reconnects: this.#reconnects,
      published: this.#published,
      received: this.#received,
      dropped: this.#dropped,
      pendingMessages: this.#pending.length,
      pendingBytes: this.#pendingBytes,
    };
  }

  /** The NATS subject of `room`. */
  subject(room: string): string {
    return `${this.#subjectPrefix}.${room}`;
  }

  publish(room: string, message: BusMessage): void {
    checkRoom(room);
    const headers = this.#makeHeaders();
    headers.set(BUS_HEADERS.origin, message.origin);
    headers.set(BUS_HEADERS.sender, message.sender);
    headers.set(BUS_HEADERS.seq, String(message.seq));
    const subject = this.subject(room);
    if (this.#state === 'connected') {
      this.#write(subject, message.payload, headers);
      return;
    }
    if (this.#state === 'disconnected') {
      this.#dropped += 1;
      return;
    }
    const bytes = message.payload.byteLength + PENDING_OVERHEAD;
    if (this.#pendingBytes + bytes > this.#maxPendingBytes) {
      this.#dropped += 1; // the newest is dropped: what is queued keeps its order
      return;
    }
    this.#pending.push({ subject, payload: message.payload, headers, bytes });
    this.#pendingBytes += bytes;
  }

  subscribe(room: string, onMessage: (message: BusMessage) => void): () => void {
    checkRoom(room);
    // A callback subscription runs synchronously per message, in arrival order.
    const subscription = this.#connection.subscribe(this.subject(room), {
      callback: (error, msg) => {
        if (error !== null) {
          return; // a subscription error (permissions) also ends the subscription; state shows it
        }
        this.#received += 1;
        // Any NATS client can publish here, and a throw from this callback ends nats.js's
        // reader loop (the bus would hear nothing more until a ping timeout reconnects):
        // `msg.headers` parses on first use and throws for a malformed block (a header
        // name with a space), so such a message is dropped and counted instead.
        let message: BusMessage;
        try {
          const headers = msg.headers;
          message = {
            origin: headers?.get(BUS_HEADERS.origin) ?? '',
            sender: headers?.get(BUS_HEADERS.sender) ?? '',
            seq: parseSeq(headers?.get(BUS_HEADERS.seq) ?? ''),
            payload: msg.data,
          };
        } catch {
          this.#dropped += 1;
          return;
        }
        onMessage(message);
      },
    });
    this.#subscriptions.add(subscription);
    return () => {
      if (this.#subscriptions.delete(subscription)) {
        subscription.unsubscribe();
      }
    };
  }

  async flush(): Promise<void> {
    if (this.#state !== 'connected') {
      return;
    }
    try {
      await this.#connection.flush();
    } catch {
      // Lost the connection meanwhile: the state machine takes over.
    }
  }

  close(): Promise<void> {
    if (this.#closing === null) {
      this.#closing = this.#runClose();
    }
    return this.#closing;
  }

  async #runClose(): Promise<void> {
    const wasConnected = this.#state === 'connected';
    this.#dropped += this.#pending.length;
    this.#pending.length = 0;
    this.#pendingBytes = 0;
    this.#setState('disconnected', null);
    try {
      if (wasConnected) {
        // drain: unsubscribe, flush what was published, then close.
        await this.#connection.drain();
      } else {
        await this.#connection.close();
      }
    } catch {
      await this.#connection.close().catch(() => undefined);
    }
  }

  #write(subject: string, payload: Uint8Array, headers: MsgHdrs): void {
    try {
      this.#connection.publish(subject, payload, { headers });
      this.#published += 1;
    } catch {
      // MAX_PAYLOAD_EXCEEDED (frame larger than the server's max_payload) or a closed connection.
      this.#dropped += 1;
    }
  }

  async #watchStatus(): Promise<void> {
    for await (const event of this.#connection.status()) {
      if (this.#state === 'disconnected') {
        return;
      }
      if (event.type === 'disconnect') {
        this.#setState('reconnecting', null);
      } else if (event.type === 'reconnect') {
        this.#reconnects += 1;
        this.#server = this.#connection.getServer();
        // One round trip first: the server has then taken our re-sent subscriptions,
        // so "connected" means "receiving" too. Meanwhile publishes still queue.
        await this.#connection.flush().catch(() => undefined);
        if (this.#isDisconnected()) {
          return;
        }
        // Replay before switching state, so newer messages cannot overtake pending ones.
        for (const message of this.#pending.splice(0)) {
          this.#write(message.subject, message.payload, message.headers);
        }
        this.#pendingBytes = 0;
        this.#setState('connected', null);
      }
    }
  }

  /** A method, not an inline test: the state may change across an `await`. */
  #isDisconnected(): boolean {
    return this.#state === 'disconnected';
  }

  #setState(state: BusState, error: Error | null): void {
    if (this.#state === state) {
      return;
    }
    const previous = this.#state;
    this.#state = state;
    this.#publishStatus(previous, error);
  }

  #publishStatus(previous: BusState | null, error: Error | null): void {
    diagnosticChannels.busStatus.publish({
      instanceId: this.instanceId,
      state: this.#state,
      previous,
      server: this.#state === 'connected' ? this.#server : '',
      reconnects: this.#reconnects,
      pendingMessages: this.#pending.length,
      dropped: this.#dropped,
      error,
    } satisfies BusStatusMessage);
  }
}
