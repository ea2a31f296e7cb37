/**
 * SbpSession: the request/response session a {@link Channel} speaks in `sbp` mode
 * (codec/sbp.ts is the envelope codec; docs/PROTOCOL.md the protocol). A Channel
 * with any other framing has no session and pays nothing for it.
 *
 * Theory of operation
 * -------------------
 * The channel hands every decoded frame to {@link SbpSession.receive}, which parses the
 * envelope and either gives back a message for the channel's inbound queue (DATA),
 * or handles the channel's own traffic itself:
 *
 * | envelope  | action                                                                 |
 * | --------- | ---------------------------------------------------------------------- |
 * | DATA      | returned: the channel queues it for `receive()`                        |
 * | PING      | answered with a PONG carrying the same id and body                    |
 * | PONG      | the heartbeat's unanswered count goes back to 0                       |
 * | REQUEST   | runs `onRequest`; its result is the RESPONSE, its failure an ERROR    |
 * | RESPONSE  | resolves the pending `request()` with that id (unknown id: ignored)   |
 * | ERROR     | rejects the pending `request()` with `SB_REQUEST_FAILED`              |
 * | CLOSE     | returned as `null`: the peer's orderly end of input                    |
 *
 * Our requests: `request()` takes a fresh u32 id (wrapping, skipping ids still pending)
 * and keeps `{resolve, reject, cleanup}` in a map created by the first request; a
 * response, the caller's timeout or abort, or the channel's end removes the entry.
 * The peer's requests: at most `maxPendingRequests` asynchronous handlers run at once,
 * each under a `requestTimeout` deadline, and each answers the peer exactly once.
 * The optional {@link Heartbeat} pings every `interval` ms; `maxOutstanding`
 * unanswered pings destroy the channel with `SB_PEER_UNRESPONSIVE`.
 *
 * The session writes through its owner (the channel): envelopes go into the channel's
 * output batch, and a failure destroys the channel, so the channel's sticky error,
 * deadlines and output limit apply to control traffic as to messages.
 */
import { encodeEnvelope, parseEnvelope, SbpType, type SbpTypeCode } from '../codec/sbp.js';
import { ERROR_CODES, FrameError, SwitchboardError, TimeoutError } from '../errors.js';
import { toBytes } from './bytes.js';
import { abortedError, type CallOptions, type Clock } from './clock.js';
import { Heartbeat, type HeartbeatOptions } from './heartbeat.js';

/** Handles a REQUEST in sbp mode; its result is sent back as the RESPONSE body. */
export type SbpRequestHandler<Owner> = (
  body: Uint8Array,
  channel: Owner,
) => Uint8Array | string | Promise<Uint8Array | string>;

/** What the session needs from the channel it belongs to (all public Channel members). */
export interface SbpSessionOwner {
  /** Message counters; REQUEST, RESPONSE and ERROR envelopes count as messages. */
  readonly stats: {
    framesSent: number;
    bytesSent: number;
    framesReceived: number;
    bytesReceived: number;
  };
  /** The channel's sticky error: once set, the session writes nothing more. */
  readonly error: SwitchboardError | undefined;
  readonly socket: { readonly isClosed: boolean };
  /** Fails the channel (a broken envelope, a stale peer, a REQUEST nobody handles). */
  destroy(error: Error): void;
  /** Counts the body of a request whose handler still runs in the input budget. */
  holdInput(bytes: number): void;
  /** Queues encoded chunks on the channel's output (its limit and write deadline apply). */
  queueChunks(chunks: Uint8Array[]): void;
}

/** The settings of a session (the Channel's sbp options, resolved). */
export interface SbpSessionSettings<Owner> {
  clock: Clock;
  /** The framing's maxFrame: the largest envelope body. */
  maxFrame: number;
  onRequest: SbpRequestHandler<Owner> | undefined;
  onRequestError: ((error: SwitchboardError) => void) | undefined;
  requestTimeout: number;
  maxPendingRequests: number;
  /** Heartbeat settings, or undefined for none. */
  heartbeat: HeartbeatOptions | undefined;
}

interface PendingRequest {
  resolve(body: Uint8Array): void;
  reject(error: Error): void;
  cleanup(): void;
}

const MAX_ID = 0xffffffff;
const EMPTY = new Uint8Array(0);
/** The longest ERROR body read as a code; anything else is reported as unnamed. */
const MAX_CODE_LENGTH = 64;

