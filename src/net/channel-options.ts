/**
 * The options of a Channel and of openChannel: their types (each option documented
 * once, here), their validation, and how openChannel divides its options between
 * `connect()` and the Channel.
 *
 * The option types take the channel type as a parameter (`Owner`, what an `onRequest`
 * handler is given) so that this module does not import net/channel.ts, which imports
 * it: src/ has no import cycles, type-only ones included. net/channel.ts names the
 * public types with `Owner = Channel`.
 */
import type { CheckedFramingSpec, FramingSpec } from '../codec/framing-spec.js';
import { checkFramingOption, parseFraming } from '../codec/spec.js';
import type { Framing } from '../codec/types.js';
import { InvalidArgumentError, type SwitchboardError } from '../errors.js';
import { DEFAULTS, maxFrameRule, resolveOptions } from '../options.js';
import { type Clock, clockOption } from './clock.js';
import type { ConnectOptions } from './connect.js';
import type { SbpRequestHandler, SbpSessionSettings } from './sbp-session.js';

/** Heartbeat settings of a Channel (sbp mode only). */
export interface ChannelHeartbeatOptions {
  /** Ms between pings. Default `DEFAULTS.heartbeatInterval` (15 s). */
  interval?: number;
  /** Unanswered pings before `SB_PEER_UNRESPONSIVE`. Default `DEFAULTS.heartbeatMaxOutstanding` (2). */
  maxOutstanding?: number;
}

/**
 * Options of a Channel whose `onRequest` handler is given an `Owner` (the Channel; see
 * `ChannelOptions` in net/channel.ts). All times in ms (0 = off), sizes in bytes.
 */
export interface ChannelOptionsFor<Owner, F extends string = string> {
  /**
   * The framing: a spec string (`'line'`, `'length:u32be'`, `'sbp'`, ...) or a Framing.
   * Required. Through `openChannel` a literal spec is type-checked
   * ({@link FramingSpec}); a computed `string` is checked at run time.
   */
  framing: CheckedFramingSpec<F> | Framing;
  /**
   * Largest frame, when `framing` is a string. Default: the framing's own (8 MiB; line/delim
   * 64 KiB). Beside a Framing object it must be that Framing's own (else `SB_BAD_OPTION`).
   */
  maxFrame?: number;
  /** No inbound bytes for this long -> `SB_IDLE_TIMEOUT`. Default `DEFAULTS.clientIdleTimeout` (0 = off). */
  idleTimeout?: number;
  /** A started frame must complete within this -> `SB_FRAME_TIMEOUT`. Default `DEFAULTS.clientFrameTimeout` (0 = off). */
  frameTimeout?: number;
  /**
   * Queued output must make progress within this, and be taken by the peer within 2 x
   * this of being queued -> `SB_WRITE_TIMEOUT`. Default `DEFAULTS.writeTimeout` (30 s).
   */
  writeTimeout?: number;
  /** Bytes of output queued before `SB_OUTPUT_QUEUE_FULL`. Default `DEFAULTS.maxQueuedOutput` (16 MiB). */
  maxQueuedOutput?: number;
  /**
   * Bytes of decoded frames held for `receive()` before reading pauses. Default
   * `DEFAULTS.readBufferLimit` (1 MiB). Reading also pauses at `maxQueuedInput / 64`
   * frames (at least 1024): a zero-byte frame still costs memory.
   */
  maxQueuedInput?: number;
  /** TCP keepalive on the socket (when given). Connect-time default: `DEFAULTS.keepAlive`. */
  keepAlive?: boolean;
  /** TCP keepalive initial delay, ms. Default `DEFAULTS.keepAliveInitialDelay`. */
  keepAliveInitialDelay?: number;
  /** sbp only: ping the peer; `true` = default interval and maxOutstanding. Default off. */
  heartbeat?: boolean | ChannelHeartbeatOptions;
  /**
   * sbp only: answers incoming REQUESTs. Without it a REQUEST fails the channel
   * (`SB_BAD_ENVELOPE`). A handler that throws, rejects, returns something other than
   * bytes or a string, or misses `requestTimeout`, is answered with an ERROR envelope
   * (the requester's `request()` rejects with `SB_REQUEST_FAILED`); the channel stays up.
   */
  onRequest?: SbpRequestHandler<Owner>;
  /**
   * sbp only: an `onRequest` handler must answer within this, ms, or the requester gets
   * an ERROR (`SB_HANDLER_TIMEOUT`; a late answer is dropped). Default
   * `DEFAULTS.requestTimeout` (30 s). 0 = no deadline.
   */
  requestTimeout?: number;
  /**
   * sbp only: REQUESTs whose handler is still running; one more is answered with an ERROR
   * (`SB_TOO_MANY_REQUESTS`) without running it. Default `DEFAULTS.maxPendingRequests` (64).
   */
  maxPendingRequests?: number;
  /**
   * sbp only: told of each request the channel answered with an ERROR (the handler's
   * failure, as `SB_HANDLER_ERROR` with the thrown error as `cause`, `SB_HANDLER_TIMEOUT`
   * or `SB_TOO_MANY_REQUESTS`). Must not throw. Default: none.
   */
  onRequestError?: (error: SwitchboardError) => void;
  /** Timer source. Default: the global timers (so `vi.useFakeTimers()` works). */
  clock?: Clock;
}

