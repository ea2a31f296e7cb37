/**
 * One served connection's life: TLS, Channel, handler, close and accounting
 * ({@link ServedConnection}), and what it needs from the set that serves it
 * ({@link ConnectionHost}; the set is connection-set.ts).
 *
 * Theory of operation
 * -------------------
 * The accept path (server.ts, or a process worker) has already admitted the
 * connection. `ConnectionSet.serve` then takes the raw socket through these
 * steps, each of which can end it:
 *
 * | step          | what happens                                         | failure code               |
 * |---------------|------------------------------------------------------|----------------------------|
 * | PROXY header  | (done by the caller: raw-socket.ts readProxyHeader)  | SB_PROXY_HEADER_INVALID    |
 * | TLS           | handshake over the raw socket, client cert checked   | SB_TLS_ERROR, or           |
 * |               |                                                      | SB_FRAME_TIMEOUT           |
 * | channel       | `Socket.from` + `new Channel` with the server limits | -                          |
 * | handler       | the dispatch body runs `(channel, info)`             | SB_HANDLER_ERROR, or the   |
 * |               |                                                      | channel's own error code   |
 * | close         | graceful `channel.close()` flushes queued replies    | -                          |
 *
 * A handler that throws a non-switchboard error, or a caller-fault one
 * (InvalidArgumentError), is a handler bug: the connection is destroyed with
 * `SB_HANDLER_ERROR` (the original error as `cause`) and the server keeps serving.
 * Any other switchboard error escaping the handler (a FrameError or timeout from
 * `receive()`, a write timeout from `send()`) keeps its own code.
 *
 * Shutdown (the set's `drain(timeout)`) aborts every connection's `info.signal`
 * and asks each to end when idle ({@link ServedConnection.endWhenIdle}); what is left
 * after the timeout is destroyed ({@link ServedConnection.destroy}).
 *
 * Memory per idle connection (issue #8) shapes the code: a connection is one
 * {@link ServedConnection} with prototype methods and no suspended async frame; the
 * caller learns of its end through one server-wide callback (`serveWith`). Bodies
 * marked input-first (connection-handler.ts: echo, discard, the threads pool) start
 * *dormant*: between the steps "TLS" and "channel" the connection waits with four
 * shared listeners on the transport (raw-socket.ts) and a slot in a per-server
 * DeadlineQueue (timers.ts)
 * (the idle timeout), and creates its Socket and Channel only when the peer sends,
 * ends, fails or idles out; the event is handed on, so every outcome is the same as
 * with an eager start. They go back to sleep when idle (#15): every running connection
 * of such a body is in a second queue, checked every `DEFAULTS.sleepCheckInterval` ms;
 * one idle at two checks in a row with no message between them has its Channel
 * suspended (the body's receive() returns null, the body returns) and then drops its
 * Socket and Channel, keeping its counters and idle deadline (see
 * {@link ServedConnection.onSleepCheck}).
 */
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { Framing } from '../codec/types.js';
import { diagnosticChannels } from '../diagnostics.js';
import { InvalidArgumentError, SwitchboardError } from '../errors.js';
import { endpointText, formatAddress, type UnixAddress } from '../net/address.js';
import { Channel, type ChannelOptions, type ChannelStats } from '../net/channel.js';
import { type Clock, systemClock } from '../net/clock.js';
import { idleTimeoutError } from '../net/idle-timeout.js';
import { Socket } from '../net/socket.js';
import { acceptTls, type TlsAcceptor } from '../net/tls.js';
import { DEFAULTS } from '../options.js';
import type { ConnectionBody, ConnectionInfo } from './connection-handler.js';
import type { InputBudget } from './input-budget.js';
import type { ConnectionLimits } from './limits.js';
import { reportConnectionError, type ServerMetrics } from './metrics.js';
import type { OutputBudget } from './output-budget.js';
import type { ProxyHeader } from './proxy-protocol.js';
import {
  type DormantEvent,
  type DormantSleeper,
  forgetLocalAddress,
  listenDormant,
  prefixedDuplex,
  unlistenDormant,
} from './raw-socket.js';
import type { RequestSettings } from './request-handler.js';
import type { SharedTimers } from './timers.js';