/** The sbp session of one channel: request ids, PING/PONG, heartbeat, CLOSE. */
export class SbpSession<Owner extends SbpSessionOwner> {
  private readonly owner: Owner;
  private readonly clock: Clock;
  private readonly maxFrame: number;
  private readonly onRequest: SbpRequestHandler<Owner> | undefined;
  private readonly onRequestError: ((error: SwitchboardError) => void) | undefined;
  private readonly requestTimeout: number;
  private readonly maxPendingRequests: number;
  private readonly heartbeat: Heartbeat | undefined;
  /** REQUESTs from the peer whose (asynchronous) handler has not answered yet. */
  private requestsRunning = 0;
  /** False once the channel is closing: handlers' late answers are dropped. */
  private answering = true;
  private nextRequestId = 1;
  private nextPingId = 1;
  /** Our requests awaiting a response; created by the first request(). */
  private pendingRequests: Map<number, PendingRequest> | undefined;

  /** @throws InvalidArgumentError `SB_BAD_OPTION` for bad heartbeat settings. */
  constructor(owner: Owner, settings: SbpSessionSettings<Owner>) {
    this.owner = owner;
    this.clock = settings.clock;
    this.maxFrame = settings.maxFrame;
    this.onRequest = settings.onRequest;
    this.onRequestError = settings.onRequestError;
    this.requestTimeout = settings.requestTimeout;
    this.maxPendingRequests = settings.maxPendingRequests;
    if (settings.heartbeat !== undefined) {
      this.heartbeat = new Heartbeat(this, { ...settings.heartbeat, clock: this.clock });
    }
  }

  /** Starts the heartbeat (if any). */
  start(): void {
    this.heartbeat?.start();
  }

  /** Stops the heartbeat; idempotent. */
  stopHeartbeat(): void {
    this.heartbeat?.stop();
  }

  /**
   * True when the session needs nothing while the peer is silent: no heartbeat, no
   * onRequest handler, no request of ours awaiting a response (Channel.canSuspend).
   */
  isQuiet(): boolean {
    return (
      this.heartbeat === undefined &&
      this.onRequest === undefined &&
      (this.pendingRequests === undefined || this.pendingRequests.size === 0)
    );
  }

  /** The channel is closing or destroyed locally: answers still being computed are dropped. */
  stopAnswering(): void {
    this.answering = false;
  }

  /**
   * Takes one decoded frame: returns a DATA message for the inbound queue, `null` for
   * the peer's CLOSE, or `undefined` when the envelope was the session's own traffic.
   * @throws FrameError `SB_BAD_ENVELOPE` for a frame that is no envelope.
   */
  receive(frame: Uint8Array): Uint8Array | null | undefined {
    const envelope = parseEnvelope(frame);
    switch (envelope.type) {
      case SbpType.DATA:
        return envelope.body;
      case SbpType.PING:
        this.writeEnvelope(SbpType.PONG, envelope.id, envelope.body);
        return undefined;
      case SbpType.PONG:
        this.heartbeat?.pong();
        return undefined;
      case SbpType.RESPONSE: {
        this.countReceived(envelope.body);
        // A RESPONSE for an unknown id answers a request that already timed out.
        this.takePending(envelope.id)?.resolve(envelope.body);
        return undefined;
      }
      case SbpType.REQUEST:
        this.countReceived(envelope.body);
        this.handleRequest(envelope.id, envelope.body);
        return undefined;
      case SbpType.ERROR: {
        this.countReceived(envelope.body);
        this.takePending(envelope.id)?.reject(remoteRequestFailure(envelope.body));
        return undefined;
      }
      case SbpType.CLOSE:
        return null;
    }
  }

  /** The chunks of `payload` as a DATA envelope. @throws InvalidArgumentError `SB_PAYLOAD_TOO_LARGE`. */
  encodeData(payload: Uint8Array): Uint8Array[] {
    return encodeEnvelope(SbpType.DATA, 0, payload, this.maxFrame);
  }

  /** Queues a CLOSE envelope (our orderly end of output), unless the channel is down. */
  sendClose(): void {
    this.writeEnvelope(SbpType.CLOSE, 0, EMPTY);
  }

  private countReceived(body: Uint8Array): void {
    this.owner.stats.framesReceived += 1;
    this.owner.stats.bytesReceived += body.length;
  }