/** The framing's limit; the framing's own default applies when absent (resolveFraming). */
const MAX_FRAME_SCHEMA = { maxFrame: maxFrameRule(undefined as number | undefined) } as const;

const CHANNEL_SCHEMA = {
  ...MAX_FRAME_SCHEMA,
  idleTimeout: { kind: 'ms', default: DEFAULTS.clientIdleTimeout as number },
  frameTimeout: { kind: 'ms', default: DEFAULTS.clientFrameTimeout as number },
  writeTimeout: { kind: 'ms', default: DEFAULTS.writeTimeout as number },
  maxQueuedOutput: { kind: 'bytes', default: DEFAULTS.maxQueuedOutput as number, min: 1 },
  maxQueuedInput: { kind: 'bytes', default: DEFAULTS.readBufferLimit as number, min: 1 },
  keepAlive: { kind: 'boolean', default: undefined as boolean | undefined },
  keepAliveInitialDelay: { kind: 'ms', default: DEFAULTS.keepAliveInitialDelay as number },
  requestTimeout: { kind: 'ms', default: DEFAULTS.requestTimeout as number },
  maxPendingRequests: { kind: 'count', default: DEFAULTS.maxPendingRequests as number, min: 1 },
} as const;
/** The options the schema does not check: validated below, or by what they are handed to. */
const PASS_THROUGH = ['framing', 'heartbeat', 'onRequest', 'onRequestError', 'clock'];

/** A Channel's options, validated, with every default filled in. */
export interface ResolvedChannelOptions<Owner> {
  framing: Framing;
  idleTimeout: number;
  frameTimeout: number;
  writeTimeout: number;
  maxQueuedOutput: number;
  maxQueuedInput: number;
  /** Set on the socket when given (otherwise the socket keeps what it has). */
  keepAlive: boolean | undefined;
  keepAliveInitialDelay: number;
  clock: Clock;
  /** The sbp session's settings; undefined unless the framing is `sbp`. */
  session: SbpSessionSettings<Owner> | undefined;
}

/**
 * The Framing that `framing` names (a Framing is used as it is). `maxFrame` is
 * validated here, not only by the Channel's schema, because openChannel calls this
 * before connecting; `where` names the caller in errors.
 * @throws InvalidArgumentError `SB_BAD_OPTION` without a framing, for one neither a spec
 *   string nor a Framing, for a bad maxFrame, or for a maxFrame that differs from a
 *   Framing's own (it applies to spec strings, as for createServer and the stream
 *   adapters); `SB_BAD_FRAMING_SPEC` for a bad spec.
 */
export function resolveFraming(
  framing: string | Framing | undefined,
  maxFrame: number | undefined,
  where: 'Channel' | 'openChannel' = 'Channel',
): Framing {
  if (framing === undefined) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      `${where}: option "framing" is required (e.g. "line", "length:u32be", "sbp")`,
    );
  }
  const limit = resolveOptions(where, MAX_FRAME_SCHEMA, { maxFrame }).maxFrame;
  if (typeof framing !== 'string') {
    checkFramingOption(where, framing, limit);
    return framing;
  }
  return parseFraming(framing, limit === undefined ? {} : { maxFrame: limit });
}

/**
 * Validates a Channel's options. Heartbeat settings are checked when the session is
 * made (net/heartbeat.ts).
 * @throws InvalidArgumentError `SB_BAD_OPTION` / `SB_BAD_FRAMING_SPEC` for bad options; heartbeat or
 *   onRequest without `sbp` framing is `SB_BAD_OPTION`.
 */