/** Settings shared by every connection of a server. */
export interface ConnectionSettings {
  readonly serverId: number;
  readonly framing: Framing;
  /**
   * Deadlines and bounds (limits.ts); in a `processes` worker, `maxBufferedInputTotal`
   * and `maxBufferedOutputTotal` are its shares. `Infinity` = no such budget.
   */
  readonly limits: ConnectionLimits;
  /** TLS, handshaken per connection (after any PROXY header), or null for plain TCP. */
  readonly tls: TlsAcceptor | null;
  readonly metrics: ServerMetrics;
  /** For Unix-socket listeners, the listen address (node reports no Unix peer address). */
  readonly unixAddress?: UnixAddress;
  readonly clock?: Clock;
  /** sbp: `onRequest`, its deadline and bound, and heartbeats (request-handler.ts). */
  readonly requests?: RequestSettings;
}

/**
 * What a {@link ServedConnection} needs from the set that serves it (ConnectionSet,
 * connection-set.ts): shared settings and clocks, the server-wide queues it takes
 * a slot in, and the report of its end. One per set, not per connection.
 */
export interface ConnectionHost {
  readonly settings: ConnectionSettings;
  readonly body: ConnectionBody;
  /** The body is input-first (markInputFirst, connection-handler.ts): connections start dormant. */
  readonly inputFirst: boolean;
  /** True once the set drains: a late `info.signal` read comes back aborted. */
  readonly draining: boolean;
  /** Counts a request the Channel answered with an ERROR. */
  readonly reportRequestError: (error: SwitchboardError) => void;
  /** The deadline clock of every connection. */
  readonly timers: SharedTimers;
  /** The input budget every connection's channel reports to. */
  readonly inputBudget: InputBudget;
  /** The output budget every connection's channel reports to. */
  readonly outputBudget: OutputBudget;
  /** Queues `connection.onDeadline()` idleTimeout from now; the slot, or -1 when idleTimeout is off. */
  scheduleDeadline(connection: ServedConnection): number;
  /** Cancels a slot {@link scheduleDeadline} returned (-1: nothing). */
  cancelDeadline(slot: number): void;
  /** Queues `connection.onSleepCheck()`; false when the body is not input-first. */
  scheduleSleepCheck(connection: ServedConnection): boolean;
  /** The connection has been accounted for. */
  ended(connection: ServedConnection): void;
}

/**
 * Life of a {@link ServedConnection}: `starting` (TLS handshake under way), `dormant`
 * (input-first body, idle: nothing received yet, or nothing since it went back to sleep;
 * no Socket or Channel exists), `running` (the body runs over its Channel), `suspending`
 * (input-first body, idle: its Channel was suspended and the body is returning, see
 * {@link ServedConnection.onSleepCheck}), `closing` (the body returned; graceful close),
 * `ended` (accounted for and removed).
 *
 * ```
 * starting ──> dormant <──────────────── suspending
 *    │            │ first event             ^   │ something arrived meanwhile:
 *    v            v                         │   v body runs again
 *    └───────> running ── idle at 2 checks ─┘ running ──> closing ──> ended
 * ```
 */
type Phase = 'starting' | 'dormant' | 'running' | 'suspending' | 'closing' | 'ended';

/**
 * One served connection, and the {@link ConnectionInfo} its handler sees. One object
 * per connection with prototype methods and lazily computed fields, because a server
 * holds thousands of mostly idle ones (issue #8: memory per idle connection):
 *
 * - no async function frame while the handler runs or while dormant (a suspended
 *   `async serve()` cost a generator, its register file and promise reactions);
 * - addresses are formatted when read, not stored; the AbortController behind
 *   `signal` is created on first read;
 * - *dormant* start for input-first bodies (echo, discard): until the peer sends a
 *   byte, ends, fails or the idle deadline passes, the connection is the raw socket
 *   with four shared listeners and a slot in the server's {@link DeadlineQueue}. The
 *   first event creates the Socket and Channel exactly as an eager start would have
 *   (the event is handed on to them) and the body then runs as usual, so limits,
 *   errors, metrics and diagnostics are the same.
 */