  /**
   * Runs `onRequest` for REQUEST `id`. Every outcome answers the peer exactly once: the
   * handler's bytes as a RESPONSE, or an ERROR carrying a code (it threw or rejected,
   * returned no bytes, missed `requestTimeout`, or `maxPendingRequests` were already
   * running). An asynchronous handler holds its request body in the input budget
   * (holdInput) until it settles, and costs one deadline timer.
   */
  private handleRequest(id: number, body: Uint8Array): void {
    const handler = this.onRequest;
    if (handler === undefined) {
      this.owner.destroy(
        new FrameError(
          'SB_BAD_ENVELOPE',
          'sbp: REQUEST received but this channel has no onRequest handler',
        ),
      );
      return;
    }
    if (this.requestsRunning >= this.maxPendingRequests) {
      this.answerError(
        id,
        new SwitchboardError(
          'SB_TOO_MANY_REQUESTS',
          `${this.requestsRunning} requests already running (maxPendingRequests ${this.maxPendingRequests})`,
        ),
      );
      return;
    }
    let result: ReturnType<SbpRequestHandler<Owner>>;
    try {
      result = handler(body, this.owner);
    } catch (error) {
      this.answerError(id, handlerFailure(error));
      return;
    }
    if (typeof result === 'string' || result instanceof Uint8Array) {
      this.respond(id, result);
      return;
    }
    this.requestsRunning += 1;
    const held = body.length;
    this.owner.holdInput(held);
    let settled = false;
    let timer: unknown;
    const settle = (): boolean => {
      if (settled) {
        return false;
      }
      settled = true;
      this.requestsRunning -= 1;
      this.owner.holdInput(-held);
      if (timer !== undefined) {
        this.clock.clearTimeout(timer);
      }
      return true;
    };
    if (this.requestTimeout > 0) {
      timer = this.clock.setTimeout(() => {
        timer = undefined;
        if (settle()) {
          this.answerError(
            id,
            new TimeoutError(
              'SB_HANDLER_TIMEOUT',
              `onRequest did not answer within requestTimeout ${this.requestTimeout} ms`,
            ),
          );
        }
      }, this.requestTimeout);
    }
    // Neither reaction throws (respond and answerError catch), so the promise `then`
    // returns never rejects unhandled.
    Promise.resolve(result).then(
      (reply) => {
        if (settle()) {
          this.respond(id, reply);
        }
      },
      (error: unknown) => {
        if (settle()) {
          this.answerError(id, handlerFailure(error));
        }
      },
    );
  }

  private respond(id: number, reply: Uint8Array | string): void {
    if (this.owner.error !== undefined || !this.answering) {
      return;
    }
    let body: Uint8Array;
    try {
      body = toBytes('onRequest result', reply);
      this.writeEnvelope(SbpType.RESPONSE, id, body);
    } catch (error) {
      // Not bytes, or larger than maxFrame (SB_PAYLOAD_TOO_LARGE): the handler's fault.
      this.answerError(id, handlerFailure(error));
      return;
    }
    this.owner.stats.framesSent += 1;
    this.owner.stats.bytesSent += body.length;
  }

  /** Answers REQUEST `id` with an ERROR envelope naming `error.code`, and reports it. */
  private answerError(id: number, error: SwitchboardError): void {
    if (this.owner.error === undefined && this.answering) {
      const body = Buffer.from(error.code, 'latin1');
      try {
        this.writeEnvelope(SbpType.ERROR, id, body);
        this.owner.stats.framesSent += 1;
        this.owner.stats.bytesSent += body.length;
      } catch {
        // A maxFrame smaller than the code (a few bytes): no answer; the requester's
        // own timeout covers it. The report below still counts it.
      }
    }
    const report = this.onRequestError;
    if (report !== undefined) {
      try {
        report(error);
      } catch {
        // Documented: must not throw. A throw here must not reach the read loop.
      }
    }
  }

