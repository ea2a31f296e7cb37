/**
 * The server's `onRequest` contract (sbp REQUEST -> RESPONSE), the same in every
 * dispatch model.
 *
 * Theory of operation
 * -------------------
 * A server request handler is `(body, context) => reply`, where `context` is plain,
 * cloneable data about the connection, so that one contract works where the
 * connection's Channel lives (`loop`: the main thread, `processes`: the worker that
 * owns the socket) and where it does not (`threads`: the Channel stays on the main
 * thread and the body travels to a pool worker, see threads.ts). A function can be
 * given only to `loop`; every model takes a module path whose default export is the
 * handler, loaded once per thread or process (as handler modules are).
 *
 * The Channel of each connection runs the handler (`onRequest`, net/sbp-session.ts): the
 * deadline (`requestTimeout`), the bound on running requests (`maxPendingRequests`)
 * and the ERROR answer of a failure are the Channel's, so they are the same in every
 * model. The server counts each failure in `errors{code}` (`onRequestError`).
 *
 * {@link resolveServerRequests} checks createServer's request options once, for every
 * model: sbp framing only, and a function only where it can run (`loop`).
 */
import type { Framing } from '../codec/types.js';
import { InvalidArgumentError } from '../errors.js';
import type { ChannelHeartbeatOptions } from '../net/channel.js';
import { HEARTBEAT_SCHEMA } from '../net/heartbeat.js';
import { resolveOptions } from '../options.js';
import { importHandlerModule } from './handler-module.js';

/** What a request handler learns about the request's connection (plain data, cloneable). */
export interface RequestContext {
  /** The connection id (`"17"`; `"w2-17"` in process worker 2). */
  readonly connectionId: string;
  /** Client address (PROXY-aware), e.g. `tcp://203.0.113.7:51000`. */
  readonly remoteAddress: string;
  /** The server address the client reached (PROXY-aware). */
  readonly localAddress: string;
  /** True when the addresses came from a PROXY header. */
  readonly proxied: boolean;
}

/** What a request handler returns: the RESPONSE body (a string is sent as UTF-8). */
export type RequestReply = Uint8Array | string;

/**
 * Answers one sbp REQUEST of a server's connection (the `onRequest` option of
 * createServer, or the default export of its module). Throwing, rejecting or missing
 * the deadline answers the client with an ERROR envelope; the connection stays up.
 */
export type ServerRequestHandler = (
  body: Uint8Array,
  context: RequestContext,
) => RequestReply | Promise<RequestReply>;

/** The request settings a connection's Channel gets (see connection.ts; not exported from the package). */
export interface RequestSettings {
  /** Answers REQUESTs; undefined: a REQUEST is `SB_BAD_ENVELOPE`, as on any Channel. */
  readonly onRequest: ServerRequestHandler | undefined;
  readonly requestTimeout: number;
  readonly maxPendingRequests: number;
  /** Ping every connection (sbp); undefined = off. */
  readonly heartbeat: ChannelHeartbeatOptions | undefined;
}

/**
 * @internal Imports a request handler module (an absolute file URL, as
 * resolveHandlerModule gives) and returns its default export.
 * @throws InvalidArgumentError `SB_BAD_OPTION` when the default export is not a function
 *   (see importHandlerModule).
 */
export async function loadRequestHandler(moduleUrl: string): Promise<ServerRequestHandler> {
  return (await importHandlerModule(
    'onRequest',
    moduleUrl,
    'an async function (body, context) returning the reply',
  )) as ServerRequestHandler;
}

/** sbp requests and heartbeats as createServer checked them, `onRequest` still a function or a module path. */
export type RequestOptions = Omit<RequestSettings, 'onRequest'> & {
  readonly onRequest: ServerRequestHandler | string | undefined;
};

/** The createServer options {@link resolveServerRequests} checks. */
export interface ServerRequestOptions {
  onRequest?: unknown;
  heartbeat?: unknown;
  requestTimeout?: number;
  maxPendingRequests?: number;
}

function badOption(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SB_BAD_OPTION', `createServer: ${message}`);
}

/**
 * @internal createServer's `onRequest` and `heartbeat`, checked against the framing
 * (sbp only) and the dispatch model (a function only for `loop`); null when neither
 * is on. `limits`: the resolved `requestTimeout` and `maxPendingRequests`.
 * @throws InvalidArgumentError `SB_BAD_OPTION`.
 */
export function resolveServerRequests(
  options: ServerRequestOptions,
  framing: Framing,
  dispatch: string,
  limits: { requestTimeout: number; maxPendingRequests: number },
): RequestOptions | null {
  const onRequest: unknown = options.onRequest;
  if (onRequest !== undefined) {
    if (typeof onRequest !== 'function' && (typeof onRequest !== 'string' || onRequest === '')) {
      throw badOption('option "onRequest" must be a function or a module path');
    }
    if (typeof onRequest === 'function' && dispatch !== 'loop') {
      throw badOption(
        `option "onRequest" with dispatch "${dispatch}" must be a module path whose default export answers requests: a function cannot cross to a worker ${dispatch === 'threads' ? 'thread' : 'process'}`,
      );
    }
  }
  const heartbeatOption: unknown = options.heartbeat;
  let heartbeat: ChannelHeartbeatOptions | undefined;
  if (heartbeatOption !== undefined && heartbeatOption !== false) {
    if (
      heartbeatOption !== true &&
      (heartbeatOption === null || typeof heartbeatOption !== 'object')
    ) {
      throw badOption('option "heartbeat" must be a boolean or { interval, maxOutstanding }');
    }
    heartbeat = resolveOptions(
      'createServer: option "heartbeat"',
      HEARTBEAT_SCHEMA,
      heartbeatOption === true ? {} : heartbeatOption,
    );
  }
  const limitsGiven =
    options.requestTimeout !== undefined || options.maxPendingRequests !== undefined;
  const used = onRequest !== undefined || heartbeat !== undefined;
  if ((used || limitsGiven) && framing.spec !== 'sbp') {
    throw badOption(
      `options "onRequest", "heartbeat", "requestTimeout" and "maxPendingRequests" need framing "sbp" (REQUEST/RESPONSE and PING/PONG are sbp envelopes, docs/PROTOCOL.md), not "${framing.spec}"`,
    );
  }
  if (limitsGiven && onRequest === undefined) {
    throw badOption('options "requestTimeout" and "maxPendingRequests" need "onRequest"');
  }
  if (!used) {
    return null;
  }
  return {
    onRequest: onRequest as RequestOptions['onRequest'],
    requestTimeout: limits.requestTimeout,
    maxPendingRequests: limits.maxPendingRequests,
    heartbeat,
  };
}