export class ServedConnection implements ConnectionInfo, DormantSleeper {
  /** A number until read (formatting every id up front costs a string per connection). */
  readonly #id: string | number;
  readonly proxyHeader: ProxyHeader | null;
  readonly raw: net.Socket;
  transport: net.Socket;
  channel: Channel | null = null;
  /** Created on the first read of `signal` (most handlers never look). */
  abort: AbortController | null = null;
  #phase: Phase = 'starting';
  #peerCertificate: Record<string, unknown> | undefined = undefined;
  /** Slot in the set's deadline queue while dormant (never used), or -1. */
  #deadlineSlot = -1;
  /**
   * The idle deadline while dormant after use (a SharedTimers handle): it falls at the
   * last traffic + idleTimeout, not in the order the queue above needs.
   */
  #idleTimer: unknown = undefined;
  /** The traffic counters of the Channel dropped when the connection went back to sleep. */
  #carried: ChannelStats | null = null;
  /** In the set's sleep-check queue. */
  #sleepCheckQueued = false;
  /** Messages in + out at the last sleep check (-1: none yet). */
  #sleepMark = -1;
  /**
   * @internal State an input-first body keeps across the runs that going back to sleep
   * causes (see markInputFirst, connection-handler.ts): the threads pool's next frame sequence.
   */
  resumeState = 0;
  readonly #owner: ConnectionHost;
  /** `performance.now()` ms, truncated: a small integer is stored unboxed (a double is a heap number). */
  readonly #started: number;
  /**
   * When the handler first ran, `performance.now()` ms truncated like `#started` (an
   * unboxed small integer; the latency it gives is at most 1 ms long), or -1.
   */
  #handlerStarted = -1;
  /** Told once the connection has been accounted for, with `#endTag`. */
  readonly #onEnded: (tag: string) => void;
  readonly #endTag: string;

  constructor(
    owner: ConnectionHost,
    raw: net.Socket,
    id: string | number,
    proxyHeader: ProxyHeader | null,
    onEnded: (tag: string) => void,
    endTag: string,
  ) {
    this.#owner = owner;
    this.raw = raw;
    this.transport = raw;
    this.#id = id;
    this.proxyHeader = proxyHeader;
    this.#onEnded = onEnded;
    this.#endTag = endTag;
    this.#started = Math.trunc(performance.now());
  }

  get id(): string {
    return String(this.#id);
  }

  get proxied(): boolean {
    return this.proxyHeader !== null && this.proxyHeader.source !== null;
  }

  get remoteAddress(): string {
    if (this.proxied) {
      return proxyEndpointText(this.proxyHeader!, 'source');
    }
    return this.channel?.socket.remoteAddress ?? this.#transportText('remote');
  }

  get localAddress(): string {
    if (this.proxyHeader?.destination != null) {
      return proxyEndpointText(this.proxyHeader, 'destination');
    }
    return this.channel?.socket.localAddress ?? this.#transportText('local');
  }

  get peerCertificate(): Record<string, unknown> | undefined {
    return this.#peerCertificate;
  }

  get signal(): AbortSignal {
    if (this.abort === null) {
      this.abort = new AbortController();
      if (this.#owner.draining) {
        this.abort.abort();
      }
    }
    return this.abort.signal;
  }

  /** The transport's endpoint formatted as a switchboard Socket would (no Socket exists yet). */
  #transportText(which: 'remote' | 'local'): string {
    const settings = this.#owner.settings;
    if (settings.unixAddress !== undefined) {
      return formatAddress(settings.unixAddress);
    }
    const transport = this.transport;
    const host = which === 'remote' ? transport.remoteAddress : transport.localAddress;
    const port = which === 'remote' ? transport.remotePort : transport.localPort;
    return endpointText(host, port, settings.tls !== null);
  }