  /**
   * Sends `message` as a REQUEST with a fresh id; resolves with the matching RESPONSE's
   * body. The channel has checked that it is open; see Channel.request for the errors.
   */
  request(message: Uint8Array | string, options: CallOptions): Promise<Uint8Array> {
    const signal = options.signal;
    if (signal?.aborted === true) {
      return Promise.reject(abortedError(signal));
    }
    const payload = toBytes('request', message);
    const id = this.allocateRequestId();
    return new Promise<Uint8Array>((resolve, reject) => {
      let timer: unknown;
      const pendingRequests = this.pendingRequests!;
      const onAbort = (): void => {
        this.takePending(id)?.reject(abortedError(signal!));
      };
      const cleanup = (): void => {
        if (timer !== undefined) {
          this.clock.clearTimeout(timer);
        }
        signal?.removeEventListener('abort', onAbort);
      };
      pendingRequests.set(id, { resolve, reject, cleanup });
      const timeout = options.timeout ?? 0;
      if (timeout > 0) {
        timer = this.clock.setTimeout(() => {
          this.takePending(id)?.reject(
            new TimeoutError('SB_TIMEOUT', `no response to request ${id} within ${timeout} ms`),
          );
        }, timeout);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        this.owner.queueChunks(encodeEnvelope(SbpType.REQUEST, id, payload, this.maxFrame));
        this.owner.stats.framesSent += 1;
        this.owner.stats.bytesSent += payload.length;
      } catch (error) {
        this.takePending(id)?.reject(error as Error);
      }
    });
  }

  /**
   * Ends request `id` if it is still pending: forgets it and clears its timer and abort
   * listener, then returns it to be resolved or rejected. Undefined when it has ended
   * already (a RESPONSE after its timeout).
   */
  private takePending(id: number): PendingRequest | undefined {
    const pending = this.pendingRequests?.get(id);
    if (pending !== undefined) {
      this.pendingRequests!.delete(id);
      pending.cleanup();
    }
    return pending;
  }

  private allocateRequestId(): number {
    if (this.pendingRequests === undefined) {
      this.pendingRequests = new Map();
    }
    for (;;) {
      const id = this.nextRequestId;
      this.nextRequestId = id === MAX_ID ? 1 : id + 1;
      if (!this.pendingRequests.has(id)) {
        return id;
      }
    }
  }

  /** Rejects every request still awaiting a response with `error`. */
  rejectPending(error: Error): void {
    const pendingRequests = this.pendingRequests;
    if (pendingRequests === undefined) {
      return;
    }
    for (const [id, pending] of pendingRequests) {
      pendingRequests.delete(id);
      pending.cleanup();
      pending.reject(error);
    }
  }

  /** HeartbeatHost: sends one PING with a fresh id. */
  sendPing(): void {
    const id = this.nextPingId;
    this.nextPingId = id === MAX_ID ? 1 : id + 1;
    this.writeEnvelope(SbpType.PING, id, EMPTY);
  }

  /** HeartbeatHost: `maxOutstanding` pings went unanswered. */
  onStale(): void {
    const heartbeat = this.heartbeat!;
    this.owner.destroy(
      new TimeoutError(
        'SB_PEER_UNRESPONSIVE',
        `peer did not answer ${heartbeat.maxOutstanding} heartbeat pings sent every ${heartbeat.interval} ms`,
      ),
    );
  }

  /**
   * Queues one envelope of the session's own traffic; nothing once the channel failed
   * or its socket closed. An error that failed the channel (its output limit) is not
   * thrown again: the channel's callers learn it.
   */
  private writeEnvelope(type: SbpTypeCode, id: number, body: Uint8Array): void {
    const owner = this.owner;
    if (owner.error !== undefined || owner.socket.isClosed) {
      return;
    }
    try {
      owner.queueChunks(encodeEnvelope(type, id, body, this.maxFrame));
    } catch (error) {
      if (owner.error === undefined) {
        throw error;
      }
    }
  }
}

/** What a throwing or rejecting `onRequest` becomes: `SB_HANDLER_ERROR`, the error as `cause`. */
function handlerFailure(error: unknown): SwitchboardError {
  // The threads pool refusing a request (its bound of unfinished ones, threads.ts) is
  // the server being busy, answered with that code, not a handler failure.
  if (error instanceof SwitchboardError && error.code === 'SB_TOO_MANY_REQUESTS') {
    return error;
  }
  return new SwitchboardError('SB_HANDLER_ERROR', 'onRequest handler failed', { cause: error });
}

/**
 * `request()`'s error for an ERROR envelope. The peer's body is named in the message
 * only when it is one of our own codes (error messages never echo peer bytes).
 */
function remoteRequestFailure(body: Uint8Array): SwitchboardError {
  const text = body.length <= MAX_CODE_LENGTH ? Buffer.from(body).toString('latin1') : '';
  const known = Object.hasOwn(ERROR_CODES, text);
  return new SwitchboardError(
    'SB_REQUEST_FAILED',
    known
      ? `the peer's request handler failed (${text})`
      : "the peer's request handler failed (code not recognized)",
  );
}