export function resolveChannelOptions<Owner>(
  options: ChannelOptionsFor<Owner>,
): ResolvedChannelOptions<Owner> {
  const resolved = resolveOptions('Channel', CHANNEL_SCHEMA, options, {}, PASS_THROUGH);
  const framing = resolveFraming(options?.framing, resolved.maxFrame);
  if (options.onRequest !== undefined && typeof options.onRequest !== 'function') {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      'Channel: option "onRequest" must be a function',
    );
  }
  if (options.onRequestError !== undefined && typeof options.onRequestError !== 'function') {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      'Channel: option "onRequestError" must be a function',
    );
  }
  const envelope = framing.spec === 'sbp';
  // null reads as absent (off), as for an options argument; anything else but a boolean
  // or an object of heartbeat settings is refused here: spread into the settings, 5
  // gave the defaults and 'yes' an unknown option "0".
  const heartbeat = options.heartbeat ?? undefined;
  if (
    heartbeat !== undefined &&
    typeof heartbeat !== 'boolean' &&
    (typeof heartbeat !== 'object' || Array.isArray(heartbeat))
  ) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      'Channel: option "heartbeat" must be true, false or { interval, maxOutstanding }',
    );
  }
  if (
    !envelope &&
    (options.onRequest !== undefined || (heartbeat !== undefined && heartbeat !== false))
  ) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      `Channel: options "heartbeat" and "onRequest" need framing "sbp", not "${framing.spec}"`,
    );
  }
  const clock = clockOption('Channel', options.clock);
  return {
    framing,
    idleTimeout: resolved.idleTimeout,
    frameTimeout: resolved.frameTimeout,
    writeTimeout: resolved.writeTimeout,
    maxQueuedOutput: resolved.maxQueuedOutput,
    maxQueuedInput: resolved.maxQueuedInput,
    keepAlive: resolved.keepAlive,
    keepAliveInitialDelay: resolved.keepAliveInitialDelay,
    clock,
    session: envelope
      ? {
          clock,
          maxFrame: framing.maxFrame,
          onRequest: options.onRequest,
          onRequestError: options.onRequestError,
          requestTimeout: resolved.requestTimeout,
          maxPendingRequests: resolved.maxPendingRequests,
          heartbeat:
            heartbeat === undefined || heartbeat === false
              ? undefined
              : heartbeat === true
                ? {}
                : heartbeat,
        }
      : undefined,
  };
}

/** Where openChannel hands a channel option: to the Channel, to connect(), or to both. */
const TO_CHANNEL = 1;
const TO_CONNECT = 2;
const TO_BOTH = 3;
type Route = typeof TO_CHANNEL | typeof TO_CONNECT | typeof TO_BOTH;

/**
 * Every Channel option, once (the compiler checks that none is missing). keepAlive goes
 * to connect(), which sets it on the new socket; the clock times both.
 */
const OPEN_CHANNEL_ROUTES = {
  framing: TO_CHANNEL,
  maxFrame: TO_CHANNEL,
  idleTimeout: TO_CHANNEL,
  frameTimeout: TO_CHANNEL,
  writeTimeout: TO_CHANNEL,
  maxQueuedOutput: TO_CHANNEL,
  maxQueuedInput: TO_CHANNEL,
  keepAlive: TO_CONNECT,
  keepAliveInitialDelay: TO_CONNECT,
  heartbeat: TO_CHANNEL,
  onRequest: TO_CHANNEL,
  requestTimeout: TO_CHANNEL,
  maxPendingRequests: TO_CHANNEL,
  onRequestError: TO_CHANNEL,
  clock: TO_BOTH,
} as const satisfies Record<keyof ChannelOptionsFor<unknown>, Route>;
/** @internal Every Channel option name, as openChannel routes them. */
export const CHANNEL_OPTION_NAMES = Object.keys(
  OPEN_CHANNEL_ROUTES,
) as (keyof ChannelOptionsFor<unknown>)[];

/**
 * openChannel's options divided: the Channel's (as they are read; a `clock` only when
 * given) and connect()'s (everything else, unknown names included, so that connect
 * reports them).
 */
export function splitOpenChannelOptions<Owner>(
  options: ChannelOptionsFor<Owner> & ConnectOptions,
): { channel: ChannelOptionsFor<Owner>; connect: ConnectOptions } {
  const channel: Record<string, unknown> = {};
  for (const name of CHANNEL_OPTION_NAMES) {
    const route = OPEN_CHANNEL_ROUTES[name];
    if (route === TO_CHANNEL || (route === TO_BOTH && options[name] !== undefined)) {
      channel[name] = options[name];
    }
  }
  const connect: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(options)) {
    if (
      !Object.hasOwn(OPEN_CHANNEL_ROUTES, name) ||
      OPEN_CHANNEL_ROUTES[name as keyof typeof OPEN_CHANNEL_ROUTES] !== TO_CHANNEL
    ) {
      connect[name] = value;
    }
  }
  return { channel: channel as unknown as ChannelOptionsFor<Owner>, connect };
}