  start(remainder: Uint8Array | null): void {
    const owner = this.#owner;
    const settings = owner.settings;
    // Node caches the peer address on first read and keeps it once the socket is
    // destroyed: read it now, so that a connection that fails before its Socket exists
    // (TLS handshake, a reset while dormant) is still reported with its address.
    void this.raw.remoteAddress;
    settings.metrics.connectionsOpen += 1;
    settings.metrics.connectionsAccepted += 1;
    if (settings.tls !== null) {
      const prefix = remainder ?? new Uint8Array(0);
      acceptTls(this.raw, settings.tls, {
        timeout: settings.limits.frameTimeout,
        clock: settings.clock ?? systemClock,
        ...(prefix.byteLength > 0 ? { underlying: prefixedDuplex(this.raw, prefix) } : {}),
      }).then(
        (secure) => this.#open(secure, false),
        (error: unknown) => this.#fail(error),
      );
      return;
    }
    const buffered = remainder !== null && remainder.byteLength > 0;
    if (buffered) {
      this.raw.unshift(Buffer.from(remainder.buffer, remainder.byteOffset, remainder.byteLength));
    }
    this.#open(this.raw, buffered);
  }

  #open(transport: net.Socket, buffered: boolean): void {
    this.transport = transport;
    const settings = this.#owner.settings;
    try {
      if (settings.tls !== null) {
        // Read once while the handshake is fresh (a destroyed TLS socket forgets it).
        const certificate = (transport as tls.TLSSocket).getPeerCertificate(false) as
          | object
          | null
          | undefined;
        this.#peerCertificate =
          certificate === null || certificate === undefined || Object.keys(certificate).length === 0
            ? undefined
            : (certificate as Record<string, unknown>);
      }
      if (!buffered && this.#owner.inputFirst) {
        this.#sleep();
      } else {
        this.#materialize();
      }
    } catch (error) {
      this.#fail(error);
      return;
    }
    const open = diagnosticChannels.connectionOpen;
    if (open.hasSubscribers) {
      open.publish({
        serverId: settings.serverId,
        connectionId: this.id,
        remoteAddress: this.remoteAddress,
        localAddress: this.localAddress,
        proxied: this.proxied,
      });
    }
    if (this.#phase === 'running') {
      this.#runBody();
    }
  }

  /**
   * Enters the dormant phase (see the class comment). `idleDue`: when going back to
   * sleep, the idle deadline the Channel had (SharedTimers ms; 0 = no idle timeout);
   * -1 for a connection that never had a Channel (its deadline is idleTimeout from now).
   */
  #sleep(idleDue = -1): void {
    const transport = this.transport;
    this.#phase = 'dormant';
    listenDormant(transport, this);
    if (idleDue < 0) {
      this.#deadlineSlot = this.#owner.scheduleDeadline(this);
    } else if (idleDue > 0) {
      // The connection itself is the timer's target (onTimer): no closure per connection.
      const timers = this.#owner.timers;
      this.#idleTimer = timers.schedule(this, idleDue - timers.now());
    }
    transport.resume();
  }

  #cancelDormantDeadline(): void {
    this.#owner.cancelDeadline(this.#deadlineSlot);
    this.#deadlineSlot = -1;
    if (this.#idleTimer !== undefined) {
      this.#owner.timers.clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
  }

  /** True while the connection has no Socket or Channel (never used, or back to sleep). */
  get dormant(): boolean {
    return this.#phase === 'dormant';
  }

  /** Traffic counters so far (the Channel's; while dormant after use, the dropped one's). */
  get traffic(): ChannelStats | null {
    return this.channel?.stats ?? this.#carried;
  }

  /**
   * @internal The set's periodic sleep check (every `DEFAULTS.sleepCheckInterval` ms
   * while running, input-first bodies only). A connection idle now ({@link
   * Channel.canSuspend}: its body parked in receive(), nothing queued either way, no
   * partial frame, nothing pending) that passed no message since the previous check is
   * put back to sleep: its Channel is suspended, so the body's receive() returns null
   * and the body returns; then {@link #afterSuspend} drops the Socket and Channel. O(1);
   * nothing is done per message.
   */
  onSleepCheck(): void {
    this.#sleepCheckQueued = false;
    if (this.#phase !== 'running') {
      return;
    }
    const channel = this.channel!;
    const mark = channel.stats.framesReceived + channel.stats.framesSent;
    if (mark === this.#sleepMark && channel.canSuspend()) {
      this.#phase = 'suspending';
      channel.suspend();
      return;
    }
    this.#sleepMark = mark;
    this.#queueSleepCheck();
  }

  #queueSleepCheck(): void {
    if (!this.#sleepCheckQueued && this.#owner.scheduleSleepCheck(this)) {
      this.#sleepCheckQueued = true;
    }
  }

  /**
   * The body returned after {@link onSleepCheck} suspended its Channel. If nothing came
   * in the meantime (no byte, EOF, error or destroy; the body queued nothing), the
   * connection goes dormant: counters kept, the input account closed, the idle deadline
   * carried over, the Socket detached from the transport before the dormant listeners
   * take it (no event in between: this all runs synchronously). Otherwise the Channel
   * resumes and the body runs again on it, finding what arrived.
   */
  #afterSuspend(): void {
    const channel = this.channel!;
    if (!channel.canDetach()) {
      channel.resume();
      this.#phase = 'running';
      this.#sleepMark = -1;
      this.#queueSleepCheck();
      this.#runBody();
      return;
    }
    const idleDue = channel.idleDeadline();
    // A copy, made now: the Channel's own stats object was allocated with the Channel,
    // and one small survivor among its dead neighbours keeps their memory pages (RSS).
    this.#carried = { ...channel.stats };
    channel.detach();
    this.channel = null;
    if (this.#owner.settings.tls === null && this.#owner.settings.unixAddress === undefined) {
      forgetLocalAddress(this.transport);
    }
    this.#sleep(idleDue);
  }

  /**
   * Creates the Socket and Channel (leaving the dormant phase if in it). `replay`: a
   * `data`, `end` or `error` event the transport emitted before the Socket listened; it
   * is emitted again, synchronously, for the Socket's listeners before the Channel's
   * first read (the transport's own listeners ignore 'data', and are idempotent for
   * 'end' and 'error'). Synchronously matters: a chunk put back into the stream instead
   * would be lost if a reset arrived before the stream flowed again, where an eager
   * Socket delivers the bytes first and then reports the reset.
   */
  #materialize(
    replay: DormantEvent | null = null,
    argument: Buffer | Error | null = null,
  ): Channel {
    const settings = this.#owner.settings;
    const transport = this.transport;
    if (this.#phase === 'dormant') {
      unlistenDormant(transport);
      this.#cancelDormantDeadline();
    }
    const clock = this.#owner.timers;
    const socket = Socket.from(transport, {
      tls: settings.tls !== null,
      trackLeaks: false,
      clock,
      ...(settings.unixAddress === undefined ? {} : { unixAddress: settings.unixAddress }),
    });
    if (replay === 'end') {
      transport.emit('end');
    } else if (replay !== null && replay !== 'close') {
      transport.emit(replay, argument);
    }
    const requests = settings.requests;
    const limits = settings.limits;
    const channel = new Channel(socket, {
      framing: settings.framing,
      idleTimeout: limits.idleTimeout,
      frameTimeout: limits.frameTimeout,
      writeTimeout: limits.writeTimeout,
      maxQueuedOutput: limits.maxQueuedOutput,
      clock,
      ...(requests === undefined ? {} : this.#requestOptions(requests)),
    });
    this.channel = channel;
    const carried = this.#carried;
    if (carried !== null) {
      // Back from sleep: the counters go on from where the dropped Channel left them.
      addStats(channel.stats, carried);
      this.#carried = null;
    }
    // May cut this very connection when the server is over its input budget.
    channel.setInputAccount(this.#owner.inputBudget.open(channel));
    // And over its output budget (it holds nothing yet: a cut can come with a write).
    channel.setOutputAccount(this.#owner.outputBudget.open(channel));
    this.#phase = 'running';
    if (this.#owner.inputFirst) {
      this.#sleepMark = -1;
      this.#queueSleepCheck();
    }
    transport.resume();
    return channel;
  }

  /** The Channel options of `requests`: one closure per connection for the handler's context. */
  #requestOptions(requests: RequestSettings): ChannelOptions {
    const handler = requests.onRequest;
    const context = {
      connectionId: this.id,
      remoteAddress: this.remoteAddress,
      localAddress: this.localAddress,
      proxied: this.proxied,
    };
    return {
      framing: this.#owner.settings.framing,
      requestTimeout: requests.requestTimeout,
      maxPendingRequests: requests.maxPendingRequests,
      onRequestError: this.#owner.reportRequestError,
      ...(handler === undefined ? {} : { onRequest: (body: Uint8Array) => handler(body, context) }),
      ...(requests.heartbeat === undefined ? {} : { heartbeat: requests.heartbeat }),
    };
  }

  /**
   * A dormant connection's transport reported `event` (with its chunk or error): create
   * the Socket and Channel, hand the event on to them (see {@link #materialize}; a
   * closed transport is seen by the Socket at construction), and run the body.
   */
  wake(event: DormantEvent, argument: Buffer | Error | null): void {
    if (this.#phase !== 'dormant') {
      return;
    }
    try {
      this.#materialize(event, argument);
    } catch (failure) {
      this.#fail(failure);
      return;
    }
    this.#runBody();
  }

  /** @internal The idle deadline of a connection dormant after use passed (SharedTimers). */
  onTimer(): void {
    this.#idleTimer = undefined;
    this.onDeadline();
  }

  /** The idle deadline of a dormant connection passed: fail as the Channel's idle timer would. */
  onDeadline(): void {
    if (this.#phase !== 'dormant') {
      return;
    }
    this.#deadlineSlot = -1;
    let channel: Channel;
    try {
      channel = this.#materialize();
    } catch (failure) {
      this.#fail(failure);
      return;
    }
    channel.destroy(idleTimeoutError(this.#owner.settings.limits.idleTimeout));
    this.#runBody();
  }

  /**
   * Graceful server close (#14, item 10): end the connection as soon as it is idle — no
   * frame in progress or queued, its body waiting for the next one, no traffic for
   * `DEFAULTS.closeIdleQuiet` ms — instead of after the close timeout. The body then sees the end of input (`receive()` returns null),
   * returns, and {@link #closeGracefully} flushes what it sent. A dormant connection is
   * idle by definition: it is woken so that it ends the same way.
   */
  endWhenIdle(): void {
    if (this.#phase === 'dormant') {
      try {
        this.#materialize();
      } catch (failure) {
        this.#fail(failure);
        return;
      }
      this.#runBody();
    }
    if (this.#phase === 'running' || this.#phase === 'suspending') {
      // Suspending: the body comes back to a Channel that is no longer idle and runs again.
      this.channel!.endInputWhenIdle(DEFAULTS.closeIdleQuiet);
    }
  }

  /** Ends the connection now with `error` (drain timeout, server destroy). */
  destroy(error: SwitchboardError): void {
    if (this.#phase === 'dormant') {
      try {
        this.#materialize().destroy(error);
      } catch (failure) {
        this.#fail(failure);
        return;
      }
      this.#runBody();
      return;
    }
    if (this.channel !== null) {
      this.channel.destroy(error);
    } else {
      this.raw.destroy();
    }
  }

  #runBody(): void {
    const channel = this.channel!;
    if (this.#handlerStarted < 0) {
      // The first run: a body run again after a sleep is the same handler going on.
      this.#handlerStarted = Math.trunc(performance.now());
    }
    let result: Promise<void> | void;
    try {
      result = this.#owner.body(channel, this);
    } catch (error) {
      this.#handlerReturned();
      this.#fail(error);
      return;
    }
    // Two closures for the handler's lifetime instead of a suspended async frame.
    // A plain return value finishes in a later microtask, as `await` would.
    // Neither reaction rejects (#closeGracefully never does, #fail does not throw),
    // so the promise `then` returns cannot become an unhandled rejection (#14).
    Promise.resolve(result).then(
      () => (this.#phase === 'suspending' ? this.#afterSuspend() : this.#closeGracefully()),
      (error: unknown) => {
        this.#handlerReturned();
        this.#fail(error);
      },
    );
  }

  #handlerReturned(): void {
    this.#owner.settings.metrics.handlerLatency.connection.observe(
      performance.now() - this.#handlerStarted,
    );
  }

  /** The handler returned: flush its replies with a graceful close, then account. */
  async #closeGracefully(): Promise<void> {
    this.#handlerReturned();
    this.#phase = 'closing';
    const channel = this.channel!;
    try {
      if (this.#owner.draining) {
        // The server is closing: flush what the body sent (sbp: after a CLOSE envelope),
        // send FIN, and end. Waiting for the peer's FIN, as close() does, would hold
        // every idle client's connection for the whole close timeout (#14): a client
        // that is not reading (the README's example awaits server.close()) never answers.
        await channel.shutdown();
        channel.destroy();
      } else {
        await channel.close();
      }
      const error = await channel.closed;
      this.#finish(error instanceof SwitchboardError && channel.error !== undefined ? error : null);
    } catch (error) {
      // Channel.close() is documented never to reject; should it (a reset mid-flush
      // once did, #14), the connection still ends and its admission slot is released.
      this.#fail(error);
    }
  }

  /** A failure before or during the handler: destroy, then account. */
  #fail(error: unknown): void {
    // A caller-fault error (InvalidArgumentError: a payload the framing cannot carry,
    // a bad option) escaping the handler is the handler's misuse of the API, not the
    // peer's doing: it is reported as SB_HANDLER_ERROR, so a peer's input never shows
    // up as a caller-fault code (#14). The built-ins cannot hit it: every frame a
    // decoder yields, the same framing's encoder writes back (test/codec/reencode).
    const failure =
      error instanceof SwitchboardError && !(error instanceof InvalidArgumentError)
        ? error
        : new SwitchboardError(
            'SB_HANDLER_ERROR',
            'the connection handler threw; connection closed',
            {
              cause: error,
            },
          );
    if (this.channel !== null) {
      this.channel.destroy(failure);
    } else {
      this.transport.destroy();
      this.raw.destroy();
    }
    this.#finish(failure);
  }

  #finish(failure: SwitchboardError | null): void {
    if (this.#phase === 'ended') {
      return;
    }
    this.#phase = 'ended';
    const owner = this.#owner;
    const settings = owner.settings;
    const metrics = settings.metrics;
    let remoteAddress = this.remoteAddress;
    if (remoteAddress === '') {
      remoteAddress = endpointText(
        this.raw.remoteAddress,
        this.raw.remotePort,
        settings.tls !== null,
      );
    }
    metrics.connectionsOpen -= 1;
    this.#cancelDormantDeadline();
    const stats = this.traffic ?? undefined;
    if (stats !== undefined) {
      addTraffic(metrics, stats);
    }
    if (failure !== null) {
      reportConnectionError(
        metrics,
        { serverId: settings.serverId, connectionId: this.id, remoteAddress },
        failure,
      );
    }
    diagnosticChannels.connectionClose.publish({
      serverId: settings.serverId,
      connectionId: this.id,
      remoteAddress,
      code: failure?.code ?? null,
      error: failure,
      durationMs: Math.trunc(performance.now()) - this.#started,
      framesIn: stats?.framesReceived ?? 0,
      framesOut: stats?.framesSent ?? 0,
      bytesIn: stats?.bytesReceived ?? 0,
      bytesOut: stats?.bytesSent ?? 0,
    });
    owner.ended(this);
    this.#onEnded(this.#endTag);
  }
}

/** Adds counters of a Channel dropped by a sleep to its successor's. */
function addStats(into: ChannelStats, from: ChannelStats): void {
  into.framesReceived += from.framesReceived;
  into.framesSent += from.framesSent;
  into.bytesReceived += from.bytesReceived;
  into.bytesSent += from.bytesSent;
}

/** Adds a channel's counters to traffic totals (the server's metrics, or a live sum). */
export function addTraffic(
  into: { framesIn: number; framesOut: number; bytesIn: number; bytesOut: number },
  stats: ChannelStats,
): void {
  into.framesIn += stats.framesReceived;
  into.framesOut += stats.framesSent;
  into.bytesIn += stats.bytesReceived;
  into.bytesOut += stats.bytesSent;
}

function proxyEndpointText(header: ProxyHeader, which: 'source' | 'destination'): string {
  const endpoint = header[which]!;
  if (header.family === 'unix') {
    // An abstract name keeps its `@` (proxy-protocol.ts adds it), as formatAddress writes one.
    return `unix:${endpoint.address}`;
  }
  return endpointText(endpoint.address, endpoint.port, false);
}
