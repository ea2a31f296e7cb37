/**
 * Observability through `node:diagnostics_channel` (SPEC §9).
 *
 * Each channel is created once, at module load, and a message is only built and
 * published when someone subscribes (`hasSubscribers`), so an unobserved server
 * pays one property read per event. Subscribe with
 * `diagnostics_channel.subscribe('switchboard:connection:open', fn)` or through
 * {@link diagnosticChannels}. Subscribers run synchronously inside switchboard's
 * I/O path: they must be quick and must not throw (Node reports an exception
 * thrown by a subscriber as an uncaught exception on the next tick).
 *
 * docs/DIAGNOSTICS.md lists every channel and its payload.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { ErrorCode, SwitchboardError } from './errors.js';

/** Published when a server accepts a connection it will serve. */
export interface ConnectionOpenMessage {
  /** The server's id (unique within the process). */
  readonly serverId: number;
  /** The connection id (unique within the server; `w<worker>-<n>` in process workers). */
  readonly connectionId: string;
  /** Client address as the handler sees it (from the PROXY header when proxied). */
  readonly remoteAddress: string;
  /** Local address as the handler sees it. */
  readonly localAddress: string;
  /** True when the addresses came from a PROXY protocol header. */
  readonly proxied: boolean;
}

/** Published when a served connection ends, for any reason. */
export interface ConnectionCloseMessage {
  readonly serverId: number;
  readonly connectionId: string;
  readonly remoteAddress: string;
  /** `null` for a clean close; otherwise the code of the error that ended it. */
  readonly code: ErrorCode | null;
  /** The error that ended the connection, if any. */
  readonly error: SwitchboardError | null;
  /** How long the connection was open, in ms. */
  readonly durationMs: number;
  readonly framesIn: number;
  readonly framesOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/**
 * Published when a connection fails because of its peer or its handler: a bad
 * frame, a timeout, a handler exception (`SB_HANDLER_ERROR`), an invalid PROXY
 * header, or a refusal (`SB_TOO_MANY_CONNECTIONS`).
 */
export interface FrameErrorMessage {
  readonly serverId: number;
  /** The connection id, or `null` when the connection was refused before getting one. */
  readonly connectionId: string | null;
  readonly remoteAddress: string;
  readonly code: ErrorCode;
  readonly error: SwitchboardError;
}

/** Published once a server listens. */
export interface ServerListeningMessage {
  readonly serverId: number;
  /** The formatted address with the real port, e.g. `tcp://127.0.0.1:40123`. */
  readonly address: string;
  readonly dispatch: 'loop' | 'threads' | 'processes';
  /** The `/metrics` endpoint address, or `null` when metrics are off. */
  readonly metricsAddress: string | null;
}

/** Published once a server has closed (after `closed` settles). */
export interface ServerCloseMessage {
  readonly serverId: number;
  readonly address: string;
  /** Connections destroyed because they outlived the close timeout. */
  readonly destroyed: number;
  /** Counters at close time (a `MetricsSnapshot`, see docs/SERVER.md). */
  readonly metrics: Readonly<Record<string, unknown>>;
}

/** Published when a chat bus changes state (see src/server/bus.ts). */
export interface BusStatusMessage {
  /** The instance id (the bus envelope's origin). */
  readonly instanceId: string;
  /** `connected`, `reconnecting` or `disconnected`. */
  readonly state: 'connecting' | 'connected' | 'reconnecting' | 'disconnected';
  /** The state before, or `null` for the first message. */
  readonly previous: 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | null;
  /** The NATS server (`host:port`) when connected, else ''. */
  readonly server: string;
  readonly reconnects: number;
  /** Messages waiting for the reconnect. */
  readonly pendingMessages: number;
  /** Messages dropped so far. */
  readonly dropped: number;
  /** Why the bus closed, when it closed on an error. */
  readonly error: Error | null;
}

/**
 * A channel with a typed payload. `publish` is a no-op without subscribers; hot
 * paths check `hasSubscribers` first so they don't even build the message.
 */
export class DiagnosticChannel<Message extends object> {
  /** The channel name, e.g. `switchboard:connection:open`. */
  readonly name: string;
  readonly #channel: diagnosticsChannel.Channel;

  constructor(name: string) {
    this.name = name;
    this.#channel = diagnosticsChannel.channel(name);
  }

  /** True when at least one subscriber listens. */
  get hasSubscribers(): boolean {
    return this.#channel.hasSubscribers;
  }

  /** Publishes `message` when subscribed. */
  publish(message: Message): void {
    if (this.#channel.hasSubscribers) {
      this.#channel.publish(message);
    }
  }

  /** Subscribes `listener`; returns a function that unsubscribes it. */
  subscribe(listener: (message: Message) => void): () => void {
    const wrapped = (message: unknown): void => listener(message as Message);
    diagnosticsChannel.subscribe(this.name, wrapped);
    return () => {
      diagnosticsChannel.unsubscribe(this.name, wrapped);
    };
  }
}

/** Every switchboard diagnostics channel, created once per process. */
export const diagnosticChannels = Object.freeze({
  connectionOpen: new DiagnosticChannel<ConnectionOpenMessage>('switchboard:connection:open'),
  connectionClose: new DiagnosticChannel<ConnectionCloseMessage>('switchboard:connection:close'),
  frameError: new DiagnosticChannel<FrameErrorMessage>('switchboard:frame:error'),
  serverListening: new DiagnosticChannel<ServerListeningMessage>('switchboard:server:listening'),
  serverClose: new DiagnosticChannel<ServerCloseMessage>('switchboard:server:close'),
  busStatus: new DiagnosticChannel<BusStatusMessage>('switchboard:bus:status'),
});
