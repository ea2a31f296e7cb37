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
 * Why our own pending buffer: nats.js (2.x, and 3.x still: `resetOutbound()` at
 * every connect attempt), unlike the Go client with its `ReconnectBufSize`,
 * discards its outbound buffer at every reconnect attempt and does not bound it
 * meanwhile. So while not connected the bus keeps up to `maxPendingBytes` of
 * messages itself, replays them in order once reconnected (after one round trip,
 * so re-sent subscriptions are in place), and drops and counts what does not fit.
 */
import { randomBytes } from 'node:crypto';
import type { MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import { type BusStatusMessage, diagnosticChannels } from '../diagnostics.js';
import { ConnectionError, TimeoutError } from '../errors.js';
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

/** Options of {@link connectNatsBus}. Times in ms, sizes in bytes. */
export interface NatsBusOptions {
  /** NATS server URL(s): `nats://HOST:PORT`, several separated by commas. */
  servers: string | readonly string[];
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

/** Parses and validates the `servers` option into a list of `nats://` URLs. */
export function parseBusServers(servers: string | readonly string[]): string[] {
  if (
    typeof servers !== 'string' &&
    !(Array.isArray(servers) && servers.every((entry) => typeof entry === 'string'))
  ) {
    throw badBusOption('servers must be a string or an array of strings (nats://HOST:PORT)');
  }
  const list = typeof servers === 'string' ? servers.split(',') : [...servers];
  const urls = list.map((entry) => entry.trim()).filter((entry) => entry !== '');
  if (urls.length === 0) {
    throw badBusOption('no NATS server given (expected nats://HOST:PORT)');
  }
  for (const url of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw badBusOption(`"${url}" is not a URL (expected nats://HOST:PORT)`);
    }
    if (parsed.protocol !== 'nats:' || parsed.hostname === '') {
      throw badBusOption(`"${url}" is not a nats://HOST:PORT URL`);
    }
  }
  return urls;
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
  const servers = parseBusServers(options.servers);
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
  const { servers, instanceId, reconnectTimeWait, connectTimeout } = settings;
  let connection: NatsConnection;
  try {
    connection = await nats.connect({
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
